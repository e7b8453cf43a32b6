/* SPDX-License-Identifier: Apache-2.0 */
/* logsink.c: the plugin log socket's body parser (spec istio-cni.md §2.14). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/logsink.h"
#include "base/macro.h"

#define LOGSINK_MAX_BODY (64u << 20)

static int digits(const char *s, int n) {
        int v = 0;
        for (int i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return -1;
                v = v * 10 + (s[i] - '0');
        }
        return v;
}

/* YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM), fields in range, the day within its month. */
bool logsink_time_valid(const char *s) {
        static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
        int y, mo, d, h, mi, se;
        const char *p;

        if (!s || strlen(s) < 20)
                return false;
        y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2);
        h = digits(s + 11, 2), mi = digits(s + 14, 2), se = digits(s + 17, 2);
        if (y < 0 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || se < 0 || se > 59 ||
            s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':')
                return false;
        if (d > mdays[mo - 1] || (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)))
                return false;
        p = s + 19;
        if (*p == '.') {
                const char *f = ++p;
                while (*p >= '0' && *p <= '9')
                        p++;
                if (p == f || p - f > 9)
                        return false;
        }
        if (p[0] == 'Z')
                return p[1] == 0;
        if ((p[0] == '+' || p[0] == '-') && strlen(p) == 6 && p[3] == ':') {
                int oh = digits(p + 1, 2), om = digits(p + 4, 2);
                return oh >= 0 && oh < 24 && om >= 0 && om < 60;
        }
        return false;
}

static bool level_known(const char *l) {
        return streq(l, "debug") || streq(l, "info") || streq(l, "warn") || streq(l, "error");
}

int logsink_parse(const char *body, size_t len, logsink_emit_fn emit, void *userdata, size_t *ret_accepted,
                  size_t *ret_dropped) {
        cJSON *arr, *it;
        size_t ok = 0, dropped = 0;

        *ret_accepted = *ret_dropped = 0;
        if (!body || len > LOGSINK_MAX_BODY)
                return -EBADMSG;
        arr = cJSON_ParseWithLength(body, len);
        if (!cJSON_IsArray(arr)) {
                cJSON_Delete(arr);
                return -EBADMSG;
        }
        cJSON_ArrayForEach(it, arr)
                if (!cJSON_IsString(it)) {
                        cJSON_Delete(arr);
                        return -EBADMSG;
                }
        cJSON_ArrayForEach(it, arr) {
                cJSON *line = cJSON_Parse(it->valuestring), *labels = NULL, *kv;
                const cJSON *t = cJSON_GetObjectItemCaseSensitive(line, "time");
                const cJSON *l = cJSON_GetObjectItemCaseSensitive(line, "level");
                const cJSON *m = cJSON_GetObjectItemCaseSensitive(line, "msg");
                const cJSON *sc = cJSON_GetObjectItemCaseSensitive(line, "scope");

                if (!cJSON_IsObject(line) || !cJSON_IsString(t) || !cJSON_IsString(l) || !cJSON_IsString(m) ||
                    !logsink_time_valid(t->valuestring) || !level_known(l->valuestring) ||
                    !(labels = cJSON_CreateObject())) {
                        dropped++;
                        cJSON_Delete(line);
                        continue;
                }
                cJSON_ArrayForEach(kv, line) {
                        if (streq(kv->string, "time") || streq(kv->string, "level") || streq(kv->string, "msg") ||
                            streq(kv->string, "scope"))
                                continue;
                        cJSON *dup = cJSON_Duplicate(kv, true);
                        if (!dup || !cJSON_AddItemToObject(labels, kv->string, dup))
                                cJSON_Delete(dup);
                }
                emit(&(struct logsink_entry){ .time = t->valuestring, .level = l->valuestring, .msg = m->valuestring,
                                              .scope = cJSON_IsString(sc) ? sc->valuestring : NULL, .labels = labels },
                     userdata);
                ok++;
                cJSON_Delete(labels);
                cJSON_Delete(line);
        }
        cJSON_Delete(arr);
        *ret_accepted = ok;
        *ret_dropped = dropped;
        return 0;
}

static double ms_label(const cJSON *labels, const char *key) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(labels, key);
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0)
                return NAN;
        return v->valuedouble / 1000.0;
}

bool logsink_latency(const struct logsink_entry *e, struct logsink_latency *ret) {
        *ret = (struct logsink_latency){
                .setup = ms_label(e->labels, "latency_setup_ms"),
                .pod_lookup = ms_label(e->labels, "latency_pod_lookup_ms"),
                .rules = ms_label(e->labels, "latency_rules_ms"),
                .total = ms_label(e->labels, "latency_total_ms"),
        };
        return !isnan(ret->setup) || !isnan(ret->pod_lookup) || !isnan(ret->rules) || !isnan(ret->total);
}
