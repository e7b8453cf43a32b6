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
 *   rules, so a route failure leaves nothing behind once undone. TPROXY routing the configuration
 *   does not use (an earlier TPROXY run, or any run before a cleanup) is found in the netns and
 *   removed *after* the rules, whatever flags this run got (issue 11 A2).
 * - This file chooses and orchestrates: detection, the plan per family, routes, rollback. Each
 *   backend keeps its own state model (iptlegacy, iptnft, nftapply). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/idname.h"
#include "kernel/capture.h"
#include "kernel/detect.h"
#include "kernel/iptlegacy.h"
#include "kernel/iptnft.h"
#include "base/macro.h"
#include "kernel/nftapply.h"
#include "kernel/nftbatch.h"
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

/* Appends to rep->error (what rollback did after the failure it describes). */
static void fail_append(struct capture_report *rep, const char *fmt, ...) _printf_(2, 3);
static void fail_append(struct capture_report *rep, const char *fmt, ...) {
        size_t n = strlen(rep->error);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(rep->error + n, sizeof rep->error - n, fmt, ap);
        va_end(ap);
}

static const char *fam_name(int family) { return family == AF_INET6 ? "IPv6" : "IPv4"; }

static bool inbound_on(const struct capture_config *c) { return c->inbound_all || c->inbound_ports.n > 0; }

static bool tproxy_on(const struct capture_config *c) { return c->tproxy && inbound_on(c); }

/* --- routes (§5.7) ------------------------------------------------------------------------- */

/* Sets up routes; *ret_added tells whether this run created the TPROXY rule (it did not exist),
 * so that a failure can remove it again and leave the namespace as it found it. *ret_added is
 * set on failure too: the caller undoes a half-done set-up with undo_routes(). */
static int setup_routes(const struct capture_config *c, struct capture_report *rep, bool *ret_added) {
        const char *step = NULL;
        int r;

        *ret_added = false;
        if (c->enable_ipv6) {
                r = routes_add_lo_ipv6_source(&step);
                if (r < 0)
                        return fail(rep, r, "%s: %s", step ? step : "Failed to add ::6 to lo", strerror(-r));
        }
        if (tproxy_on(c)) {
                r = routes_setup_tproxy(c->tproxy_mark, c->tproxy_route_table, c->enable_ipv6, ret_added, &step);
                if (r < 0)
                        return fail(rep, r, "%s: %s", step ? step : "Failed to set up TPROXY routing", strerror(-r));
                note(rep, "TPROXY routing: fwmark %u lookup table %u, local default route via lo", c->tproxy_mark,
                     c->tproxy_route_table);
        }
        return 0;
}

/* Undoes setup_routes() after a failure, if this run added the routing. */
static void undo_routes(const struct capture_config *c, bool added) {
        const char *step = NULL;
        if (added)
                (void)routes_cleanup_tproxy(c->tproxy_mark, c->tproxy_route_table, c->enable_ipv6, &step);
}

/* After the rules are in place (or gone): removes the TPROXY routing of ours that the
 * configuration does not use, found in the netns (both families, any mark and table). Istio's
 * --cleanup-only *adds* routes (quirk 21); we remove them. */
static int drop_stale_routes(const struct capture_config *c, struct capture_report *rep) {
        unsigned flags = c->cleanup_only ? ROUTES_PAIR_ALWAYS : tproxy_on(c) ? ROUTES_KEEP_PAIR : 0;
        const char *step = NULL;
        int r;

        r = routes_cleanup_tproxy_found(c->tproxy_mark, c->tproxy_route_table, flags, &step);
        if (r < 0)
                return fail(rep, r, "%s: %s (%s)", step ? step : "Failed to remove TPROXY routing", strerror(-r),
                            c->cleanup_only ? "the rules were removed" : "the rules were applied");
        if (r > 0)
                note(rep, "TPROXY routing removed (%d policy rule%s and their local routes)", r, r == 1 ? "" : "s");
        return 0;
}

/* --- what a run works on -------------------------------------------------------------------- */

struct plan {
        int nfam;
        struct detect_result det[2];
        bool native; /* the in-process nftables backend for both families */
        struct ruleset *rs;
        struct ruleset *residue; /* see plan_residue(); NULL until needed */
};

static enum detect_force force_of(const struct capture_config *c) {
        return c->force_binary == CONFIG_FORCE_LEGACY ? DETECT_FORCE_LEGACY
               : c->force_binary == CONFIG_FORCE_NFT  ? DETECT_FORCE_NFT
                                                      : DETECT_FORCE_NONE;
}

/* Cleanup without --dual-stack: IPv6 is cleaned too when it holds iptables state, in the backend
 * that holds it. Unforced detection opens no table that does not exist yet (quirk 23), and a
 * family with nothing in it, or none we could serve with IPv4's kind of backend, is left alone. */
static void plan_extra_ipv6(const struct capture_config *c, struct plan *p) {
        const struct detect_facts *f = &p->det[1].facts;
        int r = detect_backend_flags(AF_INET6, DETECT_FORCE_NONE, c->cni_mode ? DETECT_NO_EXEC : 0, &p->det[1]);

        if (r < 0 || !(f->legacy_rules || f->nft_xt_tables) || p->det[1].backend == DETECT_NATIVE_NFT ||
            p->det[0].backend == DETECT_NATIVE_NFT)
                p->nfam = 1;
}

/* Detection per family, then the rules for the backend chosen. */
static int plan_make(const struct capture_config *c, struct plan *p, struct capture_report *rep) {
        int r;

        /* A cleanup also looks at IPv6 without --dual-stack: what is there is removed, whatever
         * flags the apply had. */
        *p = (struct plan){ .nfam = c->enable_ipv6 || c->cleanup_only ? 2 : 1, .native = c->native_nftables };
        for (int i = 0; i < p->nfam && !p->native; i++) {
                int family = i ? AF_INET6 : AF_INET;
                if (i == 1 && !c->enable_ipv6) {
                        plan_extra_ipv6(c, p);
                        break;
                }
                r = detect_backend_flags(family, force_of(c), c->cni_mode ? DETECT_NO_EXEC : 0, &p->det[i]);
                if (r < 0)
                        return fail(rep, r, "%s: no usable packet filter backend: %s", fam_name(family), p->det[i].why);
                note(rep, "backend %s", p->det[i].why);
        }
        if (!p->native) {
                bool nat4 = p->det[0].backend == DETECT_NATIVE_NFT;
                bool nat6 = p->nfam == 2 && p->det[1].backend == DETECT_NATIVE_NFT;
                /* Neither legacy tables nor iptables-nft: use the in-process nftables backend
                 * instead of failing (issue 5, documented in docs/backends.md). */
                if (nat4 && (p->nfam == 1 || nat6))
                        p->native = true;
                else if (nat4 || nat6)
                        return fail(rep, -EOPNOTSUPP,
                                    "IPv4 and IPv6 need different kinds of backend (%s / %s); use --native-nftables for both",
                                    detect_backend_to_string(p->det[0].backend), detect_backend_to_string(p->det[1].backend));
        }
        r = rules_build(c, p->native ? RULES_FLAVOR_NFT : RULES_FLAVOR_IPTABLES, &p->rs);
        if (r < 0)
                return fail(rep, r, "Failed to build the rules: %s", strerror(-r));
        return 0;
}

static void plan_done(struct plan *p) {
        rules_free(p->rs);
        rules_free(p->residue);
        p->rs = p->residue = NULL;
}

/* The built-in-chain rules an earlier configuration of ours may have left that this one may not
 * render: the same configuration with every optional block on (TPROXY inbound, DNS capture of
 * all port-53 traffic, drop-invalid). The backends remove those present on cleanup and whenever
 * they replace our state (--reconcile), never add them: so TPROXY -> REDIRECT or DNS on -> off
 * leaves no mangle or raw rule behind, and cleanup without flags finds them too. */
static const struct rules_list *plan_residue(const struct capture_config *c, struct plan *p, int i) {
        struct capture_config all = *c;

        if (!p->residue) {
                all.tproxy = all.inbound_all = all.redirect_dns = all.capture_all_dns = all.drop_invalid = true;
                all.enable_ipv6 = true;
                /* On failure (no memory) only l's own built-in rules are removed, as before. */
                if (rules_build(&all, RULES_FLAVOR_IPTABLES, &p->residue) < 0)
                        return NULL;
        }
        return &p->residue->fam[i];
}

/* --- native nftables (§7) ------------------------------------------------------------------ */

static int run_nft(const struct capture_config *c, const struct plan *p, struct capture_report *rep) {
        _cleanup_free_ char *error = NULL;
        bool routes_added = false;
        unsigned present = 0, flags = 0;
        const char *f;
        int r;

        if (c->cleanup_only) {
                r = nftbatch_cleanup(&error);
                if (r < 0)
                        return fail(rep, r, "nftables cleanup failed: %s", error ? error : strerror(-r));
                note(rep, "nftables: removed tables inet %s, %s, %s", RULES_NFT_TABLE_NAT, RULES_NFT_TABLE_MANGLE,
                     RULES_NFT_TABLE_RAW);
                return drop_stale_routes(c, rep);
        }
        /* Which of our tables exist: those are deleted and recreated in the batch. */
        r = nftbatch_tables_present(&present);
        if (r < 0)
                return fail(rep, r, "Failed to list the nftables tables (nothing was changed): %s",
                            strerror(-r));
        f = secure_getenv(NFTAPPLY_FAULT_ENV);
        if (f && streq(f, NFTAPPLY_FAULT_LAST_RULE))
                flags |= NFTBATCH_FAULT_LAST_RULE;
        r = setup_routes(c, rep, &routes_added);
        if (r < 0) {
                undo_routes(c, routes_added);
                return r;
        }
        /* One netlink batch: every table, both IP families, flushed and refilled atomically, and
         * our tables this configuration does not use deleted. */
        r = nftbatch_apply(p->rs, present, flags, &error);
        if (r < 0) {
                undo_routes(c, routes_added);
                return fail(rep, r, "nftables transaction failed (nothing was changed): %s",
                            error ? error : strerror(-r));
        }
        note(rep, "nftables: applied our tables in one atomic netlink batch");
        return drop_stale_routes(c, rep);
}

/* --- the iptables backends, one interface -------------------------------------------------- */

struct backends {
        iptlegacy_txn *legacy; /* holds the xtables lock when a family uses legacy */
        iptnft_txn *nft;
};

enum fam_state { FAM_CLEAN, FAM_IDENTICAL, FAM_DRIFTED };

static int backends_begin(const struct capture_opts *o, const struct plan *p, bool lock, uint64_t lock_wait_usec,
                          struct backends *b, struct capture_report *rep) {
        bool any_legacy = false;
        int r;

        for (int i = 0; i < p->nfam; i++)
                any_legacy = any_legacy || p->det[i].backend == DETECT_LEGACY;
        *b = (struct backends){};
        if (any_legacy && lock) {
                /* In CNI mode the lock is per pod (the netns the caller holds open), as Istio's
                 * sandbox does, so pods never wait on each other or on the host's iptables users. */
                int fd = o ? o->lock_fd : -1;
                r = iptlegacy_txn_begin(NULL, fd, lock_wait_usec ? lock_wait_usec : IPTLEGACY_LOCK_WAIT_USEC_DEFAULT, 0,
                                        &b->legacy);
                if (r < 0)
                        return fail(rep, r, "Failed to take the xtables lock %s: %s",
                                    fd >= 0 ? "(the network namespace)" : "(default)",
                                    b->legacy ? iptlegacy_txn_error(b->legacy) : strerror(-r));
        }
        r = iptnft_txn_begin(&b->nft);
        if (r < 0)
                return fail(rep, r, "Failed to start the iptables-nft transaction: %s", strerror(-r));
        return 0;
}

static void backends_done(struct backends *b) {
        b->legacy = iptlegacy_txn_free(b->legacy);
        b->nft = iptnft_txn_free(b->nft);
}

static int compare_family(struct backends *b, enum detect_backend be, int family, const struct rules_list *l,
                          enum fam_state *ret, char *why, size_t sz, struct capture_report *rep) {
        int r;

        if (be == DETECT_LEGACY) {
                struct iptlegacy_status st = {};
                r = iptlegacy_compare(family, l, &st);
                if (r < 0)
                        return fail(rep, r, "%s: reading the current rules failed: %s", fam_name(family), strerror(-r));
                *ret = st.state == IPTLEGACY_CLEAN ? FAM_CLEAN : st.state == IPTLEGACY_IDENTICAL ? FAM_IDENTICAL : FAM_DRIFTED;
                snprintf(why, sz, "%s", st.state == IPTLEGACY_CLEAN ? "our rules are missing" : st.why);
                return 0;
        }
        struct iptnft_status st = {};
        r = iptnft_compare(b->nft, family, l, &st);
        if (r < 0)
                return fail(rep, r, "%s: reading the current rules failed: %s", fam_name(family), iptnft_txn_error(b->nft));
        *ret = st.state == IPTNFT_CLEAN ? FAM_CLEAN : st.state == IPTNFT_IDENTICAL ? FAM_IDENTICAL : FAM_DRIFTED;
        snprintf(why, sz, "%s", st.state == IPTNFT_CLEAN ? "our rules are missing" : st.why);
        return 0;
}

/* Applies l, or removes our state with c->cleanup_only, in one family; residue: see plan_residue(). */
static int change_family(const struct capture_config *c, struct backends *b, enum detect_backend be, int family,
                         const struct rules_list *l, const struct rules_list *residue, struct capture_report *rep) {
        int r;

        if (be == DETECT_LEGACY) {
                r = c->cleanup_only ? iptlegacy_cleanup(b->legacy, family, l, residue)
                                    : iptlegacy_apply(b->legacy, family, l, residue);
                if (r < 0)
                        return fail(rep, r, "%s: %s failed: %s", fam_name(family), c->cleanup_only ? "cleanup" : "applying the rules",
                                    iptlegacy_txn_error(b->legacy));
                return 0;
        }
        r = c->cleanup_only ? iptnft_cleanup(b->nft, family, l, residue) : iptnft_apply(b->nft, family, l, residue);
        if (r < 0)
                return fail(rep, r, "%s: %s", fam_name(family), iptnft_txn_error(b->nft));
        return 0;
}

/* One family: compare, decide (idempotence, --reconcile, --force-apply: §5.4, §5.5), change. */
static int run_family(const struct capture_config *c, struct backends *b, struct plan *p, int i,
                      struct capture_report *rep) {
        enum detect_backend be = p->det[i].backend;
        const struct rules_list *l = &p->rs->fam[i];
        int family = i ? AF_INET6 : AF_INET;
        const char *how = be == DETECT_LEGACY ? "legacy, in-process" : iptnft_restore_program(family);
        enum fam_state st = FAM_CLEAN;
        char why[256] = "";
        int r;

        if (!c->cleanup_only) {
                r = compare_family(b, be, family, l, &st, why, sizeof why, rep);
                if (r < 0)
                        return r;
                if (st == FAM_IDENTICAL && !c->force_apply) {
                        note(rep, "%s: rules already in place, nothing to do", fam_name(family));
                        return 0;
                }
                if (st != FAM_CLEAN && !c->reconcile)
                        return fail(rep, -EEXIST,
                                    "%s: rules of ours are already present (%s); re-run with --reconcile to replace them",
                                    fam_name(family),
                                    st == FAM_IDENTICAL ? "--force-apply does not replace existing chains" : why);
        }
        /* A clean family (the common first apply) has no residue to look for. */
        r = change_family(c, b, be, family, l, st == FAM_CLEAN && !c->cleanup_only ? NULL : plan_residue(c, p, i), rep);
        if (r < 0)
                return r;
        note(rep, "%s: %s (%s)", fam_name(family),
             c->cleanup_only ? "our chains and rules removed" : st == FAM_CLEAN ? "rules applied" : "rules replaced atomically",
             how);
        return 0;
}

/* Puts back every table this run committed, in both families and both backends. */
static void rollback(struct backends *b, struct capture_report *rep) {
        unsigned commits = iptlegacy_txn_commits(b->legacy) + iptnft_txn_commits(b->nft);
        int r = 0, k;

        if (commits == 0)
                return;
        if (b->legacy && iptlegacy_txn_commits(b->legacy) > 0)
                r = iptlegacy_rollback(b->legacy);
        k = iptnft_rollback(b->nft);
        if (r < 0 || k < 0)
                fail_append(rep, "; ROLLBACK FAILED: %s", r < 0 ? iptlegacy_txn_error(b->legacy) : iptnft_txn_error(b->nft));
        else
                fail_append(rep, "; what this run had committed was rolled back");
}

/* §5.1: routes first, then each family; any failure undoes the whole run. */
static int run_iptables(const struct capture_config *c, const struct capture_opts *o, struct plan *p,
                        struct capture_report *rep) {
        struct backends b = {};
        bool routes_added = false;
        int r;

        if (!c->cleanup_only) {
                r = setup_routes(c, rep, &routes_added);
                if (r < 0)
                        goto undo;
        }
        r = backends_begin(o, p, true, c->lock_wait_usec, &b, rep);
        if (r < 0)
                goto undo;
        for (int i = 0; i < p->nfam && r >= 0; i++)
                r = run_family(c, &b, p, i, rep);
        if (r < 0) {
                /* No half-configured pod: a cleanup that failed half-way is rolled back too. */
                rollback(&b, rep);
                goto undo;
        }
        backends_done(&b);
        return drop_stale_routes(c, rep);
undo:
        backends_done(&b);
        undo_routes(c, routes_added);
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
        for (size_t k = 0; k < ELEMENTSOF(lists); k++)
                for (size_t i = 0; i < lists[k].l->n; i++) {
                        const struct config_owner *o = &lists[k].l->v[i];
                        uint32_t id;
                        int e;
                        if (!o->is_name)
                                continue;
                        e = idname_lookup(o->name, lists[k].group, &id);
                        if (e < 0)
                                return fail(rep, e, "unknown %s '%s' in %s: %s; nothing was changed",
                                            lists[k].group ? "group" : "user", o->name, lists[k].what,
                                            e == -ENOENT ? "no such name" : strerror(-e));
                }
        return 0;
}

int capture_run(const struct capture_config *c, const struct capture_opts *o, struct capture_report *rep) {
        struct plan p = {};
        int r;

        *rep = (struct capture_report){};
        if (!c->cleanup_only) {
                r = check_owner_names(c, rep);
                if (r < 0)
                        return r;
        }
        r = plan_make(c, &p, rep);
        if (r >= 0)
                r = p.native ? run_nft(c, &p, rep) : run_iptables(c, o, &p, rep);
        plan_done(&p);
        return r;
}

/* The native state: our tables, read over netlink, equal what the same batch gives in an empty
 * netns (nftbatch_state()). */
static int check_nft(const struct plan *p, struct capture_report *rep) {
        _cleanup_free_ char *error = NULL;
        bool ok = false;
        int r;

        r = nftbatch_state(p->rs, &ok, &error);
        if (r < 0)
                return fail(rep, r, "nftables state check failed: %s", error ? error : strerror(-r));
        if (!ok)
                snprintf(rep->error, sizeof rep->error, "our nftables tables are missing or differ");
        return ok;
}

int capture_check(const struct capture_config *c, struct capture_report *rep) {
        struct backends b = {};
        struct plan p = {};
        int r, in_sync = 1;

        *rep = (struct capture_report){};
        r = plan_make(c, &p, rep);
        if (r >= 0 && p.native)
                in_sync = r = check_nft(&p, rep);
        else if (r >= 0)
                r = backends_begin(NULL, &p, false, 0, &b, rep);
        for (int i = 0; i < p.nfam && r >= 0 && !p.native && in_sync; i++) {
                int family = i ? AF_INET6 : AF_INET;
                enum fam_state st = FAM_CLEAN;
                char why[256] = "";
                r = compare_family(&b, p.det[i].backend, family, &p.rs->fam[i], &st, why, sizeof why, rep);
                if (r >= 0 && st != FAM_IDENTICAL) {
                        in_sync = 0;
                        snprintf(rep->error, sizeof rep->error, "%s: %s", fam_name(family), why);
                }
        }
        backends_done(&b);
        plan_done(&p);
        return r < 0 ? r : in_sync;
}
