/* SPDX-License-Identifier: Apache-2.0 */
/* test_podnetns.c: the parsers of the repair controller's netns finder (lib/agent/podnetns.c;
 * spec istio-cni.md §5.5): local IPv4 addresses from /proc/<pid>/net/fib_trie, IPv6 addresses
 * from /proc/<pid>/net/if_inet6, the start time from /proc/<pid>/stat; and the finder itself on
 * this process's own /proc (its loopback address is in its netns). */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/podnetns.h"

/* A pod netns's fib_trie as Linux 6.x prints it (10.44.0.5/24 on eth0, lo up). */
static const char fib_trie[] =
        "Main:\n"
        "  +-- 0.0.0.0/0 3 0 5\n"
        "     |-- 0.0.0.0\n"
        "        /0 universe UNICAST\n"
        "     +-- 10.44.0.0/24 2 0 2\n"
        "        +-- 10.44.0.0/29 2 0 2\n"
        "           |-- 10.44.0.0\n"
        "              /24 link UNICAST\n"
        "           |-- 10.44.0.5\n"
        "              /32 host LOCAL\n"
        "        |-- 10.44.0.255\n"
        "           /32 link BROADCAST\n"
        "     +-- 127.0.0.0/8 2 0 2\n"
        "        |-- 127.0.0.1\n"
        "           /32 host LOCAL\n"
        "Local:\n"
        "  +-- 0.0.0.0/0 3 0 5\n"
        "     |-- 10.44.0.5\n"
        "        /32 host LOCAL\n";

static int has4(const char *text, const char *ip) {
        struct in_addr a;
        ck_assert_int_eq(inet_pton(AF_INET, ip, &a), 1);
        return podnetns_text_has_addr(text, AF_INET, &a);
}

START_TEST(test_fib_trie) {
        ck_assert_int_eq(has4(fib_trie, "10.44.0.5"), 1);
        ck_assert_int_eq(has4(fib_trie, "127.0.0.1"), 1);
        /* a network, a broadcast, a gateway: not local addresses */
        ck_assert_int_eq(has4(fib_trie, "10.44.0.0"), 0);
        ck_assert_int_eq(has4(fib_trie, "10.44.0.255"), 0);
        ck_assert_int_eq(has4(fib_trie, "10.44.0.1"), 0);
        ck_assert_int_eq(has4("", "10.44.0.5"), 0);
        ck_assert_int_eq(has4("/32 host LOCAL\n", "10.44.0.5"), 0);
        ck_assert_int_eq(podnetns_text_has_addr(NULL, AF_INET, "abcd"), -EINVAL);
        ck_assert_int_eq(podnetns_text_has_addr("", AF_UNIX, "abcd"), -EINVAL);
}
END_TEST

START_TEST(test_if_inet6) {
        static const char t[] = "00000000000000000000000000000001 01 80 10 80       lo\n"
                                "fd00c1b0000000000000000000000002 02 40 00 80     eth0\n"
                                "fe80000000000000a8bbccfffedd0001 02 40 20 80     eth0\n";
        struct in6_addr a;
        ck_assert_int_eq(inet_pton(AF_INET6, "fd00:c1b0::2", &a), 1);
        ck_assert_int_eq(podnetns_text_has_addr(t, AF_INET6, &a), 1);
        ck_assert_int_eq(inet_pton(AF_INET6, "fd00:c1b0::3", &a), 1);
        ck_assert_int_eq(podnetns_text_has_addr(t, AF_INET6, &a), 0);
        ck_assert_int_eq(podnetns_text_has_addr("fd00c1b0zz", AF_INET6, &a), 0);
}
END_TEST

START_TEST(test_stat) {
        unsigned long long v = 0;
        /* a comm with spaces and parentheses: the last ')' ends it */
        ck_assert_int_eq(podnetns_stat_start_time("4242 (a) b (c)) S 1 4242 4242 0 -1 4194560 110 0 0 0 0 0 0 0 20 0 1 0 "
                                                  "987654 2461696 192 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n", &v), 0);
        ck_assert_uint_eq(v, 987654);
        ck_assert_int_eq(podnetns_stat_start_time("1 (x) S 1 2 3", &v), -EBADMSG);
        ck_assert_int_eq(podnetns_stat_start_time("no paren", &v), -EBADMSG);
        ck_assert_int_eq(podnetns_stat_start_time(NULL, &v), -EBADMSG);
}
END_TEST

START_TEST(test_find_self) {
        char path[4200], err[512] = "";
        struct podnetns_stats st;
        /* 127.0.0.1 is a local address of the test's own netns (if lo is up); a TEST-NET address
         * is nowhere */
        int r = podnetns_find("/proc", "192.0.2.77", path, sizeof path, &st, err, sizeof err);
        ck_assert_int_eq(r, -ENOENT);
        ck_assert_ptr_nonnull(strstr(err, "failed to find network namespace"));
        ck_assert_uint_gt(st.pids, 0);
        ck_assert_int_eq(podnetns_find("/proc", "not-an-ip", path, sizeof path, NULL, err, sizeof err), -EINVAL);
        ck_assert_ptr_nonnull(strstr(err, "'not-an-ip'"));
        ck_assert_int_eq(podnetns_find("/proc", "", path, sizeof path, NULL, err, sizeof err), -EINVAL);
        ck_assert_int_eq(podnetns_find("/nonexistent", "10.0.0.1", path, sizeof path, NULL, err, sizeof err), -ENOENT);
}
END_TEST

int main(void) {
        Suite *s = suite_create("podnetns");
        TCase *tc = tcase_create("core");
        tcase_add_test(tc, test_fib_trie);
        tcase_add_test(tc, test_if_inet6);
        tcase_add_test(tc, test_stat);
        tcase_add_test(tc, test_find_self);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
