/* SPDX-License-Identifier: Apache-2.0 */
/* rules-ipt.h: iptables-restore text for typed rules, and Istio's dry-run record.
 * Spec: istio-iptables.md §4 (payload), §5.6 (cleanup commands), §9 (dry-run record). */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "rules/rules.h"

/* The arguments after "-A CHAIN" / "-I CHAIN N", e.g. "-p tcp --dport 15008 -j RETURN". */
int rules_ipt_format_args(FILE *f, const struct rules_rule *r);
/* The whole rule line as in the payload: "-A CHAIN args" or "-I CHAIN N args". */
int rules_ipt_format_rule(FILE *f, const struct rules_rule *r);
/* One family's iptables-restore payload (for `iptables-restore --noflush`). "" if no rules. */
int rules_ipt_render(const struct rules_list *l, char **ret_text);
/* Istio's cleanup commands for one family (§5.6), each "-t T -D|-F|-X CHAIN [args]", one per line. */
int rules_ipt_cleanup_commands(const struct rules_list *l, char **ret_text);
/* The dry-run record (§9): what Istio's stub records, one line each; the golden format. */
int rules_ipt_dryrun_record(const struct ruleset *rs, bool cleanup_only, char **ret_text);
