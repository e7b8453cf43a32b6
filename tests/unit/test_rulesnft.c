/* SPDX-License-Identifier: Apache-2.0 */
/* test_rulesnft.c: lib/rules/rules-nft interface-name quoting (issue 11 A3; spec istio-iptables.md
 * §7). A plain name must be one nft string token; anything else is quoted. Where nft is installed
 * (and we are root, for a private netns), every case is also loaded by the real nft in check mode. */
#include <check.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rules/rules-nft.h"

static const struct {
        const char *name;
        bool quoted;
        bool plain_breaks; /* the unquoted name fails to load or means something else */
} cases[] = {
        /* Istio's goldens print these plain; they must stay plain (golden-exact dry-run). */
        { "lo", false, false },
        { "eth0", false, false },
        { "eth1", false, false },
        { "not-istio-nic", false, false },
        { "eth0.100", false, false },
        { "_x", false, false },
        { "virt0", false, false },
        /* Numbers or number-like: "1eth" is a syntax error, "0x1f" parses as the number 31. */
        { "1eth", true, true },
        { "0x1f", true, true },
        { "42", true, false },
        { "1.2.3.4", true, false },
        /* nft keywords */
        { "counter", true, true },
        { "accept", true, true },
        { "ip", true, false },
        { "ip6", true, false },
        { "tcp", true, false },
        { "zone", true, false },
        { "a-rwnd", true, false },
        { "xor", true, false },
        /* near-keywords stay plain */
        { "counters0", false, false },
        { "ipx", false, false },
        { "Accept", false, false },
};

START_TEST(test_quote_rule) {
        ck_assert_msg(rules_nft_ifname_needs_quotes(cases[_i].name) == cases[_i].quoted, "%s: want %s", cases[_i].name,
                      cases[_i].quoted ? "quoted" : "plain");
}
END_TEST

/* The rule against the real parser: the plain spelling of a "quoted" name must fail or mean
 * something else, and the spelling we choose must load and read back as that exact name. */
START_TEST(test_quote_rule_nft) {
        char cmd[512];
        const char *n = cases[_i].name;
        if (geteuid() != 0 || system("command -v nft >/dev/null 2>&1") != 0)
                return;
        ck_assert_int_eq(unshare(CLONE_NEWNET), 0);
        ck_assert_int_eq(system("nft add table inet t && nft add chain inet t c"), 0);
        snprintf(cmd, sizeof cmd, "nft add rule inet t c iifname %s%s%s accept 2>/dev/null", cases[_i].quoted ? "'\"" : "",
                 n, cases[_i].quoted ? "\"'" : "");
        ck_assert_msg(system(cmd) == 0, "%s", cmd);
        snprintf(cmd, sizeof cmd, "nft list chain inet t c | grep -q 'iifname \"%s\" accept'", n);
        ck_assert_msg(system(cmd) == 0, "%s did not read back as the name", n);
        if (cases[_i].plain_breaks) {
                /* Unquoted it fails, or reads back as something else (0x1f). Some keywords happen
                 * to parse after iifname ("ip"); they are quoted anyway, since that is luck. */
                snprintf(cmd, sizeof cmd,
                         "nft flush chain inet t c && nft add rule inet t c iifname %s accept 2>/dev/null && "
                         "nft list chain inet t c | grep -q 'iifname \"%s\" accept'", n, n);
                ck_assert_msg(system(cmd) != 0, "%s is parsed as the name without quotes", n);
        }
}
END_TEST

int main(void) {
        Suite *s = suite_create("rulesnft");
        TCase *tc = tcase_create("quoting");
        int n = (int)(sizeof cases / sizeof cases[0]);
        tcase_add_loop_test(tc, test_quote_rule, 0, n);
        tcase_add_loop_test(tc, test_quote_rule_nft, 0, n);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
