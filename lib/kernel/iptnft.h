/* SPDX-License-Identifier: Apache-2.0 */
/* iptnft.h: the iptables-nft path: run iptables-nft-restore/-save (or the ip6tables ones) directly.
 * Spec: istio-iptables.md §4 (payload, --noflush), §5.1 step 8, §5.3. See docs/backends.md.
 * The binaries are exec'd with posix_spawnp() (looked up in PATH, never through a shell); the
 * payload goes over stdin, no temp file is written. nft variants never take the xtables lock. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define IPTNFT_STDERR_MAX 1024   /* bytes of the child's stderr kept for the error message */
#define IPTNFT_TIMEOUT_MS 30000  /* the child is killed after this long (default) */

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
