/* SPDX-License-Identifier: Apache-2.0 */
/* detect.c: choose legacy / iptables-nft / native nf_tables per family from kernel facts.
 * Spec: istio-iptables.md §5.2, §10 quirk 23; docs/backends.md has the decision rule.
 * Facts: /proc/net/ip{,6}_tables_names (tables instantiated in this netns), libiptc (rules in
 * them; the nat table can be taken), an NFT_MSG_GETTABLE dump over NETLINK_NETFILTER (does
 * nf_tables answer, which xtables-compat tables exist), PATH (ip[6]tables-nft-restore). */
#include "kernel/detect.h"

#include <errno.h>
#include <libiptc/libip6tc.h>
#include <libiptc/libiptc.h>
#include <linux/netfilter.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kernel/iptnft.h"
#include "kernel/nftdump.h"
#include "base/macro.h"
#include "rules/rules.h"

/* DETECT_TABLE_* bits are 1 << enum rules_table, so the names come from lib/rules. */
_Static_assert(DETECT_TABLE_FILTER == 1u << RULES_TABLE_FILTER && DETECT_TABLE_MANGLE == 1u << RULES_TABLE_MANGLE &&
                       DETECT_TABLE_NAT == 1u << RULES_TABLE_NAT && DETECT_TABLE_RAW == 1u << RULES_TABLE_RAW,
               "DETECT_TABLE_* must follow enum rules_table");

static unsigned table_bit(const char *name) {
        enum rules_table t;
        return rules_table_from_name(name, &t) == 0 ? 1u << t : DETECT_TABLE_OTHER;
}

const char *detect_backend_to_string(enum detect_backend b) {
        switch (b) {
        case DETECT_LEGACY: return "legacy";
        case DETECT_IPTNFT: return "iptables-nft";
        case DETECT_NATIVE_NFT: return "native-nft";
        default: return "none";
        }
}

int detect_force_from_string(const char *s, enum detect_force *ret) {
        if (!s || !*s)
                *ret = DETECT_FORCE_NONE;
        else if (streq(s, "legacy"))
                *ret = DETECT_FORCE_LEGACY;
        else if (streq(s, "nft"))
                *ret = DETECT_FORCE_NFT;
        else
                return -EINVAL;
        return 0;
}

/* ---- facts: legacy ---- */

static int read_legacy_tables(int family, unsigned *ret) {
        const char *path = family == AF_INET ? "/proc/net/ip_tables_names" : "/proc/net/ip6_tables_names";
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        char line[64];
        unsigned bits = 0;

        if (!f) {
                /* No file: ip_tables (ip6_tables) is not loaded, so no legacy table exists. */
                *ret = 0;
                return errno == ENOENT ? 0 : -errno;
        }
        while (fgets(line, sizeof(line), f)) {
                line[strcspn(line, "\n")] = '\0';
                if (*line)
                        bits |= table_bit(line);
        }
        *ret = bits;
        return 0;
}

/* Rules plus user-defined chains in one legacy table; -errno if it cannot be taken. Opening a
 * table the kernel has not instantiated in this netns instantiates it. */
static int legacy_count(int family, const char *table) {
        int n = 0;
        if (family == AF_INET) {
                struct xtc_handle *h = iptc_init(table);
                if (!h)
                        return -(errno ? errno : EIO);
                for (const char *c = iptc_first_chain(h); c; c = iptc_next_chain(h)) {
                        if (!iptc_builtin(c, h))
                                n++;
                        for (const struct ipt_entry *e = iptc_first_rule(c, h); e; e = iptc_next_rule(e, h))
                                n++;
                }
                iptc_free(h);
        } else {
                struct xtc_handle *h = ip6tc_init(table);
                if (!h)
                        return -(errno ? errno : EIO);
                for (const char *c = ip6tc_first_chain(h); c; c = ip6tc_next_chain(h)) {
                        if (!ip6tc_builtin(c, h))
                                n++;
                        for (const struct ip6t_entry *e = ip6tc_first_rule(c, h); e; e = ip6tc_next_rule(e, h))
                                n++;
                }
                ip6tc_free(h);
        }
        return n;
}

/* ---- facts: nf_tables ---- */

/* Keeps the xtables-named tables of a family's nf_tables dump (nftdump_tables()). */
static void xt_table_bit(const char *name, void *userdata) {
        unsigned *bits = userdata, b = table_bit(name);

        if (b != DETECT_TABLE_OTHER || streq(name, "security"))
                *bits |= b;
}

/* 0 and the xtables-named tables in *ret, or -errno when nf_tables does not answer (not built,
 * not loadable, or blocked). */
static int nft_list_tables(int family, unsigned *ret) {
        unsigned bits = 0;
        int r;

        r = nftdump_tables(family == AF_INET ? NFPROTO_IPV4 : NFPROTO_IPV6, xt_table_bit, &bits);
        if (r < 0)
                return r;
        *ret = bits;
        return 0;
}

/* ---- facts: PATH ---- */

static bool in_path(const char *prog) {
        const char *path = getenv("PATH");
        if (!path)
                path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        for (const char *p = path; ; ) {
                const char *e = strchrnul(p, ':');
                char buf[4096];
                size_t l = (size_t)(e - p);
                /* An empty PATH element means the current directory, as for execvp. */
                if (l + 1 + strlen(prog) + 1 <= sizeof(buf)) {
                        if (l)
                                memcpy(buf, p, l);
                        else
                                buf[l++] = '.';
                        snprintf(buf + l, sizeof(buf) - l, "/%s", prog);
                        if (access(buf, X_OK) == 0)
                                return true;
                }
                if (!*e)
                        return false;
                p = e + 1;
        }
}

/* ---- the rule ---- */

static void tables_to_string(unsigned bits, char *buf, size_t size) {
        size_t o = 0;
        buf[0] = '\0';
        for (int t = 0; t < RULES_TABLE_MAX; t++)
                if (bits & (1u << t))
                        o += snprintf(buf + o, o < size ? size - o : 0, "%s%s", o ? "," : "",
                                      rules_table_name((enum rules_table)t));
        if (bits & DETECT_TABLE_OTHER)
                o += snprintf(buf + o, o < size ? size - o : 0, "%s%s", o ? "," : "", "other");
        if (o == 0)
                snprintf(buf, size, "none");
}

static int finish(int family, enum detect_backend b, const struct detect_facts *f, struct detect_result *ret,
                  int r, const char *reason) {
        char lt[48], nt[48], nft[96], legacy[96];

        tables_to_string(f->legacy_tables, lt, sizeof(lt));
        tables_to_string(f->nft_xt_tables, nt, sizeof(nt));
        if (f->legacy_rules)
                snprintf(legacy, sizeof(legacy), "tables %s, %u rule%s", lt, f->legacy_rules,
                         f->legacy_rules == 1 ? "" : "s");
        else
                snprintf(legacy, sizeof(legacy), "tables %s, no rules", lt);
        if (f->legacy_nat_error)
                snprintf(legacy + strlen(legacy), sizeof(legacy) - strlen(legacy), ", nat unusable (%s)",
                         strerror(-f->legacy_nat_error));
        else if (!f->legacy_nat_probed && !(f->legacy_tables & DETECT_TABLE_NAT))
                snprintf(legacy + strlen(legacy), sizeof(legacy) - strlen(legacy), ", nat not probed");
        if (f->nft_works)
                snprintf(nft, sizeof(nft), "xtables tables %s", nt);
        else
                snprintf(nft, sizeof(nft), "unavailable (%s)", strerror(-f->nft_error));

        ret->backend = r < 0 ? DETECT_NONE : b;
        ret->facts = *f;
        char line[640];
        snprintf(line, sizeof(line), "%s: %s: %s [legacy: %s; nf_tables: %s; %s %s]",
                 family == AF_INET ? "IPv4" : "IPv6", r < 0 ? "no backend" : detect_backend_to_string(b),
                 reason, legacy, nft, iptnft_restore_program(family),
                 f->nft_binary ? "in PATH" : "not in PATH");
        /* Bounded copy; a cut line ends in "..." so nobody mistakes it for the whole story. */
        size_t l = strlen(line);
        if (l >= sizeof(ret->why)) {
                l = sizeof(ret->why) - 1;
                memcpy(line + l - 3, "...", 3);
        }
        memcpy(ret->why, line, l);
        ret->why[l] = '\0';
        return r;
}

int detect_decide(int family, enum detect_force force, const struct detect_facts *f, struct detect_result *ret) {
        const char *prog = iptnft_restore_program(family);
        char reason[160];

        if (family != AF_INET && family != AF_INET6)
                return -EAFNOSUPPORT;

        if (force == DETECT_FORCE_LEGACY) {
                if (!f->legacy_nat_usable)
                        return finish(family, DETECT_NONE, f, ret, -EOPNOTSUPP,
                                      "forced legacy, but the kernel cannot serve the legacy nat table");
                return finish(family, DETECT_LEGACY, f, ret, 0,
                              f->nft_xt_tables ? "forced (nf_tables also holds xtables tables)" : "forced");
        }
        if (force == DETECT_FORCE_NFT) {
                if (!f->nft_binary) {
                        snprintf(reason, sizeof(reason), "forced nft, but %s is not in PATH", prog);
                        return finish(family, DETECT_NONE, f, ret, -ENOENT, reason);
                }
                if (!f->nft_works)
                        return finish(family, DETECT_NONE, f, ret, -EOPNOTSUPP,
                                      "forced nft, but nf_tables is unavailable in this netns");
                return finish(family, DETECT_IPTNFT, f, ret, 0,
                              f->legacy_rules ? "forced (legacy also holds rules)" : "forced");
        }

        /* 1. Whatever already holds the pod's rules, so they are never split over two backends. */
        if (f->legacy_rules && f->legacy_nat_usable)
                return finish(family, DETECT_LEGACY, f, ret, 0,
                              f->nft_xt_tables && f->nft_works ? "legacy holds rules (nf_tables holds xtables tables too)"
                                                               : "legacy holds rules");
        if (f->nft_xt_tables && f->nft_works) {
                if (f->nft_binary)
                        return finish(family, DETECT_IPTNFT, f, ret, 0, "nf_tables holds xtables tables");
                snprintf(reason, sizeof(reason), "nf_tables holds xtables tables, %s not in PATH", prog);
                return finish(family, DETECT_NATIVE_NFT, f, ret, 0, reason);
        }
        /* 2. A clean netns: what Istio picks (iptables-nft) when its binary is here, else the
         * in-process legacy backend, else native nf_tables. */
        if (f->nft_binary && f->nft_works)
                return finish(family, DETECT_IPTNFT, f, ret, 0, "no rules anywhere; iptables-nft as Istio would");
        if (f->legacy_nat_usable)
                return finish(family, DETECT_LEGACY, f, ret, 0,
                              f->nft_binary ? "no rules anywhere; nf_tables unavailable"
                                            : "no rules anywhere; no iptables-nft binary, legacy in-process");
        if (f->nft_works)
                return finish(family, DETECT_NATIVE_NFT, f, ret, 0,
                              "legacy nat unusable, no iptables-nft binary; native nf_tables");
        return finish(family, DETECT_NONE, f, ret, -EOPNOTSUPP, "neither legacy nat nor nf_tables is usable");
}

/* Would the rule pick legacy if the legacy nat table turned out usable? Only then is the nat
 * probe (which can instantiate that table, quirk 23) worth doing. Asks detect_decide() itself,
 * so the two cannot drift apart. */
static bool may_pick_legacy(int family, enum detect_force force, const struct detect_facts *f) {
        struct detect_facts g = *f;
        struct detect_result res;

        g.legacy_nat_usable = true;
        g.legacy_nat_error = 0;
        return detect_decide(family, force, &g, &res) == 0 && res.backend == DETECT_LEGACY;
}

static void test_overrides(struct detect_facts *f, bool *legacy_off) {
        const char *e = getenv("CNIBOX_TEST_DETECT_UNUSABLE");
        *legacy_off = false;
        if (!e)
                return;
        if (strstr(e, "legacy")) {
                *legacy_off = true;
                f->legacy_nat_usable = false;
                f->legacy_nat_error = -EOPNOTSUPP;
                f->legacy_tables = f->legacy_rules = 0;
        }
        if (strstr(e, "nft")) {
                f->nft_works = false;
                f->nft_error = -EOPNOTSUPP;
                f->nft_xt_tables = 0;
        }
}

int detect_backend(int family, enum detect_force force, struct detect_result *ret) {
        return detect_backend_flags(family, force, 0, ret);
}

int detect_backend_flags(int family, enum detect_force force, unsigned flags, struct detect_result *ret) {
        struct detect_facts f = { 0 };
        bool legacy_off;
        int r;

        memset(ret, 0, sizeof(*ret));
        if (family != AF_INET && family != AF_INET6)
                return -EAFNOSUPPORT;

        r = read_legacy_tables(family, &f.legacy_tables);
        if (r < 0)
                return finish(family, DETECT_NONE, &f, ret, r, "cannot read the legacy table list");
        /* Only tables the kernel already instantiated in this netns: opening them changes nothing. */
        for (int i = 0; i < RULES_TABLE_MAX; i++) {
                if (!(f.legacy_tables & (1u << i)))
                        continue;
                int n = legacy_count(family, rules_table_name((enum rules_table)i));
                if (n > 0)
                        f.legacy_rules += (unsigned)n;
                if ((1u << i) == DETECT_TABLE_NAT) {
                        f.legacy_nat_probed = true;
                        f.legacy_nat_usable = n >= 0;
                        f.legacy_nat_error = n < 0 ? n : 0;
                }
        }

        r = nft_list_tables(family, &f.nft_xt_tables);
        f.nft_works = r >= 0;
        f.nft_error = r < 0 ? r : 0;
        /* In-process only (CNI mode on the host): behave as if no iptables-nft binary existed. */
        f.nft_binary = !(flags & DETECT_NO_EXEC) &&
                       in_path(iptnft_restore_program(family));

        test_overrides(&f, &legacy_off);

        /* Quirk 23: Istio's probe leaves an (empty) legacy nat table behind in every netns it looks
         * at. We open a not-yet-instantiated nat table only when the rule could then choose legacy,
         * and an empty table never counts as "holds rules" on a later run. */
        if (!f.legacy_nat_probed && !legacy_off && may_pick_legacy(family, force, &f)) {
                int n = legacy_count(family, "nat");
                f.legacy_nat_probed = true;
                f.legacy_nat_usable = n >= 0;
                f.legacy_nat_error = n < 0 ? n : 0;
        }

        return detect_decide(family, force, &f, ret);
}
