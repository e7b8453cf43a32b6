/* SPDX-License-Identifier: Apache-2.0 */
/* log.h: the one logging layer. Applets log; lib/ only logs at debug level through log_debug().
 * Istio's format is "<RFC3339 time>\t<level>\t<msg>"; operators grep the message text.
 * JSON lines (spec istio-cni.md §2.14): keys time, level, msg, scope, then the line's labels. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include "base/macro.h"

enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR, LOG_LEVEL_NONE };

/* Where log lines go. istio-iptables logs to stdout like Istio; the CNI plugin must keep stdout
 * for protocol output and logs to stderr. */
void log_setup(const char *applet, int fd, enum log_level level, bool json);
/* A second sink: every line at or above min is also written to fd as a JSON line (the CNI
 * plugin's rolling file, spec istio-cni.md §2.14). fd < 0 turns it off. The fd stays the caller's. */
void log_set_tee(int fd, enum log_level min);
/* A third sink, in memory (the plugin's log socket, §2.14: one POST at process end): every line
 * at or above min is kept as a JSON line, up to LOG_MEMORY_MAX bytes (later lines are
 * dropped). on=false turns it off and frees what was kept. Single-threaded use only. */
#define LOG_MEMORY_MAX (1u << 20)
void log_set_memory(bool on, enum log_level min);
/* The kept lines as a JSON array of strings, each one complete JSON log line, malloc'ed (with
 * *ret_len), and the buffer emptied. Returns 0, -ENODATA when nothing was kept, or -ENOMEM. */
int log_memory_take_json(char **ret, size_t *ret_len);

int log_parse_level(const char *spec, enum log_level *ret);
enum log_level log_get_level(void);

/* One label of one line: a string (str non-NULL) or a number (num, printed with 3 decimals). In
 * JSON lines each becomes a key after scope; in text lines "\tkey=value key=value". */
struct log_field {
        const char *key;
        const char *str;
        double num;
};
#define LOG_FIELD_STR(k, v) ((struct log_field){ .key = (k), .str = (v) })
#define LOG_FIELD_NUM(k, v) ((struct log_field){ .key = (k), .num = (v) })

void log_msg(enum log_level level, const char *fmt, ...) _printf_(2, 3);

/* The log hook lib/ modules take from their caller (they never print): a formatted line. */
typedef void (*log_callback_fn)(void *userdata, int level, const char *msg);
/* Formats into a 2 KiB line and hands it to fn (nothing when fn is NULL). */
void log_callback(log_callback_fn fn, void *userdata, int level, const char *fmt, ...) _printf_(4, 5);
/* log_msg() with n labels attached to this line only. */
void log_msg_fields(enum log_level level, const struct log_field *fields, size_t n, const char *fmt, ...)
        _printf_(4, 5);
/* Logs "msg: strerror(-r)" at error level and returns r (which must be negative). */
int log_errno_full(enum log_level level, int r, const char *fmt, ...) _printf_(3, 4);

#define log_debug(...) do { if (log_get_level() <= LOG_LEVEL_DEBUG) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__); } while (0)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_errno(r, ...) log_errno_full(LOG_LEVEL_ERROR, (r), __VA_ARGS__)
#define log_warn_errno(r, ...) log_errno_full(LOG_LEVEL_WARN, (r), __VA_ARGS__)
