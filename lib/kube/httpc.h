/* SPDX-License-Identifier: Apache-2.0 */
/* httpc.h: a small HTTP/1.1 client over TLS (OpenSSL's libssl, dlopen()ed) for lib/kube/k8s.c.
 * Spec: istio-cni.md §2.5 (API requests: TLS verification, timeouts, no DNS for IP servers);
 * RFC 9112 (HTTP/1.1 message syntax, chunked transfer coding), RFC 6125 (host-name checks),
 * RFC 6066 §3 (SNI: DNS names only).
 *
 * Why not libcurl: Debian's libcurl drags ~36 shared objects in and costs ≈6 ms at every start of
 * the CNI plugin (the ADD latency budget is 10 ms); libssl + libcrypto cost ≈1.5 ms. libssl is
 * loaded with dlopen("libssl.so.3") on first use, so istio-iptables never pays for it.
 *
 * What it does: one connection per client, kept alive between requests (a stale kept-alive
 * connection is reopened once when the server closed it before answering); non-blocking sockets
 * and poll() against a deadline for every step (name resolution, connect, handshake, write,
 * read); IP-literal servers never reach the resolver (AI_NUMERICHOST first), host names are
 * resolved on a detached thread that the caller abandons at the connect deadline ("resolving
 * '<name>' timed out", -ETIMEDOUT); responses with Content-Length,
 * chunked, or read-until-close bodies; bounded header size. Optional proxy: an http:// proxy
 * through which a CONNECT tunnel is opened (for https and http servers alike).
 *
 * Errors: -ETIMEDOUT (deadline), -ECONNREFUSED (cannot connect or resolve), -EPERM (unix socket
 * served by another uid), -ECONNRESET (closed or
 * reset before a complete answer), -EKEYREJECTED (server certificate failed verification),
 * -EPROTO (other TLS failure, malformed HTTP), -EFBIG (headers too large), -EINVAL (bad URL or
 * arguments), -ELIBACC (libssl.so.3 missing), -ENOMEM, or what the body callback returned.
 * err (when non-NULL) gets a one-line description without the URL (the caller adds it). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct httpc;

struct httpc_config {
        const char *server;             /* "https://host[:port][/prefix]" or "http://…" */
        const char *tls_server_name;    /* SNI and verification name; NULL → the URL's host */
        bool insecure_skip_verify;
        /* Trust: ca_data (PEM, possibly several certificates) else ca_file, else the system store. */
        const void *ca_data;
        size_t ca_len;
        const char *ca_file;
        /* Client certificate (PEM; the data may carry a chain) and key, from memory or a file. */
        const void *cert_data;
        size_t cert_len;
        const char *cert_file;
        const void *key_data;
        size_t key_len;
        const char *key_file;
        const char *proxy;              /* "http://host:port" or NULL (direct) */
        /* Connect to this AF_UNIX stream socket instead of the URL's host:port (http:// only, no
         * proxy); the peer must run as our effective uid (SO_PEERCRED), else -EPERM. */
        const char *unix_socket;
};

/* Parses the URL, loads libssl and builds the TLS context (CA, client certificate). No network
 * traffic. The config is copied. */
int httpc_new(const struct httpc_config *cfg, struct httpc **ret, char *err, size_t errsz);
/* The one call that is safe from another thread: makes the request under way (its connection is
 * shut down; a connect or TLS handshake under way ends at its own deadline) and every later one
 * fail with -ECANCELED. For stopping a long watch stream. Accepts NULL. */
void httpc_interrupt(struct httpc *h);
/* Closes the connection and frees. Accepts NULL; returns NULL. */
struct httpc *httpc_free(struct httpc *h);

/* Response body sink: status is the final HTTP status; data/len a piece of the decoded body
 * (chunked framing removed). Return 0 to go on, > 0 to stop reading (the request then returns 0
 * and the connection is closed), < 0 to abort (returned by httpc_request). Called once with
 * len 0 when the headers are complete, so a caller learns the status before any body byte. */
typedef int (*httpc_data_cb)(void *userdata, int status, const char *data, size_t len);

struct httpc_request {
        const char *method;             /* "GET", "PATCH", … */
        const char *path;               /* appended to the server URL's prefix; starts with '/' */
        const char *const *headers;     /* NULL-terminated "Name: value" lines, or NULL */
        const char *body;               /* may be NULL */
        size_t body_len;
        uint64_t timeout_usec;          /* whole request including connect; required */
        uint64_t connect_timeout_usec;  /* TCP + TLS handshake (+ proxy CONNECT); 0 → timeout */
};

/* One request/response exchange. *ret_status gets the final status (0 when none arrived; set
 * even when the body was cut short). */
int httpc_request(struct httpc *h, const struct httpc_request *rq, httpc_data_cb cb, void *userdata,
                  int *ret_status, char *err, size_t errsz);

/* A growing, always NUL-terminated body buffer for httpc_data_cb implementations. Start it
 * zeroed with max set; free buf when done. */
struct httpc_body {
        char *buf;
        size_t len, cap;
        size_t max;             /* refuse to grow beyond this many bytes */
        bool too_big;           /* set once an append was refused for max */
};
/* Appends n bytes: 0, -EFBIG (past max; too_big set) or -ENOMEM. */
int httpc_body_append(struct httpc_body *b, const char *p, size_t n);
/* An httpc_data_cb that appends everything to the struct httpc_body in userdata. */
int httpc_body_cb(void *userdata, int status, const char *data, size_t len);

/* ---- response parser (exposed for tests/unit/test_httpc.c) ---- */

#define HTTPC_MAX_LINE 8192             /* status line, one header line, one chunk-size line */
#define HTTPC_MAX_HEADERS (64 * 1024)   /* whole header block */

enum httpc_parse_state {
        HTTPC_PS_STATUS, HTTPC_PS_HEADER, HTTPC_PS_BODY_LEN, HTTPC_PS_BODY_CLOSE, HTTPC_PS_CHUNK_SIZE,
        HTTPC_PS_CHUNK_DATA, HTTPC_PS_CHUNK_CRLF, HTTPC_PS_TRAILER, HTTPC_PS_DONE,
};

/* Fields are private to httpc.c except status, keep_alive and state (read-only). */
struct httpc_parser {
        enum httpc_parse_state state;
        int status;
        bool keep_alive;        /* the connection may be reused after this message */
        bool no_body;           /* response to HEAD */
        bool chunked, have_len, http10, conn_close, conn_keepalive;
        uint64_t remaining;     /* body or chunk bytes left */
        size_t header_bytes;
        size_t linelen;
        char line[HTTPC_MAX_LINE];
};

void httpc_parser_init(struct httpc_parser *p, bool head_request);
/* Consumes bytes of one response; stops at its end (p->state == HTTPC_PS_DONE). Returns the
 * number of bytes consumed, -EPROTO for malformed input, -EFBIG for an oversized line or header
 * block, or the callback's negative value. A callback's positive value stops parsing: the
 * return is then the bytes consumed and p->state is left unchanged. */
ssize_t httpc_parser_feed(struct httpc_parser *p, const char *data, size_t len, httpc_data_cb cb,
                          void *userdata, int *ret_stop);
/* At end of stream: 0 if the message is complete (or its body was delimited by the close),
 * -ECONNRESET otherwise. */
int httpc_parser_eof(struct httpc_parser *p);
