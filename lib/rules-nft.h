/* SPDX-License-Identifier: Apache-2.0 */
/* rules-nft.h: nftables transaction text for typed rules (spec istio-iptables.md §7).
 * One operation per line, as Istio's knftables transaction; applied atomically by nftapply. */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "rules.h"

#define RULES_NFT_TABLE_NAT "istio-proxy-nat"
#define RULES_NFT_TABLE_MANGLE "istio-proxy-mangle"
#define RULES_NFT_TABLE_RAW "istio-proxy-raw"

/* The expression of one rule after "add rule inet T C ", e.g. "meta l4proto tcp counter redirect to :15001". */
int rules_nft_format_expr(FILE *f, const struct rules_rule *r);
/* The whole transaction for an NFT-flavor ruleset; with cleanup, "add table"+"delete table" for
 * each of our three tables. */
int rules_nft_render(const struct ruleset *rs, bool cleanup, char **ret_text);
const char *rules_nft_table_name(enum rules_table t);
