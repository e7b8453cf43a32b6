/* SPDX-License-Identifier: Apache-2.0 */
/* log.c: Istio-format log lines ("<RFC3339>\t<level>\t<msg>") or JSON lines, to one fd, plus the
 * plugin's tee sinks (rolling file, in-memory buffer for the log socket). Spec: istio-cni.md §2.14. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "base/log.h"
#include "base/jsonesc.h"

static struct {
        const char *applet;
        int fd;
        enum log_level level;
        bool json;
        int tee_fd;
        enum log_level tee_min;
        bool mem_on;
        enum log_level mem_min;
        char *mem;              /* kept JSON lines, each '\n'-terminated */
        size_t mem_len, mem_cap;
} L = { "cnibox", 2, LOG_LEVEL_INFO, false, -1, LOG_LEVEL_INFO, false, LOG_LEVEL_INFO, NULL, 0, 0 };

static const char *const level_names[] = { "debug", "info", "warn", "error", "none" };

void log_setup(const char *applet, int fd, enum log_level level, bool json) {
        L.applet = applet;
        L.fd = fd;
        L.level = level;
        L.json = json;
}

void log_set_tee(int fd, enum log_level min) {
        L.tee_fd = fd;
        L.tee_min = min;
}

void log_set_memory(bool on, enum log_level min) {
        if (!on) {
                free(L.mem);
                L.mem = NULL;
                L.mem_len = L.mem_cap = 0;
        }
        L.mem_on = on;
        L.mem_min = min;
}

/* The level below which nothing is formatted at all. */
enum log_level log_get_level(void) {
        enum log_level l = L.level;
        if (L.tee_fd >= 0 && L.tee_min < l)
                l = L.tee_min;
        if (L.mem_on && L.mem_min < l)
                l = L.mem_min;
        return l;
}

/* Accepts Istio's --log_output_level: "level" or "scope:level,scope:level". The "default"
 * scope (or a bare level) sets ours; other scopes are accepted and ignored. */
int log_parse_level(const char *spec, enum log_level *ret) {
        enum log_level lvl = LOG_LEVEL_INFO;
        const char *p = spec;

        while (*p) {
                const char *end = strchrnul(p, ',');
                const char *colon = memchr(p, ':', (size_t)(end - p));
                const char *name = colon ? colon + 1 : p;
                size_t n = (size_t)(end - name);
                bool is_default = !colon || ((size_t)(colon - p) == 7 && strncmp(p, "default", 7) == 0);
                int found = -1;

                for (size_t i = 0; i < ELEMENTSOF(level_names); i++)
                        if (strlen(level_names[i]) == n && strncmp(level_names[i], name, n) == 0)
                                found = (int)i;
                if (found < 0 && n == 5 && strncmp(name, "fatal", 5) == 0)
                        found = LOG_LEVEL_ERROR;
                if (found < 0)
                        return -EINVAL;
                if (is_default)
                        lvl = (enum log_level)found;
                p = *end ? end + 1 : end;
        }
        *ret = lvl;
        return 0;
}

/* Appends src JSON-escaped (without quotes) at dst[o], never past sz - 1; returns the new offset. */
static size_t json_escape(char *dst, size_t sz, size_t o, const char *src) {
        for (; *src && o + 7 < sz; src++) {
                char e[7];
                size_t n = jsonesc_byte((unsigned char)*src, 0, e);
                if (n) {
                        memcpy(dst + o, e, n);
                        o += n;
                } else
                        dst[o++] = *src;
        }
        dst[o] = 0;
        return o;
}

/* snprintf that appends at *o and keeps *o within the buffer. */
static void append(char *buf, size_t sz, size_t *o, const char *fmt, ...) _printf_(4, 5);
static void append(char *buf, size_t sz, size_t *o, const char *fmt, ...) {
        va_list ap;
        int n;
        if (*o + 1 >= sz)
                return;
        va_start(ap, fmt);
        n = vsnprintf(buf + *o, sz - *o, fmt, ap);
        va_end(ap);
        if (n > 0)
                *o = *o + (size_t)n < sz - 1 ? *o + (size_t)n : sz - 1;
}

#define LINE_MAX_BYTES (24 * 1024)

/* Formats one line (with its trailing '\n') into line; returns its length. */
static size_t format_line(char *line, size_t sz, bool json, enum log_level level, const char *ts, const char *msg,
                          const struct log_field *f, size_t n) {
        size_t o = 0;
        if (json) {
                append(line, sz, &o, "{\"time\":\"%s\",\"level\":\"%s\",\"msg\":\"", ts, level_names[level]);
                o = json_escape(line, sz - 64, o, msg);
                append(line, sz, &o, "\",\"scope\":\"%s\"", L.applet);
                for (size_t i = 0; i < n; i++) {
                        append(line, sz, &o, ",\"");
                        o = json_escape(line, sz - 64, o, f[i].key);
                        if (f[i].str) {
                                append(line, sz, &o, "\":\"");
                                o = json_escape(line, sz - 64, o, f[i].str);
                                append(line, sz, &o, "\"");
                        } else if (f[i].num == f[i].num && f[i].num < 1e15 && f[i].num > -1e15)
                                append(line, sz, &o, "\":%.3f", f[i].num);
                        else
                                append(line, sz, &o, "\":null"); /* NaN/inf are not JSON */
                }
                append(line, sz, &o, "}");
        } else {
                append(line, sz, &o, "%s\t%s\t%s", ts, level_names[level], msg);
                for (size_t i = 0; i < n; i++) {
                        if (f[i].str)
                                append(line, sz, &o, "%s%s=%s", i ? " " : "\t", f[i].key, f[i].str);
                        else
                                append(line, sz, &o, "%s%s=%.3f", i ? " " : "\t", f[i].key, f[i].num);
                }
        }
        /* Always room for the newline: append() stops one byte short of sz. */
        if (o >= sz - 1)
                o = sz - 2;
        line[o++] = '\n';
        line[o] = 0;
        return o;
}

static void mem_keep(const char *line, size_t n) {
        if (L.mem_len + n > LOG_MEMORY_MAX) {
                return;
        }
        if (L.mem_len + n + 1 > L.mem_cap) {
                size_t cap = L.mem_cap ? L.mem_cap * 2 : 4096;
                while (cap < L.mem_len + n + 1)
                        cap *= 2;
                char *p = realloc(L.mem, cap);
                if (!p)
                        return;
                L.mem = p;
                L.mem_cap = cap;
        }
        memcpy(L.mem + L.mem_len, line, n);
        L.mem_len += n;
        L.mem[L.mem_len] = 0;
}

int log_memory_take_json(char **ret, size_t *ret_len) {
        size_t cap = 2, o = 0;
        char *out;

        if (!L.mem_len)
                return -ENODATA;
        /* Each byte escapes to at most 6 ("\u00XX"); quotes, commas and brackets per line. */
        cap = L.mem_len * 6 + 64;
        out = malloc(cap);
        if (!out)
                return -ENOMEM;
        out[o++] = '[';
        for (char *p = L.mem; *p;) {
                char *nl = strchr(p, '\n');
                if (o > 1)
                        out[o++] = ',';
                out[o++] = '"';
                *nl = 0;
                o = json_escape(out, cap, o, p);
                *nl = '\n';
                out[o++] = '"';
                p = nl + 1;
        }
        out[o++] = ']';
        out[o] = 0;
        free(L.mem);
        L.mem = NULL;
        L.mem_len = L.mem_cap = 0;
        *ret = out;
        *ret_len = o;
        return 0;
}

static void log_vmsg(enum log_level level, const struct log_field *f, size_t n, const char *suffix, const char *fmt,
                     va_list ap) {
        char msg[8192], ts[64], line[LINE_MAX_BYTES];
        struct timeval tv;
        struct tm tm;
        bool to_main = level >= L.level && L.level != LOG_LEVEL_NONE;
        bool to_tee = L.tee_fd >= 0 && level >= L.tee_min && L.tee_min != LOG_LEVEL_NONE;
        bool to_mem = L.mem_on && level >= L.mem_min && L.mem_min != LOG_LEVEL_NONE;
        size_t len;

        if (!to_main && !to_tee && !to_mem)
                return;
        vsnprintf(msg, sizeof msg, fmt, ap);
        if (suffix)
                strncat(msg, suffix, sizeof msg - strlen(msg) - 1);
        gettimeofday(&tv, NULL);
        gmtime_r(&tv.tv_sec, &tm);
        /* Not strftime(): glibc's calls tzset(), which reads /etc/localtime on every line. */
        snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)tv.tv_usec);
        /* One write() per line so concurrent writers do not interleave inside a line. */
        if (to_main) {
                len = format_line(line, sizeof line, L.json, level, ts, msg, f, n);
                (void)!write(L.fd, line, len);
        }
        if (to_tee || to_mem) {
                len = format_line(line, sizeof line, true, level, ts, msg, f, n);
                if (to_tee)
                        (void)!write(L.tee_fd, line, len);
                if (to_mem)
                        mem_keep(line, len);
        }
}

void log_msg(enum log_level level, const char *fmt, ...) {
        va_list ap;
        int saved = errno;
        va_start(ap, fmt);
        log_vmsg(level, NULL, 0, NULL, fmt, ap);
        va_end(ap);
        errno = saved;
}

void log_msg_fields(enum log_level level, const struct log_field *fields, size_t n, const char *fmt, ...) {
        va_list ap;
        int saved = errno;
        va_start(ap, fmt);
        log_vmsg(level, fields, n, NULL, fmt, ap);
        va_end(ap);
        errno = saved;
}

int log_errno_full(enum log_level level, int r, const char *fmt, ...) {
        char suffix[256];
        va_list ap;
        snprintf(suffix, sizeof suffix, ": %s", strerror(r < 0 ? -r : r));
        va_start(ap, fmt);
        log_vmsg(level, NULL, 0, suffix, fmt, ap);
        va_end(ap);
        return r < 0 ? r : -r;
}

void log_callback(log_callback_fn fn, void *userdata, int level, const char *fmt, ...) {
        char buf[2048];
        va_list ap;

        if (!fn)
                return;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);
        fn(userdata, level, buf);
}
