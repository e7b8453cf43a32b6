/* SPDX-License-Identifier: Apache-2.0 */
/* errbuf.c: the caller's error-detail buffer, filled in one place. Spec: none (shared plumbing). */
#include "base/errbuf.h"

#include <stdio.h>

int errbuf_setv(char *err, size_t errsz, int r, const char *fmt, va_list ap) {
        if (err && errsz)
                vsnprintf(err, errsz, fmt, ap);
        return r;
}

int errbuf_set(char *err, size_t errsz, int r, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        r = errbuf_setv(err, errsz, r, fmt, ap);
        va_end(ap);
        return r;
}
