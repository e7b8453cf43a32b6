/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_logsink.c: libFuzzer target for the log socket's body parser and its RFC 3339 time parser
 * (lib/agent/logsink.c; spec istio-cni.md §2.14). Checks the invariants of every emitted entry. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/logsink.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Strict UTF-8 (RFC 3629), an independent check of what the parser hands out. */
static bool utf8_ok(const char *p) {
        const unsigned char *s = (const unsigned char *)p;
        while (*s) {
                unsigned c = *s, k, cp;
                if (c < 0x80) {
                        s++;
                        continue;
                }
                if (c >= 0xc2 && c <= 0xdf)
                        k = 1, cp = c & 0x1f;
                else if (c >= 0xe0 && c <= 0xef)
                        k = 2, cp = c & 0x0f;
                else if (c >= 0xf0 && c <= 0xf4)
                        k = 3, cp = c & 0x07;
                else
                        return false;
                for (unsigned j = 1; j <= k; j++) {
                        if ((s[j] & 0xc0) != 0x80)
                                return false;
                        cp = (cp << 6) | (s[j] & 0x3f);
                }
                if ((k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
                        return false;
                s += k + 1;
        }
        return true;
}

static bool tree_ok(const cJSON *j) {
        if (j->string && !utf8_ok(j->string))
                return false;
        if (cJSON_IsString(j) && !utf8_ok(j->valuestring))
                return false;
        for (const cJSON *c = j->child; c; c = c->next)
                if (!tree_ok(c))
                        return false;
        return true;
}

static void check_entry(const struct logsink_entry *e, void *userdata) {
        static const char *const reserved[] = { "level", "msg", "time" };
        struct timespec ts;

        if (!e->time || !e->level || !e->msg || !cJSON_IsObject(e->labels))
                abort();
        if (strcmp(e->level, "debug") && strcmp(e->level, "info") && strcmp(e->level, "warn") &&
            strcmp(e->level, "error"))
                abort();
        /* Re-emitted as JSON by the agent: every string must be valid UTF-8 (escaped control
         * characters such as \t are fine: they were escaped in the line, too). */
        if (!utf8_ok(e->msg) || (e->scope && !utf8_ok(e->scope)) || !tree_ok(e->labels))
                abort();
        if (logsink_parse_time(e->time, &ts) < 0 || ts.tv_sec != e->ts.tv_sec || ts.tv_nsec != e->ts.tv_nsec)
                abort();
        /* The labels hold none of the fields and no key twice. */
        for (const cJSON *c = e->labels->child; c; c = c->next) {
                for (size_t i = 0; i < sizeof reserved / sizeof *reserved; i++)
                        if (!strcmp(c->string, reserved[i]))
                                abort();
                if (e->scope && !strcmp(c->string, "scope"))
                        abort();
                for (const cJSON *d = c->next; d; d = d->next)
                        if (!strcmp(c->string, d->string))
                                abort();
        }
        struct logsink_latency l;
        if (logsink_latency(e, &l)) {
                const double v[] = { l.setup, l.pod_lookup, l.rules, l.total };
                int present = 0;
                for (size_t i = 0; i < 4; i++) {
                        if (!isnan(v[i]) && (!isfinite(v[i]) || v[i] < 0))
                                abort();
                        present += !isnan(v[i]);
                }
                if (!present)
                        abort();
        }
        (*(size_t *)userdata)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        /* Exact-size heap copy, not NUL-terminated: ASan catches a read past len. */
        char *buf = malloc(size ? size : 1);
        if (!buf)
                return 0;
        memcpy(buf, data, size);
        size_t seen = 0, acc = 0, drop = 0;
        if (logsink_parse(buf, size, check_entry, &seen, &acc, &drop) == 0) {
                if (seen != acc)
                        abort();
        } else if (seen != 0) {
                abort();        /* a refused body emits nothing */
        }
        free(buf);

        /* The time parser alone, on a NUL-terminated copy of a short input. */
        if (size <= 64) {
                char s[65];
                struct timespec ts;
                memcpy(s, data, size);
                s[size] = '\0';
                if (logsink_parse_time(s, &ts) == 0 && (ts.tv_nsec < 0 || ts.tv_nsec > 999999999 || strlen(s) < 19))
                        abort();
        }
        return 0;
}
