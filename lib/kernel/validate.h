/* SPDX-License-Identifier: Apache-2.0 */
/* validate.h: the redirect probe behind --run-validation / istio-validation: proves that the
 * capture rules send loopback traffic of the proxy uid to the inbound listener, and says why not.
 * Spec: istio-iptables.md §6 (behaviour), §0.1 (invocation), §10 items 28–30. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define VALIDATE_TERMINATION_LOG_DEFAULT "/dev/termination-log"

/* Values are stable (appended only): the kebab-case strings are the operator-facing contract. */
enum validate_reason {
        VALIDATE_OK,
        VALIDATE_NO_REDIRECT,           /* the probe reached 127.0.0.6:probe itself: nothing redirected it */
        VALIDATE_WRONG_PORT,            /* redirected, but not to our listeners (refused or taken elsewhere) */
        VALIDATE_ORIGINAL_DST_MISMATCH, /* a listener got it but SO_ORIGINAL_DST is not probe addr:port */
        VALIDATE_BIND_FAILED,           /* a listener could not bind (port in use / address missing) */
        VALIDATE_EXEMPT_UID,            /* not redirected because this uid is one the rules let through */
        VALIDATE_TIMEOUT,               /* nothing conclusive within the deadline (connects hung) */
        VALIDATE_INTERNAL,              /* socket()/poll()/etc failed */
        VALIDATE_NO_PROBE_ADDRESS,      /* ::6 is not assigned to lo (IPv6 only) */
        _VALIDATE_REASON_MAX,
};

struct validate_opts {
        uint16_t outbound_port; /* --envoy-port, default 15001 */
        uint16_t inbound_port;  /* --inbound-capture-port, default 15006 */
        uint16_t probe_port;    /* --iptables-probe-port, default 15002 */
        uint64_t timeout_usec;  /* --probe-timeout, default 5 s */
        bool ipv6;              /* probe over ::1 / ::6 instead of 127.0.0.1 / 127.0.0.6 */
        uint32_t proxy_uid;     /* the uid whose loopback traffic the rules redirect (default 1337) */
        bool proxy_uid_known;   /* default true; if false only euid 0 is called exempt */
};

struct validate_result {
        enum validate_reason reason;
        char detail[512];      /* one line: names the addresses, ports and uids involved */
        uint64_t elapsed_usec;
        unsigned attempts;     /* client connects started */
};

/* Fills Istio's defaults (15001, 15006, 15002, 5 s, IPv4, proxy uid 1337). */
void validate_opts_init(struct validate_opts *ret);

/* Runs the probe; never prints, never exits. Returns 0 on success (ret->reason == VALIDATE_OK),
 * a negative errno-style value on failure (-ETIMEDOUT, -EADDRINUSE, ...); ret is always filled. */
int validate_run(const struct validate_opts *o, struct validate_result *ret);

/* Stable kebab-case code ("ok", "no-redirect", ...); "unknown" for out-of-range values. */
const char *validate_reason_to_string(enum validate_reason r);
/* Inverse of the above; -EINVAL if s names no reason. */
int validate_reason_from_string(const char *s, enum validate_reason *ret);

/* Writes "reason: detail\n" (one line, truncated to 4096 bytes, the kubelet's limit) to path,
 * e.g. /dev/termination-log, so `kubectl describe pod` and the repair controller can see it. */
int validate_write_termination_message(const char *path, const struct validate_result *r);
