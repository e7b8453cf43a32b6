/* SPDX-License-Identifier: Apache-2.0 */
/* test_resolve.c: the NSS-free resolver (lib/kube/resolve.c): resolv.conf and hosts parsing, DNS
 * message building and checking, and whole lookups against a real DNS stand-in on loopback
 * (UDP and TCP on one port) that answers, truncates, refuses or stays silent. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/macro.h"
#include "kube/resolve.h"

static const char *ip(const struct resolve_addr *a) {
        static char b[4][INET6_ADDRSTRLEN];
        static int k;
        k = (k + 1) % 4;
        return inet_ntop(a->family, a->family == AF_INET ? (const void *)&a->v4 : (const void *)&a->v6, b[k], sizeof b[k]);
}

static const char *ns_ip(const struct sockaddr_storage *ss) {
        static char b[INET6_ADDRSTRLEN];
        const void *p = ss->ss_family == AF_INET ? (const void *)&((const struct sockaddr_in *)ss)->sin_addr
                                                 : (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr;
        return inet_ntop(ss->ss_family, p, b, sizeof b);
}

START_TEST(test_conf) {
        struct resolve_conf c;
        const char *t = "# comment\n; comment\nnameserver 10.0.0.10\nnameserver bogus\nnameserver fd00::10\n"
                        "nameserver 10.0.0.11\nnameserver 10.0.0.12\n"
                        "search a.test b.test\ndomain only.test\nsearch ns.svc.cluster.local svc.cluster.local .\n"
                        "options ndots:5 timeout:0 attempts:9 rotate use-vc\noptions ndots:x timeout:3\n";

        ck_assert_int_eq(resolve_conf_parse(t, strlen(t), &c), 0);
        ck_assert_uint_eq(c.n_ns, 3);
        ck_assert_str_eq(ns_ip(&c.ns[0]), "10.0.0.10");
        ck_assert_str_eq(ns_ip(&c.ns[1]), "fd00::10");
        ck_assert_str_eq(ns_ip(&c.ns[2]), "10.0.0.11");
        ck_assert_uint_eq(ntohs(((struct sockaddr_in *)&c.ns[0])->sin_port), 53);
        ck_assert_uint_eq(c.n_search, 2); /* the last search line wins; "." is dropped */
        ck_assert_str_eq(c.search[0], "ns.svc.cluster.local");
        ck_assert_str_eq(c.search[1], "svc.cluster.local");
        ck_assert_uint_eq(c.ndots, 5);
        ck_assert_uint_eq(c.timeout_s, 3); /* 0 → 1, then the later timeout:3 */
        ck_assert_uint_eq(c.attempts, 5);  /* capped */
        ck_assert(c.use_vc);
        resolve_conf_done(&c);

        ck_assert_int_eq(resolve_conf_parse("", 0, &c), 0);
        ck_assert_uint_eq(c.n_ns, 2); /* no server: the local ones */
        ck_assert_str_eq(ns_ip(&c.ns[0]), "127.0.0.1");
        ck_assert_str_eq(ns_ip(&c.ns[1]), "::1");
        ck_assert_uint_eq(c.ndots, 1);
        ck_assert_uint_eq(c.timeout_s, 5);
        ck_assert_uint_eq(c.attempts, 2);
        ck_assert_uint_eq(c.n_search, 0);
        resolve_conf_done(&c);
}
END_TEST

START_TEST(test_hosts) {
        struct resolve_addr a[4];
        const char *h = "127.0.0.1 localhost\n::1 localhost ip6-localhost\n# 10.9.9.9 api.test\n"
                        "10.1.2.3\tapi.test  API.alias.test # comment api.test\n"
                        "not-an-ip api.test\n10.1.2.4 other.test\nfd00::3 api.test\n10.1.2.5 api.test";

        ck_assert_uint_eq(resolve_hosts_parse(h, strlen(h), "api.test", a, 4), 3);
        ck_assert_str_eq(ip(&a[0]), "10.1.2.3");
        ck_assert_str_eq(ip(&a[1]), "fd00::3");
        ck_assert_str_eq(ip(&a[2]), "10.1.2.5"); /* last line, no newline */
        ck_assert_uint_eq(resolve_hosts_parse(h, strlen(h), "api.alias.test.", a, 4), 1);
        ck_assert_str_eq(ip(&a[0]), "10.1.2.3");
        ck_assert_uint_eq(resolve_hosts_parse(h, strlen(h), "localhost", a, 1), 1); /* max respected */
        ck_assert_uint_eq(resolve_hosts_parse(h, strlen(h), "comment", a, 4), 0);
        ck_assert_uint_eq(resolve_hosts_parse(h, strlen(h), "api", a, 4), 0);
        ck_assert_uint_eq(resolve_hosts_parse(NULL, 0, "api.test", a, 4), 0);
}
END_TEST

/* ---- DNS messages ---- */

static size_t put_rr(uint8_t *m, size_t o, const uint8_t *name, size_t nlen, uint16_t type, const void *rd, uint16_t rdlen) {
        memcpy(m + o, name, nlen), o += nlen;
        m[o++] = (uint8_t)(type >> 8), m[o++] = (uint8_t)type, m[o++] = 0, m[o++] = 1;
        memset(m + o, 0, 4), o += 4;
        m[o++] = (uint8_t)(rdlen >> 8), m[o++] = (uint8_t)rdlen;
        memcpy(m + o, rd, rdlen);
        return o + rdlen;
}

START_TEST(test_query) {
        uint8_t b[300];
        int n = resolve_dns_query("Api.Test.", 28, 0x1234, b, sizeof b);
        static const uint8_t want[] = { 0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'A', 'p', 'i', 4, 'T', 'e', 's', 't', 0, 0, 28, 0, 1 };
        char big[80];

        ck_assert_int_eq(n, (int)sizeof want);
        ck_assert_mem_eq(b, want, sizeof want);
        ck_assert_int_eq(resolve_dns_query("a..b", 1, 1, b, sizeof b), -EINVAL);
        ck_assert_int_eq(resolve_dns_query(".", 1, 1, b, sizeof b), -EINVAL);
        memset(big, 'x', 64), big[64] = 0;
        ck_assert_int_eq(resolve_dns_query(big, 1, 1, b, sizeof b), -EINVAL); /* label > 63 */
        ck_assert_int_eq(resolve_dns_query("api.test", 1, 1, b, 20), -EINVAL);
}
END_TEST

START_TEST(test_answer) {
        uint8_t m[512];
        struct resolve_addr a[4];
        size_t n = 0, o;
        int rcode = -1;
        bool tc = true;
        static const uint8_t v4[4] = { 10, 0, 0, 7 }, ptr[2] = { 0xc0, 12 };
        static const uint8_t target[] = { 4, 'r', 'e', 'a', 'l', 0xc0, 16 }; /* "real" + "test" by pointer */
        int q = resolve_dns_query("api.test", 1, 0x4242, m, sizeof m);

        ck_assert_int_gt(q, 0);
        m[2] |= 0x80; /* QR */
        m[7] = 2;     /* ANCOUNT: a CNAME, then the target's A */
        o = put_rr(m, (size_t)q, ptr, 2, 5, target, sizeof target);
        o = put_rr(m, o, target, sizeof target, 1, v4, 4);
        ck_assert_int_eq(resolve_dns_answer(m, o, "API.test", 1, 0x4242, a, 4, &n, &rcode, &tc), 0);
        ck_assert_uint_eq(n, 1);
        ck_assert_str_eq(ip(&a[0]), "10.0.0.7");
        ck_assert_int_eq(rcode, 0);
        ck_assert(!tc);
        /* Another query's answer: id, type, name. */
        ck_assert_int_eq(resolve_dns_answer(m, o, "api.test", 1, 0x4243, a, 4, &n, &rcode, &tc), -ESRCH);
        ck_assert_int_eq(resolve_dns_answer(m, o, "api.test", 28, 0x4242, a, 4, &n, &rcode, &tc), -ESRCH);
        ck_assert_int_eq(resolve_dns_answer(m, o, "api.test2", 1, 0x4242, a, 4, &n, &rcode, &tc), -ESRCH);
        /* Cut anywhere inside the records: malformed, never a read past the end. */
        for (size_t cut = (size_t)q; cut < o; cut++) {
                n = 0;
                ck_assert_int_eq(resolve_dns_answer(m, cut, "api.test", 1, 0x4242, a, 4, &n, &rcode, &tc), -EBADMSG);
        }
        /* A pointer loop in an answer name. */
        m[q] = 0xc0, m[q + 1] = (uint8_t)q;
        ck_assert_int_eq(resolve_dns_answer(m, o, "api.test", 1, 0x4242, a, 4, &n, &rcode, &tc), -EBADMSG);
        /* NXDOMAIN with TC, no answers. */
        q = resolve_dns_query("api.test", 1, 7, m, sizeof m);
        m[2] |= 0x82, m[3] = 3;
        n = 0;
        ck_assert_int_eq(resolve_dns_answer(m, (size_t)q, "api.test", 1, 7, a, 4, &n, &rcode, &tc), 0);
        ck_assert_int_eq(rcode, 3);
        ck_assert(tc);
        ck_assert_uint_eq(n, 0);
}
END_TEST

/* ---- a DNS stand-in on 127.0.0.1:port, UDP and TCP ---- */

enum mode { ANSWER, TRUNCATE, SERVFAIL, SILENT };
struct server {
        int udp, tcp;
        uint16_t port;
        enum mode mode;
        unsigned queries, tcp_queries;
        char seen[8][80];
        pthread_t th;
        int stop[2];
};

/* The reply to query q: api.cluster.test → 10.0.0.1 (A) / fd00::1 (AAAA), else NXDOMAIN. */
static size_t reply(struct server *s, const uint8_t *q, size_t qlen, uint8_t *r, bool over_tcp) {
        char name[64] = "";
        size_t o = 12, nl = 0;
        uint16_t type;

        while (o < qlen && q[o] && nl + q[o] + 1 < sizeof name) {
                if (nl)
                        name[nl++] = '.';
                memcpy(name + nl, q + o + 1, q[o]);
                nl += q[o], o += (size_t)q[o] + 1;
        }
        name[nl] = 0;
        o++;
        type = (uint16_t)(q[o] << 8 | q[o + 1]);
        o += 4;
        if (s->queries < 8)
                snprintf(s->seen[s->queries], sizeof s->seen[0], "%s/%u", name, type);
        s->queries++;
        memcpy(r, q, o);
        r[2] |= 0x80, r[3] = 0x80; /* QR, RA */
        if (s->mode == SERVFAIL) {
                r[3] |= 2;
                return o;
        }
        if (strcmp(name, "api.cluster.test") != 0) {
                r[3] |= 3;
                return o;
        }
        if (s->mode == TRUNCATE && !over_tcp) {
                r[2] |= 0x02;
                return o;
        }
        static const uint8_t ptr[2] = { 0xc0, 12 }, v4[4] = { 10, 0, 0, 1 },
                             v6[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
        r[7] = 1;
        return put_rr(r, o, ptr, 2, type, type == 1 ? v4 : v6, type == 1 ? 4 : 16);
}

static void *serve(void *ud) {
        struct server *s = ud;
        uint8_t q[512], r[600];
        for (;;) {
                struct pollfd p[3] = { { s->udp, POLLIN, 0 }, { s->tcp, POLLIN, 0 }, { s->stop[0], POLLIN, 0 } };
                if (poll(p, 3, -1) < 0 || p[2].revents)
                        return NULL;
                if (p[0].revents) {
                        struct sockaddr_storage from;
                        socklen_t fl = sizeof from;
                        ssize_t k = recvfrom(s->udp, q, sizeof q, 0, (struct sockaddr *)&from, &fl);
                        if (k >= 12 && s->mode != SILENT) {
                                size_t rl = reply(s, q, (size_t)k, r, false);
                                (void)sendto(s->udp, r, rl, 0, (struct sockaddr *)&from, fl);
                        } else if (k >= 12)
                                s->queries++;
                }
                if (p[1].revents) {
                        int c = accept(s->tcp, NULL, NULL);
                        uint8_t l[2];
                        if (c < 0)
                                continue;
                        if (recv(c, l, 2, MSG_WAITALL) == 2) {
                                size_t ql = (size_t)(l[0] << 8 | l[1]);
                                if (ql <= sizeof q && recv(c, q, ql, MSG_WAITALL) == (ssize_t)ql) {
                                        size_t rl = reply(s, q, ql, r + 2, true);
                                        r[0] = (uint8_t)(rl >> 8), r[1] = (uint8_t)rl;
                                        s->tcp_queries++;
                                        (void)send(c, r, rl + 2, 0);
                                }
                        }
                        close(c);
                }
        }
}

static void server_start(struct server *s, enum mode mode) {
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t al = sizeof a;
        int one = 1;

        memset(s, 0, sizeof *s);
        s->mode = mode;
        s->tcp = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(s->tcp, 0);
        setsockopt(s->tcp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        ck_assert_int_eq(bind(s->tcp, (struct sockaddr *)&a, sizeof a), 0);
        ck_assert_int_eq(getsockname(s->tcp, (struct sockaddr *)&a, &al), 0);
        ck_assert_int_eq(listen(s->tcp, 8), 0);
        s->udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        ck_assert_int_eq(bind(s->udp, (struct sockaddr *)&a, sizeof a), 0); /* the same port */
        s->port = ntohs(a.sin_port);
        ck_assert_int_eq(pipe(s->stop), 0);
        ck_assert_int_eq(pthread_create(&s->th, NULL, serve, s), 0);
}

static void server_stop(struct server *s) {
        ck_assert_int_eq(write(s->stop[1], "x", 1), 1);
        pthread_join(s->th, NULL);
        close(s->udp), close(s->tcp), close(s->stop[0]), close(s->stop[1]);
}

/* conf: the given resolv.conf text, its servers moved to port. */
static void conf_for(struct resolve_conf *c, const char *text, uint16_t port) {
        ck_assert_int_eq(resolve_conf_parse(text, strlen(text), c), 0);
        for (size_t i = 0; i < c->n_ns; i++)
                ((struct sockaddr_in *)&c->ns[i])->sin_port = htons(port);
}

static int lookup(struct resolve_conf *c, const char *name, uint64_t budget_usec, struct resolve_addr *a, char *err) {
        return resolve_host_with(name, NULL, 0, c, now_usec() + budget_usec, a, RESOLVE_MAX_ADDRS, err, 256);
}

START_TEST(test_lookup_udp_search) {
        struct server s;
        struct resolve_conf c;
        struct resolve_addr a[RESOLVE_MAX_ADDRS];
        char err[256] = "";

        server_start(&s, ANSWER);
        conf_for(&c, "nameserver 127.0.0.1\nsearch default.svc.cluster.test cluster.test\noptions ndots:5\n", s.port);
        ck_assert_int_eq(lookup(&c, "api", 5000000, a, err), 2);
        ck_assert_str_eq(ip(&a[0]), "10.0.0.1");
        ck_assert_str_eq(ip(&a[1]), "fd00::1");
        /* ndots:5 → the search list first: api.default.svc.cluster.test (A, AAAA), then api.cluster.test. */
        ck_assert_uint_eq(s.queries, 4);
        ck_assert_str_eq(s.seen[0], "api.default.svc.cluster.test/1");
        ck_assert_str_eq(s.seen[2], "api.cluster.test/1");
        ck_assert_str_eq(s.seen[3], "api.cluster.test/28");
        /* A rooted name is asked as it is, once. */
        s.queries = 0;
        ck_assert_int_eq(lookup(&c, "api.cluster.test.", 5000000, a, err), 2);
        ck_assert_uint_eq(s.queries, 2);
        /* No such name anywhere: -ENOENT after every candidate, without retrying servers. */
        s.queries = 0;
        ck_assert_int_eq(lookup(&c, "nothere", 5000000, a, err), -ENOENT);
        ck_assert_msg(strstr(err, "cannot resolve 'nothere'"), "%s", err);
        ck_assert_uint_eq(s.queries, 6);
        resolve_conf_done(&c);
        server_stop(&s);
}
END_TEST

START_TEST(test_lookup_tcp_on_truncation) {
        struct server s;
        struct resolve_conf c;
        struct resolve_addr a[RESOLVE_MAX_ADDRS];
        char err[256] = "";

        server_start(&s, TRUNCATE);
        conf_for(&c, "nameserver 127.0.0.1\n", s.port);
        ck_assert_int_eq(lookup(&c, "api.cluster.test", 5000000, a, err), 2);
        ck_assert_str_eq(ip(&a[0]), "10.0.0.1");
        ck_assert_uint_eq(s.tcp_queries, 2);
        resolve_conf_done(&c);
        server_stop(&s);
}
END_TEST

START_TEST(test_lookup_next_server) {
        struct server bad, good;
        struct resolve_conf c;
        struct resolve_addr a[RESOLVE_MAX_ADDRS];
        char err[256] = "", text[128];

        server_start(&bad, SERVFAIL);
        server_start(&good, ANSWER);
        /* Both at 127.0.0.x; ports differ, so place them by hand. */
        snprintf(text, sizeof text, "nameserver 127.0.0.1\nnameserver 127.0.0.1\n");
        conf_for(&c, text, bad.port);
        ((struct sockaddr_in *)&c.ns[1])->sin_port = htons(good.port);
        ck_assert_int_eq(lookup(&c, "api.cluster.test", 5000000, a, err), 2);
        ck_assert_uint_eq(bad.queries, 2);
        resolve_conf_done(&c);
        server_stop(&bad);
        server_stop(&good);
}
END_TEST

START_TEST(test_lookup_deadline) {
        struct server s;
        struct resolve_conf c;
        struct resolve_addr a[RESOLVE_MAX_ADDRS];
        char err[256] = "";
        uint64_t t0;

        server_start(&s, SILENT);
        conf_for(&c, "nameserver 127.0.0.1\noptions timeout:30 attempts:5\n", s.port);
        t0 = now_usec();
        ck_assert_int_eq(lookup(&c, "api.cluster.test", 300000, a, err), -ETIMEDOUT);
        ck_assert_uint_lt(now_usec() - t0, 2000000);
        ck_assert_uint_ge(now_usec() - t0, 290000);
        ck_assert_str_eq(err, "resolving 'api.cluster.test' timed out");
        resolve_conf_done(&c);
        /* timeout:1 attempts:1 and nothing answers: the per-try timeout ends it, as "cannot resolve". */
        conf_for(&c, "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n", s.port);
        t0 = now_usec();
        ck_assert_int_eq(lookup(&c, "api.cluster.test", 10000000, a, err), -ENOENT);
        ck_assert_uint_lt(now_usec() - t0, 3000000);
        resolve_conf_done(&c);
        server_stop(&s);
}
END_TEST

START_TEST(test_lookup_hosts_first) {
        struct resolve_conf c;
        struct resolve_addr a[RESOLVE_MAX_ADDRS];
        char err[256] = "";
        const char *h = "10.7.7.7 api.cluster.test\n";

        /* No server reachable at all (port 9 on loopback refuses): the hosts file answers. */
        conf_for(&c, "nameserver 127.0.0.1\n", 9);
        ck_assert_int_eq(resolve_host_with("API.cluster.test", h, strlen(h), &c, now_usec() + 1000000, a, 4, err, sizeof err), 1);
        ck_assert_str_eq(ip(&a[0]), "10.7.7.7");
        ck_assert_int_eq(resolve_host_with("", h, strlen(h), &c, now_usec() + 1000000, a, 4, err, sizeof err), -EINVAL);
        resolve_conf_done(&c);
}
END_TEST

int main(void) {
        Suite *s = suite_create("resolve");
        TCase *tc = tcase_create("resolve");
        tcase_add_test(tc, test_conf);
        tcase_add_test(tc, test_hosts);
        tcase_add_test(tc, test_query);
        tcase_add_test(tc, test_answer);
        tcase_add_test(tc, test_lookup_udp_search);
        tcase_add_test(tc, test_lookup_tcp_on_truncation);
        tcase_add_test(tc, test_lookup_next_server);
        tcase_add_test(tc, test_lookup_deadline);
        tcase_add_test(tc, test_lookup_hosts_first);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
