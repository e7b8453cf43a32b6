/* SPDX-License-Identifier: Apache-2.0 */
/* test_validate.c: unit tests of lib/validate (spec istio-iptables.md §6); also a small driver the
 * e2e tests use while no istio-validation applet exists:
 *   test_validate --probe [--ipv6] [--timeout-ms N] [-p PORT] [-z PORT] [--probe-port PORT]
 *                 [--proxy-uid N|none] [--termination-log PATH]   exit 0 ok, 126 failed
 *   test_validate --hold ADDR PORT SECONDS    listen without SO_REUSEPORT (a port squatter) */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/macro.h"
#include "kernel/validate.h"

/* ---- driver ---- */

static int driver_probe(int argc, char **argv) {
        struct validate_opts o;
        struct validate_result r;
        const char *tlog = NULL;
        int rc;

        validate_opts_init(&o);
        for (int i = 2; i < argc; i++) {
                const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
                if (streq(a, "--ipv6")) {
                        o.ipv6 = true;
                        continue;
                }
                if (!v) {
                        fprintf(stderr, "missing value for %s\n", a);
                        return 2;
                }
                i++;
                if (streq(a, "--timeout-ms"))
                        o.timeout_usec = strtoull(v, NULL, 10) * 1000;
                else if (streq(a, "-p"))
                        o.outbound_port = (uint16_t)atoi(v);
                else if (streq(a, "-z"))
                        o.inbound_port = (uint16_t)atoi(v);
                else if (streq(a, "--probe-port"))
                        o.probe_port = (uint16_t)atoi(v);
                else if (streq(a, "--proxy-uid")) {
                        o.proxy_uid_known = !streq(v, "none");
                        o.proxy_uid = (uint32_t)strtoul(v, NULL, 10);
                } else if (streq(a, "--termination-log"))
                        tlog = v;
                else {
                        fprintf(stderr, "unknown option %s\n", a);
                        return 2;
                }
        }
        rc = validate_run(&o, &r);
        printf("%s: %s\n", validate_reason_to_string(r.reason), r.detail);
        fflush(stdout);
        fprintf(stderr, "elapsed %.3f ms, %u attempts\n", r.elapsed_usec / 1000.0, r.attempts);
        if (tlog && rc < 0 && validate_write_termination_message(tlog, &r) < 0)
                fprintf(stderr, "cannot write %s\n", tlog);
        return rc < 0 ? 126 : 0;
}

static int driver_hold(int argc, char **argv) {
        struct sockaddr_storage ss = { 0 };
        socklen_t len;
        int fd, one = 1;

        if (argc != 5)
                return 2;
        if (strchr(argv[2], ':')) {
                struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;
                s->sin6_family = AF_INET6;
                s->sin6_port = htons((uint16_t)atoi(argv[3]));
                if (inet_pton(AF_INET6, argv[2], &s->sin6_addr) != 1)
                        return 2;
                len = sizeof *s;
        } else {
                struct sockaddr_in *s = (struct sockaddr_in *)&ss;
                s->sin_family = AF_INET;
                s->sin_port = htons((uint16_t)atoi(argv[3]));
                if (inet_pton(AF_INET, argv[2], &s->sin_addr) != 1)
                        return 2;
                len = sizeof *s;
        }
        fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
            bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 16) < 0) {
                perror("hold");
                return 1;
        }
        printf("ready\n");
        fflush(stdout);
        sleep((unsigned)atoi(argv[4])); /* bounded by the caller */
        close(fd);
        return 0;
}

/* ---- helpers ---- */

/* Enters a fresh network namespace (a user namespace too when not root) and brings lo up. */
static int enter_netns(void) {
        struct ifreq ifr = { 0 };
        _cleanup_close_ int fd = -1;

        if (unshare(geteuid() == 0 ? CLONE_NEWNET : CLONE_NEWUSER | CLONE_NEWNET) < 0)
                return -errno;
        fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        strcpy(ifr.ifr_name, "lo");
        if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
                return -errno;
        ifr.ifr_flags |= IFF_UP;
        if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
                return -errno;
        return 0;
}

static bool netns_possible(void) {
        pid_t pid = fork();
        int st;

        if (pid == 0)
                _exit(enter_netns() < 0);
        if (pid < 0 || waitpid(pid, &st, 0) < 0)
                return false;
        return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static int hold_port(const char *addr, uint16_t port) {
        struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(inet_pton(AF_INET, addr, &sin.sin_addr), 1);
        ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
        ck_assert_int_eq(listen(fd, 4), 0);
        return fd;
}

static void short_opts(struct validate_opts *o) {
        validate_opts_init(o);
        o->timeout_usec = 150 * 1000;
        o->proxy_uid = (uint32_t)geteuid();
}

/* ---- pure tests ---- */

static const struct {
        enum validate_reason r;
        const char *name;
} names[] = {
        { VALIDATE_OK, "ok" },
        { VALIDATE_NO_REDIRECT, "no-redirect" },
        { VALIDATE_WRONG_PORT, "wrong-port" },
        { VALIDATE_ORIGINAL_DST_MISMATCH, "original-dst-mismatch" },
        { VALIDATE_BIND_FAILED, "bind-failed" },
        { VALIDATE_EXEMPT_UID, "exempt-uid" },
        { VALIDATE_TIMEOUT, "timeout" },
        { VALIDATE_INTERNAL, "internal" },
        { VALIDATE_NO_PROBE_ADDRESS, "no-probe-address" },
};

START_TEST(test_reason_names) {
        enum validate_reason back;

        ck_assert_int_eq(ELEMENTSOF(names), _VALIDATE_REASON_MAX);
        ck_assert_str_eq(validate_reason_to_string(names[_i].r), names[_i].name);
        ck_assert_int_eq(validate_reason_from_string(names[_i].name, &back), 0);
        ck_assert_int_eq(back, names[_i].r);
        for (const char *c = names[_i].name; *c; c++)
                ck_assert(( *c >= 'a' && *c <= 'z') || *c == '-');
}
END_TEST

START_TEST(test_reason_unknown) {
        enum validate_reason back = VALIDATE_OK;

        ck_assert_str_eq(validate_reason_to_string(_VALIDATE_REASON_MAX), "unknown");
        ck_assert_str_eq(validate_reason_to_string((enum validate_reason)-1), "unknown");
        ck_assert_int_eq(validate_reason_from_string("No-Redirect", &back), -EINVAL);
        ck_assert_int_eq(validate_reason_from_string(NULL, &back), -EINVAL);
        ck_assert_int_eq(back, VALIDATE_OK);
}
END_TEST

START_TEST(test_defaults) {
        struct validate_opts o;

        memset(&o, 0xaa, sizeof o);
        validate_opts_init(&o);
        ck_assert_uint_eq(o.outbound_port, 15001);
        ck_assert_uint_eq(o.inbound_port, 15006);
        ck_assert_uint_eq(o.probe_port, 15002);
        ck_assert_uint_eq(o.timeout_usec, 5000000);
        ck_assert(!o.ipv6);
        ck_assert_uint_eq(o.proxy_uid, 1337);
        ck_assert(o.proxy_uid_known);
}
END_TEST

static char *slurp(const char *path) {
        static char buf[8192];
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t n;

        ck_assert_int_ge(fd, 0);
        n = read(fd, buf, sizeof buf - 1);
        ck_assert_int_ge(n, 0);
        buf[n] = 0;
        return buf;
}

START_TEST(test_termination_message) {
        char path[] = "/tmp/test_validate.XXXXXX";
        struct validate_result r = { .reason = VALIDATE_NO_REDIRECT };
        int fd = mkstemp(path);

        ck_assert_int_ge(fd, 0);
        /* Existing content is replaced, not appended to. */
        ck_assert_int_eq(write(fd, "old old old old old old old old old\n", 36), 36);
        close(fd);

        snprintf(r.detail, sizeof r.detail, "probe to 127.0.0.6:15002\nnot redirected");
        ck_assert_int_eq(validate_write_termination_message(path, &r), 0);
        ck_assert_str_eq(slurp(path), "no-redirect: probe to 127.0.0.6:15002 not redirected\n");

        /* A full-size detail still makes one line. */
        r.reason = VALIDATE_BIND_FAILED;
        memset(r.detail, 'x', sizeof r.detail - 1);
        r.detail[sizeof r.detail - 1] = 0;
        ck_assert_int_eq(validate_write_termination_message(path, &r), 0);
        {
                const char *s = slurp(path);
                ck_assert_uint_eq(strlen(s), strlen("bind-failed: ") + sizeof r.detail - 1 + 1);
                ck_assert_ptr_eq(strchr(s, '\n'), s + strlen(s) - 1);
        }
        unlink(path);

        ck_assert_int_eq(validate_write_termination_message("/nonexistent-dir/termination-log", &r), -ENOENT);
        ck_assert_int_eq(validate_write_termination_message(NULL, &r), -EINVAL);
}
END_TEST

/* ---- tests in a private network namespace (no rules: plain kernel behaviour) ---- */

START_TEST(test_bind_failed_both) {
        struct validate_opts o;
        struct validate_result r;

        ck_assert_int_eq(enter_netns(), 0);
        short_opts(&o);
        /* Squatters without SO_REUSEPORT, as Envoy or a stray process would hold them. */
        int a = hold_port("127.0.0.1", o.outbound_port), b = hold_port("0.0.0.0", o.inbound_port);
        ck_assert_int_eq(validate_run(&o, &r), -EADDRINUSE);
        ck_assert_int_eq(r.reason, VALIDATE_BIND_FAILED);
        ck_assert_msg(strstr(r.detail, "127.0.0.1:15001") && strstr(r.detail, "127.0.0.1:15006"), "%s", r.detail);
        ck_assert_msg(strstr(r.detail, "in use"), "%s", r.detail);
        /* Fails at once: no point waiting for the deadline. */
        ck_assert_uint_lt(r.elapsed_usec, 100000);
        close(a);
        close(b);
}
END_TEST

START_TEST(test_lo_down) {
        struct validate_opts o;
        struct validate_result r;

        /* A fresh namespace whose lo is still down: binding works, routing does not. */
        if (unshare(geteuid() == 0 ? CLONE_NEWNET : CLONE_NEWUSER | CLONE_NEWNET) < 0)
                ck_abort_msg("unshare: %s", strerror(errno));
        short_opts(&o);
        ck_assert_int_eq(validate_run(&o, &r), -ENETUNREACH);
        ck_assert_int_eq(r.reason, VALIDATE_INTERNAL);
        ck_assert_msg(strstr(r.detail, "is lo up"), "%s", r.detail);
}
END_TEST

START_TEST(test_no_redirect) {
        struct validate_opts o;
        struct validate_result r;

        ck_assert_int_eq(enter_netns(), 0);
        short_opts(&o);
        ck_assert_int_lt(validate_run(&o, &r), 0);
        ck_assert_int_eq(r.reason, VALIDATE_NO_REDIRECT);
        ck_assert_msg(strstr(r.detail, "127.0.0.6:15002"), "%s", r.detail);
        ck_assert_uint_ge(r.attempts, 2); /* retried, quickly */
        ck_assert_uint_lt(r.elapsed_usec, 1000000);
}
END_TEST

START_TEST(test_exempt_uid) {
        struct validate_opts o;
        struct validate_result r;

        ck_assert_int_eq(enter_netns(), 0);
        short_opts(&o);
        o.proxy_uid = (uint32_t)geteuid() + 1;
        ck_assert_int_eq(validate_run(&o, &r), -EPERM);
        ck_assert_int_eq(r.reason, VALIDATE_EXEMPT_UID);
}
END_TEST

START_TEST(test_partial_bind_still_probes) {
        struct validate_opts o;
        struct validate_result r;

        ck_assert_int_eq(enter_netns(), 0);
        short_opts(&o);
        int a = hold_port("127.0.0.1", o.inbound_port);
        /* 15001 binds, so the probe runs; with no rules nothing is redirected. */
        ck_assert_int_lt(validate_run(&o, &r), 0);
        ck_assert_int_eq(r.reason, VALIDATE_NO_REDIRECT);
        close(a);
}
END_TEST

START_TEST(test_probe_port_busy) {
        struct validate_opts o;
        struct validate_result r;

        ck_assert_int_eq(enter_netns(), 0);
        short_opts(&o);
        int a = hold_port("0.0.0.0", o.probe_port);
        ck_assert_int_lt(validate_run(&o, &r), 0);
        ck_assert_int_eq(r.reason, VALIDATE_WRONG_PORT);
        ck_assert_msg(strstr(r.detail, "unclear"), "%s", r.detail);
        close(a);
}
END_TEST

START_TEST(test_zero_timeout) {
        struct validate_opts o;
        struct validate_result r;

        ck_assert_int_eq(enter_netns(), 0);
        short_opts(&o);
        o.timeout_usec = 0;
        ck_assert_int_eq(validate_run(&o, &r), -ETIMEDOUT);
        ck_assert_int_eq(r.reason, VALIDATE_TIMEOUT);
}
END_TEST

START_TEST(test_ipv6_no_probe_address) {
        struct validate_opts o;
        struct validate_result r;
        int fd;

        ck_assert_int_eq(enter_netns(), 0);
        fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return; /* no IPv6 in this kernel */
        close(fd);
        short_opts(&o);
        o.ipv6 = true;
        ck_assert_int_lt(validate_run(&o, &r), 0);
        ck_assert_int_eq(r.reason, VALIDATE_NO_PROBE_ADDRESS);
        ck_assert_msg(strstr(r.detail, "::6"), "%s", r.detail);
}
END_TEST

int main(int argc, char **argv) {
        bool netns;
        Suite *s;
        SRunner *sr;
        TCase *tc;
        int failed;

        if (argc > 1 && streq(argv[1], "--probe"))
                return driver_probe(argc, argv);
        if (argc > 1 && streq(argv[1], "--hold"))
                return driver_hold(argc, argv);

        s = suite_create("validate");
        tc = tcase_create("pure");
        tcase_add_loop_test(tc, test_reason_names, 0, ELEMENTSOF(names));
        tcase_add_test(tc, test_reason_unknown);
        tcase_add_test(tc, test_defaults);
        tcase_add_test(tc, test_termination_message);
        suite_add_tcase(s, tc);

        netns = netns_possible();
        if (netns) {
                tc = tcase_create("netns");
                tcase_add_test(tc, test_bind_failed_both);
                tcase_add_test(tc, test_lo_down);
                tcase_add_test(tc, test_no_redirect);
                tcase_add_test(tc, test_exempt_uid);
                tcase_add_test(tc, test_partial_bind_still_probes);
                tcase_add_test(tc, test_probe_port_busy);
                tcase_add_test(tc, test_zero_timeout);
                tcase_add_test(tc, test_ipv6_no_probe_address);
                suite_add_tcase(s, tc);
        } else
                fprintf(stderr, "test_validate: cannot create a network namespace; netns cases skipped\n");

        sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        if (failed)
                return 1;
        return netns ? 0 : 77;
}
