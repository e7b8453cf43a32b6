/* SPDX-License-Identifier: Apache-2.0 */
/* test_netaddr.c: strict IP/CIDR parsing and canonical printing (lib/netaddr).
 * Spec: istio-iptables.md §2.5 (CIDR rules: /len required, no leading zeros, no zones, not masked,
 * IPv6 text canonicalised), §2.4 (resolver addresses). Table-driven over {input, expected}. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/macro.h"
#include "base/netaddr.h"

/* --- addresses ------------------------------------------------------------------------------- */

static const struct {
        const char *in;
        int family;
        const char *out; /* canonical text */
} ip_good[] = {
        { "10.0.0.1", AF_INET, "10.0.0.1" },
        { "0.0.0.0", AF_INET, "0.0.0.0" },
        { "255.255.255.255", AF_INET, "255.255.255.255" },
        { "127.0.0.53", AF_INET, "127.0.0.53" },
        { "::", AF_INET6, "::" },
        { "::1", AF_INET6, "::1" },
        { "FE80::ABCD", AF_INET6, "fe80::abcd" },
        { "2001:0DB8:0000:0000:0000:0000:0000:0001", AF_INET6, "2001:db8::1" },
        { "2001:db8:0:0:1:0:0:1", AF_INET6, "2001:db8::1:0:0:1" },
        { "::ffff:10.1.2.3", AF_INET6, "::ffff:10.1.2.3" },
        /* glibc keeps the IPv4-compatible form; Go would print ::7f00:35 (spec §2.4, quirk). */
        { "::127.0.0.53", AF_INET6, "::127.0.0.53" },
};

START_TEST(test_ip_good) {
        struct netaddr_ip ip;
        char buf[INET6_ADDRSTRLEN];

        ck_assert_int_eq(netaddr_parse_ip(ip_good[_i].in, &ip), 0);
        ck_assert_int_eq(ip.family, ip_good[_i].family);
        ck_assert_str_eq(netaddr_ip_to_string(&ip, buf, sizeof buf), ip_good[_i].out);
        /* Round trip: the canonical text parses back to the same address. */
        struct netaddr_ip again;
        ck_assert_int_eq(netaddr_parse_ip(buf, &again), 0);
        ck_assert(netaddr_ip_equal(&ip, &again));
}
END_TEST

static const char *const ip_bad[] = {
        "",
        "1.2.3",
        "1.2.3.4.5",
        "256.0.0.1",
        "010.0.0.1",      /* leading zero */
        "1.2.3.04",       /* leading zero */
        " 1.2.3.4",       /* no trimming */
        "1.2.3.4 ",
        "1.2.3.4/32",     /* a prefix is not an address */
        "fe80::1%eth0",   /* zone */
        "::g",
        "1:2:3:4:5:6:7:8:9",
        "1::2::3",
        "0x0a.0.0.1",
        "localhost",
        "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255x", /* too long for any address */
};

START_TEST(test_ip_bad) {
        struct netaddr_ip ip = { .family = 12345 };
        ck_assert_int_eq(netaddr_parse_ip(ip_bad[_i], &ip), -EINVAL);
        ck_assert_int_eq(ip.family, 12345); /* untouched on failure */
}
END_TEST

START_TEST(test_ip_null) {
        struct netaddr_ip ip;
        ck_assert_int_eq(netaddr_parse_ip(NULL, &ip), -EINVAL);
}
END_TEST

/* --- prefixes -------------------------------------------------------------------------------- */

static const struct {
        const char *in;
        int family;
        unsigned len;
        const char *out;
} cidr_good[] = {
        { "0.0.0.0/0", AF_INET, 0, "0.0.0.0/0" },
        { "10.0.0.0/8", AF_INET, 8, "10.0.0.0/8" },
        { "10.1.2.3/8", AF_INET, 8, "10.1.2.3/8" }, /* not masked */
        { "1.2.3.4/32", AF_INET, 32, "1.2.3.4/32" },
        { "127.0.0.1/32", AF_INET, 32, "127.0.0.1/32" },
        { "::/0", AF_INET6, 0, "::/0" },
        { "::1/128", AF_INET6, 128, "::1/128" },
        { "2001:DB8::/32", AF_INET6, 32, "2001:db8::/32" },
        { "2001:0db8:0000::1/64", AF_INET6, 64, "2001:db8::1/64" },
        { "fe80::/10", AF_INET6, 10, "fe80::/10" },
        { "::ffff:10.0.0.0/104", AF_INET6, 104, "::ffff:10.0.0.0/104" }, /* IPv4-mapped counts as v6 */
};

START_TEST(test_cidr_good) {
        struct netaddr_cidr c;
        char buf[NETADDR_CIDR_STRLEN];

        ck_assert_int_eq(netaddr_parse_cidr(cidr_good[_i].in, &c), 0);
        ck_assert_int_eq(c.ip.family, cidr_good[_i].family);
        ck_assert_uint_eq(c.prefixlen, cidr_good[_i].len);
        ck_assert_str_eq(netaddr_cidr_to_string(&c, buf, sizeof buf), cidr_good[_i].out);
        struct netaddr_cidr again;
        ck_assert_int_eq(netaddr_parse_cidr(buf, &again), 0);
        ck_assert(netaddr_ip_equal(&c.ip, &again.ip));
        ck_assert_uint_eq(c.prefixlen, again.prefixlen);
}
END_TEST

static const char *const cidr_bad[] = {
        "10.0.0.0",         /* no /len */
        "10.0.0.0/",
        "/8",
        "10.0.0.0/33",
        "::/129",
        "2001:db8::/1000",
        "10.0.0.0/08",      /* leading zero in the length */
        "10.0.0.0/00",
        "010.0.0.0/8",      /* leading zero in the address */
        "fe80::1%eth0/64",  /* zone */
        "1.2.3.4/8junk",
        "1.2.3.4/8/8",
        "1.2.3.4/ 8",
        "1.2.3.4/-1",
        "1.2.3.4/+8",
        " 1.2.3.4/8",
        "*",
        "",
        "garbage/8",
        "1.2.3.4/0x8",
};

START_TEST(test_cidr_bad) {
        struct netaddr_cidr c = { .prefixlen = 77 };
        ck_assert_int_eq(netaddr_parse_cidr(cidr_bad[_i], &c), -EINVAL);
        ck_assert_uint_eq(c.prefixlen, 77);
}
END_TEST

START_TEST(test_cidr_null) {
        struct netaddr_cidr c;
        ck_assert_int_eq(netaddr_parse_cidr(NULL, &c), -EINVAL);
}
END_TEST

/* --- predicates ------------------------------------------------------------------------------ */

static const struct {
        const char *ip;
        bool loopback, v4mapped;
} pred[] = {
        { "127.0.0.1", true, false },
        { "127.255.255.255", true, false },
        { "128.0.0.1", false, false },
        { "10.0.0.1", false, false },
        { "::1", true, false },
        { "::2", false, false },
        { "::ffff:127.0.0.1", true, true },
        { "::ffff:10.0.0.1", false, true },
        { "::127.0.0.1", false, false }, /* IPv4-compatible, not mapped */
};

START_TEST(test_predicates) {
        struct netaddr_ip ip;
        ck_assert_int_eq(netaddr_parse_ip(pred[_i].ip, &ip), 0);
        ck_assert(netaddr_ip_is_loopback(&ip) == pred[_i].loopback);
        ck_assert(netaddr_ip_is_v4mapped(&ip) == pred[_i].v4mapped);
}
END_TEST

START_TEST(test_host_cidr_and_equal) {
        struct netaddr_ip a, b;
        struct netaddr_cidr h;
        char buf[NETADDR_CIDR_STRLEN];

        ck_assert_int_eq(netaddr_parse_ip("10.0.0.1", &a), 0);
        h = netaddr_host_cidr(&a);
        ck_assert_str_eq(netaddr_cidr_to_string(&h, buf, sizeof buf), "10.0.0.1/32");
        ck_assert_int_eq(netaddr_parse_ip("2001:DB8::1", &b), 0);
        h = netaddr_host_cidr(&b);
        ck_assert_str_eq(netaddr_cidr_to_string(&h, buf, sizeof buf), "2001:db8::1/128");
        ck_assert(!netaddr_ip_equal(&a, &b));
        /* Same 4 bytes, different family: not equal. */
        ck_assert_int_eq(netaddr_parse_ip("::ffff:10.0.0.1", &b), 0);
        ck_assert(!netaddr_ip_equal(&a, &b));
        ck_assert_int_eq(netaddr_parse_ip("10.0.0.1", &b), 0);
        ck_assert(netaddr_ip_equal(&a, &b));
        /* The longest possible text fits NETADDR_CIDR_STRLEN. */
        struct netaddr_cidr l;
        ck_assert_int_eq(netaddr_parse_cidr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128", &l), 0);
        ck_assert_str_eq(netaddr_cidr_to_string(&l, buf, sizeof buf), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128");
}
END_TEST

static Suite *netaddr_suite(void) {
        Suite *s = suite_create("netaddr");
        TCase *tc = tcase_create("ip");
        tcase_add_loop_test(tc, test_ip_good, 0, ELEMENTSOF(ip_good));
        tcase_add_loop_test(tc, test_ip_bad, 0, ELEMENTSOF(ip_bad));
        tcase_add_test(tc, test_ip_null);
        suite_add_tcase(s, tc);
        tc = tcase_create("cidr");
        tcase_add_loop_test(tc, test_cidr_good, 0, ELEMENTSOF(cidr_good));
        tcase_add_loop_test(tc, test_cidr_bad, 0, ELEMENTSOF(cidr_bad));
        tcase_add_test(tc, test_cidr_null);
        suite_add_tcase(s, tc);
        tc = tcase_create("predicates");
        tcase_add_loop_test(tc, test_predicates, 0, ELEMENTSOF(pred));
        tcase_add_test(tc, test_host_cidr_and_equal);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(netaddr_suite());
        int failed;
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
