/* SPDX-License-Identifier: Apache-2.0 */
/* nftapply.h: applies nft transaction text in-process through a dlopen()ed libnftables.
 * Spec: istio-iptables.md §7 (--native-nftables: inet tables, one atomic transaction, cleanup as
 * "add table"+"delete table" pairs) and §10.31; libnftables(3).
 * libnftables pulls in libnftnl, libmnl, libjansson, libgmp and more, so it is loaded at run time
 * (dlopen("libnftables.so.1")) only by the code paths that need it; the legacy iptables path never
 * pays for it. Every function that talks to the kernel loads the library on first use. */
#pragma once

#include <stdbool.h>

#define NFTAPPLY_LIBRARY "libnftables.so.1"

/* Our tables, all family inet (§7). Bits for nftapply_tables_present() / nftapply_list(). */
enum {
        NFTAPPLY_TABLE_NAT = 1u << 0,    /* istio-proxy-nat */
        NFTAPPLY_TABLE_MANGLE = 1u << 1, /* istio-proxy-mangle */
        NFTAPPLY_TABLE_RAW = 1u << 2,    /* istio-proxy-raw */
        NFTAPPLY_TABLES_ALL = NFTAPPLY_TABLE_NAT | NFTAPPLY_TABLE_MANGLE | NFTAPPLY_TABLE_RAW,
};
/* The same bits as rules_nft_render_apply()'s drop_mask (nat, mangle, raw). */

/* nftapply_list() flags */
enum {
        NFTAPPLY_LIST_OURS = 1u << 0,      /* only our three tables, in nat, mangle, raw order */
        NFTAPPLY_LIST_STATELESS = 1u << 1, /* omit counter values (for state comparison) */
};

/* Test hook: when set (non-NULL), CNIBOX_FAULT_INJECT=nft-last-rule appends operations the kernel
 * rejects (a jump to a missing chain) to every nftapply_apply() transaction, to prove that a
 * failed transaction leaves no partial state. */
#define NFTAPPLY_FAULT_ENV "CNIBOX_FAULT_INJECT"
#define NFTAPPLY_FAULT_LAST_RULE "nft-last-rule"

/* Loads libnftables and resolves its symbols (once; later calls are cheap). Returns 0, -ENOENT when
 * the library cannot be loaded, -ENOSYS when a symbol is missing. On failure *ret_why (optional)
 * gets a human-readable reason naming the library and dlerror(). */
int nftapply_load(char **ret_why);

/* Test hook: use this soname/path instead of NFTAPPLY_LIBRARY and forget any loaded library (it
 * stays mapped). NULL restores the default. Not for production use. */
void nftapply_set_library(const char *soname);

/* Applies the whole text as ONE nft_run_cmd_from_buffer() call: one netlink batch, atomic across
 * all tables and both IP families (all or nothing). Returns 0, -ENOENT/-ENOSYS (library, see
 * nftapply_load(); *ret_error then holds the reason), -EINVAL when nft or the kernel rejected the
 * transaction (*ret_error holds nft's error text), -ENOMEM. ret_error is optional. */
int nftapply_apply(const char *transaction_text, char **ret_error);

/* Like nftapply_apply(), but in nft's check mode (nft -c, nft_ctx_set_dry_run()): the batch is sent
 * to the kernel, which validates every object and expression (and loads their modules), and is
 * then aborted instead of committed. Hook-compatibility checks that the kernel does only at commit
 * time are not covered. */
int nftapply_check(const char *transaction_text, char **ret_error);

/* The cleanup transaction (§7): "add table inet T" + "delete table inet T" for our three tables,
 * one operation per line. Deleting after adding makes it succeed when a table is absent. */
int nftapply_cleanup_text(char **ret_text);

/* Applies nftapply_cleanup_text() as one transaction. Succeeds when the tables are absent. */
int nftapply_cleanup(char **ret_error);

/* Returns "list ruleset" output (flags 0), or with NFTAPPLY_LIST_OURS only our present tables
 * ("" when none exists). NFTAPPLY_LIST_STATELESS omits counter values. */
int nftapply_list(unsigned flags, char **ret_text);

/* Sets *ret_mask to the NFTAPPLY_TABLE_* bits of our tables that exist in this netns. Raw netlink:
 * needs neither libnftables nor nftapply_load(). */
int nftapply_tables_present(unsigned *ret_mask);


/* Is the kernel already holding exactly the rules of this transaction? Compares the stateless
 * listing of our tables with the listing the transaction produces when applied in a private,
 * empty network namespace (a forked child; needs CAP_SYS_ADMIN, -EPERM otherwise). Counter values
 * are ignored. Returns 0 and sets *ret_in_sync, or -errno. Not needed for correctness: every apply
 * flushes and rewrites our tables in one transaction, so re-runs are idempotent by construction. */
int nftapply_state(const char *expected_text, bool *ret_in_sync, char **ret_error);

/* Does nf_tables work in this netns? "list tables" must succeed and a throwaway inet table with a
 * nat chain (redirect), a filter prerouting chain (tproxy, meta mark, ct mark) and owner matches
 * must pass nft's check mode (the kernel validates it and aborts the batch, so nothing stays).
 * Returns 0, or -errno with *ret_why (optional) saying what failed. */
int nftapply_probe(char **ret_why);
