/* SPDX-License-Identifier: Apache-2.0 */
/* httpd.h: a small HTTP/1.1 server for the node agent's endpoints (pod cache socket, health,
 * metrics, log socket). Spec: istio-cni.md §4.10 (health and metrics ports), §2.14 (log socket);
 * RFC 9112 (message syntax).
 *
 * What it serves: one request per connection (every answer says "Connection: close"; the plugin's
 * client and Prometheus both handle that), a body only with Content-Length (a Transfer-Encoding is
 * refused with 501), a head of at most 8 KiB (431), a body of at most max_body (413). The whole
 * request must arrive, and the answer be taken, within io_timeout each. One thread per connection,
 * at most max_conns at once; past that the connection gets 503 at once from the accept thread.
 * accept() failing for lack of file descriptors (EMFILE, ENFILE) or memory backs off from 10 ms
 * to 1 s instead of spinning on the pending connection.
 *
 * The path is given as sent, without percent-decoding: handlers match it literally and validate
 * what they take from it.
 *
 * Threads: handlers run concurrently, each in its connection's thread; they must return within
 * bounded time (httpd_stop waits for them). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct httpd_request {
        const char *method;
        const char *path;       /* no query */
        const char *query;      /* NULL if none */
        const char *body;
        size_t body_len;
        bool peer_known;        /* Unix sockets: SO_PEERCRED */
        uid_t peer_uid;
        /* Added for handlers that do slow work (the pod cache's live GET): */
        int conn_fd;            /* the connection, -1 when not served from a socket (tests) */
        uint64_t received_usec; /* now_usec() when the request was complete */
};

struct httpd_response {
        int status;
        const char *content_type;       /* NULL => text/plain */
        char *body;                     /* malloc'ed by the handler, freed by httpd */
        size_t body_len;
};

typedef void (*httpd_handler)(const struct httpd_request *req, struct httpd_response *resp, void *userdata);

struct httpd_options {
        unsigned max_conns;             /* 0 => 256; past it: 503 */
        size_t max_body;                /* 0 => 1 MiB; past: 413 */
        uint64_t io_timeout_usec;       /* 0 => 5 s */
        bool same_uid_only;             /* unix: SO_PEERCRED must match our euid, else 403 */
};

#define HTTPD_HEAD_MAX 8192

/* A listening TCP socket (SO_REUSEADDR, backlog 512). addr NULL or "" => all addresses (IPv6
 * dual-stack, falling back to IPv4 where IPv6 is off); else an IP literal (no name lookup). */
int httpd_listen_tcp(const char *addr, uint16_t port, int *ret_fd);

/* A listening Unix stream socket at path. Before binding, connect()s: if a live server answers,
 * refuses with -EADDRINUSE (never steals a live socket); a stale socket file is replaced; any
 * other kind of file is refused with -EEXIST. The check, the unlink and the bind are serialised
 * with flock(2) on the parent directory, so two agents starting at once cannot both win.
 * mkdir -p the parent (0750) is the caller's job. chmod(mode) after bind. */
int httpd_listen_unix(const char *path, mode_t mode, int *ret_fd);

/* Unlinks path only if it is still the inode that listen_fd (from httpd_listen_unix) bound, so a
 * successor's socket survives. Call it while the fd is still open, i.e. before httpd_stop():
 * while we listen, no successor can have replaced the file (httpd_listen_unix refuses a live
 * socket), so the inode check is exact. Returns 1 when unlinked, 0 when the path is absent or is
 * someone else's, -EBADF when listen_fd is not a socket httpd_listen_unix made. */
int httpd_unlink_unix(const char *path, int listen_fd);

struct httpd;

/* Serves on listen_fd in a thread of its own (one thread per connection, bounded); takes
 * ownership of listen_fd (closed on failure too). o may be NULL (the defaults). */
int httpd_start(int listen_fd, const struct httpd_options *o, httpd_handler h, void *userdata, struct httpd **ret);

/* Stops accepting, waits for (or cuts, after io_timeout) the connections, joins every thread,
 * closes the fd. NULL ok; returns NULL. */
struct httpd *httpd_stop(struct httpd *s);

/* True when the peer of req has closed its end (it stopped waiting for the answer), so a
 * handler can drop work nobody waits for any more. False when unknown (conn_fd < 0). */
bool httpd_request_abandoned(const struct httpd_request *req);

/* ---- the parts below are exposed for the tests, the fuzzer and podcache_handle_request ---- */

/* One parsed request. req's strings point into storage (owned). */
struct httpd_parsed {
        struct httpd_request req;
        char *storage;
        int error_status;       /* on a parse error: the status to answer (400, 413, 431, 501, 505) */
        const char *error;      /* and why (static text) */
};

/* Parses buf[0..len) as one request (head and body). Returns 1 when the request is complete, 0
 * when more bytes are needed, -EBADMSG on a malformed or refused request
 * (ret->error_status, ret->error say which answer to give), -ENOMEM. max_body 0 => 1 MiB.
 * Accepts CRLF or bare LF line ends, HTTP/1.0 and HTTP/1.1. On success ret->req has peer_known
 * false and conn_fd -1; free it with httpd_parsed_done(). */
int httpd_parse_request(const char *buf, size_t len, size_t max_body, struct httpd_parsed *ret);
void httpd_parsed_done(struct httpd_parsed *p);

/* The wire form of resp: status line, Content-Type, exact Content-Length, Connection: close,
 * body. Returns 0 and a malloc'ed buffer (NUL-terminated, not counted in *ret_len), or -ENOMEM. */
int httpd_format_response(const struct httpd_response *resp, char **ret, size_t *ret_len);

/* The reason phrase of a status ("OK", "Not Found", …; "Unknown" for others). */
const char *httpd_reason(int status);

/* Helpers for handlers: set resp to status with a copy of text (content_type NULL =>
 * text/plain). Return 0 or -ENOMEM (resp then has status 500 and no body). */
int httpd_respond(struct httpd_response *resp, int status, const char *content_type, const char *text);
