/* SPDX-License-Identifier: Apache-2.0 */
/* logsink.h: the server side of the plugin's log socket (spec istio-cni.md §2.14). The plugin
 * POSTs one JSON array of strings per process, each string one JSON log line; the agent keeps
 * the lines that have msg, a known level and an RFC 3339 time, and re-emits them under its
 * cni-plugin scope with the other keys as labels. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

struct logsink_entry {
        const char *time;
        const char *level;      /* debug, info, warn or error */
        const char *msg;
        const char *scope;      /* NULL when absent */
        const cJSON *labels;    /* an object of the other keys (may be empty) */
};
typedef void (*logsink_emit_fn)(const struct logsink_entry *e, void *userdata);

/* Parses a POST /log body. Entries without msg, level or an RFC 3339 time, or with another level,
 * are dropped and counted. Returns 0, or -EBADMSG when the body is not an array of strings (then
 * nothing is emitted). */
int logsink_parse(const char *body, size_t len, logsink_emit_fn emit, void *userdata, size_t *ret_accepted,
                  size_t *ret_dropped);

/* The plugin's ADD summary line carries latency_setup_ms, latency_pod_lookup_ms,
 * latency_rules_ms and latency_total_ms (JSON numbers). True when any is present; ret in seconds,
 * NAN for a missing or non-finite one. */
struct logsink_latency {
        double setup, pod_lookup, rules, total;
};
bool logsink_latency(const struct logsink_entry *e, struct logsink_latency *ret);

/* Go's time.Parse(time.RFC3339Nano, s) acceptance: exposed for tests. */
bool logsink_time_valid(const char *s);
