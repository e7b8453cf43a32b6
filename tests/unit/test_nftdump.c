/* SPDX-License-Identifier: Apache-2.0 */
/* test_nftdump.c: lib/kernel/nftdump as root, in a private netns of the forked test process:
 * the dump sees exactly the tables (and chains) of the family asked, names up to the kernel's
 * maximum. */
#include <check.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/macro.h"
#include "kernel/nftapply.h"
#include "kernel/nftdump.h"

struct seen {
        char names[8][300];
        size_t n;
};

static void collect(const char *name, void *userdata) {
        struct seen *s = userdata;

        ck_assert_uint_lt(s->n, ELEMENTSOF(s->names));
        snprintf(s->names[s->n++], sizeof s->names[0], "%s", name);
}

START_TEST(test_dump_root) {
        _cleanup_free_ char *err = NULL, *cmd = NULL;
        char longname[256];
        struct seen s = { 0 };

        if (geteuid() != 0 || unshare(CLONE_NEWNET) < 0)
                return; /* needs root */

        ck_assert_int_eq(nftdump_tables(NFPROTO_INET, collect, &s), 0);
        ck_assert_uint_eq(s.n, 0);

        memset(longname, 'x', sizeof longname - 1); /* 255 characters: the kernel's longest */
        longname[sizeof longname - 1] = '\0';
        ck_assert_int_ge(asprintf(&cmd, "add table inet a\nadd table ip b\nadd table ip6 c\nadd table inet %s\n",
                                  longname), 0);
        ck_assert_int_eq(nftapply_apply(cmd, &err), 0);

        ck_assert_int_eq(nftdump_tables(NFPROTO_INET, collect, &s), 0);
        ck_assert_uint_eq(s.n, 2);
        ck_assert(streq(s.names[0], "a") || streq(s.names[1], "a"));
        ck_assert(streq(s.names[0], longname) || streq(s.names[1], longname));

        s.n = 0;
        ck_assert_int_eq(nftdump_tables(NFPROTO_IPV4, collect, &s), 0);
        ck_assert_uint_eq(s.n, 1);
        ck_assert_str_eq(s.names[0], "b");

        s.n = 0;
        ck_assert_int_eq(nftdump_tables(NFPROTO_IPV6, collect, &s), 0);
        ck_assert_uint_eq(s.n, 1);
        ck_assert_str_eq(s.names[0], "c");
}
END_TEST

static void collect_chain(const char *table, const char *chain, void *userdata) {
        struct seen *s = userdata;

        ck_assert_uint_lt(s->n, ELEMENTSOF(s->names));
        snprintf(s->names[s->n++], sizeof s->names[0], "%s/%s", table, chain);
}

/* Chains come with their table's name (doctor's KUBE-* search), per family. */
START_TEST(test_chains_root) {
        _cleanup_free_ char *err = NULL;
        struct seen s = { 0 };

        if (geteuid() != 0 || unshare(CLONE_NEWNET) < 0)
                return; /* needs root */
        ck_assert_int_eq(nftdump_chains(NFPROTO_IPV4, collect_chain, &s), 0);
        ck_assert_uint_eq(s.n, 0);
        ck_assert_int_eq(nftapply_apply("add table ip nat\nadd chain ip nat KUBE-SERVICES\n"
                                        "add chain ip nat PREROUTING { type nat hook prerouting priority -100; }\n"
                                        "add table ip6 other\nadd chain ip6 other x\n", &err), 0);
        ck_assert_int_eq(nftdump_chains(NFPROTO_IPV4, collect_chain, &s), 0);
        ck_assert_uint_eq(s.n, 2);
        ck_assert(streq(s.names[0], "nat/KUBE-SERVICES") || streq(s.names[1], "nat/KUBE-SERVICES"));
        ck_assert(streq(s.names[0], "nat/PREROUTING") || streq(s.names[1], "nat/PREROUTING"));
        s.n = 0;
        ck_assert_int_eq(nftdump_chains(NFPROTO_IPV6, collect_chain, &s), 0);
        ck_assert_uint_eq(s.n, 1);
        ck_assert_str_eq(s.names[0], "other/x");
}
END_TEST

int main(void) {
        Suite *s = suite_create("nftdump");
        TCase *tc = tcase_create("kernel");
        SRunner *sr;
        int failed;

        tcase_add_test(tc, test_dump_root);
        tcase_add_test(tc, test_chains_root);
        suite_add_tcase(s, tc);
        sr = srunner_create(s);
        /* Always fork: the test unshares its network namespace and must not leak it. */
        srunner_set_fork_status(sr, CK_FORK);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
