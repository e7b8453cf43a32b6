/* SPDX-License-Identifier: Apache-2.0 */
/* test_routes.c: lib/routes message building, and the real thing in a private network namespace.
 * Spec: istio-iptables.md §5.7, quirks 21-22. Also a small driver for tests/e2e/iptables/routes-*:
 *   test_routes setup|cleanup MARK TABLE [v6]   test_routes addlo   test_routes count v4|v6 MARK TABLE */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <linux/fib_rules.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernel/routes.h"

static uint32_t attr_u32(const struct nlmsghdr *n, size_t hdrlen, int type, int *found) {
        int len = n->nlmsg_len - NLMSG_LENGTH(hdrlen);
        const struct rtattr *a = (const struct rtattr *)((const char *)NLMSG_DATA(n) + NLMSG_ALIGN(hdrlen));
        *found = 0;
        for (; RTA_OK(a, len); a = RTA_NEXT(a, len))
                if (a->rta_type == type) {
                        uint32_t v;
                        memcpy(&v, RTA_DATA(a), sizeof(v));
                        *found = 1;
                        return v;
                }
        return 0;
}

START_TEST(test_rule_msg) {
        char buf[256] __attribute__((aligned(4)));
        int found;
        int len = routes_build_rule_msg(buf, sizeof(buf), RTM_NEWRULE, AF_INET6, 1337, 133, 7);
        ck_assert_int_gt(len, 0);
        const struct nlmsghdr *n = (const struct nlmsghdr *)buf;
        ck_assert_int_eq(n->nlmsg_len, len);
        ck_assert_int_eq(n->nlmsg_type, RTM_NEWRULE);
        ck_assert_int_eq(n->nlmsg_seq, 7);
        ck_assert(n->nlmsg_flags & NLM_F_CREATE);
        ck_assert(n->nlmsg_flags & NLM_F_ACK);
        const struct fib_rule_hdr *frh = NLMSG_DATA(n);
        ck_assert_int_eq(frh->family, AF_INET6);
        ck_assert_int_eq(frh->action, FR_ACT_TO_TBL);
        ck_assert_int_eq(frh->table, 133);
        ck_assert_int_eq(attr_u32(n, sizeof(*frh), FRA_FWMARK, &found), 1337);
        ck_assert(found);
        ck_assert_int_eq(attr_u32(n, sizeof(*frh), FRA_TABLE, &found), 133);
        ck_assert(found);
        attr_u32(n, sizeof(*frh), FRA_FWMASK, &found);
        ck_assert(!found); /* the kernel's default: the full mask, as `ip rule add fwmark` */

        /* Tables beyond 255 live only in FRA_TABLE. */
        len = routes_build_rule_msg(buf, sizeof(buf), RTM_DELRULE, AF_INET, 1, 100000, 1);
        ck_assert_int_gt(len, 0);
        ck_assert_int_eq(frh->table, RT_TABLE_UNSPEC);
        ck_assert_int_eq(attr_u32(n, sizeof(*frh), FRA_TABLE, &found), 100000);
        ck_assert(!(n->nlmsg_flags & NLM_F_CREATE));

        ck_assert_int_eq(routes_build_rule_msg(buf, 8, RTM_NEWRULE, AF_INET, 1, 1, 1), -ENOBUFS);
        ck_assert_int_eq(routes_build_rule_msg(buf, NLMSG_SPACE(sizeof(struct fib_rule_hdr)) + 4, RTM_NEWRULE,
                                               AF_INET, 1, 1, 1),
                         -ENOBUFS);
}
END_TEST

START_TEST(test_route_msg) {
        char buf[256] __attribute__((aligned(4)));
        int found;
        int len = routes_build_local_route_msg(buf, sizeof(buf), RTM_NEWROUTE, AF_INET, 133, 1, 3);
        ck_assert_int_gt(len, 0);
        const struct nlmsghdr *n = (const struct nlmsghdr *)buf;
        ck_assert(n->nlmsg_flags & NLM_F_EXCL); /* so "exists" is reported, and then ignored */
        const struct rtmsg *rtm = NLMSG_DATA(n);
        ck_assert_int_eq(rtm->rtm_type, RTN_LOCAL);
        ck_assert_int_eq(rtm->rtm_scope, RT_SCOPE_HOST);
        ck_assert_int_eq(rtm->rtm_dst_len, 0);
        ck_assert_int_eq(rtm->rtm_table, 133);
        ck_assert_int_eq(attr_u32(n, sizeof(*rtm), RTA_TABLE, &found), 133);
        ck_assert_int_eq(attr_u32(n, sizeof(*rtm), RTA_OIF, &found), 1);
        attr_u32(n, sizeof(*rtm), RTA_DST, &found);
        ck_assert(!found);
}
END_TEST

/* Each check test runs in its own forked child, so the new netns dies with it. */
static void enter_netns(void) {
        ck_assert_int_eq(unshare(CLONE_NEWNET), 0);
        /* A pod's lo is up; the kernel refuses IPv6 routes via a down device (ENETDOWN). */
        int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(fd, 0);
        struct ifreq ifr = { .ifr_name = "lo" };
        ck_assert_int_eq(ioctl(fd, SIOCGIFFLAGS, &ifr), 0);
        ifr.ifr_flags |= IFF_UP;
        ck_assert_int_eq(ioctl(fd, SIOCSIFFLAGS, &ifr), 0);
        close(fd);
}

START_TEST(test_setup_idempotent) {
        const char *step = NULL;
        enter_netns();
        for (int i = 0; i < 3; i++) {
                int r = routes_setup_tproxy(1337, 133, true, NULL, &step);
                ck_assert_msg(r == 0, "run %d: %s: %s", i, step ? step : "?", strerror(-r));
        }
        ck_assert_int_eq(routes_count_tproxy_rules(AF_INET, 1337, 133), 1);
        ck_assert_int_eq(routes_count_tproxy_rules(AF_INET6, 1337, 133), 1);
        /* A different mark or table is a different rule. */
        ck_assert_int_eq(routes_count_tproxy_rules(AF_INET, 1338, 133), 0);
        ck_assert_int_eq(routes_count_tproxy_rules(AF_INET, 1337, 134), 0);

        ck_assert_int_eq(routes_cleanup_tproxy(1337, 133, true, &step), 0);
        ck_assert_int_eq(routes_count_tproxy_rules(AF_INET, 1337, 133), 0);
        ck_assert_int_eq(routes_count_tproxy_rules(AF_INET6, 1337, 133), 0);
        /* Cleanup of a clean netns is fine too. */
        ck_assert_int_eq(routes_cleanup_tproxy(1337, 133, true, &step), 0);
}
END_TEST

START_TEST(test_v4_only) {
        const char *step = NULL;
        enter_netns();
        ck_assert_int_eq(routes_setup_tproxy(7, 100, false, NULL, &step), 0);
        ck_assert_int_eq(routes_count_tproxy_rules(AF_INET, 7, 100), 1);
        ck_assert_int_eq(routes_count_tproxy_rules(AF_INET6, 7, 100), 0);
}
END_TEST

START_TEST(test_lo_ipv6) {
        const char *step = NULL;
        enter_netns();
        ck_assert_int_eq(routes_add_lo_ipv6_source(&step), 0);
        ck_assert_int_eq(routes_add_lo_ipv6_source(&step), 0); /* EEXIST is fine */
}
END_TEST

/* Cleanup finds our routing from the netns (issue 11 A2): any fwmark rule whose table holds the
 * local default route via lo, whatever mark and table; never a fwmark rule without that route. */
START_TEST(test_cleanup_found) {
        const char *step = NULL;
        enter_netns();
        ck_assert_int_eq(routes_setup_tproxy(1337, 133, true, NULL, &step), 0);
        ck_assert_int_eq(routes_setup_tproxy(99, 150, true, NULL, &step), 0);
        /* Someone else's fwmark rule: table 200 has no local default route. */
        ck_assert_int_eq(system("ip rule add fwmark 7 lookup 200 && ip -6 rule add fwmark 7 lookup 200"), 0);

        /* A TPROXY apply with 1337/133 keeps its own pair, removes 99/150. */
        ck_assert_int_eq(routes_cleanup_tproxy_found(1337, 133, ROUTES_KEEP_PAIR, &step), 2);
        ck_assert_int_eq(routes_count_tproxy_rules(AF_INET, 1337, 133), 1);
        ck_assert_int_eq(routes_count_tproxy_rules(AF_INET6, 1337, 133), 1);
        ck_assert_int_eq(routes_count_tproxy_rules(AF_INET, 99, 150), 0);
        ck_assert_int_eq(routes_count_tproxy_rules(AF_INET6, 99, 150), 0);
        ck_assert_int_eq(system("test -z \"$(ip route show table 150)\" && test -z \"$(ip -6 route show table 150)\""), 0);

        /* A cleanup whose flags name another mark and table (the defaults) still finds 1337/133. */
        ck_assert_int_eq(routes_cleanup_tproxy_found(1, 2, ROUTES_PAIR_ALWAYS, &step), 2);
        ck_assert_int_eq(routes_count_tproxy_rules(AF_INET, 1337, 133), 0);
        ck_assert_int_eq(routes_count_tproxy_rules(AF_INET6, 1337, 133), 0);
        ck_assert_int_eq(system("test -z \"$(ip route show table 133)\" && test -z \"$(ip -6 route show table 133)\""), 0);
        ck_assert_int_eq(routes_count_tproxy_rules(AF_INET, 7, 200), 1);
        ck_assert_int_eq(routes_count_tproxy_rules(AF_INET6, 7, 200), 1);

        /* The configured pair goes even without its route, with ROUTES_PAIR_ALWAYS only. */
        ck_assert_int_eq(routes_cleanup_tproxy_found(7, 200, 0, &step), 0);
        ck_assert_int_eq(routes_cleanup_tproxy_found(7, 200, ROUTES_PAIR_ALWAYS, &step), 2);
        ck_assert_int_eq(routes_count_tproxy_rules(AF_INET, 7, 200), 0);
        ck_assert_int_eq(routes_cleanup_tproxy_found(7, 200, ROUTES_PAIR_ALWAYS, &step), 0);
}
END_TEST

static int driver(int argc, char **argv) {
        const char *step = "?";
        int r;
        if (argc >= 4 && (!strcmp(argv[1], "setup") || !strcmp(argv[1], "cleanup"))) {
                uint32_t mark = strtoul(argv[2], NULL, 0), table = strtoul(argv[3], NULL, 0);
                bool v6 = argc >= 5 && !strcmp(argv[4], "v6");
                r = !strcmp(argv[1], "setup") ? routes_setup_tproxy(mark, table, v6, NULL, &step)
                                              : routes_cleanup_tproxy(mark, table, v6, &step);
        } else if (argc >= 2 && !strcmp(argv[1], "addlo")) {
                r = routes_add_lo_ipv6_source(&step);
        } else if (argc >= 5 && !strcmp(argv[1], "count")) {
                r = routes_count_tproxy_rules(!strcmp(argv[2], "v6") ? AF_INET6 : AF_INET,
                                              strtoul(argv[3], NULL, 0), strtoul(argv[4], NULL, 0));
                if (r >= 0) {
                        printf("%d\n", r);
                        return 0;
                }
                step = "count rules";
        } else {
                fprintf(stderr, "usage: %s setup|cleanup MARK TABLE [v6] | addlo | count v4|v6 MARK TABLE\n", argv[0]);
                return 2;
        }
        if (r < 0) {
                fprintf(stderr, "Failed to %s: %s\n", step, strerror(-r));
                return 1;
        }
        return 0;
}

int main(int argc, char **argv) {
        if (argc > 1)
                return driver(argc, argv);

        Suite *s = suite_create("routes");
        TCase *tc = tcase_create("messages");
        tcase_add_test(tc, test_rule_msg);
        tcase_add_test(tc, test_route_msg);
        suite_add_tcase(s, tc);
        if (geteuid() == 0) {
                tc = tcase_create("netns");
                tcase_add_test(tc, test_setup_idempotent);
                tcase_add_test(tc, test_v4_only);
                tcase_add_test(tc, test_lo_ipv6);
                if (system("command -v ip >/dev/null 2>&1") == 0)
                        tcase_add_test(tc, test_cleanup_found);
                suite_add_tcase(s, tc);
        }
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
