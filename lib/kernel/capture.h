/* SPDX-License-Identifier: Apache-2.0 */
/* capture.h: apply a capture_config in the current network namespace — backend detection, state
 * verification, atomic apply / reconcile / cleanup, rollback, routes.
 * Spec: istio-iptables.md §5 (iptables path), §7 (nftables path), §5.7 (routes).
 * Shared by istio-iptables and the CNI plugin (which calls it inside the pod's netns). */
#pragma once

#include <stdbool.h>

#include "rules/config.h"

#define CAPTURE_NOTES_MAX 8
#define CAPTURE_NOTE_LEN 512

struct capture_report {
        /* Lines the caller logs at info level, in order: the backend chosen per family and why,
         * what was done (applied / unchanged / reconciled / cleaned up), routes. */
        unsigned n_notes;
        char notes[CAPTURE_NOTES_MAX][CAPTURE_NOTE_LEN];
        char error[1024]; /* why it failed, when capture_run() returns < 0 */
};

/* How to run, beyond the configuration. */
struct capture_opts {
        /* The xtables lock for the legacy backend: an open fd to flock (CNI mode: the pod's netns,
         * which the caller holds open, as Istio's sandbox locks the netns file), or -1 for the
         * default ($XTABLES_LOCKFILE, else /run/xtables.lock). The fd is borrowed, never closed,
         * and no path is ever opened for it. */
        int lock_fd;
};

/* Applies (or, with c->cleanup_only, removes) the rules of c in the current netns. Never leaves
 * a half-configured namespace: if a later table or family fails after an earlier commit, what
 * this run committed is rolled back, and routes it added are removed. TPROXY routing that c does
 * not use is found in the netns and removed (a cleanup removes all of ours). o may be NULL
 * (lock_fd -1). Returns 0, or -errno with rep->error filled. */
int capture_run(const struct capture_config *c, const struct capture_opts *o, struct capture_report *rep);

/* The exact state check used for idempotence (and by CNI CHECK): 1 if the current netns holds
 * exactly the rules of c (with the backend detection would pick), 0 if not (rep->error says
 * what differs), -errno on failure. */
int capture_check(const struct capture_config *c, struct capture_report *rep);
