/* SPDX-License-Identifier: Apache-2.0 */
/* rules.h: the typed rule model and the pure builder from a capture_config to rules.
 * Spec: istio-iptables.md §3 (emission order), §7 (nftables differences).
 * Rules hold typed values (addresses, ports, uids, interfaces, marks), never strings glued
 * from input; the renderers (rules-ipt.h, rules-nft.h) and the in-process backends consume them. */
#pragma once

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rules/config.h"
#include "base/netaddr.h"

/* Tables in iptables-restore output order (lexicographic, §4). */
enum rules_table { RULES_TABLE_FILTER, RULES_TABLE_MANGLE, RULES_TABLE_NAT, RULES_TABLE_RAW, RULES_TABLE_MAX };

enum rules_chain {
        RULES_CHAIN_PREROUTING,
        RULES_CHAIN_INPUT,
        RULES_CHAIN_FORWARD,
        RULES_CHAIN_OUTPUT,
        RULES_CHAIN_POSTROUTING,
        RULES_CHAIN_ISTIO_INBOUND,
        RULES_CHAIN_ISTIO_REDIRECT,
        RULES_CHAIN_ISTIO_IN_REDIRECT,
        RULES_CHAIN_ISTIO_OUTPUT,
        RULES_CHAIN_ISTIO_OUTPUT_DNS,
        RULES_CHAIN_ISTIO_DIVERT,
        RULES_CHAIN_ISTIO_TPROXY,
        RULES_CHAIN_ISTIO_DROP,
        RULES_CHAIN_MAX,
};
#define RULES_CHAIN_FIRST_ISTIO RULES_CHAIN_ISTIO_INBOUND

enum rules_match_kind {
        RULES_MATCH_PROTO,       /* -p tcp|udp                   | meta l4proto tcp */
        RULES_MATCH_IIF,         /* -i IF                        | iifname IF */
        RULES_MATCH_OIF,         /* -o IF                        | oifname IF */
        RULES_MATCH_SRC,         /* -s CIDR                      | ip saddr CIDR / ip6 saddr */
        RULES_MATCH_DST,         /* -d CIDR                      | ip daddr CIDR / ip6 daddr */
        RULES_MATCH_DPORT,       /* --dport P (tcp or udp)       | tcp dport P */
        RULES_MATCH_SPORT,       /* --sport P                    | udp sport P */
        RULES_MATCH_DPORTS,      /* -m multiport --dports a,b    | tcp dport { a, b } */
        RULES_MATCH_UID_OWNER,   /* -m owner --uid-owner U       | skuid U (meta skuid U in raw) */
        RULES_MATCH_GID_OWNER,   /* -m owner --gid-owner G       | skgid G */
        RULES_MATCH_CTSTATE,     /* -m conntrack --ctstate S     | ct state s */
        RULES_MATCH_MARK,        /* -m mark --mark M             | mark M */
        RULES_MATCH_CONNMARK,    /* -m connmark --mark M         | ct mark M */
};

#define RULES_CTSTATE_INVALID     (1u << 0)
#define RULES_CTSTATE_ESTABLISHED (1u << 1)
#define RULES_CTSTATE_RELATED     (1u << 2)

#define RULES_MAX_PORTS 15 /* xt_multiport's limit */

struct rules_match {
        enum rules_match_kind kind;
        bool neg;
        uint8_t proto; /* IPPROTO_TCP / IPPROTO_UDP: for PROTO and the port matches */
        union {
                char ifname[IFNAMSIZ];
                struct netaddr_cidr cidr;
                uint16_t port;
                struct {
                        unsigned n;
                        uint16_t v[RULES_MAX_PORTS];
                } ports;
                struct config_owner owner;
                unsigned ctstate;
                uint32_t mark;
        };
};

enum rules_target_kind {
        RULES_TARGET_RETURN,
        RULES_TARGET_ACCEPT,
        RULES_TARGET_DROP,
        RULES_TARGET_JUMP,             /* -j ISTIO_X                        | jump istio-x */
        RULES_TARGET_REDIRECT,         /* -j REDIRECT --to-ports P          | redirect to :P */
        RULES_TARGET_TPROXY,           /* -j TPROXY --tproxy-mark M/0xffffffff --on-port P
                                        *  | tproxy ip to :P meta mark set M counter accept */
        RULES_TARGET_MARK,             /* -j MARK --set-mark M              | meta mark set M */
        RULES_TARGET_CONNMARK_SAVE,    /* -j CONNMARK --save-mark           | ct mark set mark */
        RULES_TARGET_CONNMARK_RESTORE, /* -j CONNMARK --restore-mark        | meta mark set ct mark */
        RULES_TARGET_CT_ZONE,          /* -j CT --zone N                    | ct zone set N */
};

struct rules_target {
        enum rules_target_kind kind;
        enum rules_chain chain;   /* JUMP */
        uint16_t port;            /* REDIRECT, TPROXY */
        bool to_port_singular;    /* REDIRECT spelled --to-port (UDP DNS quirk, §10.1) */
        uint32_t mark;            /* TPROXY, MARK */
        uint16_t zone;            /* CT_ZONE */
};

#define RULES_MAX_MATCHES (CONFIG_MAX_OWNER_GROUPS + 8)

struct rules_rule {
        enum rules_table table;
        enum rules_chain chain;
        unsigned position; /* 0 = append; N>0 = insert at N (1-based, iptables -I) */
        int family;        /* AF_INET, AF_INET6, or AF_UNSPEC for nft rules that are family-neutral */
        unsigned n_matches;
        struct rules_match *matches;
        struct rules_target target;
};

struct rules_list {
        size_t n, allocated;
        struct rules_rule *v;
};

/* IPTABLES: two lists, [0] IPv4 and [1] IPv6 (empty unless enable_ipv6), iptables match order.
 * NFT: one list in [0] (inet family, both IP versions), nft match order and nft semantics (§7). */
enum rules_flavor { RULES_FLAVOR_IPTABLES, RULES_FLAVOR_NFT };

struct ruleset {
        enum rules_flavor flavor;
        bool enable_ipv6;
        bool dns_on; /* DNS capture is effectively on (§3.2 step 3) */
        struct rules_list fam[2];
};

/* The pure builder: same config, same rules, no I/O. Returns 0 or -ENOMEM. */
int rules_build(const struct capture_config *c, enum rules_flavor flavor, struct ruleset **ret);
struct ruleset *rules_free(struct ruleset *rs);

const char *rules_table_name(enum rules_table t);           /* "nat" */
const char *rules_chain_name(enum rules_chain ch);          /* "ISTIO_OUTPUT", "PREROUTING" */
const char *rules_chain_nft_name(enum rules_chain ch);      /* "istio-output", "prerouting" */
bool rules_chain_is_builtin(enum rules_chain ch);
/* Does r jump to one of our ISTIO_* chains? (Such rules are ours even in built-in chains.) */
bool rules_rule_jumps_to_istio(const struct rules_rule *r);
int rules_table_from_name(const char *s, enum rules_table *ret);
int rules_chain_from_name(const char *s, enum rules_chain *ret);

/* Is this rule's chain used (declared) in table t of list l?  Iterates §4's pass-1 order:
 * calls fn for each (table, chain) the first time it appears, non-built-in only. */
void rules_foreach_declared_chain(const struct rules_list *l, enum rules_table t,
                                  void (*fn)(enum rules_chain ch, void *userdata), void *userdata);
