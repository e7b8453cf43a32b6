/* SPDX-License-Identifier: Apache-2.0 */
/* rules.c: the pure rule builder, capture_config → typed rules.
 * Spec: istio-iptables.md §3.2–§3.4 (emission order, exact), §7 (nftables differences).
 * One step list serves both flavors; where nftables orders a rule's matches differently
 * (its goldens fix that order) the step spells out both forms. */
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/macro.h"
#include "rules/rules.h"

enum fam { V4, V6, BOTH };

struct builder {
        struct ruleset *rs;
        const struct capture_config *c;
        bool nft;
        int r; /* first error, sticky */
};

/* --- match/target constructors ------------------------------------------------------------- */

static struct rules_match m_proto(uint8_t p) { return (struct rules_match){ .kind = RULES_MATCH_PROTO, .proto = p }; }
static struct rules_match m_iif(const char *n) {
        struct rules_match m = { .kind = RULES_MATCH_IIF };
        strncpy(m.ifname, n, IFNAMSIZ - 1);
        return m;
}
static struct rules_match m_oif(const char *n) {
        struct rules_match m = { .kind = RULES_MATCH_OIF };
        strncpy(m.ifname, n, IFNAMSIZ - 1);
        return m;
}
static struct rules_match m_src(const struct netaddr_cidr *c) { return (struct rules_match){ .kind = RULES_MATCH_SRC, .cidr = *c }; }
static struct rules_match m_dst(const struct netaddr_cidr *c, bool neg) {
        return (struct rules_match){ .kind = RULES_MATCH_DST, .neg = neg, .cidr = *c };
}
static struct rules_match m_dport(uint8_t p, uint16_t port, bool neg) {
        return (struct rules_match){ .kind = RULES_MATCH_DPORT, .proto = p, .port = port, .neg = neg };
}
static struct rules_match m_sport(uint8_t p, uint16_t port) {
        return (struct rules_match){ .kind = RULES_MATCH_SPORT, .proto = p, .port = port };
}
static struct rules_match m_dports2(uint8_t p, uint16_t a, uint16_t b, bool neg) {
        struct rules_match m = { .kind = RULES_MATCH_DPORTS, .proto = p, .neg = neg };
        m.ports.n = 2;
        m.ports.v[0] = a;
        m.ports.v[1] = b;
        return m;
}
static struct rules_match m_uid(const struct config_owner *o, bool neg) {
        return (struct rules_match){ .kind = RULES_MATCH_UID_OWNER, .owner = *o, .neg = neg };
}
static struct rules_match m_gid(const struct config_owner *o, bool neg) {
        return (struct rules_match){ .kind = RULES_MATCH_GID_OWNER, .owner = *o, .neg = neg };
}
static struct rules_match m_owner(bool gid, const struct config_owner *o, bool neg) {
        return gid ? m_gid(o, neg) : m_uid(o, neg);
}
static struct rules_match m_ct(unsigned st) { return (struct rules_match){ .kind = RULES_MATCH_CTSTATE, .ctstate = st }; }
static struct rules_match m_mark(uint32_t v, bool neg) { return (struct rules_match){ .kind = RULES_MATCH_MARK, .mark = v, .neg = neg }; }
static struct rules_match m_connmark(uint32_t v) { return (struct rules_match){ .kind = RULES_MATCH_CONNMARK, .mark = v }; }

static struct rules_target t_return(void) { return (struct rules_target){ .kind = RULES_TARGET_RETURN }; }
static struct rules_target t_accept(void) { return (struct rules_target){ .kind = RULES_TARGET_ACCEPT }; }
static struct rules_target t_drop(void) { return (struct rules_target){ .kind = RULES_TARGET_DROP }; }
static struct rules_target t_jump(enum rules_chain ch) { return (struct rules_target){ .kind = RULES_TARGET_JUMP, .chain = ch }; }
static struct rules_target t_redirect(uint16_t port, bool singular) {
        return (struct rules_target){ .kind = RULES_TARGET_REDIRECT, .port = port, .to_port_singular = singular };
}
static struct rules_target t_tproxy(uint16_t port, uint32_t mark) {
        return (struct rules_target){ .kind = RULES_TARGET_TPROXY, .port = port, .mark = mark };
}
static struct rules_target t_mark(uint32_t v) { return (struct rules_target){ .kind = RULES_TARGET_MARK, .mark = v }; }
static struct rules_target t_ct_zone(uint16_t z) { return (struct rules_target){ .kind = RULES_TARGET_CT_ZONE, .zone = z }; }

/* --- emission -------------------------------------------------------------------------------- */

static void push(struct builder *b, int list, int family, enum rules_table t, enum rules_chain ch, unsigned pos,
                 struct rules_target tgt, unsigned n, const struct rules_match *m) {
        struct rules_list *l = &b->rs->fam[list];
        struct rules_rule *rule;

        if (b->r < 0)
                return;
        if (l->n == l->allocated) {
                size_t na = l->allocated ? l->allocated * 2 : 64;
                struct rules_rule *nv = realloc(l->v, na * sizeof *nv);
                if (!nv) {
                        b->r = -ENOMEM;
                        return;
                }
                l->v = nv;
                l->allocated = na;
        }
        rule = &l->v[l->n];
        *rule = (struct rules_rule){ .table = t, .chain = ch, .position = pos, .family = family, .n_matches = n,
                                     .target = tgt };
        if (n) {
                rule->matches = malloc(n * sizeof *m);
                if (!rule->matches) {
                        b->r = -ENOMEM;
                        return;
                }
                memcpy(rule->matches, m, n * sizeof *m);
        }
        l->n++;
}

/* Emits a rule for the given family kind (§3.1): BOTH goes to v4, and to v6 if IPv6 is enabled
 * (nft: once, family-neutral); V4 always; V6 only if IPv6 is enabled. */
static void emit(struct builder *b, enum fam fam, enum rules_table t, enum rules_chain ch, unsigned pos,
                 struct rules_target tgt, unsigned n, const struct rules_match *m) {
        bool v6 = b->rs->enable_ipv6;
        if (b->nft) {
                if (fam == V6 && !v6)
                        return;
                push(b, 0, fam == V4 ? AF_INET : fam == V6 ? AF_INET6 : AF_UNSPEC, t, ch, pos, tgt, n, m);
                return;
        }
        if (fam != V6)
                push(b, 0, AF_INET, t, ch, pos, tgt, n, m);
        if (fam != V4 && v6)
                push(b, 1, AF_INET6, t, ch, pos, tgt, n, m);
}

#define M(...) ((const struct rules_match[]){ __VA_ARGS__ })
#define NM(...) (sizeof(M(__VA_ARGS__)) / sizeof(struct rules_match))
#define ADD(fam, t, ch, tgt, ...) emit(b, fam, RULES_TABLE_##t, RULES_CHAIN_##ch, 0, tgt, NM(__VA_ARGS__), M(__VA_ARGS__))
#define ADD0(fam, t, ch, tgt) emit(b, fam, RULES_TABLE_##t, RULES_CHAIN_##ch, 0, tgt, 0, NULL)
#define INS(fam, t, ch, pos, tgt, ...) \
        emit(b, fam, RULES_TABLE_##t, RULES_CHAIN_##ch, pos, tgt, NM(__VA_ARGS__), M(__VA_ARGS__))

#define TCP IPPROTO_TCP
#define UDP IPPROTO_UDP

/* LB4 is configurable (ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR); LB6 is always ::1/128 (quirk 8). */
static const struct netaddr_cidr *lb_for(const struct builder *b, enum fam f) {
        static const struct netaddr_cidr lb6 = { .ip = { .family = AF_INET6, .v6 = IN6ADDR_LOOPBACK_INIT }, .prefixlen = 128 };
        return f == V4 ? &b->c->loopback4 : &lb6;
}

static struct netaddr_cidr src_for(enum fam f) {
        struct netaddr_cidr c;
        netaddr_parse_cidr(f == V4 ? "127.0.0.6/32" : "::6/128", &c);
        return c;
}

/* Step 9, 17a, 18a, 27: "versioned" rules exist once per family with that family's loopback. */
#define FOREACH_VERSION(f) for (enum fam f = V4; f <= V6; f++)

static void build_outbound_owner(struct builder *b, bool gid, const struct config_owner *o) {
        const struct capture_config *c = b->c;
        bool dns = b->rs->dns_on;
        uint16_t E = c->inbound_tunnel_port;

        /* 17a / 18a: proxy-originated loopback traffic to non-localhost → inbound (hairpin).
         * The GID form never uses the DNS variant (quirk 6). */
        FOREACH_VERSION(f) {
                const struct netaddr_cidr *lb = lb_for(b, f);
                if (dns && !gid) {
                        if (b->nft)
                                ADD(f, NAT, ISTIO_OUTPUT, t_jump(RULES_CHAIN_ISTIO_IN_REDIRECT), m_oif("lo"), m_proto(TCP),
                                    m_dst(lb, true), m_dports2(TCP, 53, E, true), m_owner(gid, o, false));
                        else
                                ADD(f, NAT, ISTIO_OUTPUT, t_jump(RULES_CHAIN_ISTIO_IN_REDIRECT), m_oif("lo"), m_dst(lb, true),
                                    m_proto(TCP), m_dports2(TCP, 53, E, true), m_owner(gid, o, false));
                } else {
                        if (b->nft)
                                ADD(f, NAT, ISTIO_OUTPUT, t_jump(RULES_CHAIN_ISTIO_IN_REDIRECT), m_oif("lo"), m_proto(TCP),
                                    m_dst(lb, true), m_dport(TCP, E, true), m_owner(gid, o, false));
                        else
                                ADD(f, NAT, ISTIO_OUTPUT, t_jump(RULES_CHAIN_ISTIO_IN_REDIRECT), m_oif("lo"), m_dst(lb, true),
                                    m_proto(TCP), m_dport(TCP, E, true), m_owner(gid, o, false));
                }
        }
        /* 17b / 18b: other owners' loopback traffic is left alone, unless loopback is included. */
        if (!c->include_has_loopback) {
                if (dns)
                        ADD(BOTH, NAT, ISTIO_OUTPUT, t_return(), m_oif("lo"), m_proto(TCP), m_dport(TCP, 53, true),
                            m_owner(gid, o, true));
                else
                        ADD(BOTH, NAT, ISTIO_OUTPUT, t_return(), m_oif("lo"), m_owner(gid, o, true));
        }
        /* 17c / 18c: everything else the proxy sends is not captured. */
        ADD(BOTH, NAT, ISTIO_OUTPUT, t_return(), m_owner(gid, o, false));
}

/* §3.4: the DNS block (step 20). */
static void build_dns(struct builder *b) {
        const struct capture_config *c = b->c;
        bool ca = c->capture_all_dns;
        const struct config_ips *S[2] = { &c->dns4, &c->dns6 };

        ADD0(BOTH, RAW, OUTPUT, t_jump(RULES_CHAIN_ISTIO_OUTPUT_DNS));
        if (b->nft) {
                if (ca || S[0]->n || S[1]->n)
                        ADD0(BOTH, NAT, ISTIO_OUTPUT, t_jump(RULES_CHAIN_ISTIO_OUTPUT_DNS));
        } else {
                if (ca || S[0]->n)
                        ADD0(V4, NAT, ISTIO_OUTPUT, t_jump(RULES_CHAIN_ISTIO_OUTPUT_DNS));
                if (ca || S[1]->n)
                        ADD0(V6, NAT, ISTIO_OUTPUT, t_jump(RULES_CHAIN_ISTIO_OUTPUT_DNS));
        }

        /* TCP, then UDP ("--to-port", singular: quirk 1). */
        for (int udp = 0; udp <= 1; udp++) {
                uint8_t p = udp ? UDP : TCP;
                if (ca) {
                        if (b->nft && udp)
                                ADD(BOTH, NAT, ISTIO_OUTPUT_DNS, t_redirect(15053, true), m_dport(p, 53, false));
                        else
                                ADD(BOTH, NAT, ISTIO_OUTPUT_DNS, t_redirect(15053, udp), m_proto(p), m_dport(p, 53, false));
                        continue;
                }
                for (int f = 0; f < 2; f++)
                        for (size_t i = 0; i < S[f]->n; i++) {
                                struct netaddr_cidr h = netaddr_host_cidr(&S[f]->v[i]);
                                if (b->nft)
                                        ADD(f == 0 ? V4 : V6, NAT, ISTIO_OUTPUT_DNS, t_redirect(15053, udp),
                                            m_dst(&h, false), m_dport(p, 53, false));
                                else
                                        ADD(f == 0 ? V4 : V6, NAT, ISTIO_OUTPUT_DNS, t_redirect(15053, udp), m_proto(p),
                                            m_dport(p, 53, false), m_dst(&h, false));
                        }
        }

        /* Conntrack zones: proxy → upstream resolvers in zone 1, proxy → app replies in zone 2. */
        for (int gid = 0; gid <= 1; gid++) {
                const struct config_owners *l = gid ? &c->proxy_gid : &c->proxy_uid;
                for (size_t i = 0; i < l->n; i++) {
                        if (b->nft) {
                                ADD(BOTH, RAW, ISTIO_OUTPUT_DNS, t_ct_zone(1), m_dport(UDP, 53, false), m_owner(gid, &l->v[i], false));
                                ADD(BOTH, RAW, ISTIO_OUTPUT_DNS, t_ct_zone(2), m_sport(UDP, 15053),
                                    m_owner(gid, &l->v[i], false));
                        } else {
                                ADD(BOTH, RAW, ISTIO_OUTPUT_DNS, t_ct_zone(1), m_proto(UDP), m_dport(UDP, 53, false),
                                    m_owner(gid, &l->v[i], false));
                                ADD(BOTH, RAW, ISTIO_OUTPUT_DNS, t_ct_zone(2), m_proto(UDP), m_sport(UDP, 15053),
                                    m_owner(gid, &l->v[i], false));
                        }
                }
        }

        /* Inbound zone marking. */
        if (ca) {
                ADD0(BOTH, RAW, PREROUTING, t_jump(RULES_CHAIN_ISTIO_INBOUND));
                if (b->nft) {
                        ADD(BOTH, RAW, ISTIO_OUTPUT_DNS, t_ct_zone(2), m_dport(UDP, 53, false));
                        ADD(BOTH, RAW, ISTIO_INBOUND, t_ct_zone(1), m_sport(UDP, 53));
                } else {
                        ADD(BOTH, RAW, ISTIO_OUTPUT_DNS, t_ct_zone(2), m_proto(UDP), m_dport(UDP, 53, false));
                        ADD(BOTH, RAW, ISTIO_INBOUND, t_ct_zone(1), m_proto(UDP), m_sport(UDP, 53));
                }
                return;
        }
        if (b->nft && (S[0]->n || S[1]->n))
                ADD0(BOTH, RAW, PREROUTING, t_jump(RULES_CHAIN_ISTIO_INBOUND));
        for (int f = 0; f < 2; f++) {
                enum fam fam = f == 0 ? V4 : V6;
                if (!b->nft && S[f]->n)
                        ADD0(fam, RAW, PREROUTING, t_jump(RULES_CHAIN_ISTIO_INBOUND));
                for (size_t i = 0; i < S[f]->n; i++) {
                        struct netaddr_cidr h = netaddr_host_cidr(&S[f]->v[i]);
                        if (b->nft) {
                                ADD(fam, RAW, ISTIO_OUTPUT_DNS, t_ct_zone(2), m_dport(UDP, 53, false), m_dst(&h, false));
                                ADD(fam, RAW, ISTIO_INBOUND, t_ct_zone(1), m_sport(UDP, 53), m_src(&h));
                        } else {
                                ADD(fam, RAW, ISTIO_OUTPUT_DNS, t_ct_zone(2), m_proto(UDP), m_dport(UDP, 53, false),
                                    m_dst(&h, false));
                                ADD(fam, RAW, ISTIO_INBOUND, t_ct_zone(1), m_proto(UDP), m_sport(UDP, 53), m_src(&h));
                        }
                }
        }
}

/* §3.1 steps 1–7: excluded and KubeVirt interfaces, conntrack-INVALID, the fixed redirect chains. */
static void build_head(struct builder *b) {
        const struct capture_config *c = b->c;
        bool T = c->tproxy, nft = b->nft;
        uint16_t P = c->proxy_port, Z = c->inbound_capture_port, E = c->inbound_tunnel_port;

        /* 1, 1′: excluded interfaces are never captured. */
        for (size_t i = 0; i < c->exclude_ifaces.n; i++) {
                ADD(BOTH, NAT, PREROUTING, t_return(), m_iif(c->exclude_ifaces.v[i]));
                ADD(BOTH, NAT, OUTPUT, t_return(), m_oif(c->exclude_ifaces.v[i]));
        }
        /* 2 */
        if (T)
                for (size_t i = 0; i < c->exclude_ifaces.n; i++) {
                        ADD(BOTH, MANGLE, PREROUTING, t_return(), m_iif(c->exclude_ifaces.v[i]));
                        ADD(BOTH, MANGLE, OUTPUT, t_return(), m_oif(c->exclude_ifaces.v[i]));
                }
        /* 3: KubeVirt interfaces, each inserted at the top (kernel order is the reverse). */
        for (size_t i = 0; i < c->virt_ifaces.n; i++)
                INS(BOTH, NAT, PREROUTING, 1, t_return(), m_iif(c->virt_ifaces.v[i]));
        /* 4: drop conntrack-INVALID (nft: TCP only, quirk 31). */
        if (c->drop_invalid) {
                if (nft)
                        ADD(BOTH, MANGLE, PREROUTING, t_jump(RULES_CHAIN_ISTIO_DROP), m_proto(TCP), m_ct(RULES_CTSTATE_INVALID));
                else
                        ADD(BOTH, MANGLE, PREROUTING, t_jump(RULES_CHAIN_ISTIO_DROP), m_ct(RULES_CTSTATE_INVALID));
                ADD0(BOTH, MANGLE, ISTIO_DROP, t_drop());
        }
        /* 5–7 */
        ADD(BOTH, NAT, ISTIO_INBOUND, t_return(), m_proto(TCP), m_dport(TCP, E, false));
        ADD(BOTH, NAT, ISTIO_REDIRECT, t_redirect(P, false), m_proto(TCP));
        ADD(BOTH, NAT, ISTIO_IN_REDIRECT, t_redirect(Z, false), m_proto(TCP));
}

/* §3.1 steps 8–13: inbound capture (-b), by REDIRECT or TPROXY. */
static void build_inbound(struct builder *b) {
        const struct capture_config *c = b->c;
        bool T = c->tproxy, nft = b->nft;
        uint32_t M = c->tproxy_mark;
        uint16_t Z = c->inbound_capture_port;
        enum rules_table intbl = T ? RULES_TABLE_MANGLE : RULES_TABLE_NAT;

        /* 8, 9 */
        if (T) {
                ADD0(BOTH, MANGLE, ISTIO_DIVERT, t_mark(M));
                ADD0(BOTH, MANGLE, ISTIO_DIVERT, t_accept());
                FOREACH_VERSION(f) {
                        if (nft)
                                ADD(f, MANGLE, ISTIO_TPROXY, t_tproxy(Z, M), m_proto(TCP), m_dst(lb_for(b, f), true));
                        else
                                ADD(f, MANGLE, ISTIO_TPROXY, t_tproxy(Z, M), m_dst(lb_for(b, f), true), m_proto(TCP));
                }
        }
        /* 10 */
        emit(b, BOTH, intbl, RULES_CHAIN_PREROUTING, 0, t_jump(RULES_CHAIN_ISTIO_INBOUND), 1, M(m_proto(TCP)));
        if (c->inbound_all) {
                /* 11: -d is only honoured with -b '*' (quirk 12). */
                for (size_t i = 0; i < c->inbound_exclude_ports.n; i++)
                        emit(b, BOTH, intbl, RULES_CHAIN_ISTIO_INBOUND, 0, t_return(), 2,
                             M(m_proto(TCP), m_dport(TCP, c->inbound_exclude_ports.v[i], false)));
                /* 12, 12′ */
                if (T) {
                        ADD(BOTH, MANGLE, ISTIO_INBOUND, t_jump(RULES_CHAIN_ISTIO_DIVERT), m_proto(TCP),
                            m_ct(RULES_CTSTATE_RELATED | RULES_CTSTATE_ESTABLISHED));
                        ADD(BOTH, MANGLE, ISTIO_INBOUND, t_jump(RULES_CHAIN_ISTIO_TPROXY), m_proto(TCP));
                } else
                        ADD(BOTH, NAT, ISTIO_INBOUND, t_jump(RULES_CHAIN_ISTIO_IN_REDIRECT), m_proto(TCP));
        } else {
                /* 13, 13′ */
                for (size_t i = 0; i < c->inbound_ports.n; i++) {
                        uint16_t B = c->inbound_ports.v[i];
                        if (T) {
                                if (nft)
                                        ADD(BOTH, MANGLE, ISTIO_INBOUND, t_jump(RULES_CHAIN_ISTIO_DIVERT), m_proto(TCP),
                                            m_ct(RULES_CTSTATE_RELATED | RULES_CTSTATE_ESTABLISHED), m_dport(TCP, B, false));
                                else
                                        ADD(BOTH, MANGLE, ISTIO_INBOUND, t_jump(RULES_CHAIN_ISTIO_DIVERT), m_proto(TCP),
                                            m_dport(TCP, B, false), m_ct(RULES_CTSTATE_RELATED | RULES_CTSTATE_ESTABLISHED));
                                ADD(BOTH, MANGLE, ISTIO_INBOUND, t_jump(RULES_CHAIN_ISTIO_TPROXY), m_proto(TCP),
                                    m_dport(TCP, B, false));
                        } else
                                ADD(BOTH, NAT, ISTIO_INBOUND, t_jump(RULES_CHAIN_ISTIO_IN_REDIRECT), m_proto(TCP),
                                    m_dport(TCP, B, false));
                }
        }
}

/* §3.1 steps 14–19: the OUTPUT jump and what returns early (excluded ports, Envoy's passthrough,
 * the proxy's own uid/gid, the owner-group filter). */
static void build_outbound_returns(struct builder *b) {
        const struct capture_config *c = b->c;
        bool nft = b->nft;

        /* 14 */
        ADD0(BOTH, NAT, OUTPUT, t_jump(RULES_CHAIN_ISTIO_OUTPUT));
        /* 15: excluded outbound ports, TCP and UDP. */
        for (size_t i = 0; i < c->outbound_exclude_ports.n; i++) {
                uint16_t O = c->outbound_exclude_ports.v[i];
                if (nft) {
                        ADD(BOTH, NAT, ISTIO_OUTPUT, t_return(), m_dport(TCP, O, false));
                        ADD(BOTH, NAT, ISTIO_OUTPUT, t_return(), m_dport(UDP, O, false));
                } else {
                        ADD(BOTH, NAT, ISTIO_OUTPUT, t_return(), m_proto(TCP), m_dport(TCP, O, false));
                        ADD(BOTH, NAT, ISTIO_OUTPUT, t_return(), m_proto(UDP), m_dport(UDP, O, false));
                }
        }
        /* 16: Envoy's inbound passthrough binds 127.0.0.6 / ::6. */
        FOREACH_VERSION(f) {
                struct netaddr_cidr s = src_for(f);
                ADD(f, NAT, ISTIO_OUTPUT, t_return(), m_oif("lo"), m_src(&s));
        }
        /* 17, 18 */
        for (size_t i = 0; i < c->proxy_uid.n; i++)
                build_outbound_owner(b, false, &c->proxy_uid.v[i]);
        for (size_t i = 0; i < c->proxy_gid.n; i++)
                build_outbound_owner(b, true, &c->proxy_gid.v[i]);
        /* 19, 19′: owner-group filter. */
        if (c->owner_groups_all) {
                for (size_t i = 0; i < c->owner_groups_exclude.n; i++)
                        ADD(BOTH, NAT, ISTIO_OUTPUT, t_return(), m_gid(&c->owner_groups_exclude.v[i], false));
        } else {
                struct rules_match m[CONFIG_MAX_OWNER_GROUPS];
                size_t n = c->owner_groups_include.n;
                if (n > CONFIG_MAX_OWNER_GROUPS) {
                        b->r = -E2BIG;
                        return;
                }
                for (size_t i = 0; i < n; i++)
                        m[i] = m_gid(&c->owner_groups_include.v[i], true);
                emit(b, BOTH, RULES_TABLE_NAT, RULES_CHAIN_ISTIO_OUTPUT, 0, t_return(), (unsigned)n, m);
        }
}

/* §3.1 steps 21–24: localhost and excluded destinations return; ports and destinations redirect. */
static void build_outbound_redirect(struct builder *b) {
        const struct capture_config *c = b->c;
        bool nft = b->nft;

        /* 21: localhost is never captured. */
        FOREACH_VERSION(f)
                ADD(f, NAT, ISTIO_OUTPUT, t_return(), m_dst(lb_for(b, f), false));
        /* 22, 22′ */
        for (int f = 0; f < 2; f++)
                for (size_t i = 0; i < c->exclude[f].n; i++)
                        ADD(f == 0 ? V4 : V6, NAT, ISTIO_OUTPUT, t_return(), m_dst(&c->exclude[f].v[i], false));
        /* 23 */
        for (size_t i = 0; i < c->outbound_ports.n; i++) {
                if (nft)
                        ADD(BOTH, NAT, ISTIO_OUTPUT, t_jump(RULES_CHAIN_ISTIO_REDIRECT), m_dport(TCP, c->outbound_ports.v[i], false));
                else
                        ADD(BOTH, NAT, ISTIO_OUTPUT, t_jump(RULES_CHAIN_ISTIO_REDIRECT), m_proto(TCP),
                            m_dport(TCP, c->outbound_ports.v[i], false));
        }
        /* 24: included destinations. With nft one wildcard covers both families. */
        if (c->include_all) {
                if (nft) {
                        ADD0(BOTH, NAT, ISTIO_OUTPUT, t_jump(RULES_CHAIN_ISTIO_REDIRECT));
                        for (size_t i = 0; i < c->virt_ifaces.n; i++)
                                INS(BOTH, NAT, PREROUTING, 1, t_jump(RULES_CHAIN_ISTIO_REDIRECT), m_iif(c->virt_ifaces.v[i]));
                } else
                        FOREACH_VERSION(f) {
                                ADD0(f, NAT, ISTIO_OUTPUT, t_jump(RULES_CHAIN_ISTIO_REDIRECT));
                                for (size_t i = 0; i < c->virt_ifaces.n; i++)
                                        INS(f, NAT, PREROUTING, 1, t_jump(RULES_CHAIN_ISTIO_REDIRECT), m_iif(c->virt_ifaces.v[i]));
                        }
        } else
                for (int f = 0; f < 2; f++)
                        for (size_t i = 0; i < c->include[f].n; i++) {
                                enum fam fam = f == 0 ? V4 : V6;
                                const struct netaddr_cidr *C = &c->include[f].v[i];
                                for (size_t k = 0; k < c->virt_ifaces.n; k++)
                                        INS(fam, NAT, PREROUTING, 1, t_jump(RULES_CHAIN_ISTIO_REDIRECT), m_iif(c->virt_ifaces.v[k]),
                                            m_dst(C, false));
                                ADD(fam, NAT, ISTIO_OUTPUT, t_jump(RULES_CHAIN_ISTIO_REDIRECT), m_dst(C, false));
                        }
}

/* §3.1 steps 25–31: TPROXY marks (regardless of -b, quirk 9). */
static void build_tproxy_marks(struct builder *b) {
        const struct capture_config *c = b->c;
        bool nft = b->nft;
        uint32_t M = c->tproxy_mark;

        ADD(BOTH, MANGLE, PREROUTING, (struct rules_target){ .kind = RULES_TARGET_CONNMARK_SAVE }, m_proto(TCP), m_mark(M, false));
        if (nft)
                ADD(BOTH, MANGLE, OUTPUT, t_return(), m_oif("lo"), m_proto(TCP), m_mark(M, false));
        else
                ADD(BOTH, MANGLE, OUTPUT, t_return(), m_proto(TCP), m_oif("lo"), m_mark(M, false));
        for (int gid = 0; gid <= 1; gid++) {
                const struct config_owners *l = gid ? &c->proxy_gid : &c->proxy_uid;
                for (size_t i = 0; i < l->n; i++)
                        FOREACH_VERSION(f) {
                                if (nft)
                                        ADD(f, MANGLE, OUTPUT, t_mark(1338), m_oif("lo"), m_proto(TCP), m_dst(lb_for(b, f), true),
                                            m_owner(gid, &l->v[i], false));
                                else
                                        ADD(f, MANGLE, OUTPUT, t_mark(1338), m_dst(lb_for(b, f), true), m_proto(TCP), m_oif("lo"),
                                            m_owner(gid, &l->v[i], false));
                        }
        }
        ADD(BOTH, MANGLE, OUTPUT, (struct rules_target){ .kind = RULES_TARGET_CONNMARK_RESTORE }, m_proto(TCP), m_connmark(M));
        INS(BOTH, MANGLE, ISTIO_INBOUND, 1, t_return(), m_proto(TCP), m_mark(M, false));
        FOREACH_VERSION(f) {
                struct netaddr_cidr s = src_for(f);
                if (nft)
                        INS(f, MANGLE, ISTIO_INBOUND, 2, t_return(), m_iif("lo"), m_proto(TCP), m_src(&s));
                else
                        INS(f, MANGLE, ISTIO_INBOUND, 2, t_return(), m_proto(TCP), m_src(&s), m_iif("lo"));
        }
        if (nft)
                INS(BOTH, MANGLE, ISTIO_INBOUND, 3, t_return(), m_iif("lo"), m_proto(TCP), m_mark(1338, true));
        else
                INS(BOTH, MANGLE, ISTIO_INBOUND, 3, t_return(), m_proto(TCP), m_iif("lo"), m_mark(1338, true));
}

/* The spec's step order is the rule order: each group appends after the previous one. */
static void build(struct builder *b) {
        const struct capture_config *c = b->c;

        build_head(b);
        if (c->inbound_all || c->inbound_ports.n > 0)
                build_inbound(b);
        build_outbound_returns(b);
        if (b->r < 0)
                return;
        /* 20 */
        if (b->rs->dns_on)
                build_dns(b);
        build_outbound_redirect(b);
        if (c->tproxy)
                build_tproxy_marks(b);
}

int rules_build(const struct capture_config *c, enum rules_flavor flavor, struct ruleset **ret) {
        struct builder b = { .c = c, .nft = flavor == RULES_FLAVOR_NFT };

        b.rs = calloc(1, sizeof *b.rs);
        if (!b.rs)
                return -ENOMEM;
        b.rs->flavor = flavor;
        b.rs->enable_ipv6 = c->enable_ipv6;
        /* §3.2 step 3: DNS capture needs capture-all or at least one resolver. */
        b.rs->dns_on = c->redirect_dns && (c->capture_all_dns || c->dns4.n > 0 || c->dns6.n > 0);
        build(&b);
        if (b.r < 0) {
                rules_free(b.rs);
                return b.r;
        }
        *ret = b.rs;
        return 0;
}

struct ruleset *rules_free(struct ruleset *rs) {
        if (!rs)
                return NULL;
        for (int f = 0; f < 2; f++) {
                for (size_t i = 0; i < rs->fam[f].n; i++)
                        free(rs->fam[f].v[i].matches);
                free(rs->fam[f].v);
        }
        free(rs);
        return NULL;
}

static const char *const table_names[RULES_TABLE_MAX] = { "filter", "mangle", "nat", "raw" };
static const char *const chain_names[RULES_CHAIN_MAX] = {
        "PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING", "ISTIO_INBOUND", "ISTIO_REDIRECT",
        "ISTIO_IN_REDIRECT", "ISTIO_OUTPUT", "ISTIO_OUTPUT_DNS", "ISTIO_DIVERT", "ISTIO_TPROXY", "ISTIO_DROP",
};
static const char *const chain_nft_names[RULES_CHAIN_MAX] = {
        "prerouting", "input", "forward", "output", "postrouting", "istio-inbound", "istio-redirect",
        "istio-in-redirect", "istio-output", "istio-output-dns", "istio-divert", "istio-tproxy", "istio-drop",
};

const char *rules_table_name(enum rules_table t) { return t < RULES_TABLE_MAX ? table_names[t] : "?"; }
const char *rules_chain_name(enum rules_chain ch) { return ch < RULES_CHAIN_MAX ? chain_names[ch] : "?"; }
const char *rules_chain_nft_name(enum rules_chain ch) { return ch < RULES_CHAIN_MAX ? chain_nft_names[ch] : "?"; }
bool rules_chain_is_builtin(enum rules_chain ch) { return ch < RULES_CHAIN_FIRST_ISTIO; }
bool rules_rule_jumps_to_istio(const struct rules_rule *r) {
        return r->target.kind == RULES_TARGET_JUMP && !rules_chain_is_builtin(r->target.chain);
}

int rules_table_from_name(const char *s, enum rules_table *ret) {
        for (int i = 0; i < RULES_TABLE_MAX; i++)
                if (streq(s, table_names[i])) {
                        *ret = (enum rules_table)i;
                        return 0;
                }
        return -EINVAL;
}

int rules_chain_from_name(const char *s, enum rules_chain *ret) {
        for (int i = 0; i < RULES_CHAIN_MAX; i++)
                if (streq(s, chain_names[i])) {
                        *ret = (enum rules_chain)i;
                        return 0;
                }
        return -EINVAL;
}

void rules_foreach_declared_chain(const struct rules_list *l, enum rules_table t,
                                  void (*fn)(enum rules_chain ch, void *userdata), void *userdata) {
        bool seen[RULES_CHAIN_MAX] = {};
        for (size_t i = 0; i < l->n; i++) {
                const struct rules_rule *r = &l->v[i];
                if (r->table != t || rules_chain_is_builtin(r->chain) || seen[r->chain])
                        continue;
                seen[r->chain] = true;
                fn(r->chain, userdata);
        }
        /* §4 pass 2: jump targets not yet declared. Istio's safety net; it fires only when a
         * chain receives a jump but no rule (e.g. DNS capture with no proxy uid/gid at all, which
         * config_fill_environment() never lets happen). */
        for (size_t i = 0; i < l->n; i++) {
                const struct rules_rule *r = &l->v[i];
                if (r->table != t || r->target.kind != RULES_TARGET_JUMP || rules_chain_is_builtin(r->target.chain) ||
                    seen[r->target.chain])
                        continue;
                seen[r->target.chain] = true;
                fn(r->target.chain, userdata);
        }
}
