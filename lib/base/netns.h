/* SPDX-License-Identifier: Apache-2.0 */
/* netns.h: open a network namespace file and run a function inside it, always switching back.
 * Spec: istio-cni.md §2.8 steps 1–2 (statfs magic check, enter/restore). */
#pragma once

#include <errno.h>
#include <stdbool.h>

/* Returned by netns_run() when the caller's namespace could not be restored. The calling thread
 * is then in the wrong netns; the caller must treat it as fatal (report and exit). */
#define NETNS_ERR_RESTORE (-ENOTRECOVERABLE)

/* Opens path (O_RDONLY|O_CLOEXEC) after checking that it lives on nsfs or procfs.
 * Returns the fd, -ENOENT, -EMEDIUMTYPE (not a namespace file) or another -errno. */
int netns_open(const char *path);

/* Returns 1 when fd refers to the netns this thread is in, 0 when not, -errno on failure. */
int netns_is_current(int fd);

/* Enters nsfd (CLONE_NEWNET), calls fn(userdata), returns to the caller's netns.
 * Returns fn's result, -errno if entering failed (fn not called), or NETNS_ERR_RESTORE. */
int netns_run(int nsfd, int (*fn)(void *userdata), void *userdata);

/* Forks a child that unshares a new, empty network namespace and there calls
 * fn(userdata, &text); the text comes back over a pipe (up to 64 MiB). fn returns 0, or a code
 * 1..100 of its own for "failed". Used to learn what a rule set looks like once applied to an
 * empty ruleset, without touching this namespace. Returns 0 and *ret_text (free()); -ECANCELED
 * with *ret_fn_code when fn failed; -EPERM when the child could not unshare (no CAP_SYS_ADMIN);
 * -EIO when it died; or -errno. */
int netns_scratch_output(int (*fn)(void *userdata, char **ret_text), void *userdata, char **ret_text,
                         int *ret_fn_code);
