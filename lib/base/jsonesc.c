/* SPDX-License-Identifier: Apache-2.0 */
/* jsonesc.c: JSON string escape of one ASCII byte. Spec: istio-cni.md §2.10, §2.14, §4.6. */
#include "base/jsonesc.h"

#include <stdbool.h>

size_t jsonesc_byte(unsigned char c, unsigned flags, char out[static 7]) {
        static const char hex[] = "0123456789abcdef";
        char s = 0;

        switch (c) {
        case '"': case '\\': s = (char)c; break;
        case '\n': s = flags & JSONESC_SHORT_NRT ? 'n' : 0; break;
        case '\r': s = flags & JSONESC_SHORT_NRT ? 'r' : 0; break;
        case '\t': s = flags & JSONESC_SHORT_NRT ? 't' : 0; break;
        case '\b': s = flags & JSONESC_SHORT_BF ? 'b' : 0; break;
        case '\f': s = flags & JSONESC_SHORT_BF ? 'f' : 0; break;
        default: break;
        }
        if (s) {
                out[0] = '\\';
                out[1] = s;
                out[2] = 0;
                return 2;
        }
        bool html = c == '<' || c == '>' || c == '&';
        if (c >= 0x20 && !(html && (flags & JSONESC_HTML))) {
                out[0] = 0;
                return 0;
        }
        out[0] = '\\';
        out[1] = 'u';
        out[2] = '0';
        out[3] = '0';
        out[4] = hex[c >> 4];
        out[5] = hex[c & 15];
        out[6] = 0;
        return 6;
}
