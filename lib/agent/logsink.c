/* SPDX-License-Identifier: Apache-2.0 */
/* logsink.c: parse the plugin's POST /log bodies into entries (install-cni's log socket).
 * Spec: istio-cni.md §2.14. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/logsink.h"
#include "base/macro.h"

static bool digits(const char *s, size_t n, int *ret) {
        int v = 0;
        for (size_t i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return false;
                v = v * 10 + (s[i] - '0');
        }
        *ret = v;
        return true;
}

static bool leap(int y) {
        return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in(int month, int year) {
        static const int d[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
        return month == 2 && leap(year) ? 29 : d[month - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d) {
        y -= m <= 2;
        int64_t era = (y >= 0 ? y : y - 399) / 400;
        int64_t yoe = y - era * 400;
        int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
        int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + doe - 719468;
}

int logsink_parse_time(const char *s, struct timespec *ret) {
        int year, month, day, hour, min, sec, nsec = 0;
        if (!s)
                return -EINVAL;
        /* Date: the layout's "2006-01-02" takes exactly 4, 2 and 2 digits. */
        if (!digits(s, 4, &year) || s[4] != '-' || !digits(s + 5, 2, &month) || s[7] != '-' ||
            !digits(s + 8, 2, &day) || s[10] != 'T')
                return -EINVAL;
        if (month < 1 || month > 12 || day < 1 || day > days_in(month, year))
                return -EINVAL;
        const char *p = s + 11;
        /* Hour: Go's "15" takes one or two digits. */
        if (!(p[0] >= '0' && p[0] <= '9'))
                return -EINVAL;
        if (p[1] >= '0' && p[1] <= '9') {
                hour = (p[0] - '0') * 10 + (p[1] - '0');
                p += 2;
        } else {
                hour = p[0] - '0';
                p++;
        }
        if (hour > 23 || p[0] != ':' || !digits(p + 1, 2, &min) || p[3] != ':' || !digits(p + 4, 2, &sec))
                return -EINVAL;
        if (min > 59 || sec > 59)
                return -EINVAL;
        p += 6;
        /* Fraction: '.' or ',' and at least one digit; digits past the ninth are ignored. */
        if ((p[0] == '.' || p[0] == ',') && p[1] >= '0' && p[1] <= '9') {
                int n = 0;
                for (p++; *p >= '0' && *p <= '9'; p++, n++)
                        if (n < 9)
                                nsec = nsec * 10 + (*p - '0');
                for (; n < 9; n++)
                        nsec *= 10;
        }
        int offset = 0;
        if (p[0] == 'Z') {
                p++;
        } else if (p[0] == '+' || p[0] == '-') {
                int oh, om;
                if (!digits(p + 1, 2, &oh) || p[3] != ':' || !digits(p + 4, 2, &om))
                        return -EINVAL;
                /* Go checks > rather than >=: some write offsets of 24 hours or 60 minutes. */
                if (oh > 24 || om > 60)
                        return -EINVAL;
                offset = (oh * 60 + om) * 60 * (p[0] == '-' ? -1 : 1);
                p += 6;
        } else {
                return -EINVAL;
        }
        if (*p != '\0')
                return -EINVAL;
        int64_t t = days_from_civil(year, month, day) * 86400 + hour * 3600 + min * 60 + sec - offset;
        *ret = (struct timespec){ .tv_sec = (time_t)t, .tv_nsec = nsec };
        return 0;
}

/* Go's encoding/json cannot hold a number outside float64 (1e999), and neither can a log line. */
static bool all_finite(const cJSON *j) {
        if (cJSON_IsNumber(j))
                return isfinite(j->valuedouble);
        for (const cJSON *c = j->child; c; c = c->next)
                if (!all_finite(c))
                        return false;
        return true;
}

/* Go's encoding/json refuses control characters (< 0x20) inside strings, and anything but space,
 * \t, \n and \r between tokens; cJSON lets both through. */
static bool json_controls_ok(const char *s, size_t n) {
        bool in_str = false;
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char)s[i];
                if (!in_str) {
                        if (c == '"')
                                in_str = true;
                        else if (c < 0x20 && c != ' ' && c != '\t' && c != '\n' && c != '\r')
                                return false;
                        continue;
                }
                if (c < 0x20)
                        return false;
                if (c == '"')
                        in_str = false;
                else if (c == '\\' && ++i < n && (unsigned char)s[i] < 0x20)
                        return false;
        }
        return true;
}

/* A body-level "\u0000" would end cJSON's C string early, and a truncated prefix of the line
 * could then parse. Go keeps the NUL, and the line fails to parse. Make it \u0001: still a
 * control character, so json_controls_ok() drops the line the same way. Inside a JSON string a
 * backslash always starts a two-character escape, which keeps "\\u0000" (a line-level escape) apart. */
static void body_nul_escapes(char *s) {
        for (; *s; s++) {
                if (*s != '\\')
                        continue;
                if (s[1] == 'u' && s[2] == '0' && s[3] == '0' && s[4] == '0' && s[5] == '0')
                        s[5] = '1';
                if (s[1])
                        s++;
        }
}

/* Length of the valid UTF-8 sequence at s (RFC 3629), or 0. */
static size_t utf8_seq(const unsigned char *s) {
        unsigned char c = s[0];
        size_t k;
        uint32_t cp;
        if (c < 0x80)
                return 1;
        if (c >= 0xc2 && c <= 0xdf)
                k = 1, cp = c & 0x1f;
        else if (c >= 0xe0 && c <= 0xef)
                k = 2, cp = c & 0x0f;
        else if (c >= 0xf0 && c <= 0xf4)
                k = 3, cp = c & 0x07;
        else
                return 0;
        for (size_t j = 1; j <= k; j++) {
                if ((s[j] & 0xc0) != 0x80)
                        return 0;       /* also stops at the terminating NUL */
                cp = (cp << 6) | (s[j] & 0x3f);
        }
        if ((k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        return k + 1;
}

/* As Go's decoder does, replaces each byte of invalid UTF-8 with U+FFFD, so what the agent
 * re-emits is valid JSON text. *p is a cJSON-allocated string; replaced in place. */
static int utf8_fix(char **p) {
        const unsigned char *s = (const unsigned char *)*p;
        size_t bad = 0, n = 0;
        for (size_t k; s[n]; n += k ? k : 1)
                if (!(k = utf8_seq(s + n)))
                        bad++;
        if (!bad)
                return 0;
        char *out = cJSON_malloc(n + 2 * bad + 1), *o = out;
        if (!out)
                return -ENOMEM;
        for (size_t i = 0, k; s[i]; i += k ? k : 1) {
                k = utf8_seq(s + i);
                if (k) {
                        memcpy(o, s + i, k);
                        o += k;
                } else {
                        memcpy(o, "\xef\xbf\xbd", 3);
                        o += 3;
                }
        }
        *o = '\0';
        cJSON_free(*p);
        *p = out;
        return 0;
}

static int utf8_fix_tree(cJSON *j) {
        int r;
        if (j->string && !(j->type & cJSON_StringIsConst) && (r = utf8_fix(&j->string)) < 0)
                return r;
        if (cJSON_IsString(j) && j->valuestring && (r = utf8_fix(&j->valuestring)) < 0)
                return r;
        for (cJSON *c = j->child; c; c = c->next)
                if ((r = utf8_fix_tree(c)) < 0)
                        return r;
        return 0;
}

struct keyed {
        const char *key;
        size_t idx;
        cJSON *item;
};

static int keyed_cmp(const void *a, const void *b) {
        const struct keyed *x = a, *y = b;
        int c = strcmp(x->key, y->key);
        if (c)
                return c;
        return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Drops all but the last of each repeated key (Go's map decoding keeps the last). O(n log n), so
 * an entry with a million keys costs no more than parsing it. */
static int dedupe_keys(cJSON *o) {
        size_t n = 0;
        for (const cJSON *c = o->child; c; c = c->next)
                n++;
        if (n < 2)
                return 0;
        _cleanup_free_ struct keyed *k = malloc(n * sizeof *k);
        if (!k)
                return -ENOMEM;
        size_t i = 0;
        for (cJSON *c = o->child; c; c = c->next, i++)
                k[i] = (struct keyed){ .key = c->string ? c->string : "", .idx = i, .item = c };
        qsort(k, n, sizeof *k, keyed_cmp);
        for (i = 0; i + 1 < n; i++)
                if (streq(k[i].key, k[i + 1].key))
                        cJSON_Delete(cJSON_DetachItemViaPointer(o, k[i].item));
        return 0;
}

static bool level_valid(const char *l) {
        return streq(l, "debug") || streq(l, "info") || streq(l, "warn") || streq(l, "error");
}

/* Parses one log line and emits it; returns 1 (emitted), 0 (dropped) or -ENOMEM. */
static int entry_one(const char *line, logsink_emit_fn emit, void *userdata) {
        const char *end = NULL;
        if (!json_controls_ok(line, strlen(line)))
                return 0;
        cJSON *o = cJSON_ParseWithOpts(line, &end, false);
        if (!o)
                return 0;       /* cJSON does not tell a parse error from ENOMEM: count it dropped */
        int r = 0;
        cJSON *level = NULL, *msg = NULL, *time = NULL, *scope = NULL;
        struct timespec ts;
        while (end && (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r'))
                end++;
        if (!end || *end != '\0' || !cJSON_IsObject(o) || !all_finite(o))
                goto out;
        r = utf8_fix_tree(o);
        if (r < 0)
                goto out;
        r = dedupe_keys(o);
        if (r < 0)
                goto out;
        level = cJSON_DetachItemFromObjectCaseSensitive(o, "level");
        msg = cJSON_DetachItemFromObjectCaseSensitive(o, "msg");
        time = cJSON_DetachItemFromObjectCaseSensitive(o, "time");
        if (!cJSON_IsString(level) || !cJSON_IsString(msg) || !cJSON_IsString(time) ||
            !level_valid(level->valuestring) || logsink_parse_time(time->valuestring, &ts) < 0)
                goto out;
        /* A non-string scope is not a scope: it stays a label. */
        if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(o, "scope")))
                scope = cJSON_DetachItemFromObjectCaseSensitive(o, "scope");
        struct logsink_entry e = {
                .time = time->valuestring,
                .level = level->valuestring,
                .msg = msg->valuestring,
                .scope = scope ? scope->valuestring : NULL,
                .labels = o,
                .ts = ts,
        };
        emit(&e, userdata);
        r = 1;
out:
        cJSON_Delete(scope);
        cJSON_Delete(time);
        cJSON_Delete(msg);
        cJSON_Delete(level);
        cJSON_Delete(o);
        return r;
}

static bool json_ws(char c) {
        return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int logsink_parse(const char *body, size_t len, logsink_emit_fn emit, void *userdata,
                  size_t *ret_accepted, size_t *ret_dropped) {
        if (!body && len > 0)
                return -EINVAL;
        if (len > LOGSINK_MAX_BODY)
                return -EFBIG;
        /* A NUL byte is never valid JSON text; refusing it lets cJSON work on a C string. */
        if (len == 0 || memchr(body, '\0', len))
                return -EBADMSG;
        _cleanup_free_ char *buf = malloc(len + 1);
        if (!buf)
                return -ENOMEM;
        memcpy(buf, body, len);
        buf[len] = '\0';
        if (!json_controls_ok(buf, len))
                return -EBADMSG;
        body_nul_escapes(buf);

        const char *end = NULL;
        cJSON *arr = cJSON_ParseWithOpts(buf, &end, false);
        if (!arr)
                return -EBADMSG;
        while (end && json_ws(*end))
                end++;
        int r = 0;
        /* Go decodes a JSON null into a []string or a string as "nothing there", without error. */
        if (!end || *end != '\0' || !(cJSON_IsArray(arr) || cJSON_IsNull(arr)))
                r = -EBADMSG;
        for (const cJSON *c = arr->child; r == 0 && c; c = c->next)
                if (!cJSON_IsString(c) && !cJSON_IsNull(c))
                        r = -EBADMSG;
        size_t accepted = 0, dropped = 0;
        for (const cJSON *c = arr->child; r == 0 && c; c = c->next) {
                int k = cJSON_IsNull(c) ? 0 : entry_one(c->valuestring, emit, userdata);
                if (k < 0)
                        r = k;
                else if (k > 0)
                        accepted++;
                else
                        dropped++;
        }
        cJSON_Delete(arr);
        if (r < 0)
                return r;
        if (ret_accepted)
                *ret_accepted = accepted;
        if (ret_dropped)
                *ret_dropped = dropped;
        return 0;
}

static double stage(const cJSON *labels, const char *key, bool *any) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(labels, key);
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0)
                return NAN;
        *any = true;
        return v->valuedouble / 1000.0;
}

bool logsink_latency(const struct logsink_entry *e, struct logsink_latency *ret) {
        if (!e || !e->labels || !ret)
                return false;
        bool any = false;
        struct logsink_latency l = {
                .setup = stage(e->labels, "latency_setup_ms", &any),
                .pod_lookup = stage(e->labels, "latency_pod_lookup_ms", &any),
                .rules = stage(e->labels, "latency_rules_ms", &any),
                .total = stage(e->labels, "latency_total_ms", &any),
        };
        if (!any)
                return false;
        *ret = l;
        return true;
}
