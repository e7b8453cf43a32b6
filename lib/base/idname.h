/* SPDX-License-Identifier: Apache-2.0 */
/* idname.h: a user or group name → its numeric id, read from /etc/passwd and /etc/group the way
 * Go's pure os/user does (istio-iptables is Go; no NSS, so a static binary needs no modules).
 * Spec: istio-iptables.md (-u, -g, ISTIO_OUTBOUND_OWNER_GROUPS[_EXCLUDE]). libc only. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IDNAME_PASSWD "/etc/passwd"
#define IDNAME_GROUP "/etc/group"

/* Resolves name as a group (group=true, in /etc/group) or a user (/etc/passwd). Returns 0 with
 * *ret_id set, -ENOENT when no line names it (or the file is missing), -EINVAL for a NULL or
 * empty name, -ERANGE when the matching line's id is a number but not a 32-bit id, or the
 * read's -errno. */
int idname_lookup(const char *name, bool group, uint32_t *ret_id);

/* As idname_lookup(), from the passwd- or group-format file at path. */
int idname_lookup_file(const char *path, const char *name, bool group, uint32_t *ret_id);

/* One line of a passwd (group=false) or group file, without its newline, need not be
 * NUL-terminated. Returns 1 with *ret_id set when the line is name's entry, 0 when it is not
 * (including lines Go skips: comments, too few fields, a +/- NIS name, a non-numeric id), or
 * -ERANGE when it is name's entry but the id does not fit in 32 bits. */
int idname_parse_line(const char *line, size_t len, const char *name, bool group, uint32_t *ret_id);
