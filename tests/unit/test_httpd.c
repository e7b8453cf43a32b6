/* SPDX-License-Identifier: Apache-2.0 */
/* test_httpd.c: the node agent's HTTP/1.1 server (lib/agent/httpd.c; RFC 9112, spec istio-cni.md
 * §4.10): the request parser (table), the response format, Unix and TCP listeners (a live socket
 * is never stolen, only our own inode is unlinked), and real servers: round trips, limits (503,
 * 413, 408, 403), stop with answers in flight, abandoned requests, and accept() under EMFILE
 * without spinning. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/macro.h"
#include "agent/httpd.h"

static char tmpdir[] = "/tmp/cnibox-httpd-XXXXXX";

static void path_in(char *buf, size_t sz, const char *name) {
        snprintf(buf, sz, "%s/%s", tmpdir, name);
}

/* ---- parser ---- */

#define NULBODY "POST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\na\0c"

struct pcase {
        const char *in;
        size_t len;             /* 0: strlen(in) */
        int ret;                /* 1, 0 or -EBADMSG */
        int status;             /* for -EBADMSG */
        const char *method, *path, *query, *body;
};

static const struct pcase pcases[] = {
        { "GET / HTTP/1.1\r\n\r\n", 0, 1, 0, "GET", "/", NULL, "" },
        { "GET /a/b?x=1&y HTTP/1.1\r\nHost: h\r\n\r\n", 0, 1, 0, "GET", "/a/b", "x=1&y", "" },
        { "GET /a? HTTP/1.0\n\n", 0, 1, 0, "GET", "/a", "", "" },
        { "\r\nGET /lead HTTP/1.1\r\n\r\n", 0, 1, 0, "GET", "/lead", NULL, "" },
        { "POST /log HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", 0, 1, 0, "POST", "/log", NULL, "hello" },
        { "POST /log HTTP/1.1\r\ncontent-length:  3 \r\n\r\nabcEXTRA", 0, 1, 0, "POST", "/log", NULL, "abc" },
        { NULBODY, sizeof NULBODY - 1, 1, 0, "POST", "/b", NULL, NULL }, /* NUL in a body is fine */
        { "get /x HTTP/1.1\r\n\r\n", 0, 1, 0, "get", "/x", NULL, "" },
        { "GET /%2F HTTP/1.1\r\n\r\n", 0, 1, 0, "GET", "/%2F", NULL, "" },   /* not decoded */
        /* incomplete */
        { "", 0, 0, 0, NULL, NULL, NULL, NULL },
        { "GET / HTTP/1.1", 0, 0, 0, NULL, NULL, NULL, NULL },
        { "GET / HTTP/1.1\r\nHost: x\r\n", 0, 0, 0, NULL, NULL, NULL, NULL },
        { "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nshort", 0, 0, 0, NULL, NULL, NULL, NULL },
        /* refused */
        { "GET / HTTP/2.0\r\n\r\n", 0, -EBADMSG, 505, NULL, NULL, NULL, NULL },
        { "GET / HTTP/1.2\r\n\r\n", 0, -EBADMSG, 505, NULL, NULL, NULL, NULL },
        { "GET / HTTP/1.11\r\n\r\n", 0, -EBADMSG, 400, NULL, NULL, NULL, NULL },
        { "GET / http/1.1\r\n\r\n", 0, -EBADMSG, 400, NULL, NULL, NULL, NULL },
        { "GET / HTTP/1.\r\n\r\n", 0, -EBADMSG, 400, NULL, NULL, NULL, NULL },
        { "GET /\r\n\r\n", 0, -EBADMSG, 400, NULL, NULL, NULL, NULL },
        { "GET  / HTTP/1.1\r\n\r\n", 0, -EBADMSG, 400, NULL, NULL, NULL, NULL },
        { "GET / x HTTP/1.1\r\n\r\n", 0, -EBADMSG, 400, NULL, NULL, NULL, NULL },
        { " GET / HTTP/1.1\r\n\r\n", 0, -EBADMSG, 400, NULL, NULL, NULL, NULL },
        { "GET x HTTP/1.1\r\n\r\n", 0, -EBADMSG, 400, NULL, NULL, NULL, NULL },
        { "GET http://h/ HTTP/1.1\r\n\r\n", 0, -EBADMSG, 400, NULL, NULL, NULL, NULL },
        { "G(T / HTTP/1.1\r\n\r\n", 0, -EBADMSG, 400, NULL, NULL, NULL, NULL },
        { "AVERYLONGMETHODNAME / HTTP/1.1\r\n\r\n", 0, -EBADMSG, 400, NULL, NULL, NULL, NULL },
        { "GET /\x7f HTTP/1.1\r\n\r\n", 0, -EBADMSG, 400, NULL, NULL, NULL, NULL },
        { "GET / HTTP/1.1\r\nNoColon\r\n\r\n", 0, -EBADMSG, 400, NULL, NULL, NULL, NULL },
        { "GET / HTTP/1.1\r\n: v\r\n\r\n", 0, -EBADMSG, 400, NULL, NULL, NULL, NULL },
        { "GET / HTTP/1.1\r\nBad Name: v\r\n\r\n", 0, -EBADMSG, 400, NULL, NULL, NULL, NULL },
        { "GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", 0, -EBADMSG, 400, NULL, NULL, NULL, NULL },
        { "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 0, -EBADMSG, 400, NULL, NULL, NULL, NULL },
        { "POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", 0, -EBADMSG, 400, NULL, NULL, NULL, NULL },
        { "POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", 0, -EBADMSG, 400, NULL, NULL, NULL, NULL },
        { "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", 0, -EBADMSG, 400, NULL, NULL, NULL, NULL },
        { "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 0, -EBADMSG, 400, NULL, NULL, NULL, NULL },
        { "POST / HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n", 0, -EBADMSG, 413, NULL, NULL, NULL, NULL },
        { "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 0, -EBADMSG, 501, NULL, NULL, NULL, NULL },
};

START_TEST(test_parse_table) {
        const struct pcase *c = &pcases[_i];
        size_t len = c->len ? c->len : strlen(c->in);
        /* an exact-size copy, so that ASan sees a read past len */
        char *copy = malloc(len ? len : 1);
        memcpy(copy, c->in, len);
        struct httpd_parsed p;
        int r = httpd_parse_request(copy, len, 0, &p);
        ck_assert_msg(r == c->ret, "case %d '%s': %d, want %d (%s)", _i, c->in, r, c->ret, p.error ? p.error : "");
        if (r == 1) {
                ck_assert_str_eq(p.req.method, c->method);
                ck_assert_str_eq(p.req.path, c->path);
                if (c->query)
                        ck_assert_str_eq(p.req.query, c->query);
                else
                        ck_assert_ptr_null(p.req.query);
                if (c->body) {
                        ck_assert_uint_eq(p.req.body_len, strlen(c->body));
                        ck_assert_str_eq(p.req.body, c->body);
                } else
                        ck_assert_int_eq(memcmp(p.req.body, "a\0c", 3), 0);
                ck_assert_int_eq(p.req.conn_fd, -1);
                ck_assert(!p.req.peer_known);
        } else if (r < 0) {
                ck_assert_int_eq(p.error_status, c->status);
                ck_assert_ptr_nonnull(p.error);
                ck_assert_ptr_null(p.storage);
        }
        httpd_parsed_done(&p);
        free(copy);
}
END_TEST

START_TEST(test_parse_limits) {
        struct httpd_parsed p;
        /* a head that never ends: 0 until HTTPD_HEAD_MAX bytes, then 431 */
        char *big = malloc(HTTPD_HEAD_MAX + 100);
        memset(big, 'a', HTTPD_HEAD_MAX + 100);
        memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
        ck_assert_int_eq(httpd_parse_request(big, HTTPD_HEAD_MAX - 1, 0, &p), 0);
        ck_assert_int_eq(httpd_parse_request(big, HTTPD_HEAD_MAX + 100, 0, &p), -EBADMSG);
        ck_assert_int_eq(p.error_status, 431);
        /* a NUL in the head */
        ck_assert_int_eq(httpd_parse_request("GET /\0 HTTP/1.1\r\n\r\n", 19, 0, &p), -EBADMSG);
        ck_assert_int_eq(p.error_status, 400);
        ck_assert_int_eq(httpd_parse_request("GET / HTTP/1.1\r\nA: \0\r\n\r\n", 23, 0, &p), -EBADMSG);
        /* max_body is the caller's */
        ck_assert_int_eq(httpd_parse_request("POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\nhello world", 51, 10, &p), -EBADMSG);
        ck_assert_int_eq(p.error_status, 413);
        ck_assert_int_eq(httpd_parse_request("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nhello worl", 50, 10, &p), 1);
        ck_assert_uint_eq(p.req.body_len, 10);
        httpd_parsed_done(&p);
        httpd_parsed_done(&p); /* twice is fine */
        free(big);
}
END_TEST

START_TEST(test_format) {
        char *out = NULL;
        size_t n = 0;
        struct httpd_response r = { .status = 404, .body = "nope", .body_len = 4 };
        ck_assert_int_eq(httpd_format_response(&r, &out, &n), 0);
        ck_assert_str_eq(out, "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 4\r\n"
                              "Connection: close\r\n\r\nnope");
        ck_assert_uint_eq(n, strlen(out));
        free(out);
        r = (struct httpd_response){ .status = 200, .content_type = "application/json" };
        ck_assert_int_eq(httpd_format_response(&r, &out, &n), 0);
        ck_assert_str_eq(out, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 0\r\n"
                              "Connection: close\r\n\r\n");
        free(out);
        /* a status out of range becomes 500; a content type with a line break is not sent */
        r = (struct httpd_response){ .status = 42, .content_type = "x\r\nSet-Cookie: a" };
        ck_assert_int_eq(httpd_format_response(&r, &out, &n), 0);
        ck_assert_msg(strncmp(out, "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain", 60) == 0, "%s", out);
        ck_assert_ptr_null(strstr(out, "Set-Cookie"));
        free(out);
        ck_assert_str_eq(httpd_reason(431), "Request Header Fields Too Large");
        ck_assert_str_eq(httpd_reason(299), "Unknown");
        struct httpd_response h = {};
        ck_assert_int_eq(httpd_respond(&h, 503, NULL, "busy"), 0);
        ck_assert_int_eq(h.status, 503);
        ck_assert_uint_eq(h.body_len, 4);
        ck_assert_int_eq(httpd_respond(&h, 200, "application/json", "{}"), 0); /* replaces, frees the first */
        ck_assert_str_eq(h.body, "{}");
        free(h.body);
}
END_TEST

/* ---- listeners ---- */

START_TEST(test_listen_unix) {
        char path[256], file[256];
        struct stat st;
        int fd = -1, fd2 = -1;

        path_in(path, sizeof path, "l.sock");
        ck_assert_int_eq(httpd_listen_unix(path, 0600, &fd), 0);
        ck_assert_int_eq(lstat(path, &st), 0);
        ck_assert(S_ISSOCK(st.st_mode));
        ck_assert_uint_eq(st.st_mode & 07777, 0600);
        ck_assert_int_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
        /* live: refused, and the socket file is still the first one's */
        ck_assert_int_eq(httpd_listen_unix(path, 0600, &fd2), -EADDRINUSE);
        struct stat st2;
        ck_assert_int_eq(lstat(path, &st2), 0);
        ck_assert_uint_eq(st2.st_ino, st.st_ino);
        /* stale (closed): replaced, with the new mode */
        close(fd);
        ck_assert_int_eq(httpd_listen_unix(path, 0660, &fd), 0);
        ck_assert_int_eq(lstat(path, &st2), 0);
        ck_assert_uint_eq(st2.st_mode & 07777, 0660);
        /* our inode: unlinked */
        ck_assert_int_eq(httpd_unlink_unix(path, fd), 1);
        ck_assert_int_eq(lstat(path, &st2), -1);
        ck_assert_int_eq(httpd_unlink_unix(path, fd), -EBADF); /* forgotten after the unlink */
        close(fd);

        /* someone else's socket at our path: left alone */
        ck_assert_int_eq(httpd_listen_unix(path, 0600, &fd), 0);
        ck_assert_int_eq(unlink(path), 0); /* e.g. removed by hand, then a successor started */
        ck_assert_int_eq(httpd_listen_unix(path, 0600, &fd2), 0);
        ck_assert_int_eq(httpd_unlink_unix(path, fd), 0);
        ck_assert_int_eq(lstat(path, &st2), 0);
        ck_assert_int_eq(httpd_unlink_unix(path, fd2), 1);
        close(fd);
        close(fd2);
        /* not a listener of ours */
        ck_assert_int_eq(httpd_unlink_unix(path, 0), -EBADF);
        ck_assert_int_eq(httpd_unlink_unix(path, 9999), -EBADF);

        /* never another kind of file */
        path_in(file, sizeof file, "regular");
        FILE *f = fopen(file, "we");
        fputs("keep", f);
        fclose(f);
        ck_assert_int_eq(httpd_listen_unix(file, 0600, &fd), -EEXIST);
        ck_assert_int_eq(lstat(file, &st), 0);
        ck_assert_int_eq((int)st.st_size, 4);
        path_in(file, sizeof file, "dir");
        ck_assert_int_eq(mkdir(file, 0700), 0);
        ck_assert_int_eq(httpd_listen_unix(file, 0600, &fd), -EEXIST);
        char lnk[256];
        path_in(lnk, sizeof lnk, "link");
        ck_assert_int_eq(symlink(path, lnk), 0);
        ck_assert_int_eq(httpd_listen_unix(lnk, 0600, &fd), -EEXIST);
        char longp[200];
        memset(longp, 'x', sizeof longp - 1);
        longp[0] = '/';
        longp[sizeof longp - 1] = 0;
        ck_assert_int_eq(httpd_listen_unix(longp, 0600, &fd), -ENAMETOOLONG);
        path_in(file, sizeof file, "nodir/x.sock");
        ck_assert_int_eq(httpd_listen_unix(file, 0600, &fd), -ENOENT);
        ck_assert_int_eq(httpd_listen_unix("", 0600, &fd), -EINVAL);
}
END_TEST

START_TEST(test_listen_tcp) {
        int fd = -1, fd2 = -1;
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;

        ck_assert_int_eq(httpd_listen_tcp("127.0.0.1", 0, &fd), 0);
        ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&ss, &sl), 0);
        ck_assert_int_eq(ss.ss_family, AF_INET);
        uint16_t port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        ck_assert_int_eq(httpd_listen_tcp("127.0.0.1", port, &fd2), -EADDRINUSE);
        close(fd);
        ck_assert_int_eq(httpd_listen_tcp(NULL, 0, &fd), 0);
        sl = sizeof ss;
        ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&ss, &sl), 0);
        ck_assert(ss.ss_family == AF_INET6 || ss.ss_family == AF_INET);
        close(fd);
        ck_assert_int_eq(httpd_listen_tcp("", 0, &fd), 0);
        close(fd);
        if (httpd_listen_tcp("::1", 0, &fd) == 0)
                close(fd);
        ck_assert_int_eq(httpd_listen_tcp("localhost", 0, &fd), -EINVAL); /* no name lookups */
        ck_assert_int_eq(httpd_listen_tcp("1.2.3", 0, &fd), -EINVAL);
}
END_TEST

/* ---- servers ---- */

struct hstate {
        pthread_mutex_t lock;
        unsigned calls;
        int sleep_ms;           /* the handler's work */
        bool wait_abandon;      /* wait (≤ 3 s) until the peer is gone, then record it */
        bool saw_abandoned;
};

static void handler(const struct httpd_request *req, struct httpd_response *resp, void *userdata) {
        struct hstate *h = userdata;
        char buf[2048];

        pthread_mutex_lock(&h->lock);
        h->calls++;
        pthread_mutex_unlock(&h->lock);
        if (h->sleep_ms)
                nanosleep(&(struct timespec){ .tv_sec = h->sleep_ms / 1000, .tv_nsec = (h->sleep_ms % 1000) * 1000000L },
                          NULL);
        if (h->wait_abandon) {
                for (int i = 0; i < 300 && !httpd_request_abandoned(req); i++)
                        nanosleep(&(struct timespec){ .tv_nsec = 10000000 }, NULL);
                pthread_mutex_lock(&h->lock);
                h->saw_abandoned = httpd_request_abandoned(req);
                pthread_mutex_unlock(&h->lock);
        }
        snprintf(buf, sizeof buf, "%s %s q=%s len=%zu peer=%d:%d body=%.*s", req->method, req->path,
                 req->query ? req->query : "(none)", req->body_len, req->peer_known, req->peer_known ? (int)req->peer_uid : -1,
                 (int)req->body_len, req->body);
        httpd_respond(resp, streq(req->path, "/teapot") ? 418 : 200, NULL, buf);
}

static int unix_connect(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(fd, 0);
        snprintf(sa.sun_path, sizeof sa.sun_path, "%.100s", path);
        ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
        return fd;
}

/* Reads until EOF (≤ 5 s); returns the response, malloc'ed. */
static char *read_all(int fd) {
        size_t cap = 65536, len = 0;
        char *b = malloc(cap);
        for (;;) {
                struct pollfd pf = { .fd = fd, .events = POLLIN };
                if (poll(&pf, 1, 5000) <= 0)
                        break;
                ssize_t k = recv(fd, b + len, cap - 1 - len, 0);
                if (k <= 0)
                        break;
                len += (size_t)k;
        }
        b[len] = 0;
        return b;
}

static char *exchange(int fd, const char *req) {
        ck_assert_int_eq(send(fd, req, strlen(req), MSG_NOSIGNAL), (ssize_t)strlen(req));
        char *r = read_all(fd);
        close(fd);
        return r;
}

static struct httpd *start_unix(const char *name, const struct httpd_options *o, struct hstate *h, char *path) {
        struct httpd *s = NULL;
        int fd = -1;
        path_in(path, 256, name);
        ck_assert_int_eq(httpd_listen_unix(path, 0600, &fd), 0);
        ck_assert_int_eq(httpd_start(fd, o, handler, h, &s), 0);
        return s;
}

#define HSTATE_INIT { .lock = PTHREAD_MUTEX_INITIALIZER }

START_TEST(test_serve_unix) {
        struct hstate h = HSTATE_INIT;
        char path[256], want[512];
        struct httpd *s = start_unix("serve.sock", NULL, &h, path);

        char *r = exchange(unix_connect(path), "GET /x?y=1 HTTP/1.1\r\nHost: a\r\n\r\n");
        snprintf(want, sizeof want, "GET /x q=y=1 len=0 peer=1:%d body=", (int)geteuid());
        ck_assert_msg(strncmp(r, "HTTP/1.1 200 OK\r\n", 17) == 0 && strstr(r, "\r\nConnection: close\r\n") &&
                      strstr(r, "\r\n\r\n") && streq(strstr(r, "\r\n\r\n") + 4, want), "%s", r);
        free(r);
        r = exchange(unix_connect(path), "POST /teapot HTTP/1.0\r\nContent-Length: 4\r\n\r\nbody");
        ck_assert_msg(strncmp(r, "HTTP/1.1 418 Unknown\r\n", 22) == 0 && strstr(r, "len=4 ") && strstr(r, "body=body"), "%s", r);
        free(r);
        /* bad requests are answered by the server, not the handler */
        r = exchange(unix_connect(path), "GET / HTTP/2.0\r\n\r\n");
        ck_assert_msg(strncmp(r, "HTTP/1.1 505 ", 13) == 0, "%s", r);
        free(r);
        r = exchange(unix_connect(path), "POST / HTTP/1.1\r\nContent-Length: 9999999\r\n\r\n");
        ck_assert_msg(strncmp(r, "HTTP/1.1 413 ", 13) == 0, "%s", r);
        free(r);
        /* a connection closed without a byte: no answer, no handler call */
        close(unix_connect(path));
        /* a request split in many small writes */
        int fd = unix_connect(path);
        const char *req = "GET /slow HTTP/1.1\r\n\r\n";
        for (size_t i = 0; req[i]; i++) {
                ck_assert_int_eq(send(fd, req + i, 1, MSG_NOSIGNAL), 1);
                nanosleep(&(struct timespec){ .tv_nsec = 2000000 }, NULL);
        }
        r = read_all(fd);
        close(fd);
        ck_assert_msg(strstr(r, "GET /slow q=(none)"), "%s", r);
        free(r);
        ck_assert_ptr_null(httpd_stop(s));
        ck_assert_uint_eq(h.calls, 3);
        ck_assert_ptr_null(httpd_stop(NULL));
}
END_TEST

START_TEST(test_serve_tcp) {
        struct hstate h = HSTATE_INIT;
        struct httpd *s = NULL;
        struct sockaddr_in sa;
        socklen_t sl = sizeof sa;
        int lfd = -1;

        ck_assert_int_eq(httpd_listen_tcp("127.0.0.1", 0, &lfd), 0);
        ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&sa, &sl), 0);
        ck_assert_int_eq(httpd_start(lfd, NULL, handler, &h, &s), 0);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
        char *r = exchange(fd, "GET /metrics HTTP/1.1\r\n\r\n");
        ck_assert_msg(strstr(r, "\r\n\r\nGET /metrics q=(none) len=0 peer=0:-1"), "%s", r);
        free(r);
        /* same_uid_only: a TCP peer has no uid, so it is refused */
        httpd_stop(s);
        ck_assert_int_eq(httpd_listen_tcp("127.0.0.1", 0, &lfd), 0);
        sl = sizeof sa;
        ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&sa, &sl), 0);
        ck_assert_int_eq(httpd_start(lfd, &(struct httpd_options){ .same_uid_only = true }, handler, &h, &s), 0);
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
        r = exchange(fd, "GET / HTTP/1.1\r\n\r\n");
        ck_assert_msg(strncmp(r, "HTTP/1.1 403 ", 13) == 0, "%s", r);
        free(r);
        httpd_stop(s);
        ck_assert_uint_eq(h.calls, 1);
        ck_assert_int_eq(httpd_start(-1, NULL, handler, &h, &s), -EINVAL);
}
END_TEST

START_TEST(test_same_uid_only) {
        struct hstate h = HSTATE_INIT;
        char path[256];
        if (geteuid() != 0)
                return; /* needs a second uid */
        struct httpd *s = start_unix("uid.sock", &(struct httpd_options){ .same_uid_only = true }, &h, path);
        ck_assert_int_eq(chmod(tmpdir, 0755), 0);
        ck_assert_int_eq(chmod(path, 0666), 0);
        int p[2];
        ck_assert_int_eq(pipe(p), 0);
        pid_t pid = fork();
        if (pid == 0) {
                if (setgid(65534) < 0 || setuid(65534) < 0)
                        _exit(2);
                struct sockaddr_un sa = { .sun_family = AF_UNIX };
                snprintf(sa.sun_path, sizeof sa.sun_path, "%.100s", path);
                int fd = socket(AF_UNIX, SOCK_STREAM, 0);
                if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
                        _exit(3);
                (void)!send(fd, "GET / HTTP/1.1\r\n\r\n", 18, MSG_NOSIGNAL);
                char b[64] = "";
                (void)!recv(fd, b, sizeof b - 1, MSG_WAITALL);
                (void)!write(p[1], b, 13);
                _exit(0);
        }
        close(p[1]);
        char b[64] = "";
        ck_assert_int_eq(read(p[0], b, 13), 13);
        close(p[0]);
        int st;
        waitpid(pid, &st, 0);
        ck_assert_str_eq(b, "HTTP/1.1 403 ");
        char *r = exchange(unix_connect(path), "GET /me HTTP/1.1\r\n\r\n");
        ck_assert_msg(strstr(r, "HTTP/1.1 200 OK"), "%s", r);
        free(r);
        httpd_stop(s);
        ck_assert_uint_eq(h.calls, 1);
}
END_TEST

START_TEST(test_limits) {
        struct hstate h = HSTATE_INIT;
        char path[256];
        struct httpd_options o = { .max_conns = 2, .max_body = 16, .io_timeout_usec = 400000 };
        struct httpd *s = start_unix("lim.sock", &o, &h, path);

        /* two idle connections fill it: the third gets 503 at once */
        int a = unix_connect(path), b = unix_connect(path);
        nanosleep(&(struct timespec){ .tv_nsec = 50000000 }, NULL);
        uint64_t t0 = now_usec();
        /* answered without reading: the request may not even get sent before the close */
        int c = unix_connect(path);
        (void)!send(c, "GET / HTTP/1.1\r\n\r\n", 18, MSG_NOSIGNAL);
        char *r = read_all(c);
        close(c);
        ck_assert_msg(strncmp(r, "HTTP/1.1 503 ", 13) == 0 && strstr(r, "too many connections"), "%s", r);
        ck_assert_uint_lt(now_usec() - t0, 300000);
        free(r);
        /* the idle ones are closed at io_timeout; a partial request gets 408 */
        ck_assert_int_eq(send(b, "GET / HT", 8, MSG_NOSIGNAL), 8);
        r = read_all(a);
        ck_assert_str_eq(r, "");
        free(r);
        r = read_all(b);
        ck_assert_msg(strncmp(r, "HTTP/1.1 408 ", 13) == 0, "%s", r);
        free(r);
        ck_assert_uint_lt(now_usec() - t0, 1500000);
        close(a);
        close(b);
        /* room again; a body past max_body: 413 */
        r = exchange(unix_connect(path), "POST / HTTP/1.1\r\nContent-Length: 17\r\n\r\n");
        ck_assert_msg(strncmp(r, "HTTP/1.1 413 ", 13) == 0, "%s", r);
        free(r);
        r = exchange(unix_connect(path), "POST / HTTP/1.1\r\nContent-Length: 16\r\n\r\n0123456789abcdef");
        ck_assert_msg(strstr(r, "body=0123456789abcdef"), "%s", r);
        free(r);
        httpd_stop(s);
        ck_assert_uint_eq(h.calls, 1);
}
END_TEST

/* Stop waits for an answer in flight, and cuts idle connections after io_timeout. */
START_TEST(test_stop) {
        struct hstate h = HSTATE_INIT;
        char path[256];
        struct httpd_options o = { .io_timeout_usec = 500000 };
        h.sleep_ms = 300;
        struct httpd *s = start_unix("stop.sock", &o, &h, path);
        int busy = unix_connect(path), idle = unix_connect(path);
        ck_assert_int_eq(send(busy, "GET /busy HTTP/1.1\r\n\r\n", 22, MSG_NOSIGNAL), 22);
        nanosleep(&(struct timespec){ .tv_nsec = 50000000 }, NULL);
        uint64_t t0 = now_usec();
        httpd_stop(s);
        uint64_t dt = now_usec() - t0;
        ck_assert_msg(dt < 1500000, "stop took %llu µs", (unsigned long long)dt);
        char *r = read_all(busy);
        ck_assert_msg(strstr(r, "GET /busy"), "%s", r);
        free(r);
        r = read_all(idle);
        ck_assert_str_eq(r, "");
        free(r);
        close(busy);
        close(idle);
        /* the listener is closed: nobody answers any more (the file stays: unlinking is the caller's) */
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        snprintf(sa.sun_path, sizeof sa.sun_path, "%.100s", path);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), -1);
        ck_assert_int_eq(errno, ECONNREFUSED);
        close(fd);
}
END_TEST

START_TEST(test_abandoned) {
        struct hstate h = HSTATE_INIT;
        char path[256];
        h.wait_abandon = true;
        struct httpd *s = start_unix("ab.sock", NULL, &h, path);
        int fd = unix_connect(path);
        ck_assert_int_eq(send(fd, "GET / HTTP/1.1\r\n\r\n", 18, MSG_NOSIGNAL), 18);
        nanosleep(&(struct timespec){ .tv_nsec = 100000000 }, NULL);
        pthread_mutex_lock(&h.lock);
        ck_assert(!h.saw_abandoned);
        pthread_mutex_unlock(&h.lock);
        close(fd);
        httpd_stop(s);
        ck_assert(h.saw_abandoned);
        struct httpd_request none = { .conn_fd = -1 };
        ck_assert(!httpd_request_abandoned(&none));
        ck_assert(!httpd_request_abandoned(NULL));
}
END_TEST

/* Out of file descriptors: the pending connection keeps the listener readable; the accept loop
 * must back off (≈ no CPU) and serve the connection once descriptors are free again. */
START_TEST(test_emfile_backoff) {
        struct hstate h = HSTATE_INIT;
        char path[256];
        struct httpd *s = start_unix("emfile.sock", NULL, &h, path);
        struct rlimit rl = { 64, 64 };
        int fds[64], n = 0, fd;

        ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
        while (n < 64 && (fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
                fds[n++] = fd;
        ck_assert_int_eq(errno, EMFILE);
        close(fds[--n]);
        int c = unix_connect(path); /* the last free fd: the server's accept() gets EMFILE */
        ck_assert_int_eq(send(c, "GET /late HTTP/1.1\r\n\r\n", 22, MSG_NOSIGNAL), 22);
        struct timespec c0, c1;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
        nanosleep(&(struct timespec){ .tv_sec = 1 }, NULL);
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
        uint64_t cpu = (uint64_t)((c1.tv_sec - c0.tv_sec) * 1000000 + (c1.tv_nsec - c0.tv_nsec) / 1000);
        ck_assert_msg(cpu < 200000, "accept loop used %llu µs of CPU in 1 s while out of fds", (unsigned long long)cpu);
        ck_assert_uint_eq(h.calls, 0);
        while (n > 0)
                close(fds[--n]);
        char *r = read_all(c);
        ck_assert_msg(strstr(r, "GET /late"), "no answer after the fds came back: '%s'", r);
        free(r);
        close(c);
        httpd_stop(s);
}
END_TEST

static void rm_rf(const char *dir) {
        pid_t p = fork();
        if (p == 0) {
                execlp("rm", "rm", "-rf", dir, (char *)NULL);
                _exit(127);
        }
        if (p > 0) {
                int st;
                (void)waitpid(p, &st, 0);
        }
}

int main(void) {
        if (!mkdtemp(tmpdir))
                return 1;
        Suite *su = suite_create("httpd");
        TCase *tc = tcase_create("parse");
        tcase_add_loop_test(tc, test_parse_table, 0, (int)ELEMENTSOF(pcases));
        tcase_add_test(tc, test_parse_limits);
        tcase_add_test(tc, test_format);
        suite_add_tcase(su, tc);
        tc = tcase_create("listen");
        tcase_add_test(tc, test_listen_unix);
        tcase_add_test(tc, test_listen_tcp);
        suite_add_tcase(su, tc);
        tc = tcase_create("serve");
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, test_serve_unix);
        tcase_add_test(tc, test_serve_tcp);
        tcase_add_test(tc, test_same_uid_only);
        tcase_add_test(tc, test_limits);
        tcase_add_test(tc, test_stop);
        tcase_add_test(tc, test_abandoned);
        tcase_add_test(tc, test_emfile_backoff);
        suite_add_tcase(su, tc);
        SRunner *sr = srunner_create(su);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        if (!getenv("KEEP_TMP"))
                rm_rf(tmpdir);
        return failed ? 1 : 0;
}
