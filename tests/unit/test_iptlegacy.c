/* SPDX-License-Identifier: Apache-2.0 */
/* test_iptlegacy.c: unit tests of the legacy iptables encoder (lib/kernel/iptlegacy.c), and, when given
 * arguments, a small driver the e2e tests use to apply/compare/clean a payload in a namespace.
 * Spec: istio-iptables.md §3–§5. The payload parser here is test-only: it understands the
 * iptables-restore subset of §3/§4 and turns it into the typed rule model. */
#include <arpa/inet.h>
#include <check.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libiptc/libiptc.h>
#include <libiptc/libip6tc.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/xt_CONNMARK.h>
#include <linux/netfilter/xt_CT.h>
#include <linux/netfilter/xt_MARK.h>
#include <linux/netfilter/xt_TPROXY.h>
#include <linux/netfilter/xt_connmark.h>
#include <linux/netfilter/xt_conntrack.h>
#include <linux/netfilter/xt_mark.h>
#include <linux/netfilter/xt_multiport.h>
#include <linux/netfilter/xt_owner.h>
#include <linux/netfilter/xt_tcpudp.h>

#include "kernel/iptlegacy.h"
#include "base/macro.h"
#include "base/netaddr.h"

/* ---------------- test-only payload parser ---------------- */

static const char *const tnames[RULES_TABLE_MAX] = { "filter", "mangle", "nat", "raw" };
static const char *const cnames[RULES_CHAIN_MAX] = {
        "PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING", "ISTIO_INBOUND", "ISTIO_REDIRECT",
        "ISTIO_IN_REDIRECT", "ISTIO_OUTPUT", "ISTIO_OUTPUT_DNS", "ISTIO_DIVERT", "ISTIO_TPROXY", "ISTIO_DROP",
};

static int find_name(const char *const *names, unsigned n, const char *s) {
        for (unsigned i = 0; i < n; i++)
                if (streq(names[i], s))
                        return (int)i;
        return -1;
}

static void list_free(struct rules_list *l) {
        for (size_t i = 0; i < l->n; i++)
                free(l->v[i].matches);
        free(l->v);
        *l = (struct rules_list){};
}

static int parse_owner(const char *s, struct config_owner *o) {
        char *end;
        unsigned long v;
        *o = (struct config_owner){};
        errno = 0;
        v = strtoul(s, &end, 10);
        if (*s && !*end && !errno && v <= UINT32_MAX) {
                o->id = v;
                return 0;
        }
        o->is_name = true;
        snprintf(o->name, sizeof(o->name), "%s", s);
        return 0;
}

/* One rule line ("-A CHAIN ..." or "-I CHAIN N ...") → rule. Returns 0 or -EINVAL. */
static int parse_rule(char *line, int family, enum rules_table table, struct rules_rule *r) {
        char *tok[128], *save = NULL;
        unsigned n = 0;
        bool neg = false;
        uint8_t proto = 0;
        const char *module = "";
        int c;

        for (char *t = strtok_r(line, " \t\n", &save); t && n < ELEMENTSOF(tok); t = strtok_r(NULL, " \t\n", &save))
                tok[n++] = t;
        if (n < 2)
                return -EINVAL;
        *r = (struct rules_rule){ .table = table, .family = family };
        r->matches = calloc(RULES_MAX_MATCHES, sizeof(*r->matches));
        if (!r->matches)
                return -ENOMEM;
        c = find_name(cnames, RULES_CHAIN_MAX, tok[1]);
        if (c < 0)
                return -EINVAL;
        r->chain = c;
        unsigned i = 2;
        if (streq(tok[0], "-I")) {
                r->position = 1;
                if (i < n && isdigit((unsigned char)tok[i][0]))
                        r->position = atoi(tok[i++]);
        } else if (!streq(tok[0], "-A"))
                return -EINVAL;
        for (; i < n; i++) {
                const char *o = tok[i], *a = i + 1 < n ? tok[i + 1] : NULL;
                struct rules_match *m = &r->matches[r->n_matches];
                if (streq(o, "!")) {
                        neg = true;
                        continue;
                }
                if (streq(o, "-m")) {
                        module = a;
                        i++;
                        continue;
                }
                if (streq(o, "-j")) {
                        int k;
                        if (!a)
                                return -EINVAL;
                        i++;
                        if (streq(a, "RETURN"))
                                r->target.kind = RULES_TARGET_RETURN;
                        else if (streq(a, "ACCEPT"))
                                r->target.kind = RULES_TARGET_ACCEPT;
                        else if (streq(a, "DROP"))
                                r->target.kind = RULES_TARGET_DROP;
                        else if (streq(a, "REDIRECT"))
                                r->target.kind = RULES_TARGET_REDIRECT;
                        else if (streq(a, "TPROXY"))
                                r->target.kind = RULES_TARGET_TPROXY;
                        else if (streq(a, "MARK"))
                                r->target.kind = RULES_TARGET_MARK;
                        else if (streq(a, "CT"))
                                r->target.kind = RULES_TARGET_CT_ZONE;
                        else if (streq(a, "CONNMARK"))
                                r->target.kind = RULES_TARGET_CONNMARK_SAVE;
                        else if ((k = find_name(cnames, RULES_CHAIN_MAX, a)) >= RULES_CHAIN_FIRST_ISTIO) {
                                r->target.kind = RULES_TARGET_JUMP;
                                r->target.chain = k;
                        } else
                                return -EINVAL;
                        continue;
                }
                if (streq(o, "--save-mark")) {
                        r->target.kind = RULES_TARGET_CONNMARK_SAVE;
                        continue;
                }
                if (streq(o, "--restore-mark")) {
                        r->target.kind = RULES_TARGET_CONNMARK_RESTORE;
                        continue;
                }
                if (!a)
                        return -EINVAL;
                i++;
                if (streq(o, "--to-ports") || streq(o, "--to-port") || streq(o, "--on-port")) {
                        r->target.port = atoi(a);
                        r->target.to_port_singular = streq(o, "--to-port");
                        continue;
                }
                if (streq(o, "--tproxy-mark") || streq(o, "--set-mark")) {
                        r->target.mark = strtoul(a, NULL, 0);
                        continue;
                }
                if (streq(o, "--zone")) {
                        r->target.zone = atoi(a);
                        continue;
                }
                m->neg = neg;
                neg = false;
                m->proto = proto;
                if (streq(o, "-p")) {
                        m->kind = RULES_MATCH_PROTO;
                        m->proto = proto = streq(a, "tcp") ? IPPROTO_TCP : streq(a, "udp") ? IPPROTO_UDP : 0;
                        if (!proto)
                                return -EINVAL;
                } else if (streq(o, "-i") || streq(o, "-o")) {
                        m->kind = o[1] == 'i' ? RULES_MATCH_IIF : RULES_MATCH_OIF;
                        snprintf(m->ifname, sizeof(m->ifname), "%s", a);
                } else if (streq(o, "-s") || streq(o, "-d")) {
                        m->kind = o[1] == 's' ? RULES_MATCH_SRC : RULES_MATCH_DST;
                        if (netaddr_parse_cidr(a, &m->cidr) < 0)
                                return -EINVAL;
                } else if (streq(o, "--dport") || streq(o, "--sport")) {
                        m->kind = o[2] == 'd' ? RULES_MATCH_DPORT : RULES_MATCH_SPORT;
                        m->port = atoi(a);
                } else if (streq(o, "--dports")) {
                        _cleanup_free_ char *dup = strdup(a);
                        char *s2 = NULL;
                        m->kind = RULES_MATCH_DPORTS;
                        for (char *p = strtok_r(dup, ",", &s2); p && m->ports.n < RULES_MAX_PORTS; p = strtok_r(NULL, ",", &s2))
                                m->ports.v[m->ports.n++] = atoi(p);
                } else if (streq(o, "--uid-owner") || streq(o, "--gid-owner")) {
                        m->kind = o[2] == 'u' ? RULES_MATCH_UID_OWNER : RULES_MATCH_GID_OWNER;
                        parse_owner(a, &m->owner);
                } else if (streq(o, "--ctstate")) {
                        m->kind = RULES_MATCH_CTSTATE;
                        m->ctstate = (strstr(a, "INVALID") ? RULES_CTSTATE_INVALID : 0) |
                                     (strstr(a, "ESTABLISHED") ? RULES_CTSTATE_ESTABLISHED : 0) |
                                     (strstr(a, "RELATED") ? RULES_CTSTATE_RELATED : 0);
                } else if (streq(o, "--mark")) {
                        m->kind = streq(module, "connmark") ? RULES_MATCH_CONNMARK : RULES_MATCH_MARK;
                        m->mark = strtoul(a, NULL, 0);
                } else
                        return -EINVAL;
                if (++r->n_matches >= RULES_MAX_MATCHES)
                        return -E2BIG;
        }
        return 0;
}

static int parse_payload(const char *path, int family, struct rules_list *l) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        char line[4096];
        int table = -1, r;
        unsigned lineno = 0;

        *l = (struct rules_list){};
        if (!f)
                return -errno;
        while (fgets(line, sizeof(line), f)) {
                char *p = line;
                lineno++;
                p[strcspn(p, "\n")] = 0;
                if (!*p || *p == '#' || streq(p, "COMMIT") || strncmp(p, "-N ", 3) == 0 || *p == ':')
                        continue;
                if (*p == '*') {
                        p++;
                        while (*p == ' ')
                                p++;
                        table = find_name(tnames, RULES_TABLE_MAX, p);
                        if (table < 0)
                                return -EINVAL;
                        continue;
                }
                if (table < 0)
                        return -EINVAL;
                if (l->n == l->allocated) {
                        void *nv = realloc(l->v, (l->allocated = l->allocated ? l->allocated * 2 : 32) * sizeof(*l->v));
                        if (!nv)
                                return -ENOMEM;
                        l->v = nv;
                }
                r = parse_rule(p, family, table, &l->v[l->n]);
                l->n++;
                if (r < 0) {
                        fprintf(stderr, "%s:%u: cannot parse rule\n", path, lineno);
                        return r;
                }
        }
        return 0;
}

/* ---------------- driver ---------------- */

static const char *state_name(enum iptlegacy_state s) {
        return s == IPTLEGACY_CLEAN ? "clean" : s == IPTLEGACY_IDENTICAL ? "identical" : "drifted";
}

static double mono_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* test_iptlegacy bench N V4FILE [restore-binary]: in each of N fresh network namespaces (a
 * forked child that unshares), time one apply: in-process (lock, encode, build, commit), or
 * fork+exec of "<restore-binary> --noflush --wait=30 V4FILE" until it exits. Prints the mean. */
static int bench(int n, const char *file, const char *restore) {
        struct rules_list l = {};
        double total = 0;
        int r;

        if (!restore && (r = parse_payload(file, AF_INET, &l)) < 0)
                return 2;
        for (int i = 0; i < n; i++) {
                int fds[2];
                double dt = -1;
                pid_t pid;
                if (pipe(fds) < 0)
                        return 1;
                pid = fork();
                if (pid < 0)
                        return 1;
                if (pid == 0) {
                        double t0;
                        int ok = -1;
                        if (unshare(CLONE_NEWNET) < 0)
                                _exit(1);
                        t0 = mono_ms();
                        if (restore) {
                                pid_t c = fork();
                                if (c == 0) {
                                        execlp(restore, restore, "--noflush", "--wait=30", file, (char *)NULL);
                                        _exit(127);
                                }
                                int st;
                                ok = c > 0 && waitpid(c, &st, 0) == c && WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
                        } else {
                                iptlegacy_txn *t = NULL;
                                ok = iptlegacy_txn_begin(NULL, -1, IPTLEGACY_LOCK_WAIT_USEC_DEFAULT, 0, &t);
                                if (ok >= 0)
                                        ok = iptlegacy_apply(t, AF_INET, &l, NULL);
                                iptlegacy_txn_free(t);
                        }
                        dt = ok < 0 ? -1 : mono_ms() - t0;
                        _exit(write(fds[1], &dt, sizeof(dt)) == sizeof(dt) ? 0 : 1);
                }
                close(fds[1]);
                if (read(fds[0], &dt, sizeof(dt)) != sizeof(dt) || dt < 0) {
                        fprintf(stderr, "run %d failed\n", i);
                        close(fds[0]);
                        return 1;
                }
                close(fds[0]);
                waitpid(pid, NULL, 0);
                total += dt;
        }
        printf("%s: mean %.3f ms per apply over %d fresh namespaces\n", restore ? restore : "in-process", total / n, n);
        list_free(&l);
        return 0;
}

/* test_iptlegacy {apply|cleanup|compare|probe} V4FILE|- V6FILE|-   (prints one line per family) */
static int driver(int argc, char **argv) {
        struct rules_list l[2] = {};
        const int fams[2] = { AF_INET, AF_INET6 };
        const char *cmd = argv[1];
        iptlegacy_txn *t = NULL;
        int r, ret = 0;

        if (argc == 5 && streq(cmd, "dump")) {
                /* test_iptlegacy dump 4|6 TABLE CHAIN: hex of each entry, for debugging encodings */
                bool v6 = streq(argv[2], "6");
                struct xtc_handle *h = v6 ? ip6tc_init(argv[3]) : iptc_init(argv[3]);
                if (!h)
                        return 1;
                for (const void *e = v6 ? (const void *)ip6tc_first_rule(argv[4], h) : (const void *)iptc_first_rule(argv[4], h); e;
                     e = v6 ? (const void *)ip6tc_next_rule(e, h) : (const void *)iptc_next_rule(e, h)) {
                        unsigned size = v6 ? ((const struct ip6t_entry *)e)->next_offset : ((const struct ipt_entry *)e)->next_offset;
                        for (unsigned i = 0; i < size; i++)
                                printf("%02x%s", ((const uint8_t *)e)[i], i % 32 == 31 ? "\n" : "");
                        printf("\n--\n");
                }
                v6 ? ip6tc_free(h) : iptc_free(h);
                return 0;
        }
        if ((argc == 4 || argc == 5) && streq(cmd, "bench"))
                return bench(atoi(argv[2]), argv[3], argc == 5 ? argv[4] : NULL);
        if (argc < 4) {
                fprintf(stderr, "usage: %s apply|cleanup|compare|probe V4FILE|- V6FILE|-\n", argv[0]);
                return 2;
        }
        for (int i = 0; i < 2; i++)
                if (!streq(argv[2 + i], "-") && (r = parse_payload(argv[2 + i], fams[i], &l[i])) < 0) {
                        fprintf(stderr, "%s: %s\n", argv[2 + i], strerror(-r));
                        return 2;
                }
        if (streq(cmd, "apply") || streq(cmd, "cleanup")) {
                r = iptlegacy_txn_begin(NULL, -1, IPTLEGACY_LOCK_WAIT_USEC_DEFAULT, 0, &t);
                if (r < 0) {
                        fprintf(stderr, "xtables lock: %s\n", strerror(-r));
                        return 1;
                }
                for (int i = 0; i < 2 && ret == 0; i++) {
                        if (streq(argv[2 + i], "-"))
                                continue;
                        r = streq(cmd, "apply") ? iptlegacy_apply(t, fams[i], &l[i], NULL) : iptlegacy_cleanup(t, fams[i], &l[i], NULL);
                        if (r < 0) {
                                unsigned commits = iptlegacy_txn_commits(t);
                                fprintf(stderr, "%s failed: %s: %s\n", cmd, iptlegacy_txn_error(t), strerror(-r));
                                r = iptlegacy_rollback(t);
                                fprintf(stderr, "rolled back %u table commit(s)%s%s\n", commits, r < 0 ? ": " : "",
                                        r < 0 ? iptlegacy_txn_error(t) : "");
                                ret = 1;
                        }
                }
                iptlegacy_txn_free(t);
        } else if (streq(cmd, "compare")) {
                for (int i = 0; i < 2; i++) {
                        struct iptlegacy_status s;
                        if (streq(argv[2 + i], "-"))
                                continue;
                        r = iptlegacy_compare(fams[i], &l[i], &s);
                        if (r < 0) {
                                fprintf(stderr, "compare: %s: %s\n", s.why, strerror(-r));
                                ret = 1;
                                continue;
                        }
                        printf("%s %s residue=%d rules=%u%s%s\n", i ? "v6" : "v4", state_name(s.state), s.residue,
                               s.n_rules, *s.why ? " why=" : "", s.why);
                }
        } else if (streq(cmd, "probe")) {
                for (int i = 0; i < 2; i++) {
                        struct iptlegacy_probe p;
                        r = iptlegacy_probe(fams[i], &p);
                        if (r < 0) {
                                fprintf(stderr, "probe: %s\n", strerror(-r));
                                ret = 1;
                                continue;
                        }
                        printf("%s available=%d nat_exists=%d instantiated=%d tables=0x%x rules=%u\n", i ? "v6" : "v4",
                               p.available, p.nat_exists, p.instantiated, p.tables, p.n_rules);
                }
        } else {
                fprintf(stderr, "unknown command %s\n", cmd);
                ret = 2;
        }
        list_free(&l[0]);
        list_free(&l[1]);
        return ret;
}

/* ---------------- unit tests ---------------- */

static struct rules_rule mkrule(int family, const char *line) {
        char buf[1024];
        struct rules_rule r;
        snprintf(buf, sizeof(buf), "%s", line);
        ck_assert_int_eq(parse_rule(buf, family, RULES_TABLE_NAT, &r), 0);
        return r;
}

/* Encodes and returns the n-th match (or NULL) and the target. */
static void *enc(int family, const char *line, struct ipt_entry **e4, struct ip6t_entry **e6) {
        struct rules_rule r = mkrule(family, line);
        void *e = NULL;
        size_t size = 0;
        char err[IPTLEGACY_ERR_MAX] = "";
        ck_assert_msg(iptlegacy_encode(family, &r, &e, &size, err) == 0, "%s: %s", line, err);
        free(r.matches);
        if (e4)
                *e4 = e;
        if (e6)
                *e6 = e;
        return e;
}

static const struct xt_entry_match *nth_match(const void *e, size_t hdr, uint16_t toff, unsigned n) {
        size_t off = hdr;
        for (unsigned i = 0; off < toff; i++) {
                const struct xt_entry_match *m = (const void *)((const uint8_t *)e + off);
                if (i == n)
                        return m;
                off += m->u.match_size;
        }
        return NULL;
}

#define M4(e, n) nth_match(e, sizeof(struct ipt_entry), (e)->target_offset, n)
#define M6(e, n) nth_match(e, sizeof(struct ip6t_entry), (e)->target_offset, n)
#define T4(e) ((const struct xt_entry_target *)((const uint8_t *)(e) + (e)->target_offset))
#define T6(e) T4(e)

START_TEST(test_header_v4) {
        struct ipt_entry *e;
        _cleanup_free_ void *p = enc(AF_INET, "-A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/8 -s 10.1.2.3/32 -i eth+ -p tcp -j RETURN",
                                     &e, NULL);
        ck_assert_str_eq(e->ip.outiface, "lo");
        ck_assert_int_eq(e->ip.outiface_mask[0], 0xff);
        ck_assert_int_eq(e->ip.outiface_mask[2], 0xff); /* the NUL is part of the match */
        ck_assert_int_eq(e->ip.outiface_mask[3], 0);
        ck_assert_str_eq(e->ip.iniface, "eth+");
        ck_assert_int_eq(e->ip.iniface_mask[2], 0xff);
        ck_assert_int_eq(e->ip.iniface_mask[3], 0); /* '+' is a prefix wildcard */
        ck_assert_uint_eq(ntohl(e->ip.dst.s_addr), 0x7f000000);
        ck_assert_uint_eq(ntohl(e->ip.dmsk.s_addr), 0xff000000);
        ck_assert_uint_eq(ntohl(e->ip.src.s_addr), 0x0a010203);
        ck_assert_uint_eq(e->ip.smsk.s_addr, 0xffffffff);
        ck_assert_int_eq(e->ip.invflags, IPT_INV_DSTIP);
        ck_assert_int_eq(e->ip.proto, IPPROTO_TCP);
        ck_assert_int_eq(e->target_offset, sizeof(struct ipt_entry));
        ck_assert_str_eq(T4(e)->u.user.name, "RETURN");
        ck_assert_int_eq(T4(e)->u.target_size, XT_ALIGN(sizeof(struct xt_standard_target)));
        ck_assert_int_eq(e->next_offset, e->target_offset + T4(e)->u.target_size);
}
END_TEST

START_TEST(test_tcp_udp_ports) {
        struct ipt_entry *e;
        _cleanup_free_ void *p = enc(AF_INET, "-A ISTIO_OUTPUT -p tcp ! --dport 15008 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT",
                                     &e, NULL);
        const struct xt_entry_match *m = M4(e, 0);
        const struct xt_tcp *t = (const void *)m->data;
        ck_assert_str_eq(m->u.user.name, "tcp");
        ck_assert_int_eq(m->u.match_size, XT_ALIGN(sizeof(*m)) + XT_ALIGN(sizeof(*t)));
        ck_assert_int_eq(t->spts[0], 0);
        ck_assert_int_eq(t->spts[1], 0xffff);
        ck_assert_int_eq(t->dpts[0], 15008);
        ck_assert_int_eq(t->dpts[1], 15008);
        ck_assert_int_eq(t->invflags, XT_TCP_INV_DSTPT);
        const struct xt_owner_match_info *o = (const void *)M4(e, 1)->data;
        ck_assert_str_eq(M4(e, 1)->u.user.name, "owner");
        ck_assert_int_eq(M4(e, 1)->u.user.revision, 1);
        ck_assert_uint_eq(o->uid_min, 1337);
        ck_assert_uint_eq(o->uid_max, 1337);
        ck_assert_int_eq(o->match, XT_OWNER_UID);
        ck_assert_int_eq(o->invert, 0);
        ck_assert_ptr_null(M4(e, 2));
        ck_assert_str_eq(T4(e)->u.user.name, "ISTIO_IN_REDIRECT");

        struct ipt_entry *u;
        _cleanup_free_ void *q = enc(AF_INET, "-A ISTIO_OUTPUT_DNS -p udp --sport 15053 -m owner ! --gid-owner 7 -j CT --zone 2",
                                     &u, NULL);
        const struct xt_udp *ud = (const void *)M4(u, 0)->data;
        ck_assert_str_eq(M4(u, 0)->u.user.name, "udp");
        ck_assert_int_eq(ud->spts[0], 15053);
        ck_assert_int_eq(ud->dpts[1], 0xffff);
        ck_assert_int_eq(ud->invflags, 0);
        o = (const void *)M4(u, 1)->data;
        ck_assert_uint_eq(o->gid_min, 7);
        ck_assert_int_eq(o->match, XT_OWNER_GID);
        ck_assert_int_eq(o->invert, XT_OWNER_GID);
        const struct xt_ct_target_info_v1 *ct = (const void *)T4(u)->data;
        ck_assert_str_eq(T4(u)->u.user.name, "CT");
        ck_assert_int_eq(T4(u)->u.user.revision, 2);
        ck_assert_int_eq(ct->zone, 2);
        ck_assert_int_eq(ct->flags, 0);
}
END_TEST

START_TEST(test_multiport_conntrack_marks) {
        struct ipt_entry *e;
        _cleanup_free_ void *p = enc(AF_INET, "-A ISTIO_OUTPUT -p tcp -m multiport ! --dports 53,15008 -m conntrack --ctstate RELATED,ESTABLISHED -m mark ! --mark 1338 -m connmark --mark 0x539 -j RETURN",
                                     &e, NULL);
        const struct xt_multiport_v1 *mp = (const void *)M4(e, 0)->data;
        ck_assert_str_eq(M4(e, 0)->u.user.name, "multiport");
        ck_assert_int_eq(M4(e, 0)->u.user.revision, 1);
        ck_assert_int_eq(mp->flags, XT_MULTIPORT_DESTINATION);
        ck_assert_int_eq(mp->count, 2);
        ck_assert_int_eq(mp->ports[0], 53);
        ck_assert_int_eq(mp->ports[1], 15008);
        ck_assert_int_eq(mp->invert, 1);
        const struct xt_conntrack_mtinfo3 *ct = (const void *)M4(e, 1)->data;
        ck_assert_str_eq(M4(e, 1)->u.user.name, "conntrack");
        ck_assert_int_eq(M4(e, 1)->u.user.revision, 3);
        ck_assert_int_eq(ct->match_flags, XT_CONNTRACK_STATE);
        ck_assert_int_eq(ct->state_mask, XT_CONNTRACK_STATE_BIT(IP_CT_ESTABLISHED) | XT_CONNTRACK_STATE_BIT(IP_CT_RELATED));
        ck_assert_int_eq(ct->invert_flags, 0);
        const struct xt_mark_mtinfo1 *mk = (const void *)M4(e, 2)->data;
        ck_assert_str_eq(M4(e, 2)->u.user.name, "mark");
        ck_assert_uint_eq(mk->mark, 1338);
        ck_assert_uint_eq(mk->mask, 0xffffffff);
        ck_assert_int_eq(mk->invert, 1);
        const struct xt_connmark_mtinfo1 *cm = (const void *)M4(e, 3)->data;
        ck_assert_str_eq(M4(e, 3)->u.user.name, "connmark");
        ck_assert_uint_eq(cm->mark, 0x539);
        ck_assert_int_eq(cm->invert, 0);

        struct ipt_entry *d;
        _cleanup_free_ void *q = enc(AF_INET, "-A PREROUTING -m conntrack --ctstate INVALID -j ISTIO_DROP", &d, NULL);
        ck_assert_int_eq(((const struct xt_conntrack_mtinfo3 *)M4(d, 0)->data)->state_mask, XT_CONNTRACK_STATE_INVALID);
}
END_TEST

START_TEST(test_targets_v4) {
        struct ipt_entry *e;
        _cleanup_free_ void *p1 = enc(AF_INET, "-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001", &e, NULL);
        const struct nf_nat_ipv4_multi_range_compat *mr = (const void *)T4(e)->data;
        ck_assert_str_eq(T4(e)->u.user.name, "REDIRECT");
        ck_assert_int_eq(T4(e)->u.target_size, XT_ALIGN(sizeof(struct xt_entry_target)) + XT_ALIGN(sizeof(*mr)));
        ck_assert_int_eq(mr->rangesize, 1);
        ck_assert_int_eq(mr->range[0].flags, NF_NAT_RANGE_PROTO_SPECIFIED);
        ck_assert_int_eq(ntohs(mr->range[0].min.tcp.port), 15001);
        ck_assert_int_eq(ntohs(mr->range[0].max.tcp.port), 15001);

        _cleanup_free_ void *p2 = enc(AF_INET, "-A ISTIO_TPROXY ! -d 127.0.0.1/32 -p tcp -j TPROXY --tproxy-mark 1337/0xffffffff --on-port 15006", &e, NULL);
        const struct xt_tproxy_target_info_v1 *tp = (const void *)T4(e)->data;
        ck_assert_str_eq(T4(e)->u.user.name, "TPROXY");
        ck_assert_int_eq(T4(e)->u.user.revision, 1);
        ck_assert_uint_eq(tp->mark_value, 1337);
        ck_assert_uint_eq(tp->mark_mask, 0xffffffff);
        ck_assert_int_eq(ntohs(tp->lport), 15006);

        _cleanup_free_ void *p3 = enc(AF_INET, "-A OUTPUT -j MARK --set-mark 1338", &e, NULL);
        const struct xt_mark_tginfo2 *mk = (const void *)T4(e)->data;
        ck_assert_str_eq(T4(e)->u.user.name, "MARK");
        ck_assert_int_eq(T4(e)->u.user.revision, 2);
        ck_assert_uint_eq(mk->mark, 1338);
        ck_assert_uint_eq(mk->mask, 0xffffffff);

        _cleanup_free_ void *p4 = enc(AF_INET, "-A PREROUTING -j CONNMARK --save-mark", &e, NULL);
        const struct xt_connmark_tginfo2 *cm = (const void *)T4(e)->data;
        ck_assert_str_eq(T4(e)->u.user.name, "CONNMARK");
        ck_assert_int_eq(cm->mode, XT_CONNMARK_SAVE);
        ck_assert_uint_eq(cm->ctmask, 0xffffffff);
        ck_assert_uint_eq(cm->nfmask, 0xffffffff);
        _cleanup_free_ void *p5 = enc(AF_INET, "-A OUTPUT -j CONNMARK --restore-mark", &e, NULL);
        ck_assert_int_eq(((const struct xt_connmark_tginfo2 *)T4(e)->data)->mode, XT_CONNMARK_RESTORE);

        _cleanup_free_ void *p6 = enc(AF_INET, "-A ISTIO_DROP -j DROP", &e, NULL);
        ck_assert_str_eq(T4(e)->u.user.name, "DROP");
        _cleanup_free_ void *p7 = enc(AF_INET, "-A ISTIO_DIVERT -j ACCEPT", &e, NULL);
        ck_assert_str_eq(T4(e)->u.user.name, "ACCEPT");
}
END_TEST

START_TEST(test_v6) {
        struct ip6t_entry *e;
        _cleanup_free_ void *p1 = enc(AF_INET6, "-A ISTIO_OUTPUT -o lo ! -d ::1/128 -s fd00::/8 -p tcp ! --dport 15008 -j REDIRECT --to-port 15053",
                                      NULL, &e);
        ck_assert_int_eq(e->ipv6.proto, IPPROTO_TCP);
        ck_assert_int_eq(e->ipv6.flags, IP6T_F_PROTO);
        ck_assert_int_eq(e->ipv6.invflags, IP6T_INV_DSTIP);
        ck_assert_int_eq(e->ipv6.dst.s6_addr[15], 1);
        ck_assert_int_eq(e->ipv6.dmsk.s6_addr[15], 0xff);
        ck_assert_int_eq(e->ipv6.src.s6_addr[0], 0xfd);
        ck_assert_int_eq(e->ipv6.smsk.s6_addr[0], 0xff);
        ck_assert_int_eq(e->ipv6.smsk.s6_addr[1], 0);
        ck_assert_str_eq(e->ipv6.outiface, "lo");
        ck_assert_str_eq(M6(e, 0)->u.user.name, "tcp");
        const struct nf_nat_range *nr = (const void *)T6(e)->data;
        ck_assert_str_eq(T6(e)->u.user.name, "REDIRECT");
        ck_assert_int_eq(T6(e)->u.target_size, XT_ALIGN(sizeof(struct xt_entry_target)) + XT_ALIGN(sizeof(*nr)));
        ck_assert_int_eq(nr->flags, NF_NAT_RANGE_PROTO_SPECIFIED);
        ck_assert_int_eq(ntohs(nr->min_proto.tcp.port), 15053);
        ck_assert_int_eq(ntohs(nr->max_proto.tcp.port), 15053);

        _cleanup_free_ void *p2 = enc(AF_INET6, "-A ISTIO_TPROXY ! -d ::1/128 -p tcp -j TPROXY --tproxy-mark 1337/0xffffffff --on-port 15006", NULL, &e);
        ck_assert_str_eq(T6(e)->u.user.name, "TPROXY");
        ck_assert_int_eq(ntohs(((const struct xt_tproxy_target_info_v1 *)T6(e)->data)->lport), 15006);
}
END_TEST

START_TEST(test_errors) {
        struct rules_rule r = mkrule(AF_INET, "-A ISTIO_OUTPUT -m owner --uid-owner no-such-user-cnibox -j RETURN");
        void *e = NULL;
        size_t size;
        char err[IPTLEGACY_ERR_MAX] = "";
        ck_assert_int_eq(iptlegacy_encode(AF_INET, &r, &e, &size, err), -ENOENT);
        ck_assert_ptr_nonnull(strstr(err, "no-such-user-cnibox"));
        free(r.matches);

        r = mkrule(AF_INET, "-A ISTIO_OUTPUT -m owner --uid-owner root -j RETURN");
        ck_assert_int_eq(iptlegacy_encode(AF_INET, &r, &e, &size, err), 0);
        ck_assert_uint_eq(((const struct xt_owner_match_info *)M4((struct ipt_entry *)e, 0)->data)->uid_min, 0);
        free(e);
        free(r.matches);

        r = mkrule(AF_INET, "-A ISTIO_OUTPUT -d ::1/128 -j RETURN");
        ck_assert_int_eq(iptlegacy_encode(AF_INET, &r, &e, &size, err), -EINVAL);
        free(r.matches);
}
END_TEST

int main(int argc, char **argv) {
        Suite *s;
        SRunner *sr;
        TCase *tc;
        int failed;

        if (argc > 1)
                return driver(argc, argv);
        s = suite_create("iptlegacy");
        tc = tcase_create("encode");
        tcase_add_test(tc, test_header_v4);
        tcase_add_test(tc, test_tcp_udp_ports);
        tcase_add_test(tc, test_multiport_conntrack_marks);
        tcase_add_test(tc, test_targets_v4);
        tcase_add_test(tc, test_v6);
        tcase_add_test(tc, test_errors);
        suite_add_tcase(s, tc);
        sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? 1 : 0;
}
