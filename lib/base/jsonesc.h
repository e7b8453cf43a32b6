/* SPDX-License-Identifier: Apache-2.0 */
/* jsonesc.h: the JSON string escape of one ASCII byte, shared by the writers that must match a
 * peer's bytes: base/log (zap-style JSON lines, spec istio-cni.md §2.14), cni (CNI results as Go's
 * encoding/json writes them, §2.10) and agent/gojson (the conflist, §4.6). Each writer keeps its
 * own sink and its own handling of bytes >= 0x80. libc only. */
#pragma once

#include <stddef.h>

enum {
        JSONESC_SHORT_NRT = 1 << 0,     /* \n \r \t instead of \u000a … */
        JSONESC_SHORT_BF = 1 << 1,      /* \b \f instead of \u0008 \u000c */
        JSONESC_HTML = 1 << 2,          /* < > & as \u003c \u003e \u0026 (Go's HTML-safe default) */
};
/* Go's encoding/json (1.22+) for ASCII. */
#define JSONESC_GO (JSONESC_SHORT_NRT | JSONESC_SHORT_BF | JSONESC_HTML)

/* Writes the escape sequence for c (< 0x80) to out, NUL-terminated, and returns its length (2 or
 * 6), or returns 0 when c stands for itself. '"', '\\' and bytes below 0x20 always escape. */
size_t jsonesc_byte(unsigned char c, unsigned flags, char out[static 7]);
