/* SPDX-License-Identifier: Apache-2.0 */
/* rules-nft.h: nftables transaction text for typed rules (spec istio-iptables.md §7).
 * One operation per line, as Istio's knftables transaction; applied atomically by nftapply. */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "rules/rules.h"

#define RULES_NFT_TABLE_NAT "istio-proxy-nat"
#define RULES_NFT_TABLE_MANGLE "istio-proxy-mangle"
#define RULES_NFT_TABLE_RAW "istio-proxy-raw"

/* The whole transaction for an NFT-flavor ruleset; with cleanup, "add table"+"delete table" for
 * each of our three tables. */
int rules_nft_render(const struct ruleset *rs, bool cleanup, char **ret_text);
/* The transaction that is applied: "add table"+"delete table" for each of our tables in drop_mask
 * (bit 0 nat, 1 mangle, 2 raw: the caller passes the tables that exist), then rules_nft_render()'s
 * text, in one atomic batch: a table or chain an earlier configuration left (istio-proxy-mangle
 * after TPROXY, the DNS rules in istio-proxy-raw) goes, and the result equals a fresh apply.
 * Only existing tables are deleted because a table deletion costs the commit an RCU grace period
 * (~1 ms idle, far more under load), which a first apply should not pay. --dry-run prints
 * rules_nft_render() only: that is Istio's text (its goldens). */
int rules_nft_render_apply(const struct ruleset *rs, unsigned drop_mask, char **ret_text);
const char *rules_nft_table_name(enum rules_table t);

/* The layout both consumers of the rules use (this text renderer and kernel/nftbatch's netlink
 * builder): our tables in transaction order, each with its chains in Istio's declaration order
 * (§7), terminated by RULES_CHAIN_MAX. A base chain has a type; a regular chain's type is NULL. */
struct rules_nft_table {
        enum rules_table table;
        const char *name;
        struct rules_nft_chain {
                enum rules_chain chain;
                const char *type; /* "nat", "filter", "route"; NULL: a regular chain */
                const char *hook; /* "prerouting", "output" */
                int priority;
        } chains[8];
};
const struct rules_nft_table *rules_nft_tables(size_t *ret_n);
/* Does an interface name need quotes in nft syntax (starts with a digit, or is an nft keyword)? */
bool rules_nft_ifname_needs_quotes(const char *name);
