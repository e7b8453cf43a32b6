/* SPDX-License-Identifier: Apache-2.0 */
/* env.h: look a variable up in an explicit environment block (the CNI plugin's CNI_* variables,
 * istio-iptables' ISTIO_* settings; a test passes its own block). Spec: istio-cni.md §2.1 (the
 * CNI environment), istio-iptables.md (flags and their environment variables). libc only. */
#pragma once

/* The value of name in envp ("NAME=value" strings, NULL-terminated), or NULL when it is absent.
 * A NULL envp or name finds nothing. The result points into envp. */
const char *env_get(char *const *envp, const char *name);
