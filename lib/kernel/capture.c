/* SPDX-License-Identifier: Apache-2.0 */
/* capture.c: apply a capture_config in the current netns (spec istio-iptables.md §5, §7).
 *
 * Decisions (docs/backends.md):
 * - Backends: in-process legacy (libiptc), iptables-nft-restore (exec, no shell), or in-process
 *   nftables (libnftables), chosen per family by lib/detect from kernel facts.
 * - Every change of our rules is one atomic commit per table (legacy), one transaction (nft), or
 *   one iptables-nft-restore payload that flushes and refills our chains (iptables-nft): no packet
 *   sees a half-built rule set, so Istio's DROP guardrails are not needed.
 * - Routes (::6, TPROXY rule/route) are set up *before* the rules: they are inert without the
 *   rules, so a route failure leaves nothing behind; cleanup removes rules, then routes. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "kernel/capture.h"
#include "kernel/detect.h"
#include "kernel/iptlegacy.h"
#include "kernel/iptnft.h"
#include "base/macro.h"
#include "kernel/nftapply.h"
#include "kernel/routes.h"
#include "rules/rules-ipt.h"
#include "rules/rules-nft.h"
#include "rules/rules.h"

static void note(struct capture_report *rep, const char *fmt, ...) _printf_(2, 3);
static void note(struct capture_report *rep, const char *fmt, ...) {
        va_list ap;
        if (rep->n_notes >= CAPTURE_NOTES_MAX)
                return;
        va_start(ap, fmt);
        vsnprintf(rep->notes[rep->n_notes++], CAPTURE_NOTE_LEN, fmt, ap);
        va_end(ap);
}

static int fail(struct capture_report *rep, int r, const char *fmt, ...) _printf_(3, 4);
static int fail(struct capture_report *rep, int r, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(rep->error, sizeof rep->error, fmt, ap);
        va_end(ap);
        return r < 0 ? r : -EIO;
}

static const char *fam_name(int family) { return family == AF_INET6 ? "IPv6" : "IPv4"; }

static bool inbound_on(const struct capture_config *c) { return c->inbound_all || c->inbound_ports.n > 0; }

/* --- routes (§5.7) ------------------------------------------------------------------------- */

/* Sets up routes; *ret_added tells whether this run created the TPROXY rule (it did not exist),
 * so that a failed rule apply can remove it again and leave the namespace as it found it. */
static int setup_routes(const struct capture_config *c, struct capture_report *rep, bool *ret_added) {
        const char *step = NULL;
        int r;

        *ret_added = false;
        if (c->enable_ipv6) {
                r = routes_add_lo_ipv6_source(&step);
                if (r < 0)
                        return fail(rep, r, "%s: %s", step ? step : "Failed to add ::6 to lo", strerror(-r));
        }
        if (c->tproxy && inbound_on(c)) {
                r = routes_setup_tproxy(c->tproxy_mark, c->tproxy_route_table, c->enable_ipv6, ret_added, &step);
                if (r < 0)
                        return fail(rep, r, "%s: %s", step ? step : "Failed to set up TPROXY routing", strerror(-r));
                note(rep, "TPROXY routing: fwmark %u lookup table %u, local default route via lo", c->tproxy_mark,
                     c->tproxy_route_table);
        }
        return 0;
}

/* Undoes setup_routes() after a failed apply, if this run added the routing. */
static void undo_routes(const struct capture_config *c, bool added) {
        const char *step = NULL;
        if (added)
                (void)routes_cleanup_tproxy(c->tproxy_mark, c->tproxy_route_table, c->enable_ipv6, &step);
}

/* Istio's --cleanup-only *adds* routes (quirk 21); we remove what setup_routes() adds. */
static int cleanup_routes(const struct capture_config *c, struct capture_report *rep) {
        const char *step = NULL;
        int r;
        if (!(c->tproxy && inbound_on(c)))
                return 0;
        r = routes_cleanup_tproxy(c->tproxy_mark, c->tproxy_route_table, c->enable_ipv6, &step);
        if (r < 0)
                return fail(rep, r, "%s: %s", step ? step : "Failed to remove TPROXY routing", strerror(-r));
        return 0;
}

/* --- native nftables (§7) ------------------------------------------------------------------ */

static int run_nft(const struct capture_config *c, struct capture_report *rep) {
        _cleanup_free_ char *text = NULL, *error = NULL;
        struct ruleset *rs = NULL;
        bool routes_added = false;
        int r;

        rep->native_nft = true;
        if (c->cleanup_only) {
                r = nftapply_cleanup(&error);
                if (r < 0)
                        return fail(rep, r, "nftables cleanup failed: %s", error ? error : strerror(-r));
                rep->changed = true;
                note(rep, "nftables: removed tables inet %s, %s, %s", RULES_NFT_TABLE_NAT, RULES_NFT_TABLE_MANGLE,
                     RULES_NFT_TABLE_RAW);
                return cleanup_routes(c, rep);
        }
        r = rules_build(c, RULES_FLAVOR_NFT, &rs);
        if (r < 0)
                return fail(rep, r, "Failed to build the nftables rules: %s", strerror(-r));
        r = rules_nft_render(rs, false, &text);
        rules_free(rs);
        if (r < 0)
                return fail(rep, r, "Failed to render the nftables rules: %s", strerror(-r));
        r = setup_routes(c, rep, &routes_added);
        if (r < 0)
                return r;
        /* One transaction: every table, both IP families, flushed and refilled atomically. */
        r = nftapply_apply(text, &error);
        if (r < 0) {
                undo_routes(c, routes_added);
                return fail(rep, r, "nftables transaction failed (nothing was changed): %s",
                            error ? error : strerror(-r));
        }
        rep->changed = true;
        note(rep, "nftables: applied our tables in one atomic transaction");
        return 0;
}

/* --- iptables-nft (exec) -------------------------------------------------------------------- */

/* What iptables-nft-save shows of ours, per table. */
struct saved {
        bool chain[RULES_TABLE_MAX][RULES_CHAIN_MAX];
        unsigned count[RULES_TABLE_MAX][RULES_CHAIN_MAX];
        char **jumps[RULES_TABLE_MAX]; /* "-A BUILTIN … -j ISTIO_X" lines */
        size_t n_jumps[RULES_TABLE_MAX];
        bool any;
};

static void saved_done(struct saved *s) {
        for (int t = 0; t < RULES_TABLE_MAX; t++) {
                for (size_t i = 0; i < s->n_jumps[t]; i++)
                        free(s->jumps[t][i]);
                free(s->jumps[t]);
        }
}

static int saved_parse(const char *text, struct saved *s) {
        int table = -1;
        const char *p = text;

        while (*p) {
                const char *eol = strchrnul(p, '\n');
                size_t n = (size_t)(eol - p);
                _cleanup_free_ char *line = strndup(p, n);
                enum rules_chain ch;
                enum rules_table t;
                char name[64];

                if (!line)
                        return -ENOMEM;
                p = *eol ? eol + 1 : eol;
                if (line[0] == '*') {
                        table = rules_table_from_name(line + 1, &t) == 0 ? (int)t : -1;
                        continue;
                }
                if (table < 0)
                        continue;
                if (line[0] == ':' && sscanf(line + 1, "%63s", name) == 1 && strncmp(name, "ISTIO", 5) == 0) {
                        if (rules_chain_from_name(name, &ch) == 0)
                                s->chain[table][ch] = true;
                        s->any = true;
                        continue;
                }
                if (strncmp(line, "-A ", 3) == 0 && sscanf(line + 3, "%63s", name) == 1 &&
                    rules_chain_from_name(name, &ch) == 0) {
                        if (!rules_chain_is_builtin(ch)) {
                                s->count[table][ch]++;
                                continue;
                        }
                        const char *j = strstr(line, " -j ISTIO_");
                        if (j) {
                                char **nv = realloc(s->jumps[table], (s->n_jumps[table] + 1) * sizeof *nv);
                                if (!nv)
                                        return -ENOMEM;
                                s->jumps[table] = nv;
                                nv[s->n_jumps[table]++] = TAKE_PTR(line);
                                s->any = true;
                        }
                }
        }
        return 0;
}

/* Runs `ip[6]tables-nft -t T -C CHAIN args…`: 1 if the rule exists, 0 if not. */
static int iptnft_rule_exists(int family, const struct rules_rule *rule) {
        _cleanup_free_ char *args = NULL;
        size_t len = 0;
        char *argv[RULES_MAX_MATCHES * 6 + 16];
        size_t n = 0;
        FILE *f = open_memstream(&args, &len);
        struct iptnft_error err;
        int r;

        if (!f)
                return -ENOMEM;
        r = rules_ipt_format_args(f, rule);
        if (fclose(f) != 0 || r < 0)
                return r < 0 ? r : -ENOMEM;
        argv[n++] = (char *)"-t";
        argv[n++] = (char *)rules_table_name(rule->table);
        argv[n++] = (char *)"-C";
        argv[n++] = (char *)rules_chain_name(rule->chain);
        /* Our rendered tokens never contain spaces: every value is a typed, validated value. */
        for (char *save = NULL, *tok = strtok_r(args, " ", &save); tok && n < ELEMENTSOF(argv) - 1;
             tok = strtok_r(NULL, " ", &save))
                argv[n++] = tok;
        argv[n] = NULL;
        r = iptnft_run(family, argv, &err);
        if (r == -EIO && err.exit_status == 1)
                return 0;
        return r < 0 ? r : 1;
}

/* 1 if iptables-nft holds exactly l (Istio's §5.4 check: chain presence and rule counts, every
 * rule found with -C), 0 otherwise (why in buf). */
static int iptnft_identical(int family, const struct rules_list *l, const struct saved *s, char *why, size_t sz) {
        unsigned want[RULES_TABLE_MAX][RULES_CHAIN_MAX] = {};
        int r;

        for (size_t i = 0; i < l->n; i++)
                want[l->v[i].table][l->v[i].chain]++;
        for (int t = 0; t < RULES_TABLE_MAX; t++)
                for (int ch = RULES_CHAIN_FIRST_ISTIO; ch < RULES_CHAIN_MAX; ch++) {
                        bool wanted = want[t][ch] > 0;
                        if (wanted != s->chain[t][ch] || (wanted && want[t][ch] != s->count[t][ch])) {
                                snprintf(why, sz, "%s chain %s: %u rules present, %u expected",
                                         rules_table_name((enum rules_table)t), rules_chain_name((enum rules_chain)ch),
                                         s->count[t][ch], want[t][ch]);
                                return 0;
                        }
                }
        for (size_t i = 0; i < l->n; i++) {
                r = iptnft_rule_exists(family, &l->v[i]);
                if (r <= 0) {
                        snprintf(why, sz, "a %s rule in %s is missing or different", rules_table_name(l->v[i].table),
                                 rules_chain_name(l->v[i].chain));
                        return r;
                }
        }
        return 1;
}

/* One iptables-nft-restore payload that replaces our state atomically per table: declaring a
 * user chain flushes it, our old jumps are deleted, obsolete chains removed, our rules added. */
static int iptnft_replace_payload(int family, const struct rules_list *l, const struct saved *s, bool cleanup,
                                  char **ret) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        int r = 0;

        if (!f)
                return -ENOMEM;
        for (int t = 0; t < RULES_TABLE_MAX && r >= 0; t++) {
                bool want[RULES_CHAIN_MAX] = {}, any = s->n_jumps[t] > 0;
                for (size_t i = 0; i < l->n; i++)
                        if (l->v[i].table == (enum rules_table)t) {
                                want[l->v[i].chain] = !cleanup;
                                any = true;
                        }
                for (int ch = RULES_CHAIN_FIRST_ISTIO; ch < RULES_CHAIN_MAX; ch++)
                        any = any || s->chain[t][ch];
                if (!any)
                        continue;
                fprintf(f, "*%s\n", rules_table_name((enum rules_table)t));
                for (int ch = RULES_CHAIN_FIRST_ISTIO; ch < RULES_CHAIN_MAX; ch++)
                        if (want[ch] || s->chain[t][ch])
                                fprintf(f, ":%s - [0:0]\n", rules_chain_name((enum rules_chain)ch));
                for (size_t i = 0; i < s->n_jumps[t]; i++)
                        fprintf(f, "-D%s\n", s->jumps[t][i] + 2);
                /* Our built-in-chain rules that are not jumps survive the chain flush: delete the
                 * ones present, then (unless cleaning up) add every rule in configuration order,
                 * so the result is exactly what a fresh apply gives, rule order included. */
                for (size_t i = 0; i < l->n && r >= 0; i++) {
                        const struct rules_rule *rule = &l->v[i];
                        if (rule->table != (enum rules_table)t || !rules_chain_is_builtin(rule->chain) ||
                            rules_rule_jumps_to_istio(rule))
                                continue;
                        r = iptnft_rule_exists(family, rule);
                        if (r <= 0)
                                continue;
                        fprintf(f, "-D %s ", rules_chain_name(rule->chain));
                        r = rules_ipt_format_args(f, rule);
                        fputc('\n', f);
                }
                for (size_t i = 0; i < l->n && r >= 0 && !cleanup; i++) {
                        if (l->v[i].table != (enum rules_table)t)
                                continue;
                        r = rules_ipt_format_rule(f, &l->v[i]);
                        fputc('\n', f);
                }
                for (int ch = RULES_CHAIN_FIRST_ISTIO; ch < RULES_CHAIN_MAX; ch++)
                        if (s->chain[t][ch] && !want[ch])
                                fprintf(f, "-X %s\n", rules_chain_name((enum rules_chain)ch));
                fputs("COMMIT\n", f);
        }
        return memstream_finish(f, &buf, r, ret);
}

static int run_iptnft_family(const struct capture_config *c, int family, const struct rules_list *l,
                             struct capture_report *rep, bool *ret_was_clean) {
        _cleanup_free_ char *save = NULL, *payload = NULL;
        struct saved s = {};
        struct iptnft_error err = {};
        char why[256] = "";
        int r;

        r = iptnft_save(family, &save, &err);
        if (r < 0)
                return fail(rep, r, "%s: %s failed: %s", fam_name(family), err.program, err.stderr_text);
        r = saved_parse(save, &s);
        if (r < 0)
                goto out;
        *ret_was_clean = !s.any;
        if (!c->cleanup_only && s.any) {
                r = iptnft_identical(family, l, &s, why, sizeof why);
                if (r < 0) {
                        fail(rep, r, "%s: checking the current rules failed: %s", fam_name(family), strerror(-r));
                        goto out;
                }
                if (r == 1 && !c->force_apply) {
                        note(rep, "%s: rules already in place, nothing to do", fam_name(family));
                        r = 0;
                        goto out;
                }
                if (!c->reconcile) {
                        r = fail(rep, -EEXIST,
                                 "%s: rules of ours from another configuration are present (%s); re-run with --reconcile to replace them",
                                 fam_name(family), r == 1 ? "--force-apply on existing chains" : why);
                        goto out;
                }
        }
        if (!s.any && !c->cleanup_only)
                r = rules_ipt_render(l, &payload);
        else
                r = iptnft_replace_payload(family, l, &s, c->cleanup_only, &payload);
        if (r < 0) {
                fail(rep, r, "%s: rendering the rules failed: %s", fam_name(family), strerror(-r));
                goto out;
        }
        if (*payload) {
                r = iptnft_restore(family, payload, strlen(payload), true, &err);
                if (r < 0) {
                        fail(rep, r, "%s: %s failed (exit %d): %s", fam_name(family), err.program, err.exit_status,
                             err.stderr_text);
                        goto out;
                }
                rep->changed = true;
        }
        note(rep, "%s: %s via %s", fam_name(family),
             c->cleanup_only ? "rules removed" : s.any ? "rules replaced atomically" : "rules applied",
             iptnft_restore_program(family));
        r = 0;
out:
        saved_done(&s);
        return r;
}

/* --- legacy (in-process) ------------------------------------------------------------------- */

static int run_legacy_family(const struct capture_config *c, iptlegacy_txn *t, int family, const struct rules_list *l,
                             struct capture_report *rep) {
        struct iptlegacy_status st = {};
        int r;

        if (c->cleanup_only) {
                r = iptlegacy_cleanup(t, family, l);
                if (r < 0)
                        return fail(rep, r, "%s: cleanup failed: %s", fam_name(family), iptlegacy_txn_error(t));
                rep->changed = true;
                note(rep, "%s: our chains and rules removed (legacy, in-process)", fam_name(family));
                return 0;
        }
        r = iptlegacy_compare(family, l, &st);
        if (r < 0)
                return fail(rep, r, "%s: reading the current rules failed: %s", fam_name(family), strerror(-r));
        if (st.state == IPTLEGACY_IDENTICAL && !c->force_apply) {
                note(rep, "%s: rules already in place, nothing to do", fam_name(family));
                return 0;
        }
        if (st.state != IPTLEGACY_CLEAN && !c->reconcile)
                return fail(rep, -EEXIST,
                            "%s: rules of ours are already present (%s); re-run with --reconcile to replace them",
                            fam_name(family),
                            st.state == IPTLEGACY_IDENTICAL ? "--force-apply does not replace existing chains" : st.why);
        r = iptlegacy_apply(t, family, l);
        if (r < 0)
                return fail(rep, r, "%s: applying the rules failed: %s", fam_name(family), iptlegacy_txn_error(t));
        rep->changed = true;
        note(rep, "%s: rules %s (legacy, in-process, one commit per table)", fam_name(family),
             st.state == IPTLEGACY_CLEAN ? "applied" : "replaced atomically");
        return 0;
}

/* --- the iptables path (§5.1) --------------------------------------------------------------- */

static enum detect_force force_of(const struct capture_config *c) {
        return c->force_binary == CONFIG_FORCE_LEGACY ? DETECT_FORCE_LEGACY
               : c->force_binary == CONFIG_FORCE_NFT  ? DETECT_FORCE_NFT
                                                      : DETECT_FORCE_NONE;
}

static int detect_families(const struct capture_config *c, struct detect_result det[2], struct capture_report *rep) {
        int nfam = c->enable_ipv6 ? 2 : 1, r;

        for (int i = 0; i < nfam; i++) {
                int family = i ? AF_INET6 : AF_INET;
                r = detect_backend_flags(family, force_of(c), c->cni_mode ? DETECT_NO_EXEC : 0, &det[i]);
                if (r < 0)
                        return fail(rep, r, "%s: no usable packet filter backend: %s", fam_name(family), det[i].why);
                note(rep, "backend %s", det[i].why);
        }
        return nfam;
}

static int run_iptables(const struct capture_config *c, struct capture_report *rep) {
        struct detect_result det[2] = {};
        struct ruleset *rs = NULL;
        iptlegacy_txn *t = NULL;
        bool was_clean[2] = { true, true }, done[2] = {}, routes_added = false;
        int nfam, r;

        nfam = detect_families(c, det, rep);
        if (nfam < 0)
                return nfam;
        /* Neither legacy tables nor iptables-nft: use the in-process nftables backend instead of
         * failing (issue 5, documented in docs/backends.md). */
        if (det[0].backend == DETECT_NATIVE_NFT && (nfam == 1 || det[1].backend == DETECT_NATIVE_NFT))
                return run_nft(c, rep);
        if (det[0].backend == DETECT_NATIVE_NFT || (nfam == 2 && det[1].backend == DETECT_NATIVE_NFT))
                return fail(rep, -EOPNOTSUPP,
                            "IPv4 and IPv6 need different kinds of backend (%s / %s); use --native-nftables for both",
                            detect_backend_to_string(det[0].backend), detect_backend_to_string(det[1].backend));

        r = rules_build(c, RULES_FLAVOR_IPTABLES, &rs);
        if (r < 0)
                return fail(rep, r, "Failed to build the rules: %s", strerror(-r));
        if (!c->cleanup_only) {
                r = setup_routes(c, rep, &routes_added);
                if (r < 0)
                        goto out;
        }
        if (det[0].backend == DETECT_LEGACY || (nfam == 2 && det[1].backend == DETECT_LEGACY)) {
                /* In CNI mode the lock is per pod (the netns file), as Istio's sandbox does, so pods
                 * never wait on each other or on the host's iptables users. */
                const char *lock = c->cni_mode && c->network_namespace && *c->network_namespace ? c->network_namespace : NULL;
                r = iptlegacy_txn_begin(lock, c->lock_wait_usec ? c->lock_wait_usec : IPTLEGACY_LOCK_WAIT_USEC_DEFAULT, 0, &t);
                if (r < 0) {
                        fail(rep, r, "Failed to take the xtables lock %s: %s", lock ? lock : "(default)",
                             t ? iptlegacy_txn_error(t) : strerror(-r));
                        goto out;
                }
        }
        for (int i = 0; i < nfam; i++) {
                int family = i ? AF_INET6 : AF_INET;
                if (det[i].backend == DETECT_LEGACY)
                        r = run_legacy_family(c, t, family, &rs->fam[i], rep);
                else
                        r = run_iptnft_family(c, family, &rs->fam[i], rep, &was_clean[i]);
                if (r < 0)
                        break;
                done[i] = true;
        }
        if (r < 0 && !c->cleanup_only) {
                /* No half-configured pod: undo what this run committed in the other family. */
                int k = 0;
                bool undone = false;
                if (t && iptlegacy_txn_commits(t) > 0) {
                        k = iptlegacy_rollback(t);
                        undone = true;
                }
                for (int i = 0; i < nfam && k >= 0; i++)
                        if (done[i] && det[i].backend != DETECT_LEGACY && was_clean[i]) {
                                struct capture_config cc = *c;
                                struct capture_report ignored = {};
                                bool dummy;
                                cc.cleanup_only = true;
                                k = run_iptnft_family(&cc, i ? AF_INET6 : AF_INET, &rs->fam[i], &ignored, &dummy);
                                undone = true;
                        }
                size_t n = strlen(rep->error);
                if (k < 0)
                        snprintf(rep->error + n, sizeof rep->error - n, "; ROLLBACK FAILED: %s", strerror(-k));
                else if (undone)
                        snprintf(rep->error + n, sizeof rep->error - n, "; what this run had committed was rolled back");
                goto out;
        }
        if (r >= 0 && c->cleanup_only)
                r = cleanup_routes(c, rep);
out:
        if (r < 0 && !c->cleanup_only)
                undo_routes(c, routes_added);
        iptlegacy_txn_free(t);
        rules_free(rs);
        return r;
}

/* Owner names (-u istio-proxy, ISTIO_OUTBOUND_OWNER_GROUPS=java) are resolved by the backend
 * when rules are applied; an unknown one would fail there, possibly after routes were touched.
 * Resolve them all first, so such a run changes nothing and names the culprit. */
static int check_owner_names(const struct capture_config *c, struct capture_report *rep) {
        const struct {
                const struct config_owners *l;
                bool group;
                const char *what;
        } lists[] = {
                { &c->proxy_uid, false, "proxy uid (-u)" },
                { &c->proxy_gid, true, "proxy gid (-g)" },
                { &c->owner_groups_include, true, "ISTIO_OUTBOUND_OWNER_GROUPS" },
                { &c->owner_groups_exclude, true, "ISTIO_OUTBOUND_OWNER_GROUPS_EXCLUDE" },
        };
        char buf[4096];

        for (size_t k = 0; k < ELEMENTSOF(lists); k++)
                for (size_t i = 0; i < lists[k].l->n; i++) {
                        const struct config_owner *o = &lists[k].l->v[i];
                        int e;
                        if (!o->is_name)
                                continue;
                        if (lists[k].group) {
                                struct group g, *res = NULL;
                                e = getgrnam_r(o->name, &g, buf, sizeof buf, &res);
                                e = e ? e : res ? 0 : ENOENT;
                        } else {
                                struct passwd pw, *res = NULL;
                                e = getpwnam_r(o->name, &pw, buf, sizeof buf, &res);
                                e = e ? e : res ? 0 : ENOENT;
                        }
                        if (e)
                                return fail(rep, -e, "unknown %s '%s' in %s: %s; nothing was changed",
                                            lists[k].group ? "group" : "user", o->name, lists[k].what,
                                            e == ENOENT ? "no such name" : strerror(e));
                }
        return 0;
}

int capture_run(const struct capture_config *c, struct capture_report *rep) {
        int r;

        *rep = (struct capture_report){};
        if (!c->cleanup_only) {
                r = check_owner_names(c, rep);
                if (r < 0)
                        return r;
        }
        if (c->native_nftables)
                return run_nft(c, rep);
        return run_iptables(c, rep);
}

int capture_check(const struct capture_config *c, struct capture_report *rep) {
        struct detect_result det[2] = {};
        struct ruleset *rs = NULL;
        int nfam, r = 0, in_sync = 1;

        *rep = (struct capture_report){};
        if (!c->native_nftables) {
                nfam = detect_families(c, det, rep);
                if (nfam < 0)
                        return nfam;
        } else
                nfam = 0;
        if (c->native_nftables || det[0].backend == DETECT_NATIVE_NFT) {
                _cleanup_free_ char *text = NULL, *error = NULL;
                bool ok = false;
                r = rules_build(c, RULES_FLAVOR_NFT, &rs);
                if (r >= 0)
                        r = rules_nft_render(rs, false, &text);
                if (r >= 0)
                        r = nftapply_state(text, &ok, &error);
                rules_free(rs);
                if (r < 0)
                        return fail(rep, r, "nftables state check failed: %s", error ? error : strerror(-r));
                if (!ok)
                        snprintf(rep->error, sizeof rep->error, "our nftables tables are missing or differ");
                return ok;
        }
        r = rules_build(c, RULES_FLAVOR_IPTABLES, &rs);
        if (r < 0)
                return fail(rep, r, "Failed to build the rules: %s", strerror(-r));
        for (int i = 0; i < nfam && in_sync == 1; i++) {
                int family = i ? AF_INET6 : AF_INET;
                if (det[i].backend == DETECT_LEGACY) {
                        struct iptlegacy_status st = {};
                        r = iptlegacy_compare(family, &rs->fam[i], &st);
                        if (r < 0)
                                break;
                        if (st.state != IPTLEGACY_IDENTICAL) {
                                in_sync = 0;
                                snprintf(rep->error, sizeof rep->error, "%s: %s", fam_name(family),
                                         st.state == IPTLEGACY_CLEAN ? "our rules are missing" : st.why);
                        }
                } else {
                        _cleanup_free_ char *save = NULL;
                        struct saved s = {};
                        struct iptnft_error err;
                        char why[256] = "";
                        r = iptnft_save(family, &save, &err);
                        if (r >= 0)
                                r = saved_parse(save, &s);
                        if (r >= 0)
                                r = iptnft_identical(family, &rs->fam[i], &s, why, sizeof why);
                        saved_done(&s);
                        if (r < 0)
                                break;
                        if (r == 0) {
                                in_sync = 0;
                                snprintf(rep->error, sizeof rep->error, "%s: %s", fam_name(family), why);
                        }
                }
        }
        rules_free(rs);
        if (r < 0)
                return fail(rep, r, "Reading the current rules failed: %s", strerror(-r));
        return in_sync;
}
