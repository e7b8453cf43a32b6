/* SPDX-License-Identifier: Apache-2.0 */
/* env.c: variable lookup in an explicit environment block. Spec: istio-cni.md §2.1. */
#include "base/env.h"

#include <string.h>

const char *env_get(char *const *envp, const char *name) {
        if (!envp || !name)
                return NULL;
        size_t n = strlen(name);
        for (char *const *e = envp; *e; e++)
                if (strncmp(*e, name, n) == 0 && (*e)[n] == '=')
                        return *e + n + 1;
        return NULL;
}
