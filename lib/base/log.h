/* SPDX-License-Identifier: Apache-2.0 */
/* log.h: the one logging layer. Applets log; lib/ only logs at debug level through log_debug().
 * Istio's format is "<RFC3339 time>\t<level>\t<msg>"; operators grep the message text. */
#pragma once

#include <stdbool.h>
#include "base/macro.h"

enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR, LOG_LEVEL_NONE };

/* Where log lines go. istio-iptables logs to stdout like Istio; the CNI plugin must keep stdout
 * for protocol output and logs to stderr. */
void log_setup(const char *applet, int fd, enum log_level level, bool json);
/* A second sink: every line at or above min is also written to fd as a JSON line (the CNI
 * plugin's rolling file, spec istio-cni.md §2.14). fd < 0 turns it off. The fd stays the caller's. */
void log_set_tee(int fd, enum log_level min);
int log_parse_level(const char *spec, enum log_level *ret);
enum log_level log_get_level(void);

void log_msg(enum log_level level, const char *fmt, ...) _printf_(2, 3);
/* Logs "msg: strerror(-r)" at error level and returns r (which must be negative). */
int log_errno_full(enum log_level level, int r, const char *fmt, ...) _printf_(3, 4);

#define log_debug(...) do { if (log_get_level() <= LOG_LEVEL_DEBUG) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__); } while (0)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_errno(r, ...) log_errno_full(LOG_LEVEL_ERROR, (r), __VA_ARGS__)
#define log_warn_errno(r, ...) log_errno_full(LOG_LEVEL_WARN, (r), __VA_ARGS__)
