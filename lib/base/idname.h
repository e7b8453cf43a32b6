/* SPDX-License-Identifier: Apache-2.0 */
/* idname.h: a user or group name → its numeric id through NSS (getpwnam_r / getgrnam_r), for
 * the proxy's uid (ENVOY_USER) and the owner-match lists. Spec: istio-iptables.md (-u, -g,
 * ISTIO_OUTBOUND_OWNER_GROUPS[_EXCLUDE]). libc only. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* Resolves name as a group (group=true) or a user. Returns 0 with *ret_id set, -ENOENT when no
 * such name exists, -EINVAL for a NULL or empty name, or the lookup's own -errno. */
int idname_lookup(const char *name, bool group, uint32_t *ret_id);
