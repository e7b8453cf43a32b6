/* SPDX-License-Identifier: Apache-2.0 */
/* logsink.h: the server side of the plugin's log socket: parse a POST /log body into entries.
 * Spec: istio-cni.md §2.14 (the plugin's UDS tee and what install-cni accepts), §4.1 step 5.
 *
 * A body is a JSON array of strings; each string is one JSON log line of the plugin, an object
 * with "time", "level", "msg", optional "scope" and any other keys (labels such as "pod", "if",
 * "caller", and the ADD summary's latency_*_ms numbers). As Istio's agent does, an entry is kept
 * only when it is a JSON object with a string "msg", a "level" of debug|info|warn|error and a
 * "time" that Go's time.Parse(time.RFC3339Nano) accepts; everything else is dropped and counted.
 * Keys are case-sensitive; a key given twice takes its last value (as Go's map decoding does).
 * An entry holding a non-finite number (1e999: Go cannot decode it either) or a raw control
 * character (which Go's decoder refuses and cJSON would let through) is dropped. Invalid UTF-8 in
 * keys and strings becomes U+FFFD, byte by byte, as in Go, so the entries re-emit as valid JSON.
 * A body of JSON null, or a null element, is no entry and no error (Go's []string decoding); a
 * string holding an escaped NUL (\u0000) is cut there (cJSON's strings are C strings).
 *
 * The HTTP framing (the socket, the 200 reply, serialising concurrent plugins' output under one
 * mutex) is the agent's: this module is pure, so it can be fuzzed and tested table-driven. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <cjson/cJSON.h>

/* The largest body logsink_parse takes (-EFBIG beyond). A plugin's ADD logs a few KiB; a
 * debug-level run stays far below this. The server should stop reading past it, too. */
#define LOGSINK_MAX_BODY (4U * 1024 * 1024)

struct logsink_entry {
        const char *time;       /* as sent, RFC 3339 */
        const char *level;      /* debug|info|warn|error */
        const char *msg;
        const char *scope;      /* may be NULL */
        const cJSON *labels;    /* object of the other keys, may be empty */
        struct timespec ts;     /* time, parsed: seconds since the epoch (UTC) and nanoseconds */
};

/* Called once per accepted entry, in body order. Everything in *e is valid only during the call. */
typedef void (*logsink_emit_fn)(const struct logsink_entry *e, void *userdata);

/* Parses a POST /log body (len bytes, need not be NUL-terminated). Returns 0 with the counts of
 * emitted and dropped entries (either ret_* may be NULL; a null element counts as dropped),
 * -EBADMSG if the body is not a JSON array of strings or null (nothing emitted), -EFBIG past LOGSINK_MAX_BODY, -ENOMEM. */
int logsink_parse(const char *body, size_t len, logsink_emit_fn emit, void *userdata,
                  size_t *ret_accepted, size_t *ret_dropped);

/* The plugin's ADD summary line carries numeric labels latency_setup_ms, latency_pod_lookup_ms,
 * latency_rules_ms, latency_total_ms (JSON numbers, ms). Returns true and fills ret (seconds; NAN
 * for a stage that is missing, not a number, negative or not finite) if any is present. */
struct logsink_latency {
        double setup, pod_lookup, rules, total;
};
bool logsink_latency(const struct logsink_entry *e, struct logsink_latency *ret);

/* Go's time.Parse(time.RFC3339Nano, s): YYYY-MM-DDTHH:MM:SS[(.|,)digits](Z|±hh:mm), date and
 * time fields range-checked (day against the month, leap years; second 00-59), the hour one or
 * two digits (Go's layout "15"), offsets up to ±24:60 as Go allows, fraction digits past the 9th
 * ignored. Returns 0 and the UTC instant, or -EINVAL. */
int logsink_parse_time(const char *s, struct timespec *ret);
