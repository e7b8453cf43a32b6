/* SPDX-License-Identifier: Apache-2.0 */
/* watch.h: "did anything we installed change?" for the node agent's watch loop (spec
 * istio-cni.md §4.9 sleepWatchInstall): inotify on the installed binaries, the CNI conf dir and
 * the service-account dir (kubelet's token rotation swaps its ..data symlink).
 *
 * A fresh watch is made for every pass, because our own atomic renames replace the inodes that
 * file watches are bound to. When inotify cannot be had (fs.inotify.max_user_instances or
 * max_user_watches exhausted, which silently broke Linkerd's installer), the watch polls a
 * fingerprint of the same paths instead, and says so. A path that does not exist yet is watched
 * through its parent directory, so a conf dir created later still wakes the loop. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct watch;

/* Polling period when inotify cannot be had. */
#define WATCH_POLL_USEC (1000ULL * 1000)

/* Watches paths (a NULL-terminated list of files and dirs). force_poll skips inotify. When inotify
 * fails, the watch polls and *ret_polling is true with the reason in why. */
int watch_new(char *const *paths, bool force_poll, struct watch **ret, bool *ret_polling, char *why, size_t whysz);
struct watch *watch_free(struct watch *w);

/* Waits for a relevant change (create, write, remove, move), stop_fd readable (may be -1), or
 * timeout_usec (0: do not wait). Returns 1 on a change, 0 on timeout, -ECANCELED when stop_fd is
 * readable, or -errno. Events are coalesced: one return per burst. */
int watch_wait(struct watch *w, int stop_fd, uint64_t timeout_usec);
