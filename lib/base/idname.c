/* SPDX-License-Identifier: Apache-2.0 */
/* idname.c: user / group name → numeric id from /etc/passwd and /etc/group, as Go's os/user
 * (lookup_unix.go) reads them. Spec: istio-iptables.md (-u, -g, owner groups). */
#include "base/idname.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/macro.h"

static bool is_space(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Go's strconv.Atoi on a field: an optional sign and decimal digits. Returns 1 and the value
 * when the field is an int in [0, 2^32), -ERANGE for any other int, 0 when it is not a number. */
static int parse_id(const char *s, size_t n, uint32_t *ret) {
        bool neg = false;
        uint64_t v = 0;
        bool big = false;

        if (n > 0 && (s[0] == '+' || s[0] == '-')) {
                neg = s[0] == '-';
                s++, n--;
        }
        if (n == 0)
                return 0;
        for (size_t i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return 0;
                if (!big) {
                        v = v * 10 + (uint64_t)(s[i] - '0');
                        big = v > UINT32_MAX;
                }
        }
        if (big || (neg && v != 0))
                return -ERANGE;
        *ret = (uint32_t)v;
        return 1;
}

int idname_parse_line(const char *line, size_t len, const char *name, bool group, uint32_t *ret_id) {
        /* Fields as strings.SplitN(line, ":", 7 or 4): [start, end) of the first want-1 fields,
         * the last one taking the rest. */
        const size_t want = group ? 4 : 7, need = group ? 3 : 6;
        size_t fs[7], fe[7], nf = 0, colons = 0, nlen;
        uint32_t id;
        int r;

        if (!line || !name)
                return 0;
        for (size_t i = 0; i < len; i++)
                colons += line[i] == ':';
        /* Go counts colons on the raw line before it trims (passwd ≥ 6, group ≥ 3). */
        if (colons < (group ? 3u : 6u))
                return 0;
        /* Group lines lose a trailing "#..." comment (removeComment); both are trimmed. */
        if (group) {
                const char *h = memchr(line, '#', len);
                if (h)
                        len = (size_t)(h - line);
        }
        while (len > 0 && is_space(line[0]))
                line++, len--;
        while (len > 0 && is_space(line[len - 1]))
                len--;
        if (len == 0 || line[0] == '#')
                return 0;

        fs[0] = 0;
        for (size_t i = 0; i < len && nf + 1 < want; i++)
                if (line[i] == ':') {
                        fe[nf++] = i;
                        fs[nf] = i + 1;
                }
        fe[nf++] = len;
        if (nf < need)
                return 0;

        /* The name field: exact match, and not a NIS "+name"/"-name" entry (glibc skips those). */
        nlen = strlen(name);
        if (fe[0] != nlen || nlen == 0 || memcmp(line, name, nlen) != 0 || name[0] == '+' || name[0] == '-')
                return 0;
        /* passwd: uid (field 2) and gid (field 3) must both be numbers; group: gid (field 2). */
        if (!group) {
                uint32_t gid;
                r = parse_id(line + fs[3], fe[3] - fs[3], &gid);
                if (r == 0)
                        return 0;
        }
        r = parse_id(line + fs[2], fe[2] - fs[2], &id);
        if (r <= 0)
                return r;
        *ret_id = id;
        return 1;
}

int idname_lookup_file(const char *path, const char *name, bool group, uint32_t *ret_id) {
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ char *line = NULL;
        size_t cap = 0;
        ssize_t n;

        if (!name || !*name || !path)
                return -EINVAL;
        f = fopen(path, "re");
        if (!f)
                return -errno;
        /* The first line that names it wins, as in Go (and glibc's files module). */
        errno = 0;
        while ((n = getline(&line, &cap, f)) >= 0) {
                int r;
                if (n > 0 && line[n - 1] == '\n')
                        n--;
                r = idname_parse_line(line, (size_t)n, name, group, ret_id);
                if (r != 0)
                        return r < 0 ? r : 0;
        }
        if (ferror(f))
                return errno > 0 ? -errno : -EIO;
        return -ENOENT;
}

int idname_lookup(const char *name, bool group, uint32_t *ret_id) {
        return idname_lookup_file(group ? IDNAME_GROUP : IDNAME_PASSWD, name, group, ret_id);
}
