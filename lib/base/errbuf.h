/* SPDX-License-Identifier: Apache-2.0 */
/* errbuf.h: the one way lib/ fills a caller's error-detail buffer (char *err, size_t errsz).
 * Spec: none (shared plumbing for the messages every spec section asks to name the bad value). */
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include "base/macro.h"

/* Formats into err when err && errsz (truncating, always NUL-terminated) and returns r, so a
 * failure path reads "return errbuf_set(err, errsz, -EINVAL, "bad %s", what);". */
int errbuf_set(char *err, size_t errsz, int r, const char *fmt, ...) _printf_(4, 5);
int errbuf_setv(char *err, size_t errsz, int r, const char *fmt, va_list ap) _printf_(4, 0);
