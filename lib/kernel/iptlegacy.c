/* SPDX-License-Identifier: Apache-2.0 */
/* iptlegacy.c: the in-process legacy iptables backend: encode typed rules into kernel entries,
 * rebuild and commit each table once under the xtables lock, compare, clean up, roll back.
 * Spec: istio-iptables.md §5.1, §5.3, §5.4, §5.6, §10. See iptlegacy.h for the model. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
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

#include "base/errbuf.h"
#include "base/idname.h"
#include "kernel/iptlegacy.h"
#include "base/macro.h"

/* The get/replace structures of the two families have the same layout; we use the IPv4 ones
 * with the family's socket level. */
_Static_assert(sizeof(struct ipt_getinfo) == sizeof(struct ip6t_getinfo), "getinfo layout");
_Static_assert(sizeof(struct ipt_replace) == sizeof(struct ip6t_replace), "replace layout");
_Static_assert(offsetof(struct ipt_replace, entries) == offsetof(struct ip6t_replace, entries), "replace layout");
_Static_assert(sizeof(struct ipt_get_entries) == sizeof(struct ip6t_get_entries), "entries layout");

/* Names come from lib/rules (rules_table_name / rules_chain_name). */

/* The order tables are committed in (nat before mangle: see IPTLEGACY_FAULT_ENV). */
static const enum rules_table commit_order[RULES_TABLE_MAX] = {
        RULES_TABLE_NAT, RULES_TABLE_MANGLE, RULES_TABLE_RAW, RULES_TABLE_FILTER,
};

static bool is_ours(const char *chain) {
        return strncmp(chain, "ISTIO", 5) == 0;
}

/* err is NULL or an IPTLEGACY_ERR_MAX buffer (the public API's convention). */
#define seterr(err, ...) ((void)errbuf_set((err), (err) ? IPTLEGACY_ERR_MAX : 0, 0, __VA_ARGS__))

/* ---- libiptc, both families behind one table of wrappers ---- */

struct fam {
        int af, level;
        const char *names_path;
        size_t entry_size;        /* sizeof(struct ipt_entry) / sizeof(struct ip6t_entry) */
        size_t ip_size;           /* bytes of the ip header compared byte-wise */
        size_t off_nfcache, off_target, off_next;
        struct xtc_handle *(*init)(const char *);
        void (*free)(struct xtc_handle *);
        const char *(*first_chain)(struct xtc_handle *);
        const char *(*next_chain)(struct xtc_handle *);
        const void *(*first_rule)(const char *, struct xtc_handle *);
        const void *(*next_rule)(const void *, struct xtc_handle *);
        const char *(*get_target)(const void *, struct xtc_handle *);
        int (*builtin)(const char *, struct xtc_handle *);
        int (*insert)(const char *, const void *, unsigned, struct xtc_handle *);
        int (*append)(const char *, const void *, struct xtc_handle *);
        int (*delete_num)(const char *, unsigned, struct xtc_handle *);
        int (*flush)(const char *, struct xtc_handle *);
        int (*create_chain)(const char *, struct xtc_handle *);
        int (*delete_chain)(const char *, struct xtc_handle *);
        int (*commit)(struct xtc_handle *);
        const char *(*strerror)(int);
};

#define DEFINE_FAM_WRAPPERS(p, E)                                                                      \
        static const void *p##_first_rule_w(const char *c, struct xtc_handle *h) { return p##_first_rule(c, h); } \
        static const void *p##_next_rule_w(const void *e, struct xtc_handle *h) { return p##_next_rule(e, h); } \
        static const char *p##_get_target_w(const void *e, struct xtc_handle *h) { return p##_get_target(e, h); } \
        static int p##_insert_w(const char *c, const void *e, unsigned n, struct xtc_handle *h) {    \
                return p##_insert_entry(c, (const E *)e, n, h);                                       \
        }                                                                                              \
        static int p##_append_w(const char *c, const void *e, struct xtc_handle *h) {                \
                return p##_append_entry(c, (const E *)e, h);                                          \
        }                                                                                              \
        static int p##_delete_num_w(const char *c, unsigned n, struct xtc_handle *h) { return p##_delete_num_entry(c, n, h); } \
        static int p##_flush_w(const char *c, struct xtc_handle *h) { return p##_flush_entries(c, h); } \
        static int p##_create_chain_w(const char *c, struct xtc_handle *h) { return p##_create_chain(c, h); } \
        static int p##_delete_chain_w(const char *c, struct xtc_handle *h) { return p##_delete_chain(c, h); } \
        static int p##_builtin_w(const char *c, struct xtc_handle *h) { return p##_builtin(c, h); }

DEFINE_FAM_WRAPPERS(iptc, struct ipt_entry)
DEFINE_FAM_WRAPPERS(ip6tc, struct ip6t_entry)

static const struct fam fam4 = {
        .af = AF_INET, .level = SOL_IP, .names_path = "/proc/net/ip_tables_names",
        .entry_size = sizeof(struct ipt_entry), .ip_size = sizeof(struct ipt_ip),
        .off_nfcache = offsetof(struct ipt_entry, nfcache),
        .off_target = offsetof(struct ipt_entry, target_offset),
        .off_next = offsetof(struct ipt_entry, next_offset),
        .init = iptc_init, .free = iptc_free, .first_chain = iptc_first_chain, .next_chain = iptc_next_chain,
        .first_rule = iptc_first_rule_w, .next_rule = iptc_next_rule_w, .get_target = iptc_get_target_w,
        .builtin = iptc_builtin_w, .insert = iptc_insert_w, .append = iptc_append_w,
        .delete_num = iptc_delete_num_w, .flush = iptc_flush_w, .create_chain = iptc_create_chain_w,
        .delete_chain = iptc_delete_chain_w, .commit = iptc_commit, .strerror = iptc_strerror,
};
static const struct fam fam6 = {
        .af = AF_INET6, .level = SOL_IPV6, .names_path = "/proc/net/ip6_tables_names",
        .entry_size = sizeof(struct ip6t_entry), .ip_size = offsetof(struct ip6t_ip6, invflags) + 1,
        .off_nfcache = offsetof(struct ip6t_entry, nfcache),
        .off_target = offsetof(struct ip6t_entry, target_offset),
        .off_next = offsetof(struct ip6t_entry, next_offset),
        .init = ip6tc_init, .free = ip6tc_free, .first_chain = ip6tc_first_chain, .next_chain = ip6tc_next_chain,
        .first_rule = ip6tc_first_rule_w, .next_rule = ip6tc_next_rule_w, .get_target = ip6tc_get_target_w,
        .builtin = ip6tc_builtin_w, .insert = ip6tc_insert_w, .append = ip6tc_append_w,
        .delete_num = ip6tc_delete_num_w, .flush = ip6tc_flush_w, .create_chain = ip6tc_create_chain_w,
        .delete_chain = ip6tc_delete_chain_w, .commit = ip6tc_commit, .strerror = ip6tc_strerror,
};

static const struct fam *fam_get(int af) {
        return af == AF_INET ? &fam4 : af == AF_INET6 ? &fam6 : NULL;
}

static uint16_t entry_u16(const void *e, size_t off) {
        uint16_t v;
        memcpy(&v, (const uint8_t *)e + off, sizeof(v));
        return v;
}

/* ---- encoding ---- */

struct enc {
        uint8_t *buf;
        size_t len, cap;
};

/* Appends a match (or target: same header layout) and returns its zeroed payload to fill in
 * place, so that struct padding is zero like iptables' (the kernel gives it back byte for byte). */
static void *enc_add(struct enc *b, const char *name, uint8_t rev, size_t size) {
        size_t total = XT_ALIGN(sizeof(struct xt_entry_match)) + XT_ALIGN(size);
        struct xt_entry_match *m;

        if (b->len + total > b->cap)
                return NULL;
        m = (struct xt_entry_match *)(b->buf + b->len);
        m->u.user.match_size = total;
        strncpy(m->u.user.name, name, sizeof(m->u.user.name) - 1);
        m->u.user.revision = rev;
        b->len += total;
        return m->data;
}

static void iface_set(const char *name, char via[IFNAMSIZ], unsigned char mask[IFNAMSIZ]) {
        size_t n = strnlen(name, IFNAMSIZ - 1);
        /* As xtables_parse_interface(): "eth+" is a prefix (mask without the '+'), otherwise the
         * mask includes the NUL so that "eth0" does not match "eth01". */
        memset(via, 0, IFNAMSIZ);
        memset(mask, 0, IFNAMSIZ);
        memcpy(via, name, n);
        if (n == 0)
                return;
        if (name[n - 1] == '+')
                memset(mask, 0xff, n - 1);
        else
                memset(mask, 0xff, n + 1 > IFNAMSIZ ? IFNAMSIZ : n + 1);
}

static void mask_v4(uint8_t len, struct in_addr *mask) {
        mask->s_addr = len == 0 ? 0 : htonl(~0u << (32 - len));
}

static void mask_v6(uint8_t len, struct in6_addr *mask) {
        memset(mask, 0, sizeof(*mask));
        for (unsigned i = 0; i < 16 && len > 0; i++) {
                unsigned bits = len >= 8 ? 8 : len;
                mask->s6_addr[i] = (uint8_t)(0xff00 >> bits);
                len -= bits;
        }
}

static int owner_resolve(const struct config_owner *o, bool group, uint32_t *ret, char *err) {
        int r;

        if (!o->is_name) {
                *ret = o->id;
                return 0;
        }
        r = idname_lookup(o->name, group, ret);
        if (r < 0)
                seterr(err, "unknown %s '%s'", group ? "group" : "user", o->name);
        return r;
}

/* One case per match kind of the rule model, each the exact uapi layout iptables 1.8.9 writes.
 * Long on purpose: the cases share the buffer and the deferred multiport, and one switch keeps
 * every kind's encoding next to the others for review against iptables-legacy-save. */
static int encode_match(const struct rules_match *m, struct enc *b, void **ports_data,
                        uint8_t *ports_proto, char *err) {
        int r;

        switch (m->kind) {
        case RULES_MATCH_PROTO:
        case RULES_MATCH_IIF:
        case RULES_MATCH_OIF:
        case RULES_MATCH_SRC:
        case RULES_MATCH_DST:
                return 0; /* in the ip header */
        case RULES_MATCH_DPORT:
        case RULES_MATCH_SPORT: {
                /* iptables loads the implicit tcp/udp match once, where its first option appears. */
                bool dst = m->kind == RULES_MATCH_DPORT;
                if (m->proto != IPPROTO_TCP && m->proto != IPPROTO_UDP) {
                        seterr(err, "port match needs tcp or udp");
                        return -EINVAL;
                }
                if (*ports_data && *ports_proto != m->proto) {
                        seterr(err, "port matches of two protocols in one rule");
                        return -EINVAL;
                }
                if (!*ports_data) {
                        *ports_proto = m->proto;
                        if (m->proto == IPPROTO_TCP) {
                                struct xt_tcp *t = enc_add(b, "tcp", 0, sizeof(*t));
                                if (!t)
                                        return -E2BIG;
                                t->spts[1] = t->dpts[1] = 0xffff;
                                *ports_data = t;
                        } else {
                                struct xt_udp *u = enc_add(b, "udp", 0, sizeof(*u));
                                if (!u)
                                        return -E2BIG;
                                u->spts[1] = u->dpts[1] = 0xffff;
                                *ports_data = u;
                        }
                }
                if (m->proto == IPPROTO_TCP) {
                        struct xt_tcp *t = *ports_data;
                        uint16_t *pts = dst ? t->dpts : t->spts;
                        pts[0] = pts[1] = m->port;
                        if (m->neg)
                                t->invflags |= dst ? XT_TCP_INV_DSTPT : XT_TCP_INV_SRCPT;
                } else {
                        struct xt_udp *u = *ports_data;
                        uint16_t *pts = dst ? u->dpts : u->spts;
                        pts[0] = pts[1] = m->port;
                        if (m->neg)
                                u->invflags |= dst ? XT_UDP_INV_DSTPT : XT_UDP_INV_SRCPT;
                }
                return 0;
        }
        case RULES_MATCH_DPORTS: {
                struct xt_multiport_v1 *mp;
                if (m->ports.n == 0 || m->ports.n > XT_MULTI_PORTS) {
                        seterr(err, "multiport takes 1 to %d ports", XT_MULTI_PORTS);
                        return -EINVAL;
                }
                mp = enc_add(b, "multiport", 1, sizeof(*mp));
                if (!mp)
                        return -E2BIG;
                mp->flags = XT_MULTIPORT_DESTINATION;
                mp->invert = m->neg;
                mp->count = m->ports.n;
                memcpy(mp->ports, m->ports.v, m->ports.n * sizeof(uint16_t));
                return 0;
        }
        case RULES_MATCH_UID_OWNER:
        case RULES_MATCH_GID_OWNER: {
                bool gid = m->kind == RULES_MATCH_GID_OWNER;
                struct xt_owner_match_info *o;
                uint32_t id;
                r = owner_resolve(&m->owner, gid, &id, err);
                if (r < 0)
                        return r;
                o = enc_add(b, "owner", 1, sizeof(*o));
                if (!o)
                        return -E2BIG;
                if (gid) {
                        o->gid_min = o->gid_max = id;
                        o->match = XT_OWNER_GID;
                } else {
                        o->uid_min = o->uid_max = id;
                        o->match = XT_OWNER_UID;
                }
                if (m->neg)
                        o->invert = o->match;
                return 0;
        }
        case RULES_MATCH_CTSTATE: {
                /* Revision 3 is what iptables 1.8.9 picks on current kernels. */
                struct xt_conntrack_mtinfo3 *ct = enc_add(b, "conntrack", 3, sizeof(*ct));
                if (!ct)
                        return -E2BIG;
                ct->match_flags = XT_CONNTRACK_STATE;
                if (m->ctstate & RULES_CTSTATE_INVALID)
                        ct->state_mask |= XT_CONNTRACK_STATE_INVALID;
                if (m->ctstate & RULES_CTSTATE_ESTABLISHED)
                        ct->state_mask |= XT_CONNTRACK_STATE_BIT(IP_CT_ESTABLISHED);
                if (m->ctstate & RULES_CTSTATE_RELATED)
                        ct->state_mask |= XT_CONNTRACK_STATE_BIT(IP_CT_RELATED);
                if (m->neg)
                        ct->invert_flags = XT_CONNTRACK_STATE;
                return 0;
        }
        case RULES_MATCH_MARK: {
                struct xt_mark_mtinfo1 *mk = enc_add(b, "mark", 1, sizeof(*mk));
                if (!mk)
                        return -E2BIG;
                mk->mark = m->mark;
                mk->mask = UINT32_MAX;
                mk->invert = m->neg;
                return 0;
        }
        case RULES_MATCH_CONNMARK: {
                struct xt_connmark_mtinfo1 *cm = enc_add(b, "connmark", 1, sizeof(*cm));
                if (!cm)
                        return -E2BIG;
                cm->mark = m->mark;
                cm->mask = UINT32_MAX;
                cm->invert = m->neg;
                return 0;
        }
        }
        seterr(err, "unknown match kind %d", (int)m->kind);
        return -EINVAL;
}

static int encode_target(const struct rules_target *t, int af, struct enc *b, char *err) {
        void *data;

        /* A target has the same header layout as a match. */
        switch (t->kind) {
        case RULES_TARGET_RETURN:
        case RULES_TARGET_ACCEPT:
        case RULES_TARGET_DROP:
        case RULES_TARGET_JUMP: {
                /* As iptables: the standard target carrying the verdict's or chain's name; libiptc
                 * maps it to a verdict or a jump. */
                const char *name = t->kind == RULES_TARGET_RETURN ? "RETURN"
                                 : t->kind == RULES_TARGET_ACCEPT ? "ACCEPT"
                                 : t->kind == RULES_TARGET_DROP   ? "DROP"
                                 : (unsigned)t->chain < RULES_CHAIN_MAX ? rules_chain_name(t->chain) : NULL;
                if (!name || (t->kind == RULES_TARGET_JUMP && t->chain < RULES_CHAIN_FIRST_ISTIO)) {
                        seterr(err, "bad jump target");
                        return -EINVAL;
                }
                data = enc_add(b, name, 0, sizeof(int)); /* the verdict, set by libiptc */
                break;
        }
        case RULES_TARGET_REDIRECT:
                /* --to-ports and --to-port are one option to iptables: same bytes (§10.1). */
                if (af == AF_INET) {
                        struct nf_nat_ipv4_multi_range_compat *mr = data = enc_add(b, "REDIRECT", 0, sizeof(*mr));
                        if (!mr)
                                break;
                        mr->rangesize = 1;
                        mr->range[0].flags = NF_NAT_RANGE_PROTO_SPECIFIED;
                        mr->range[0].min.tcp.port = mr->range[0].max.tcp.port = htons(t->port);
                } else {
                        struct nf_nat_range *nr = data = enc_add(b, "REDIRECT", 0, sizeof(*nr));
                        if (!nr)
                                break;
                        nr->flags = NF_NAT_RANGE_PROTO_SPECIFIED;
                        nr->min_proto.tcp.port = nr->max_proto.tcp.port = htons(t->port);
                }
                break;
        case RULES_TARGET_TPROXY: {
                struct xt_tproxy_target_info_v1 *tp = data = enc_add(b, "TPROXY", 1, sizeof(*tp));
                if (!tp)
                        break;
                tp->mark_mask = UINT32_MAX;
                tp->mark_value = t->mark;
                tp->lport = htons(t->port);
                break;
        }
        case RULES_TARGET_MARK: {
                /* --set-mark M is --set-xmark M/0xffffffff (revision 2). */
                struct xt_mark_tginfo2 *mk = data = enc_add(b, "MARK", 2, sizeof(*mk));
                if (!mk)
                        break;
                mk->mark = t->mark;
                mk->mask = UINT32_MAX;
                break;
        }
        case RULES_TARGET_CONNMARK_SAVE:
        case RULES_TARGET_CONNMARK_RESTORE: {
                /* Revision 2 (with shift fields) is what iptables 1.8.9 picks on kernels >= 4.17. */
                struct xt_connmark_tginfo2 *cm = data = enc_add(b, "CONNMARK", 2, sizeof(*cm));
                if (!cm)
                        break;
                cm->ctmask = cm->nfmask = UINT32_MAX;
                cm->mode = t->kind == RULES_TARGET_CONNMARK_SAVE ? XT_CONNMARK_SAVE : XT_CONNMARK_RESTORE;
                break;
        }
        case RULES_TARGET_CT_ZONE: {
                struct xt_ct_target_info_v1 *ct = data = enc_add(b, "CT", 2, sizeof(*ct));
                if (!ct)
                        break;
                ct->zone = t->zone;
                break;
        }
        default:
                seterr(err, "unknown target kind %d", (int)t->kind);
                return -EINVAL;
        }
        return data ? 0 : -E2BIG;
}

/* Just over 100 lines: the entry header, the matches in iptables' order and the target are one
 * buffer whose offsets depend on each other; split, the offsets would travel between functions. */
int iptlegacy_encode(int family, const struct rules_rule *r, void **ret_entry, size_t *ret_size, char *err) {
        const struct fam *f = fam_get(family);
        struct enc b = {};
        void *ports = NULL;
        uint8_t ports_proto = 0;
        uint16_t toff, noff;
        int k;

        if (!f || !r || !ret_entry || !ret_size) {
                seterr(err, "bad arguments");
                return -EINVAL;
        }
        /* Upper bound: every match and the target at the largest payload we build. */
        b.cap = f->entry_size + (r->n_matches + 1) * (XT_ALIGN(sizeof(struct xt_entry_match)) + 256);
        b.buf = calloc(1, b.cap);
        if (!b.buf)
                return -ENOMEM;
        b.len = f->entry_size;

        struct ipt_entry *e4 = family == AF_INET ? (struct ipt_entry *)b.buf : NULL;
        struct ip6t_entry *e6 = family == AF_INET6 ? (struct ip6t_entry *)b.buf : NULL;

        for (unsigned i = 0; i < r->n_matches; i++) {
                const struct rules_match *m = &r->matches[i];
                switch (m->kind) {
                case RULES_MATCH_PROTO:
                        if (e4) {
                                e4->ip.proto = m->proto;
                                if (m->neg)
                                        e4->ip.invflags |= IPT_INV_PROTO;
                        } else {
                                e6->ipv6.proto = m->proto;
                                e6->ipv6.flags |= IP6T_F_PROTO;
                                if (m->neg)
                                        e6->ipv6.invflags |= IP6T_INV_PROTO;
                        }
                        break;
                case RULES_MATCH_IIF:
                case RULES_MATCH_OIF: {
                        bool in = m->kind == RULES_MATCH_IIF;
                        if (e4) {
                                iface_set(m->ifname, in ? e4->ip.iniface : e4->ip.outiface,
                                          in ? e4->ip.iniface_mask : e4->ip.outiface_mask);
                                if (m->neg)
                                        e4->ip.invflags |= in ? IPT_INV_VIA_IN : IPT_INV_VIA_OUT;
                        } else {
                                iface_set(m->ifname, in ? e6->ipv6.iniface : e6->ipv6.outiface,
                                          in ? e6->ipv6.iniface_mask : e6->ipv6.outiface_mask);
                                if (m->neg)
                                        e6->ipv6.invflags |= in ? IP6T_INV_VIA_IN : IP6T_INV_VIA_OUT;
                        }
                        break;
                }
                case RULES_MATCH_SRC:
                case RULES_MATCH_DST: {
                        bool src = m->kind == RULES_MATCH_SRC;
                        if (m->cidr.ip.family != family) {
                                seterr(err, "address of the other family in rule");
                                free(b.buf);
                                return -EINVAL;
                        }
                        /* iptables stores the address masked ("-d 127.0.0.1/8" reads back 127.0.0.0/8). */
                        if (e4) {
                                struct in_addr msk;
                                mask_v4(m->cidr.prefixlen, &msk);
                                (src ? &e4->ip.smsk : &e4->ip.dmsk)->s_addr = msk.s_addr;
                                (src ? &e4->ip.src : &e4->ip.dst)->s_addr = m->cidr.ip.v4.s_addr & msk.s_addr;
                                if (m->neg)
                                        e4->ip.invflags |= src ? IPT_INV_SRCIP : IPT_INV_DSTIP;
                        } else {
                                struct in6_addr msk, *a = src ? &e6->ipv6.src : &e6->ipv6.dst;
                                mask_v6(m->cidr.prefixlen, &msk);
                                *(src ? &e6->ipv6.smsk : &e6->ipv6.dmsk) = msk;
                                for (unsigned j = 0; j < 16; j++)
                                        a->s6_addr[j] = m->cidr.ip.v6.s6_addr[j] & msk.s6_addr[j];
                                if (m->neg)
                                        e6->ipv6.invflags |= src ? IP6T_INV_SRCIP : IP6T_INV_DSTIP;
                        }
                        break;
                }
                default:
                        k = encode_match(m, &b, &ports, &ports_proto, err);
                        if (k < 0) {
                                free(b.buf);
                                return k;
                        }
                }
        }
        toff = b.len;
        k = encode_target(&r->target, family, &b, err);
        if (k < 0) {
                free(b.buf);
                return k;
        }
        noff = b.len;
        memcpy(b.buf + f->off_target, &toff, sizeof(toff));
        memcpy(b.buf + f->off_next, &noff, sizeof(noff));
        /* Give the unused tail of the upper-bound buffer back (a shrink splits the chunk in
         * place): with thousands of -x CIDRs the next rule's buffer reuses it, instead of every
         * rule faulting in fresh pages (5,000 rules: 3.5 MB touched, twice, for 0.8 MB of
         * entries). */
        *ret_entry = realloc(b.buf, b.len) ?: b.buf;
        *ret_size = b.len;
        return 0;
}

/* ---- comparing a kernel entry (through libiptc) with one we encoded ---- */

static bool entry_same(const struct fam *f, struct xtc_handle *h, const void *ke, const void *me) {
        const uint8_t *a = ke, *b = me;
        uint16_t toff = entry_u16(me, f->off_target), noff = entry_u16(me, f->off_next);
        const struct xt_entry_target *kt, *mt;
        const char *kname;

        if (memcmp(a, b, f->ip_size) != 0 || memcmp(a + f->off_nfcache, b + f->off_nfcache, 4) != 0 ||
            entry_u16(ke, f->off_target) != toff || entry_u16(ke, f->off_next) != noff)
                return false;
        for (size_t off = f->entry_size; off < toff;) {
                const struct xt_entry_match *km = (const void *)(a + off), *mm = (const void *)(b + off);
                if (km->u.match_size != mm->u.match_size || mm->u.match_size < sizeof(*mm) ||
                    strcmp(km->u.user.name, mm->u.user.name) != 0 || km->u.user.revision != mm->u.user.revision ||
                    memcmp(km->data, mm->data, mm->u.match_size - sizeof(*mm)) != 0)
                        return false;
                off += mm->u.match_size;
        }
        /* libiptc resolves verdicts and jumps to names; module targets are compared by payload. */
        kname = f->get_target(ke, h);
        mt = (const void *)(b + toff);
        if (!kname || strcmp(kname, mt->u.user.name) != 0)
                return false;
        kt = (const void *)(a + toff);
        if (strcmp(kt->u.user.name, mt->u.user.name) != 0)
                return true; /* a standard target (verdict or jump): the name said it all */
        return kt->u.target_size == mt->u.target_size && kt->u.user.revision == mt->u.user.revision &&
               memcmp(kt->data, mt->data, mt->u.target_size - sizeof(*mt)) == 0;
}

/* ---- the encoded form of a rules_list, per table and chain, in final order ---- */

struct plan_rule {
        enum rules_table table;
        enum rules_chain chain;
        unsigned position;
        void *entry;
};

struct plan {
        size_t n;
        struct plan_rule *v;
        bool chain_used[RULES_TABLE_MAX][RULES_CHAIN_MAX]; /* declared (non-built-in) chains */
        unsigned tables;                                   /* tables with rules */
};

static void plan_done(struct plan *p) {
        for (size_t i = 0; i < p->n; i++)
                free(p->v[i].entry);
        free(p->v);
        *p = (struct plan){};
}

static int plan_build(int family, const struct rules_list *l, struct plan *p, char *err) {
        int r;

        *p = (struct plan){};
        if (!l || l->n == 0)
                return 0;
        p->v = calloc(l->n, sizeof(*p->v));
        if (!p->v)
                return -ENOMEM;
        for (size_t i = 0; i < l->n; i++) {
                const struct rules_rule *rr = &l->v[i];
                size_t size;
                if ((unsigned)rr->table >= RULES_TABLE_MAX || (unsigned)rr->chain >= RULES_CHAIN_MAX) {
                        seterr(err, "rule %zu: bad table or chain", i);
                        plan_done(p);
                        return -EINVAL;
                }
                r = iptlegacy_encode(family, rr, &p->v[p->n].entry, &size, err);
                if (r < 0) {
                        plan_done(p);
                        return r;
                }
                p->v[p->n].table = rr->table;
                p->v[p->n].chain = rr->chain;
                p->v[p->n].position = rr->position;
                p->n++;
                p->tables |= 1u << rr->table;
                if (rr->chain >= RULES_CHAIN_FIRST_ISTIO)
                        p->chain_used[rr->table][rr->chain] = true;
                if (rules_rule_jumps_to_istio(rr))
                        p->chain_used[rr->table][rr->target.chain] = true; /* §4 pass 2 */
        }
        return 0;
}

/* The rules of one (table, chain) in their final kernel order (inserts applied) — what
 * iptables-restore gives when the chain starts empty. Returns the count; out has p->n slots. */
static size_t plan_chain_order(const struct plan *p, enum rules_table t, enum rules_chain c, void **out) {
        size_t n = 0;
        for (size_t i = 0; i < p->n; i++) {
                const struct plan_rule *pr = &p->v[i];
                size_t at;
                if (pr->table != t || pr->chain != c)
                        continue;
                at = pr->position == 0 || pr->position - 1 > n ? n : pr->position - 1;
                memmove(out + at + 1, out + at, (n - at) * sizeof(*out));
                out[at] = pr->entry;
                n++;
        }
        return n;
}

/* ---- tables present in the kernel ---- */

static unsigned tables_existing(const struct fam *f) {
        char line[64];
        unsigned mask = 0;
        _cleanup_fclose_ FILE *fp = fopen(f->names_path, "re");

        if (!fp)
                return 0;
        while (fgets(line, sizeof(line), fp)) {
                line[strcspn(line, "\n")] = 0;
                enum rules_table t;
                if (rules_table_from_name(line, &t) == 0)
                        mask |= 1u << t;
        }
        return mask;
}

/* ---- raw snapshot and restore of a table, for rollback ---- */

struct snapshot {
        int af;
        enum rules_table table;
        struct ipt_getinfo info;
        struct ipt_get_entries *entries; /* info.size bytes of entries */
};

static int raw_socket(const struct fam *f) {
        int fd = socket(f->af, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
        return fd < 0 ? -errno : fd;
}

static int raw_getinfo(const struct fam *f, int fd, const char *table, struct ipt_getinfo *ret) {
        socklen_t len = sizeof(*ret);
        memset(ret, 0, sizeof(*ret));
        strncpy(ret->name, table, sizeof(ret->name) - 1);
        if (getsockopt(fd, f->level, IPT_SO_GET_INFO, ret, &len) < 0)
                return -errno;
        return 0;
}

static int snapshot_take(const struct fam *f, enum rules_table t, struct snapshot *s) {
        _cleanup_close_ int fd = raw_socket(f);
        socklen_t len;
        int r;

        if (fd < 0)
                return fd;
        *s = (struct snapshot){ .af = f->af, .table = t };
        r = raw_getinfo(f, fd, rules_table_name(t), &s->info);
        if (r < 0)
                return r;
        len = sizeof(struct ipt_get_entries) + s->info.size;
        s->entries = calloc(1, len);
        if (!s->entries)
                return -ENOMEM;
        strncpy(s->entries->name, rules_table_name(t), sizeof(s->entries->name) - 1);
        s->entries->size = s->info.size;
        if (getsockopt(fd, f->level, IPT_SO_GET_ENTRIES, s->entries, &len) < 0) {
                r = -errno;
                free(s->entries);
                s->entries = NULL;
                return r;
        }
        return 0;
}

static int snapshot_restore(const struct snapshot *s) {
        const struct fam *f = fam_get(s->af);
        _cleanup_close_ int fd = raw_socket(f);
        _cleanup_free_ struct ipt_replace *rep = NULL;
        _cleanup_free_ struct xt_counters *counters = NULL;
        struct ipt_getinfo now;
        int r;

        if (fd < 0)
                return fd;
        r = raw_getinfo(f, fd, rules_table_name(s->table), &now);
        if (r < 0)
                return r;
        /* The kernel hands back the counters of the entries being replaced: it wants a buffer
         * for exactly as many as the table holds now. */
        counters = calloc(now.num_entries ? now.num_entries : 1, sizeof(*counters));
        rep = calloc(1, sizeof(*rep) + s->info.size);
        if (!counters || !rep)
                return -ENOMEM;
        strncpy(rep->name, rules_table_name(s->table), sizeof(rep->name) - 1);
        rep->valid_hooks = s->info.valid_hooks;
        rep->num_entries = s->info.num_entries;
        rep->size = s->info.size;
        memcpy(rep->hook_entry, s->info.hook_entry, sizeof(rep->hook_entry));
        memcpy(rep->underflow, s->info.underflow, sizeof(rep->underflow));
        rep->num_counters = now.num_entries;
        rep->counters = counters;
        memcpy(rep->entries, s->entries->entrytable, s->info.size);
        if (setsockopt(fd, f->level, IPT_SO_SET_REPLACE, rep, sizeof(*rep) + s->info.size) < 0)
                return -errno;
        return 0;
}

/* ---- transaction ---- */

struct iptlegacy_txn {
        int lock_fd;
        bool lock_borrowed; /* the caller's fd: unlock, never close */
        size_t n_snap;
        struct snapshot *snap;
        unsigned commits;
        char err[IPTLEGACY_ERR_MAX];
};

/* flock(LOCK_EX) on fd, polling until the deadline (iptables --wait). */
static int lock_wait(int fd, uint64_t wait_usec) {
        uint64_t deadline = now_usec() + wait_usec;

        for (unsigned sleep_ms = 1;;) {
                if (flock(fd, LOCK_EX | LOCK_NB) == 0)
                        return 0;
                if (errno != EWOULDBLOCK && errno != EINTR)
                        return -errno;
                if (now_usec() >= deadline)
                        return -ETIMEDOUT;
                /* Back off up to 100 ms: short for the common few-ms holder, bounded cost when a
                 * slow tool holds it for long. */
                nanosleep(&(struct timespec){ .tv_nsec = sleep_ms * 1000000L }, NULL);
                sleep_ms = sleep_ms * 2 > 100 ? 100 : sleep_ms * 2;
        }
}

int iptlegacy_txn_begin(const char *lock_path, int lock_fd, uint64_t wait_usec, unsigned flags, iptlegacy_txn **ret) {
        _cleanup_free_ iptlegacy_txn *t = calloc(1, sizeof(*t));
        _cleanup_close_ int fd = -1;
        int r;

        if (!ret)
                return -EINVAL;
        if (!t)
                return -ENOMEM;
        t->lock_fd = -1;
        if (flags & IPTLEGACY_NO_LOCK) {
                *ret = TAKE_PTR(t);
                return 0;
        }
        if (lock_fd >= 0) {
                /* The caller's fd (the pod's netns): nothing is opened by path, so a netns the
                 * runtime unmounted meanwhile cannot turn into a stray file. */
                r = lock_wait(lock_fd, wait_usec);
                if (r < 0)
                        return r;
                t->lock_fd = lock_fd;
                t->lock_borrowed = true;
                *ret = TAKE_PTR(t);
                return 0;
        }
        const char *path = lock_path ? lock_path : getenv("XTABLES_LOCKFILE");
        bool is_default = !path || !*path;
        if (is_default)
                path = IPTLEGACY_LOCK_DEFAULT;
        /* As iptables: open (creating it) read-only, flock exclusively. */
        fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0 && errno == ENOENT && is_default) {
                /* No /run at all (a scratch or distroless root, issue 15): no other process in
                 * this root can hold a lock on a file that cannot exist, so go on unlocked
                 * rather than fail the apply. */
                *ret = TAKE_PTR(t);
                return 0;
        }
        if (fd < 0)
                return -errno;
        r = lock_wait(fd, wait_usec);
        if (r < 0)
                return r;
        t->lock_fd = TAKE_FD(fd);
        *ret = TAKE_PTR(t);
        return 0;
}

iptlegacy_txn *iptlegacy_txn_free(iptlegacy_txn *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n_snap; i++)
                free(t->snap[i].entries);
        free(t->snap);
        if (t->lock_fd >= 0 && t->lock_borrowed)
                (void)flock(t->lock_fd, LOCK_UN); /* the caller's open file stays locked otherwise */
        else if (t->lock_fd >= 0)
                close(t->lock_fd); /* releases the flock */
        free(t);
        return NULL;
}

const char *iptlegacy_txn_error(const iptlegacy_txn *t) {
        return t ? t->err : "";
}

unsigned iptlegacy_txn_commits(const iptlegacy_txn *t) {
        return t ? t->commits : 0;
}

int iptlegacy_rollback(iptlegacy_txn *t) {
        int ret = 0;

        if (!t)
                return -EINVAL;
        for (size_t i = t->n_snap; i > 0; i--) {
                int r = snapshot_restore(&t->snap[i - 1]);
                if (r < 0 && ret == 0) {
                        seterr(t->err, "rollback of %s table %s: %s", t->snap[i - 1].af == AF_INET ? "IPv4" : "IPv6",
                               rules_table_name(t->snap[i - 1].table), strerror(-r));
                        ret = r;
                }
                free(t->snap[i - 1].entries);
        }
        t->n_snap = 0;
        return ret;
}

static bool fault_injected(int af, enum rules_table table) {
        const char *env = getenv(IPTLEGACY_FAULT_ENV);
        char want[2][32];

        if (!env)
                return false;
        snprintf(want[0], sizeof(want[0]), "iptlegacy:%s", rules_table_name(table));
        snprintf(want[1], sizeof(want[1]), "iptlegacy%c:%s", af == AF_INET ? '4' : '6', rules_table_name(table));
        for (const char *p = env; *p;) {
                size_t n = strcspn(p, ",");
                for (unsigned i = 0; i < 2; i++)
                        if (strlen(want[i]) == n && strncmp(p, want[i], n) == 0)
                                return true;
                p += n;
                if (*p == ',')
                        p++;
        }
        return false;
}

/* Rebuilds one table in the handle: removes our old state, adds the plan's chains and rules.
 * Returns >0 if anything changed, 0 if not, -errno. */
static int table_rebuild(const struct fam *f, struct xtc_handle *h, enum rules_table t, const struct plan *p,
                         const struct plan *residue, bool add, char *err) {
        _cleanup_free_ char (*chains)[XT_EXTENSION_MAXNAMELEN] = NULL;
        _cleanup_free_ unsigned *del = NULL;
        size_t n_chains = 0, cap = 0;
        bool changed = false;

        /* Collect the chain names first: libiptc's iterator does not survive modifications. */
        for (const char *c = f->first_chain(h); c; c = f->next_chain(h)) {
                if (n_chains == cap) {
                        void *nc = realloc(chains, (cap = cap ? cap * 2 : 16) * sizeof(*chains));
                        if (!nc)
                                return -ENOMEM;
                        chains = nc;
                }
                snprintf(chains[n_chains++], XT_EXTENSION_MAXNAMELEN, "%s", c);
        }
        /* 1. In every chain not ours: drop jumps to ISTIO_* chains; in built-in chains also the
         *    rules identical to one of the plan's (so a re-apply does not duplicate them) or of
         *    the residue's (an earlier configuration's, which this one does not add again). */
        for (size_t i = 0; i < n_chains; i++) {
                size_t n_del = 0, cap_del = 0;
                unsigned idx = 0;
                bool builtin;
                if (is_ours(chains[i]))
                        continue;
                builtin = f->builtin(chains[i], h);
                for (const void *e = f->first_rule(chains[i], h); e; e = f->next_rule(e, h), idx++) {
                        const char *tg = f->get_target(e, h);
                        bool drop = tg && is_ours(tg);
                        for (size_t j = 0; !drop && builtin && j < p->n; j++)
                                drop = p->v[j].table == t && streq(rules_chain_name(p->v[j].chain), chains[i]) &&
                                       entry_same(f, h, e, p->v[j].entry);
                        for (size_t j = 0; !drop && builtin && j < residue->n; j++)
                                drop = residue->v[j].table == t &&
                                       streq(rules_chain_name(residue->v[j].chain), chains[i]) &&
                                       entry_same(f, h, e, residue->v[j].entry);
                        if (!drop)
                                continue;
                        if (n_del == cap_del) {
                                void *nd = realloc(del, (cap_del = cap_del ? cap_del * 2 : 8) * sizeof(*del));
                                if (!nd)
                                        return -ENOMEM;
                                del = nd;
                        }
                        del[n_del++] = idx;
                }
                for (size_t j = n_del; j > 0; j--) {
                        if (!f->delete_num(chains[i], del[j - 1], h)) {
                                seterr(err, "delete rule %u of %s: %s", del[j - 1] + 1, chains[i], f->strerror(errno));
                                return -errno;
                        }
                        changed = true;
                }
        }
        /* 2. Flush every ISTIO_* chain (they may jump to each other), then delete them. */
        for (size_t i = 0; i < n_chains; i++)
                if (is_ours(chains[i])) {
                        if (!f->flush(chains[i], h)) {
                                seterr(err, "flush %s: %s", chains[i], f->strerror(errno));
                                return -errno;
                        }
                        changed = true;
                }
        for (size_t i = 0; i < n_chains; i++)
                if (is_ours(chains[i]) && !f->delete_chain(chains[i], h)) {
                        seterr(err, "delete chain %s: %s", chains[i], f->strerror(errno));
                        return -errno;
                }
        if (!add)
                return changed;
        /* 3. Our chains, then our rules in list order. */
        for (unsigned c = RULES_CHAIN_FIRST_ISTIO; c < RULES_CHAIN_MAX; c++)
                if (p->chain_used[t][c]) {
                        if (!f->create_chain(rules_chain_name(c), h)) {
                                seterr(err, "create chain %s: %s", rules_chain_name(c), f->strerror(errno));
                                return -errno;
                        }
                        changed = true;
                }
        for (size_t i = 0; i < p->n; i++) {
                const struct plan_rule *pr = &p->v[i];
                const char *cn = rules_chain_name(pr->chain);
                int ok;
                if (pr->table != t)
                        continue;
                ok = pr->position > 0 ? f->insert(cn, pr->entry, pr->position - 1, h) : f->append(cn, pr->entry, h);
                if (!ok) {
                        seterr(err, "%s chain %s (rule %zu): %s", pr->position > 0 ? "insert into" : "append to", cn,
                               i + 1, f->strerror(errno));
                        return errno == E2BIG ? -E2BIG : -(errno ? errno : EINVAL);
                }
                changed = true;
        }
        return changed;
}

/* Tables whose ISTIO state we may have to remove: the existing ones among our four. */
static int replace_family(iptlegacy_txn *t, int family, const struct rules_list *l, const struct rules_list *residue,
                          bool add) {
        const struct fam *f = fam_get(family);
        struct xtc_handle *h[RULES_TABLE_MAX] = {};
        bool changed[RULES_TABLE_MAX] = {};
        struct plan p = {}, pres = {};
        unsigned tables;
        int r = 0;

        if (!t || !f)
                return -EINVAL;
        t->err[0] = 0;
        r = plan_build(family, l, &p, t->err);
        if (r >= 0)
                r = plan_build(family, residue, &pres, t->err);
        if (r < 0) {
                plan_done(&p);
                return r;
        }
        tables = tables_existing(f);
        if (add)
                tables |= p.tables;
        /* Build every table in memory before the first commit: a bad rule commits nothing.
         * Taken in iptables-restore's (lexicographic) order, because taking a table is what
         * instantiates it, and that order is the order iptables-save prints them in. */
        for (unsigned tb = 0; tb < RULES_TABLE_MAX && r >= 0; tb++) {
                if (!(tables & (1u << tb)))
                        continue;
                h[tb] = f->init(rules_table_name(tb));
                if (!h[tb]) {
                        r = -(errno ? errno : EIO);
                        seterr(t->err, "%s table %s: %s", family == AF_INET ? "IPv4" : "IPv6", rules_table_name(tb),
                               f->strerror(errno));
                        break;
                }
                char e2[IPTLEGACY_ERR_MAX] = "";
                r = table_rebuild(f, h[tb], tb, &p, &pres, add, e2);
                if (r < 0)
                        seterr(t->err, "%s table %s: %s", family == AF_INET ? "IPv4" : "IPv6", rules_table_name(tb), e2);
                else
                        changed[tb] = r > 0;
        }
        for (unsigned i = 0; i < RULES_TABLE_MAX && r >= 0; i++) {
                enum rules_table tb = commit_order[i];
                struct snapshot s;
                void *ns;
                if (!h[tb] || !changed[tb])
                        continue;
                r = snapshot_take(f, tb, &s);
                if (r < 0) {
                        seterr(t->err, "%s table %s: reading it for rollback: %s", family == AF_INET ? "IPv4" : "IPv6",
                               rules_table_name(tb), strerror(-r));
                        break;
                }
                if (fault_injected(family, tb)) {
                        free(s.entries);
                        r = -EIO;
                        seterr(t->err, "%s table %s: commit: injected fault (%s)", family == AF_INET ? "IPv4" : "IPv6",
                               rules_table_name(tb), IPTLEGACY_FAULT_ENV);
                        break;
                }
                ns = realloc(t->snap, (t->n_snap + 1) * sizeof(*t->snap));
                if (!ns) {
                        free(s.entries);
                        r = -ENOMEM;
                        break;
                }
                t->snap = ns;
                t->snap[t->n_snap++] = s;
                if (!f->commit(h[tb])) {
                        r = -(errno ? errno : EIO);
                        seterr(t->err, "%s table %s: commit: %s", family == AF_INET ? "IPv4" : "IPv6",
                               rules_table_name(tb), f->strerror(errno));
                        /* Nothing was replaced; no need to restore this one. */
                        free(t->snap[--t->n_snap].entries);
                        break;
                }
                t->commits++;
        }
        for (unsigned i = 0; i < RULES_TABLE_MAX; i++)
                if (h[i])
                        f->free(h[i]);
        plan_done(&p);
        plan_done(&pres);
        return r < 0 ? r : 0;
}

int iptlegacy_apply(iptlegacy_txn *t, int family, const struct rules_list *l, const struct rules_list *residue) {
        return replace_family(t, family, l, residue, true);
}

int iptlegacy_cleanup(iptlegacy_txn *t, int family, const struct rules_list *l, const struct rules_list *residue) {
        return replace_family(t, family, l, residue, false);
}

/* ---- compare and probe ---- */

static unsigned chain_rules(const struct fam *f, const char *chain, struct xtc_handle *h) {
        unsigned n = 0;
        for (const void *e = f->first_rule(chain, h); e; e = f->next_rule(e, h))
                n++;
        return n;
}

static unsigned count_rules(const struct fam *f, struct xtc_handle *h) {
        unsigned n = 0;
        for (const char *c = f->first_chain(h); c; c = f->next_chain(h))
                n += chain_rules(f, c, h);
        return n;
}

static int compare_table(const struct fam *f, struct xtc_handle *h, enum rules_table t, const struct plan *p,
                         void **order, bool *ours, bool *same, char *why) {
        bool seen[RULES_CHAIN_MAX] = {};

        for (const char *c = f->first_chain(h); c; c = f->next_chain(h)) {
                enum rules_chain ch;
                if (rules_chain_from_name(c, &ch) < 0)
                        ch = RULES_CHAIN_MAX; /* an ISTIO* chain we do not know */
                if (!is_ours(c)) {
                        for (const void *e = f->first_rule(c, h); e; e = f->next_rule(e, h)) {
                                const char *tg = f->get_target(e, h);
                                if (tg && is_ours(tg))
                                        *ours = true;
                        }
                        continue;
                }
                *ours = true;
                if (ch == RULES_CHAIN_MAX || !p->chain_used[t][ch]) {
                        if (*same)
                                seterr(why, "unexpected chain %s in table %s", c, rules_table_name(t));
                        *same = false;
                        continue;
                }
                seen[ch] = true;
                size_t n = plan_chain_order(p, t, ch, order), i = 0;
                for (const void *e = f->first_rule(c, h); e; e = f->next_rule(e, h), i++)
                        if (i >= n || !entry_same(f, h, e, order[i])) {
                                if (*same)
                                        seterr(why, "table %s chain %s differs at rule %zu", rules_table_name(t), c, i + 1);
                                *same = false;
                                break;
                        }
                if (i < n) {
                        if (*same)
                                seterr(why, "table %s chain %s lacks rule %zu", rules_table_name(t), c, i + 1);
                        *same = false;
                }
        }
        for (unsigned k = RULES_CHAIN_FIRST_ISTIO; k < RULES_CHAIN_MAX; k++)
                if (p->chain_used[t][k] && !seen[k]) {
                        if (*same)
                                seterr(why, "chain %s missing in table %s", rules_chain_name(k), rules_table_name(t));
                        *same = false;
                }
        /* Built-in chain rules: presence only (§5.4). */
        for (size_t j = 0; j < p->n; j++) {
                const struct plan_rule *pr = &p->v[j];
                bool found = false;
                if (pr->table != t || pr->chain >= RULES_CHAIN_FIRST_ISTIO)
                        continue;
                for (const void *e = f->first_rule(rules_chain_name(pr->chain), h); e && !found; e = f->next_rule(e, h))
                        found = entry_same(f, h, e, pr->entry);
                if (found)
                        *ours = true;
                else {
                        if (*same)
                                seterr(why, "table %s chain %s lacks a rule", rules_table_name(t), rules_chain_name(pr->chain));
                        *same = false;
                }
        }
        return 0;
}

int iptlegacy_chains(int family, void (*cb)(const char *table, const char *chain, unsigned n_rules, void *userdata),
                     void *userdata) {
        const struct fam *f = fam_get(family);
        unsigned tables;

        if (!f || !cb)
                return -EINVAL;
        tables = tables_existing(f);
        for (unsigned t = 0; t < RULES_TABLE_MAX; t++) {
                struct xtc_handle *h;
                if (!(tables & (1u << t)))
                        continue;
                h = f->init(rules_table_name(t));
                if (!h)
                        return -(errno ? errno : EIO);
                for (const char *c = f->first_chain(h); c; c = f->next_chain(h))
                        if (!f->builtin(c, h))
                                cb(rules_table_name(t), c, chain_rules(f, c, h), userdata);
                f->free(h);
        }
        return (int)tables;
}

int iptlegacy_compare(int family, const struct rules_list *l, struct iptlegacy_status *ret) {
        const struct fam *f = fam_get(family);
        _cleanup_free_ void **order = NULL;
        struct plan p = {};
        bool ours = false, same = true;
        unsigned tables;
        int r;

        if (!f || !ret)
                return -EINVAL;
        *ret = (struct iptlegacy_status){};
        r = plan_build(family, l, &p, ret->why);
        if (r < 0)
                return r;
        order = calloc(p.n + 1, sizeof(*order));
        if (!order) {
                plan_done(&p);
                return -ENOMEM;
        }
        tables = tables_existing(f);
        for (unsigned t = 0; t < RULES_TABLE_MAX; t++) {
                struct xtc_handle *h;
                if (!(tables & (1u << t))) {
                        if (p.tables & (1u << t)) {
                                if (same)
                                        seterr(ret->why, "table %s does not exist", rules_table_name(t));
                                same = false;
                        }
                        continue;
                }
                h = f->init(rules_table_name(t));
                if (!h) {
                        r = -(errno ? errno : EIO);
                        seterr(ret->why, "table %s: %s", rules_table_name(t), f->strerror(errno));
                        plan_done(&p);
                        return r;
                }
                ret->n_rules += count_rules(f, h);
                compare_table(f, h, t, &p, order, &ours, &same, ret->why);
                f->free(h);
        }
        plan_done(&p);
        ret->residue = ret->n_rules > 0;
        ret->state = !ours ? IPTLEGACY_CLEAN : same ? IPTLEGACY_IDENTICAL : IPTLEGACY_DRIFTED;
        if (ret->state != IPTLEGACY_DRIFTED)
                ret->why[0] = 0;
        return 0;
}

int iptlegacy_probe(int family, struct iptlegacy_probe *ret) {
        const struct fam *f = fam_get(family);
        unsigned tables;

        if (!f || !ret)
                return -EINVAL;
        *ret = (struct iptlegacy_probe){};
        tables = tables_existing(f);
        ret->nat_exists = tables & (1u << RULES_TABLE_NAT);
        if (!ret->nat_exists) {
                /* Only taking the table tells whether the kernel can serve it (it autoloads the
                 * module and instantiates an empty table in this netns). */
                struct xtc_handle *h = f->init("nat");
                if (!h)
                        return errno == ENOENT || errno == ENOPROTOOPT || errno == EAFNOSUPPORT ||
                                               errno == EPERM || errno == EACCES || errno == EINVAL
                                       ? 0
                                       : -(errno ? errno : EIO);
                f->free(h);
                ret->instantiated = true;
                tables |= 1u << RULES_TABLE_NAT;
        }
        ret->available = true;
        ret->tables = tables;
        for (unsigned t = 0; t < RULES_TABLE_MAX; t++) {
                struct xtc_handle *h;
                if (!(tables & (1u << t)))
                        continue;
                h = f->init(rules_table_name(t));
                if (!h)
                        continue;
                ret->n_rules += count_rules(f, h);
                f->free(h);
        }
        return 0;
}
