/* SPDX-License-Identifier: Apache-2.0 */
/* log.c: Istio-format log lines ("<RFC3339>\t<level>\t<msg>") or JSON lines, to one fd. */
#include <stdarg.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "base/log.h"

static struct {
        const char *applet;
        int fd;
        enum log_level level;
        bool json;
        int tee_fd;
        enum log_level tee_min;
} L = { "cnibox", 2, LOG_LEVEL_INFO, false, -1, LOG_LEVEL_INFO };

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

/* The level below which nothing is formatted at all. */
enum log_level log_get_level(void) {
        return L.tee_fd >= 0 && L.tee_min < L.level ? L.tee_min : L.level;
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

static void json_escape(char *dst, size_t sz, const char *src) {
        size_t o = 0;
        for (; *src && o + 7 < sz; src++) {
                unsigned char c = (unsigned char)*src;
                if (c == '"' || c == '\\') {
                        dst[o++] = '\\';
                        dst[o++] = (char)c;
                } else if (c < 0x20) {
                        o += (size_t)snprintf(dst + o, sz - o, "\\u%04x", c);
                } else
                        dst[o++] = (char)c;
        }
        dst[o] = 0;
}

static void emit(int fd, bool json, enum log_level level, const char *ts, const char *msg) {
        char line[16384 + 64];
        int n;
        if (json) {
                char esc[16384];
                json_escape(esc, sizeof esc, msg);
                n = snprintf(line, sizeof line, "{\"time\":\"%s\",\"level\":\"%s\",\"scope\":\"%s\",\"msg\":\"%s\"}\n",
                             ts, level_names[level], L.applet, esc);
        } else
                n = snprintf(line, sizeof line, "%s\t%s\t%s\n", ts, level_names[level], msg);
        if (n > (int)sizeof line - 1)
                n = (int)sizeof line - 1;
        /* One write() per line so concurrent writers do not interleave inside a line. */
        (void)!write(fd, line, (size_t)n);
}

static void log_vmsg(enum log_level level, const char *suffix, const char *fmt, va_list ap) {
        char msg[8192], ts[64];
        struct timeval tv;
        struct tm tm;
        bool to_main = level >= L.level && L.level != LOG_LEVEL_NONE;
        bool to_tee = L.tee_fd >= 0 && level >= L.tee_min && L.tee_min != LOG_LEVEL_NONE;

        if (!to_main && !to_tee)
                return;
        vsnprintf(msg, sizeof msg, fmt, ap);
        if (suffix)
                strncat(msg, suffix, sizeof msg - strlen(msg) - 1);
        gettimeofday(&tv, NULL);
        gmtime_r(&tv.tv_sec, &tm);
        /* Not strftime(): glibc's calls tzset(), which reads /etc/localtime on every line. */
        snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)tv.tv_usec);
        if (to_main)
                emit(L.fd, L.json, level, ts, msg);
        if (to_tee)
                emit(L.tee_fd, true, level, ts, msg);
}

void log_msg(enum log_level level, const char *fmt, ...) {
        va_list ap;
        int saved = errno;
        va_start(ap, fmt);
        log_vmsg(level, NULL, fmt, ap);
        va_end(ap);
        errno = saved;
}

int log_errno_full(enum log_level level, int r, const char *fmt, ...) {
        char suffix[256];
        va_list ap;
        snprintf(suffix, sizeof suffix, ": %s", strerror(r < 0 ? -r : r));
        va_start(ap, fmt);
        log_vmsg(level, suffix, fmt, ap);
        va_end(ap);
        return r < 0 ? r : -r;
}
