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
        bool changed;     /* the kernel state was modified */
        bool native_nft;  /* the nftables backend was used */
};

/* Applies (or, with c->cleanup_only, removes) the rules of c in the current netns. Never leaves
 * a half-configured namespace: if a later table or family fails after an earlier commit, what
 * this run committed is rolled back. Returns 0, or -errno with rep->error filled. */
int capture_run(const struct capture_config *c, struct capture_report *rep);

/* The exact state check used for idempotence (and by CNI CHECK): 1 if the current netns holds
 * exactly the rules of c (with the backend detection would pick), 0 if not (rep->error says
 * what differs), -errno on failure. */
int capture_check(const struct capture_config *c, struct capture_report *rep);
