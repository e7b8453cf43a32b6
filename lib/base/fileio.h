/* SPDX-License-Identifier: Apache-2.0 */
/* fileio.h: whole-file reads, atomic replace (temp + fsync + rename + dir fsync), stale temp
 * clean-up and copy-only-when-changed. Spec: istio-cni.md §4.3 (binary copy), §4.4 and §4.7
 * (atomic writes of the kubeconfig and the CNI config). libc only. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Reads fd to EOF into a NUL-terminated buffer. More than max bytes → -EFBIG (nothing returned). */
int fileio_read_all(int fd, size_t max, char **ret, size_t *ret_len);
int fileio_read_file(const char *path, size_t max, char **ret, size_t *ret_len);

/* Atomic replace: temp "<path>.tmp.<random>" in the same directory (O_EXCL), fchmod(mode), write,
 * fsync, rename over path, fsync the directory. On any error the temp file is removed and path is
 * untouched. A failure of the final directory fsync is reported although path was replaced. */
int fileio_write_atomic(const char *path, const void *data, size_t len, mode_t mode);

/* Removes leftover "<name>.tmp.*" entries in dir; returns how many were removed, or -errno (the
 * first failure; the others are still attempted). A missing dir removes nothing. */
int fileio_remove_stale_tmp(const char *dir, const char *name);

/* Copies src to dst atomically only when the content differs (streamed compare), with src's mode;
 * when only the mode differs, fchmod()s dst in place. *ret_changed tells whether dst was written or
 * its mode changed. Removes stale "<dst>.tmp.*" first. src must be a regular file. */
int fileio_copy_if_changed(const char *src, const char *dst, bool *ret_changed);
