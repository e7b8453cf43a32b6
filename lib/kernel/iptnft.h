/* SPDX-License-Identifier: Apache-2.0 */
/* iptnft.h: the iptables-nft path: run iptables-nft-restore/-save (or the ip6tables ones) directly.
 * Spec: istio-iptables.md §4 (payload, --noflush), §5.1 step 8, §5.3. See docs/backends.md.
 * The binaries are exec'd with posix_spawnp() (looked up in PATH, never through a shell); the
 * payload goes over stdin, no temp file is written. nft variants never take the xtables lock. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "rules/rules.h"

#define IPTNFT_STDERR_MAX 1024   /* bytes of the child's stderr kept for the error message */
#define IPTNFT_TIMEOUT_MS 30000  /* the child is killed after this long (default) */
#define IPTNFT_ERR_MAX 1280      /* iptnft_txn_error() text */
/* iptables-restore builds an argv of at most 255 entries per line: its name, "-t", the table and
 * the line's words (iptables 1.8.9: "Parser cannot handle more arguments"). */
#define IPTNFT_RESTORE_MAX_WORDS 251

struct iptnft_error {
        char program[32];              /* e.g. "ip6tables-nft-restore" */
        int exit_status;               /* exit code, or -1 when killed by a signal / not run */
        int signal;                    /* terminating signal, 0 if it exited */
        bool timed_out;                /* killed by us after the timeout */
        char stderr_text[IPTNFT_STDERR_MAX]; /* NUL-terminated, truncated, trailing newlines cut */
};

/* The program names for a family (AF_INET/AF_INET6); NULL for any other family. */
const char *iptnft_restore_program(int family);
const char *iptnft_save_program(int family);
const char *iptnft_program(int family);

/* Feeds payload (len bytes, iptables-restore format) to <ip[6]tables-nft-restore> [--noflush].
 * Returns 0 on exit status 0; -ENOENT when the program is not in PATH; -ETIMEDOUT when it was
 * killed after the timeout; -EIO when it exited non-zero or died of a signal (details in err);
 * other -errno for pipe/spawn/wait failures. err (may be NULL) is filled in on every return. */
int iptnft_restore(int family, const char *payload, size_t len, bool noflush, struct iptnft_error *err);

/* Runs <ip[6]tables-nft-save> and returns its stdout (NUL-terminated, caller frees) in *ret_text.
 * Errors as iptnft_restore(). */
int iptnft_save(int family, char **ret_text, struct iptnft_error *err);

/* Runs <ip[6]tables-nft> with argv (the arguments only, NULL-terminated, e.g.
 * {"-t", "nat", "-F", "ISTIO_OUTPUT", NULL}) for single commands such as cleanup's -D/-F/-X.
 * Errors as iptnft_restore(). */
int iptnft_run(int family, char *const argv[], struct iptnft_error *err);

/* Overrides the timeout for the following calls (0 restores IPTNFT_TIMEOUT_MS). For tests. */
void iptnft_set_timeout_ms(unsigned ms);

/* ---- our state, as lib/kernel/iptlegacy.h models it -------------------------------------------
 * A transaction reads each family's listing (ip[6]tables-nft-save) once, before its first change:
 * that is both the state compared and the rollback target. Every change of a family is one
 * iptables-nft-restore --noflush payload (atomic per table). iptnft_rollback() puts every table a
 * committed payload touched back to its listing from before, in both families, newest first.
 * All functions act on the caller's current network namespace. */
typedef struct iptnft_txn iptnft_txn;

int iptnft_txn_begin(iptnft_txn **ret);
iptnft_txn *iptnft_txn_free(iptnft_txn *t); /* does NOT roll back; NULL-safe */
/* Detail of the last failure in t ("ip6tables-nft-restore failed (exit 1): …"), "" if none. */
const char *iptnft_txn_error(const iptnft_txn *t);
/* Number of payloads committed so far. */
unsigned iptnft_txn_commits(const iptnft_txn *t);

enum iptnft_state {
        IPTNFT_CLEAN,     /* no ISTIO_* chain and no jump to one */
        IPTNFT_IDENTICAL, /* exactly l: chains with l's rule counts, every rule found with -C (§5.4) */
        IPTNFT_DRIFTED,   /* ours present but different */
};

struct iptnft_status {
        enum iptnft_state state;
        char why[256]; /* first difference found when DRIFTED */
};

/* Compares family's current rules with l. Takes the family's snapshot (if t has none yet), so an
 * apply after it reads nothing again. Returns 0 or -errno (detail in iptnft_txn_error()). */
int iptnft_compare(iptnft_txn *t, int family, const struct rules_list *l, struct iptnft_status *ret);
/* Replaces our state in family with l in one payload: on a clean family Istio's own payload
 * (-N chains); otherwise our chains are flushed and refilled, old jumps and our built-in-chain
 * rules present are deleted, obsolete chains removed. residue (may be NULL) lists rules an earlier
 * configuration may have left in built-in chains: those present are deleted too, never added. A
 * payload line longer than IPTNFT_RESTORE_MAX_WORDS is refused before anything runs (-E2BIG). On
 * failure nothing of this family changed; earlier commits stay: call iptnft_rollback(). */
int iptnft_apply(iptnft_txn *t, int family, const struct rules_list *l, const struct rules_list *residue);
/* Removes our state (every ISTIO_* chain, every jump to one, l's and residue's built-in-chain
 * rules that are present) from family. */
int iptnft_cleanup(iptnft_txn *t, int family, const struct rules_list *l, const struct rules_list *residue);
/* Restores every table t committed to (both families, newest first) to its snapshot. Returns 0 or
 * the first -errno (continuing with the other family). */
int iptnft_rollback(iptnft_txn *t);
