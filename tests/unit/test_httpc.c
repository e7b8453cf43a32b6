/* SPDX-License-Identifier: Apache-2.0 */
/* test_httpc.c: the HTTP/1.1 response parser of lib/kube/httpc.c (RFC 9112: status line, headers,
 * Content-Length, chunked coding, read-until-close) fed whole and byte by byte, bad input, and
 * plain-HTTP round trips against a tiny in-process server (keep-alive, timeouts, refused). */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kube/httpc.h"

struct sink {
        char buf[4096];
        size_t len;
        int status;
        int headers_seen;
        int stop_after; /* > 0: return 1 once this many body bytes arrived */
};

static int sink_cb(void *ud, int status, const char *data, size_t len) {
        struct sink *s = ud;
        s->status = status;
        if (len == 0) {
                s->headers_seen++;
                return 0;
        }
        ck_assert_uint_le(s->len + len, sizeof s->buf - 1);
        memcpy(s->buf + s->len, data, len);
        s->len += len;
        s->buf[s->len] = 0;
        if (s->stop_after && s->len >= (size_t)s->stop_after)
                return 1;
        return 0;
}

/* Feeds all of msg (whole, or one byte at a time); returns the last feed result, or the eof
 * result when the data ran out before the message ended and eof is set. */
static ssize_t feed(struct httpc_parser *p, const char *msg, size_t len, bool bytewise, bool eof, struct sink *s,
                    size_t *consumed) {
        size_t off = 0;
        httpc_parser_init(p, false);
        while (off < len && p->state != HTTPC_PS_DONE) {
                size_t n = bytewise ? 1 : len - off;
                int stop = 0;
                ssize_t k = httpc_parser_feed(p, msg + off, n, sink_cb, s, &stop);
                if (k < 0)
                        return k;
                off += (size_t)k;
                if (stop)
                        break;
                if ((size_t)k < n)
                        break;
        }
        if (consumed)
                *consumed = off;
        if (eof && p->state != HTTPC_PS_DONE)
                return httpc_parser_eof(p);
        return 0;
}

static const struct good_case {
        const char *name, *msg, *body;
        int status;
        bool keep_alive;
        bool needs_eof;
        size_t trailing; /* bytes after the message that must not be consumed */
} good[] = {
        { "content-length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: x\r\n\r\nhello", "hello", 200, true, false, 0 },
        { "zero length", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "", 200, true, false, 0 },
        { "no reason phrase", "HTTP/1.1 404\r\nContent-Length: 2\r\n\r\n{}", "{}", 404, true, false, 0 },
        { "bare LF", "HTTP/1.1 200 OK\nContent-Length: 2\n\nok", "ok", 200, true, false, 0 },
        { "chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\n",
          "hello, world", 200, true, false, 0 },
        { "chunked hex upper + trailer", "HTTP/1.1 200 OK\r\ntransfer-encoding:  Chunked \r\n\r\nA\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\n",
          "0123456789", 200, true, false, 0 },
        { "chunked wins over length", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n",
          "ab", 200, true, false, 0 },
        { "connection close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx", "x", 200, false, false, 0 },
        { "http/1.0", "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx", "x", 200, false, false, 0 },
        { "http/1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 1\r\n\r\nx", "x", 200, true, false, 0 },
        { "read until close", "HTTP/1.1 200 OK\r\n\r\nall of it", "all of it", 200, false, true, 0 },
        { "204 has no body", "HTTP/1.1 204 No Content\r\n\r\n", "", 204, true, false, 0 },
        { "100 continue first", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok", "ok", 201, true, false, 0 },
        { "stops at message end", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA", "ok", 200, true, false, 5 },
        { "same length twice", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok", "ok", 200, true, false, 0 },
};

START_TEST(test_parse_good) {
        const struct good_case *c = &good[_i / 2];
        bool bytewise = _i % 2;
        struct httpc_parser p;
        struct sink s = {};
        size_t consumed = 0, len = strlen(c->msg);
        ssize_t r = feed(&p, c->msg, len, bytewise, c->needs_eof, &s, &consumed);
        ck_assert_msg(r == 0, "%s (%s): r=%zd", c->name, bytewise ? "bytewise" : "whole", r);
        ck_assert_msg(p.state == HTTPC_PS_DONE, "%s: state %d", c->name, p.state);
        ck_assert_int_eq(p.status, c->status);
        ck_assert_str_eq(s.buf, c->body);
        ck_assert_int_eq(s.headers_seen, 1);
        ck_assert_msg(p.keep_alive == c->keep_alive, "%s: keep_alive", c->name);
        ck_assert_uint_eq(consumed, len - c->trailing);
}
END_TEST

static const struct bad_case {
        const char *name, *msg;
        ssize_t err;
} bad[] = {
        { "not http", "SSH-2.0-OpenSSH\r\n\r\n", -EPROTO },
        { "http/2 line", "HTTP/2 200\r\n\r\n", -EPROTO },
        { "short status", "HTTP/1.1 20\r\n\r\n", -EPROTO },
        { "status letters", "HTTP/1.1 2x0 OK\r\n\r\n", -EPROTO },
        { "header without colon", "HTTP/1.1 200 OK\r\nBroken\r\n\r\n", -EPROTO },
        { "obs-fold", "HTTP/1.1 200 OK\r\nA: b\r\n  c\r\n\r\n", -EPROTO },
        { "space before colon", "HTTP/1.1 200 OK\r\nContent-Length : 1\r\n\r\nx", -EPROTO },
        { "negative length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", -EPROTO },
        { "length garbage", "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n", -EPROTO },
        { "length overflow", "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n", -EPROTO },
        { "differing lengths", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx", -EPROTO },
        { "gzip coding", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", -EPROTO },
        { "chunk size garbage", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", -EPROTO },
        { "chunk size empty", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", -EPROTO },
        { "chunk size huge", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFF\r\n", -EPROTO },
        { "chunk without CRLF", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n", -EPROTO },
        { "NUL in header", "HTTP/1.1 200 OK\r\nA: b\0c\r\n\r\n", -EPROTO },
        { "switching protocols", "HTTP/1.1 101 Switching\r\n\r\n", -EPROTO },
        { "truncated length body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", -ECONNRESET },
        { "truncated chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", -ECONNRESET },
        { "truncated headers", "HTTP/1.1 200 OK\r\nContent-Le", -ECONNRESET },
        { "empty", "", -ECONNRESET },
};

START_TEST(test_parse_bad) {
        const struct bad_case *c = &bad[_i / 2];
        struct httpc_parser p;
        struct sink s = {};
        size_t len = strlen(c->msg);
        if (strcmp(c->name, "NUL in header") == 0)
                len = sizeof "HTTP/1.1 200 OK\r\nA: b\0c\r\n\r\n" - 1;
        ssize_t r = feed(&p, c->msg, len, _i % 2, true, &s, NULL);
        ck_assert_msg(r == c->err, "%s (%s): r=%zd want %zd", c->name, _i % 2 ? "bytewise" : "whole", r, c->err);
}
END_TEST

/* Oversized status/header lines and header blocks are refused, not buffered. */
START_TEST(test_parse_limits) {
        struct httpc_parser p;
        struct sink s = {};
        size_t n = HTTPC_MAX_LINE + 100;
        char *m = malloc(n + 64);
        ck_assert_ptr_nonnull(m);
        int k = sprintf(m, "HTTP/1.1 200 OK\r\nX: ");
        memset(m + k, 'a', n - (size_t)k);
        ck_assert_int_eq(feed(&p, m, n, false, true, &s, NULL), -EFBIG);
        free(m);

        /* many short headers: the block limit */
        size_t cap = HTTPC_MAX_HEADERS + 4096;
        m = malloc(cap);
        ck_assert_ptr_nonnull(m);
        size_t off = (size_t)sprintf(m, "HTTP/1.1 200 OK\r\n");
        while (off + 16 < cap)
                off += (size_t)sprintf(m + off, "X-Pad: 12345\r\n");
        ck_assert_int_eq(feed(&p, m, off, false, true, &s, NULL), -EFBIG);
        free(m);
}
END_TEST

/* A positive callback return stops the parser without consuming the rest. */
START_TEST(test_parse_stop) {
        static const char msg[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n";
        struct httpc_parser p;
        struct sink s = { .stop_after = 3 };
        int stop = 0;
        httpc_parser_init(&p, false);
        ssize_t k = httpc_parser_feed(&p, msg, sizeof msg - 1, sink_cb, &s, &stop);
        ck_assert_int_eq(stop, 1);
        ck_assert_int_lt(k, (ssize_t)sizeof msg - 1);
        ck_assert_str_eq(s.buf, "abc");
        ck_assert_int_ne(p.state, HTTPC_PS_DONE);
}
END_TEST

START_TEST(test_new_bad_urls) {
        static const char *const urls[] = { "ftp://x", "https://", "https://[::1", "https://h:99999999",
                                            "https://user@h", "https://h:80x", "https://h?x", "x" };
        struct httpc *h = NULL;
        char err[256];
        for (size_t i = 0; i < sizeof urls / sizeof *urls; i++) {
                struct httpc_config c = { .server = urls[i] };
                ck_assert_msg(httpc_new(&c, &h, err, sizeof err) == -EINVAL, "%s", urls[i]);
        }
        struct httpc_config c = { .server = "https://127.0.0.1", .tls_server_name = "a b" };
        ck_assert_int_eq(httpc_new(&c, &h, err, sizeof err), -EINVAL);
        c = (struct httpc_config){ .server = "https://127.0.0.1", .ca_data = "garbage", .ca_len = 7 };
        ck_assert_int_eq(httpc_new(&c, &h, err, sizeof err), -EINVAL);
        ck_assert_msg(strstr(err, "certificate-authority-data"), "%s", err);
}
END_TEST

/* ---- plain HTTP against a scripted server thread ---- */

struct script {
        int lfd;
        const char *const *answers; /* one per request; NULL entry: close without answering */
        int naccept;                /* connections accepted */
        int nreq;
};

static void *serve(void *ud) {
        struct script *s = ud;
        for (int i = 0; s->answers[i] || i == 0; i++) {
                int fd = accept(s->lfd, NULL, NULL);
                if (fd < 0)
                        return NULL;
                s->naccept++;
                /* answer requests on this connection until the script says close */
                for (;;) {
                        char buf[4096];
                        ssize_t n = recv(fd, buf, sizeof buf, 0);
                        if (n <= 0)
                                break;
                        const char *a = s->answers[s->nreq++];
                        if (!a || !*a)
                                break;
                        if (strcmp(a, "SLEEP") == 0) {
                                usleep(500000);
                                break;
                        }
                        ck_assert_int_eq(send(fd, a, strlen(a), MSG_NOSIGNAL), (ssize_t)strlen(a));
                        if (!s->answers[s->nreq])
                                break;
                }
                close(fd);
                if (!s->answers[s->nreq])
                        break;
        }
        return NULL;
}

static int listen_any(int *port) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t l = sizeof a;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
        ck_assert_int_eq(listen(fd, 8), 0);
        ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &l), 0);
        *port = ntohs(a.sin_port);
        return fd;
}

START_TEST(test_plain_keepalive) {
        static const char *const answers[] = {
                "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none",
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\ntwo\r\n0\r\n\r\n",
                "HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 5\r\n\r\nthree",
                "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nfour",
                NULL,
        };
        struct script s = { .answers = answers };
        int port, status;
        char url[64], err[256];
        pthread_t t;
        s.lfd = listen_any(&port);
        ck_assert_int_eq(pthread_create(&t, NULL, serve, &s), 0);
        snprintf(url, sizeof url, "http://127.0.0.1:%d/prefix/", port);
        struct httpc_config c = { .server = url };
        struct httpc *h = NULL;
        ck_assert_int_eq(httpc_new(&c, &h, err, sizeof err), 0);
        static const char *const words[] = { "one", "two", "three", "four" };
        static const int codes[] = { 200, 200, 404, 200 };
        for (int i = 0; i < 4; i++) {
                struct sink k = {};
                const char *hd[] = { "Accept: application/json", NULL };
                struct httpc_request rq = { .method = "GET", .path = "/api", .headers = hd, .timeout_usec = 2000000 };
                int r = httpc_request(h, &rq, sink_cb, &k, &status, err, sizeof err);
                ck_assert_msg(r == 0, "request %d: %d %s", i, r, err);
                ck_assert_int_eq(status, codes[i]);
                ck_assert_str_eq(k.buf, words[i]);
        }
        httpc_free(h);
        pthread_join(t, NULL);
        close(s.lfd);
        /* requests 1–3 on one connection, the 4th on a new one after Connection: close */
        ck_assert_int_eq(s.naccept, 2);
}
END_TEST

START_TEST(test_plain_errors) {
        static const char *const answers[] = { "SLEEP", NULL };
        struct script s = { .answers = answers };
        int port, status;
        char url[64], err[256];
        pthread_t t;
        s.lfd = listen_any(&port);
        ck_assert_int_eq(pthread_create(&t, NULL, serve, &s), 0);
        snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
        struct httpc_config c = { .server = url };
        struct httpc *h = NULL;
        ck_assert_int_eq(httpc_new(&c, &h, err, sizeof err), 0);
        struct sink k = {};
        struct httpc_request rq = { .method = "GET", .path = "/", .timeout_usec = 150000 };
        ck_assert_int_eq(httpc_request(h, &rq, sink_cb, &k, &status, err, sizeof err), -ETIMEDOUT);
        ck_assert_int_eq(status, 0);
        httpc_free(h);
        pthread_join(t, NULL);
        close(s.lfd);

        /* nothing listens on the closed port now */
        ck_assert_int_eq(httpc_new(&c, &h, err, sizeof err), 0);
        ck_assert_int_eq(httpc_request(h, &rq, sink_cb, &k, &status, err, sizeof err), -ECONNREFUSED);
        ck_assert_msg(strstr(err, "127.0.0.1"), "%s", err);
        httpc_free(h);
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("httpc");
        TCase *tc = tcase_create("parser");
        tcase_add_loop_test(tc, test_parse_good, 0, 2 * (int)(sizeof good / sizeof *good));
        tcase_add_loop_test(tc, test_parse_bad, 0, 2 * (int)(sizeof bad / sizeof *bad));
        tcase_add_test(tc, test_parse_limits);
        tcase_add_test(tc, test_parse_stop);
        tcase_add_test(tc, test_new_bad_urls);
        suite_add_tcase(s, tc);
        tc = tcase_create("plain");
        tcase_set_timeout(tc, 10);
        tcase_add_test(tc, test_plain_keepalive);
        tcase_add_test(tc, test_plain_errors);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(suite());
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
