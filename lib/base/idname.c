/* SPDX-License-Identifier: Apache-2.0 */
/* idname.c: user / group name → numeric id. Spec: istio-iptables.md (-u, -g, owner groups). */
#include "base/idname.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stddef.h>

int idname_lookup(const char *name, bool group, uint32_t *ret_id) {
        /* 4 KiB holds any sane passwd/group entry; a group with a huge member list gets -ERANGE,
         * which the caller reports rather than guessing an id. */
        char buf[4096];
        int e;

        if (!name || !*name)
                return -EINVAL;
        if (group) {
                struct group g, *res = NULL;
                e = getgrnam_r(name, &g, buf, sizeof buf, &res);
                if (e == 0 && res) {
                        *ret_id = (uint32_t)res->gr_gid;
                        return 0;
                }
        } else {
                struct passwd pw, *res = NULL;
                e = getpwnam_r(name, &pw, buf, sizeof buf, &res);
                if (e == 0 && res) {
                        *ret_id = (uint32_t)res->pw_uid;
                        return 0;
                }
        }
        return e > 0 ? -e : -ENOENT;
}
