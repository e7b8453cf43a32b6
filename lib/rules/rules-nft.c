/* SPDX-License-Identifier: Apache-2.0 */
/* rules-nft.c: render typed rules as an nftables transaction (spec istio-iptables.md §7). */
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/macro.h"
#include "rules/rules-nft.h"

/* Our tables in transaction order, with their chains in Istio's fixed declaration order. */
#define BASE(ty, hk, pr) .type = ty, .hook = hk, .priority = pr
static const struct rules_nft_table tables[] = {
        { RULES_TABLE_NAT, RULES_NFT_TABLE_NAT,
          { { RULES_CHAIN_PREROUTING, BASE("nat", "prerouting", -100) },
            { RULES_CHAIN_OUTPUT, BASE("nat", "output", -100) },
            { RULES_CHAIN_ISTIO_INBOUND, NULL, NULL, 0 },
            { RULES_CHAIN_ISTIO_REDIRECT, NULL, NULL, 0 },
            { RULES_CHAIN_ISTIO_IN_REDIRECT, NULL, NULL, 0 },
            { RULES_CHAIN_ISTIO_OUTPUT, NULL, NULL, 0 },
            { RULES_CHAIN_ISTIO_OUTPUT_DNS, NULL, NULL, 0 },
            { RULES_CHAIN_MAX, NULL, NULL, 0 } } },
        { RULES_TABLE_MANGLE, RULES_NFT_TABLE_MANGLE,
          { { RULES_CHAIN_PREROUTING, BASE("filter", "prerouting", -150) },
            { RULES_CHAIN_OUTPUT, BASE("route", "output", -150) },
            { RULES_CHAIN_ISTIO_DIVERT, NULL, NULL, 0 },
            { RULES_CHAIN_ISTIO_TPROXY, NULL, NULL, 0 },
            { RULES_CHAIN_ISTIO_INBOUND, NULL, NULL, 0 },
            { RULES_CHAIN_ISTIO_DROP, NULL, NULL, 0 },
            { RULES_CHAIN_MAX, NULL, NULL, 0 } } },
        { RULES_TABLE_RAW, RULES_NFT_TABLE_RAW,
          { { RULES_CHAIN_PREROUTING, BASE("filter", "prerouting", -300) },
            { RULES_CHAIN_OUTPUT, BASE("filter", "output", -300) },
            { RULES_CHAIN_ISTIO_INBOUND, NULL, NULL, 0 },
            { RULES_CHAIN_ISTIO_OUTPUT_DNS, NULL, NULL, 0 },
            { RULES_CHAIN_MAX, NULL, NULL, 0 } } },
};
#undef BASE

const struct rules_nft_table *rules_nft_tables(size_t *ret_n) {
        *ret_n = ELEMENTSOF(tables);
        return tables;
}

const char *rules_nft_table_name(enum rules_table t) {
        for (size_t i = 0; i < ELEMENTSOF(tables); i++)
                if (tables[i].table == t)
                        return tables[i].name;
        return "?";
}

static const char *proto_name(uint8_t p) { return p == IPPROTO_UDP ? "udp" : "tcp"; }

/* Every word nft's scanner turns into a token of its own (src/scanner.l, nftables 1.0.6 to 1.1.6,
 * all start conditions), sorted in C order for bsearch(). An interface name spelled like one of
 * them must be quoted, or nft reads the keyword ("iifname counter counter return" is a syntax
 * error). Quoting more than needed is harmless: a quoted name is the same string. */
static const char *const nft_keywords[] = {
        "a-rwnd", "abort", "accept", "ackseq", "add", "addr", "ah", "alert", "all", "and", "arp", "asconf",
        "asconf-ack", "audit", "auto-merge", "avgpkt", "bridge", "broute", "burst", "bypass", "bytes", "cfi",
        "cgroup", "cgroupv2", "chain", "chains", "check", "checksum", "chunk", "class", "classid", "code",
        "comment", "comp", "constant", "continue", "cookie-ack", "cookie-echo", "count", "counter", "counters",
        "cpi", "cpu", "create", "crit", "csumcov", "ct", "cum-tsn-ack", "cwr", "daddr", "data", "day", "dccp",
        "debug", "define", "dei", "delete", "describe", "destroy", "device", "devices", "direction", "dnat",
        "doff", "dport", "drop", "dscp", "dst", "dup", "dynamic", "echo", "ecn", "ecne", "egress", "element",
        "elements", "emerg", "eol", "eq", "err", "error", "erspan", "esp", "ether", "event", "exists",
        "expectation", "expiration", "expires", "export", "exthdr", "fanout", "fastopen", "fib", "filter",
        "flags", "flow", "flowlabel", "flowtable", "flowtables", "flush", "forward-tsn", "frag", "frag-off",
        "fully-random", "fwd", "gateway", "gbp", "gc-interval", "ge", "geneve", "get", "goto", "gre", "gretap",
        "group", "gt", "handle", "hbh", "hdrlength", "heartbeat", "heartbeat-ack", "helper", "helpers", "hlen",
        "hook", "hooks", "hoplimit", "hour", "htype", "ibrhwaddr", "ibriport", "ibrname", "ibrpvid",
        "ibrvproto", "icmp", "icmpv6", "icmpx", "id", "igmp", "iif", "iifgroup", "iifkind", "iifname",
        "iiftype", "import", "in", "inc", "include", "index", "inet", "info", "ingress", "init", "init-ack",
        "init-tag", "initial-tsn", "insert", "interval", "ip", "ip6", "ipsec", "jhash", "json", "jump",
        "kbytes", "l3proto", "l4proto", "label", "last", "last-entry", "le", "left", "length", "level",
        "limit", "limits", "list", "ll", "log", "loose", "lowest-tsn", "lshift", "lsrr", "lt", "map", "maps",
        "mark", "masquerade", "max-delay", "maxseg", "mbytes", "md5sig", "memory", "meta", "meter", "meters",
        "mh", "minute", "missing", "mod", "monitor", "more-fragments", "mptcp", "mrt", "mss", "mtu", "name",
        "nat", "ne", "netdev", "never", "new", "new-cum-tsn", "nexthdr", "nexthop", "nfproto", "nftrace", "nh",
        "noop", "nop", "not", "notice", "notrack", "num", "num-dup-tsns", "num-gap-ack-blocks",
        "num-inbound-streams", "num-outbound-streams", "numgen", "obriport", "obrname", "offload", "offset",
        "oif", "oifgroup", "oifkind", "oifname", "oiftype", "operation", "opt-type", "option", "options", "or",
        "original", "osf", "out", "over", "packets", "param-problem", "path", "pcp", "performance",
        "persistent", "pkttype", "plen", "policy", "port", "position", "ppid", "prefix", "priority",
        "proto-dst", "proto-src", "protocol", "ptr", "ptype", "queue", "queue-threshold", "quota", "quotas",
        "ra", "random", "rate", "redefine", "redirect", "reject", "rename", "replace", "reply", "reqid",
        "reserved", "reserved2", "reset", "return", "right", "route", "rr", "rshift", "rt", "rt0", "rt2",
        "rtclassid", "rule", "rules", "ruleset", "sack", "sack-perm", "sack-permitted", "sack0", "sack1",
        "sack2", "sack3", "saddr", "sctp", "sdif", "sdifname", "secmark", "secmarks", "second", "secpath",
        "seed", "seg-left", "seqno", "sequence", "set", "sets", "shutdown", "shutdown-ack",
        "shutdown-complete", "sid", "size", "skgid", "skip", "skuid", "snaplen", "snat", "socket", "spi",
        "spnum", "sport", "srh", "ssn", "ssrr", "state", "status", "stream", "subtype", "symhash", "synproxy",
        "synproxys", "table", "tables", "taddr", "tag", "tcp", "th", "time", "timeout", "timestamp", "to",
        "tos", "tproxy", "trace", "transparent", "tsecr", "tsn", "tsval", "ttl", "tunnel", "tunnels", "type",
        "typeof", "udp", "udplite", "undefine", "until", "update", "urgptr", "used", "value", "version",
        "vlan", "vm", "vmap", "vni", "vtag", "vxlan", "warn", "week", "wildcard", "window", "with", "wscale",
        "xml", "xor", "xt", "zone",
};

static int cmp_keyword(const void *a, const void *b) { return strcmp(a, *(const char *const *)b); }

/* Plain when nft's scanner reads the name as one string token ({letter}|[_.]) then
 * [A-Za-z0-9/_.-]*, and not a keyword. Otherwise quoted: "1eth" (a number, then a word) and
 * "0x1f" (read as the number 31) would parse to something else or not at all. config_parse_iface()
 * allows only [A-Za-z0-9_.-], so a quoted name never holds a quote. Istio prints plain names
 * unquoted (its goldens: "iifname lo"), so the dry-run text stays byte-identical to Istio's for
 * every name that Istio's own transaction can load (docs/nftables.md). */
bool rules_nft_ifname_needs_quotes(const char *name) {
        if (!isalpha((unsigned char)name[0]) && name[0] != '_' && name[0] != '.')
                return true;
        return bsearch(name, nft_keywords, ELEMENTSOF(nft_keywords), sizeof nft_keywords[0], cmp_keyword) != NULL;
}

/* iptables' "eth+" prefix wildcard is nft's "eth*" (which must be quoted). */
static void fmt_ifname(FILE *f, const char *kw, const struct rules_match *m) {
        size_t n = strlen(m->ifname);
        const char *neg = m->neg ? "!= " : "";
        if (n && m->ifname[n - 1] == '+')
                fprintf(f, " %s %s\"%.*s*\"", kw, neg, (int)(n - 1), m->ifname);
        else if (rules_nft_ifname_needs_quotes(m->ifname))
                fprintf(f, " %s %s\"%s\"", kw, neg, m->ifname);
        else
                fprintf(f, " %s %s%s", kw, neg, m->ifname);
}

static void fmt_match(FILE *f, const struct rules_rule *r, const struct rules_match *m) {
        char buf[NETADDR_CIDR_STRLEN];
        const char *neg = m->neg ? "!= " : "";

        switch (m->kind) {
        case RULES_MATCH_PROTO:
                fprintf(f, " meta l4proto %s", proto_name(m->proto));
                break;
        case RULES_MATCH_IIF:
                fmt_ifname(f, "iifname", m);
                break;
        case RULES_MATCH_OIF:
                fmt_ifname(f, "oifname", m);
                break;
        case RULES_MATCH_SRC:
        case RULES_MATCH_DST:
                fprintf(f, " %s %s %s%s", m->cidr.ip.family == AF_INET ? "ip" : "ip6",
                        m->kind == RULES_MATCH_SRC ? "saddr" : "daddr", neg,
                        netaddr_cidr_to_string(&m->cidr, buf, sizeof buf));
                break;
        case RULES_MATCH_DPORT:
                fprintf(f, " %s dport %s%u", proto_name(m->proto), neg, m->port);
                break;
        case RULES_MATCH_SPORT:
                fprintf(f, " %s sport %s%u", proto_name(m->proto), neg, m->port);
                break;
        case RULES_MATCH_DPORTS:
                fprintf(f, " %s dport %s{ ", proto_name(m->proto), neg);
                for (unsigned i = 0; i < m->ports.n; i++)
                        fprintf(f, "%s%u", i ? ", " : "", m->ports.v[i]);
                fputs(" }", f);
                break;
        case RULES_MATCH_UID_OWNER:
        case RULES_MATCH_GID_OWNER:
                /* Istio's raw-table rules spell it "meta skuid"; both forms are the same expression. */
                fprintf(f, " %s%s %s%s", r->table == RULES_TABLE_RAW ? "meta " : "",
                        m->kind == RULES_MATCH_UID_OWNER ? "skuid" : "skgid", neg,
                        config_owner_to_string(&m->owner, buf, sizeof buf));
                break;
        case RULES_MATCH_CTSTATE: {
                const char *sep = "";
                fprintf(f, " ct state %s", neg);
                if (m->ctstate & RULES_CTSTATE_INVALID) {
                        fprintf(f, "%sinvalid", sep);
                        sep = ",";
                }
                if (m->ctstate & RULES_CTSTATE_RELATED) {
                        fprintf(f, "%srelated", sep);
                        sep = ",";
                }
                if (m->ctstate & RULES_CTSTATE_ESTABLISHED)
                        fprintf(f, "%sestablished", sep);
                break;
        }
        case RULES_MATCH_MARK:
                fprintf(f, " mark %s%u", neg, m->mark);
                break;
        case RULES_MATCH_CONNMARK:
                fprintf(f, " ct mark %s%u", neg, m->mark);
                break;
        }
}

static void fmt_target(FILE *f, const struct rules_rule *r) {
        const struct rules_target *t = &r->target;
        switch (t->kind) {
        case RULES_TARGET_RETURN:
                fputs(" counter return", f);
                break;
        case RULES_TARGET_ACCEPT:
                fputs(" counter accept", f);
                break;
        case RULES_TARGET_DROP:
                fputs(" counter drop", f);
                break;
        case RULES_TARGET_JUMP:
                fprintf(f, " counter jump %s", rules_chain_nft_name(t->chain));
                break;
        case RULES_TARGET_REDIRECT:
                fprintf(f, " counter redirect to :%u", t->port);
                break;
        case RULES_TARGET_TPROXY:
                fprintf(f, " tproxy %s to :%u meta mark set %u counter accept", r->family == AF_INET6 ? "ip6" : "ip",
                        t->port, t->mark);
                break;
        case RULES_TARGET_MARK:
                fprintf(f, " counter meta mark set %u", t->mark);
                break;
        case RULES_TARGET_CONNMARK_SAVE:
                fputs(" counter ct mark set mark", f);
                break;
        case RULES_TARGET_CONNMARK_RESTORE:
                fputs(" counter meta mark set ct mark", f);
                break;
        case RULES_TARGET_CT_ZONE:
                fprintf(f, " counter ct zone set %u", t->zone);
                break;
        }
}

/* Writes one table's operations, if the configuration uses the table. */
static void render_table(FILE *f, const struct rules_list *l, size_t ti) {
        unsigned count[RULES_CHAIN_MAX] = {};
        const char *tn = tables[ti].name;
        enum rules_table t = tables[ti].table;

        for (size_t i = 0; i < l->n; i++)
                if (l->v[i].table == t)
                        count[l->v[i].chain]++;
        bool any = false;
        for (int ch = 0; ch < RULES_CHAIN_MAX; ch++)
                any = any || count[ch];
        if (!any)
                return;
        fprintf(f, "add table inet %s\nflush table inet %s\n", tn, tn);
        for (size_t k = 0; tables[ti].chains[k].chain != RULES_CHAIN_MAX; k++) {
                enum rules_chain ch = tables[ti].chains[k].chain;
                if (!count[ch])
                        continue;
                fprintf(f, "add chain inet %s %s", tn, rules_chain_nft_name(ch));
                if (tables[ti].chains[k].type)
                        fprintf(f, " { type %s hook %s priority %d ; }", tables[ti].chains[k].type,
                                tables[ti].chains[k].hook, tables[ti].chains[k].priority);
                fputc('\n', f);
        }

        /* Inserts use nft's 0-based index; an insert into a chain that has fewer rules so far
         * becomes an append (nft cannot insert at an index past the end). */
        memset(count, 0, sizeof count);
        for (size_t i = 0; i < l->n; i++) {
                const struct rules_rule *rule = &l->v[i];
                if (rule->table != t)
                        continue;
                unsigned idx = rule->position ? rule->position - 1 : 0;
                /* Each match and the target print with a leading space. */
                if (rule->position && count[rule->chain] > 0 && idx < count[rule->chain])
                        fprintf(f, "insert rule inet %s %s index %u", tn, rules_chain_nft_name(rule->chain), idx);
                else
                        fprintf(f, "add rule inet %s %s", tn, rules_chain_nft_name(rule->chain));
                for (unsigned k = 0; k < rule->n_matches; k++)
                        fmt_match(f, rule, &rule->matches[k]);
                fmt_target(f, rule);
                fputc('\n', f);
                count[rule->chain]++;
        }
}

int rules_nft_render(const struct ruleset *rs, bool cleanup, char **ret_text) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);

        if (!f)
                return -ENOMEM;
        for (size_t ti = 0; ti < ELEMENTSOF(tables); ti++) {
                if (cleanup)
                        fprintf(f, "add table inet %s\ndelete table inet %s\n", tables[ti].name, tables[ti].name);
                else
                        render_table(f, &rs->fam[0], ti);
        }
        return memstream_finish(f, &buf, 0, ret_text);
}

int rules_nft_render_apply(const struct ruleset *rs, unsigned drop_mask, char **ret_text) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);

        if (!f)
                return -ENOMEM;
        /* Deleting first (in the same batch) drops what "flush table" keeps: a table or a chain
         * the new configuration does not use, and the order of chains an earlier configuration
         * created, so the result is exactly a fresh apply's (and CHECK's comparison converges).
         * "add" first makes the delete succeed whether or not the table exists. */
        for (size_t ti = 0; ti < ELEMENTSOF(tables); ti++)
                if (drop_mask & (1u << ti))
                        fprintf(f, "add table inet %s\ndelete table inet %s\n", tables[ti].name, tables[ti].name);
        for (size_t ti = 0; ti < ELEMENTSOF(tables); ti++)
                render_table(f, &rs->fam[0], ti);
        return memstream_finish(f, &buf, 0, ret_text);
}
