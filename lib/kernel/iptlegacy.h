/* SPDX-License-Identifier: Apache-2.0 */
/* iptlegacy.h: the in-process legacy iptables backend (libip4tc/libip6tc, no exec, no xtables .so).
 * Spec: istio-iptables.md §5.1 (apply), §5.3 (xtables lock), §5.4 (state), §5.6 (cleanup), §10.
 *
 * Model: one transaction (iptlegacy_txn) holds the xtables lock for the whole run and remembers the
 * previous content of every table it committed. Each table is rebuilt in memory (our old state
 * removed, our chains and rules added) and committed ONCE, so every table is replaced atomically:
 * no packet ever sees a half-built or empty rule set. If anything fails after a commit (a later
 * table, or the IPv6 family after IPv4), iptlegacy_rollback() puts every committed table back to
 * its exact previous rules. All functions act on the caller's current network namespace. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rules/rules.h"

#define IPTLEGACY_ERR_MAX 256
#define IPTLEGACY_LOCK_DEFAULT "/run/xtables.lock"   /* overridden by $XTABLES_LOCKFILE, as iptables */
#define IPTLEGACY_LOCK_WAIT_USEC_DEFAULT (30ULL * 1000 * 1000) /* iptables --wait=30 */

/* Environment variable for tests: a comma-separated list of "iptlegacy:<table>" (both families),
 * "iptlegacy4:<table>" or "iptlegacy6:<table>"; the commit of that table then fails with -EIO
 * (after the tables committed before it, so rollback is exercised). Commit order: nat, mangle,
 * raw, filter. */
#define IPTLEGACY_FAULT_ENV "CNIBOX_FAULT_INJECT"

typedef struct iptlegacy_txn iptlegacy_txn;

enum {
        IPTLEGACY_NO_LOCK = 1u << 0, /* do not take the xtables lock (the caller holds it) */
};

/* Takes the xtables lock: flock(LOCK_EX) on lock_fd when >= 0 (CNI mode passes the pod's netns
 * fd, as Istio's sandbox locks the netns file; borrowed: unlocked, not closed, by
 * iptlegacy_txn_free()), else on lock_path, or $XTABLES_LOCKFILE, or /run/xtables.lock (opened
 * with O_CREAT, as iptables does; when the default's directory /run does not exist, unlocked),
 * polling for at most wait_usec (0 = try once). Returns 0,
 * -ETIMEDOUT when another holder kept it, or -errno. */
int iptlegacy_txn_begin(const char *lock_path, int lock_fd, uint64_t wait_usec, unsigned flags, iptlegacy_txn **ret);
/* Releases the lock. Does NOT roll back: call iptlegacy_rollback() first on failure. NULL-safe. */
iptlegacy_txn *iptlegacy_txn_free(iptlegacy_txn *t);
/* Human-readable detail of the last failure in t ("table mangle: commit: ...",
 * "unknown user 'foo'"), "" if none. Owned by t. */
const char *iptlegacy_txn_error(const iptlegacy_txn *t);

/* Replaces our state in one family (AF_INET: l = rules for IPv4, AF_INET6: for IPv6):
 * for each table l uses, and each existing table holding ISTIO_* chains or jumps to them:
 * removes every ISTIO_* chain, every rule in any other chain that jumps to an ISTIO_* chain, and
 * every rule in a built-in chain byte-identical to one of l; then creates l's chains and adds l's
 * rules in order (position N>0 = iptables -I N); then commits each changed table once (nat, mangle,
 * raw, filter). Every rule is encoded before anything is touched (an unknown owner name fails
 * with -ENOENT and nothing changes). residue (may be NULL) lists rules an earlier configuration
 * may have left in built-in chains: those present are removed too, never added. On failure
 * returns -errno and leaves earlier commits in place: call iptlegacy_rollback(). */
int iptlegacy_apply(iptlegacy_txn *t, int family, const struct rules_list *l, const struct rules_list *residue);
/* Removes our state (spec §5.6, made robust): every ISTIO_* chain, every jump to one, and the
 * built-in-chain rules of l, in existing tables only (no table is instantiated), one commit per
 * table. l and residue may be NULL (only ISTIO_* chains and jumps are removed); residue's
 * built-in-chain rules are removed as l's are. */
int iptlegacy_cleanup(iptlegacy_txn *t, int family, const struct rules_list *l, const struct rules_list *residue);
/* Restores every table this transaction committed (both families, newest first) to its content
 * from just before our commit (rules and chains; counters restart at zero). Returns 0 or the first
 * -errno (continuing with the other tables). */
int iptlegacy_rollback(iptlegacy_txn *t);
/* Number of table commits done so far (for logs and tests). */
unsigned iptlegacy_txn_commits(const iptlegacy_txn *t);

enum iptlegacy_state {
        IPTLEGACY_CLEAN,     /* nothing of ours: no ISTIO_* chain, no jump to one, none of l's built-in rules */
        IPTLEGACY_IDENTICAL, /* exactly our state: a re-run is a no-op */
        IPTLEGACY_DRIFTED,   /* ours present but different (spec §5.4 delta with residue) */
};

struct iptlegacy_status {
        enum iptlegacy_state state;
        bool residue;          /* any rule at all in filter/nat/mangle/raw (Istio's residue, quirk 24) */
        unsigned n_rules;      /* rules (not policies) in the existing tables */
        char why[IPTLEGACY_ERR_MAX]; /* first difference found when DRIFTED */
};

/* Reads the kernel state (read-only, no lock, instantiates no table) and compares it with l:
 * IDENTICAL iff each table's ISTIO_* chains are exactly l's chains, each with l's rules in l's
 * order (inserts applied), and every rule l puts in a built-in chain is present (anywhere; extra
 * rules in built-in chains are not drift, §5.4). Returns 0 or -errno (ENOENT: unknown owner name). */
int iptlegacy_compare(int family, const struct rules_list *l, struct iptlegacy_status *ret);

/* Calls cb once per user-defined chain of every legacy table that already exists in this netns
 * (read only: a table /proc/net/ip{,6}_tables_names does not list is not opened, so none is
 * instantiated), with its rule count. For doctor: whose rules (KUBE-*) live in legacy iptables.
 * Returns the number of existing tables (bits 1 << enum rules_table) or -errno. */
int iptlegacy_chains(int family, void (*cb)(const char *table, const char *chain, unsigned n_rules, void *userdata),
                     void *userdata);

struct iptlegacy_probe {
        bool available;   /* the legacy nat table exists or could be instantiated */
        bool nat_exists;  /* it already existed in this netns before the probe */
        bool instantiated; /* the probe had to create it (no way to tell without doing so) */
        unsigned tables;  /* bitmask (1 << enum rules_table) of existing tables */
        unsigned n_rules; /* rules (not policies) in the existing tables */
};

/* Can the legacy nat table be used in this netns? Reads /proc/net/ip{,6}_tables_names first;
 * only if nat is absent there does it take the table with libiptc (which makes the kernel load
 * the module and instantiate an empty nat table, like Istio's probe does, quirk 23).
 * Returns 0 (see ret->available) or -errno for unexpected failures. */
int iptlegacy_probe(int family, struct iptlegacy_probe *ret);

/* Encodes one rule into a kernel entry (struct ipt_entry for AF_INET, struct ip6t_entry for
 * AF_INET6) with its matches and target built from the uapi structures, exactly as iptables 1.8.9
 * builds them (same names, revisions, sizes and payload bytes). *ret_entry is malloc'ed.
 * Jumps carry the chain name in the standard target (libiptc resolves it). err (may be NULL,
 * IPTLEGACY_ERR_MAX bytes) gets the detail on failure: -ENOENT unknown user/group name,
 * -EINVAL unsupported combination. */
int iptlegacy_encode(int family, const struct rules_rule *r, void **ret_entry, size_t *ret_size, char *err);
