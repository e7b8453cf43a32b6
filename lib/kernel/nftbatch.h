/* SPDX-License-Identifier: Apache-2.0 */
/* nftbatch.h: the native nftables backend's kernel side: typed rules → nf_tables objects and
 * native expressions, sent as ONE nfnetlink batch (libnftnl + libmnl, no libnftables).
 * Spec: istio-iptables.md §7 (inet tables, chains and priorities, rule content, one atomic
 * transaction, cleanup); docs/nftables.md (the objects built, the batch).
 * The text renderer (rules/rules-nft.h) consumes the same rules; the two must list identically
 * (tests/e2e/nftables/equivalence.test.sh). */
#pragma once

#include <stdbool.h>

#include "rules/rules.h"

/* Same bits as nftapply's NFTAPPLY_TABLE_* and rules_nft_render_apply()'s drop_mask. */
enum {
        NFTBATCH_TABLE_NAT = 1u << 0,
        NFTBATCH_TABLE_MANGLE = 1u << 1,
        NFTBATCH_TABLE_RAW = 1u << 2,
        NFTBATCH_TABLES_ALL = 7u,
};

/* nftbatch_apply() flags */
enum {
        /* Test hook: append a rule the kernel refuses (a jump to a missing chain), so the whole
         * batch must be rolled back. capture.c sets it from NFTAPPLY_FAULT_ENV. */
        NFTBATCH_FAULT_LAST_RULE = 1u << 0,
        /* Test hook: the same refused rule, but first, before our tables: a refusal that is not
         * the last message (only the last one asks for an ACK). */
        NFTBATCH_FAULT_FIRST_RULE = 1u << 1,
        /* Test hook: every object is accepted but the commit fails (an anonymous set that no
         * rule uses), to check that the error names the batch, not its first object. */
        NFTBATCH_FAULT_COMMIT = 1u << 2,
};

/* Applies an NFT-flavor ruleset in one batch: for each of our tables in drop_mask, "add" then
 * "delete" (so a table this configuration does not render goes, and the result equals a fresh
 * apply), then each table the rules use: add, flush, its chains, its rules (inserts resolved to
 * their final position). All or nothing. Returns 0; -EINVAL when the kernel refused an object
 * (*ret_error, optional: "rule 7 of chain istio-output (table inet istio-proxy-nat): Operation
 * not supported"); -ENOENT for an owner name that does not resolve; -ENOMEM; -errno of the
 * socket. */
int nftbatch_apply(const struct ruleset *rs, unsigned drop_mask, unsigned flags, char **ret_error);

/* §7 cleanup: "add table" + "delete table" for our three tables, in one batch. */
int nftbatch_cleanup(char **ret_error);

/* Sets *ret_mask to the NFTBATCH_TABLE_* bits of our tables that exist (one NFT_MSG_GETTABLE
 * dump, family inet). */
int nftbatch_tables_present(unsigned *ret_mask);

/* Our tables as canonical text, read over netlink (no nft listing): per table in nat, mangle,
 * raw order, its chains (hook, priority, policy) and its rules' expressions as the kernel holds
 * them, with counter values left out and each anonymous set written as its elements. "" when none
 * of our tables exists. */
int nftbatch_dump(char **ret_text);

/* Is the kernel holding exactly what nftbatch_apply(rs) builds? Compares nftbatch_dump() here
 * with the dump of the same batch applied in an empty private netns (a forked child; -EPERM
 * without CAP_SYS_ADMIN). Returns 0 and sets *ret_in_sync, or -errno (*ret_error, optional). */
int nftbatch_state(const struct ruleset *rs, bool *ret_in_sync, char **ret_error);
