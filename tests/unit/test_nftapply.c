/* SPDX-License-Identifier: Apache-2.0 */
/* test_nftapply.c: unit tests for lib/nftapply: the dlopen() loader's error paths, the text
 * helpers, and (as root, in a private netns of the forked test process) one apply/state/cleanup
 * round. Spec: istio-iptables.md §7. */
#include <check.h>
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/macro.h"
#include "kernel/nftapply.h"

START_TEST(test_cleanup_text) {
        _cleanup_free_ char *t = NULL;

        ck_assert_int_eq(nftapply_cleanup_text(&t), 0);
        ck_assert_str_eq(t,
                         "add table inet istio-proxy-nat\n"
                         "delete table inet istio-proxy-nat\n"
                         "add table inet istio-proxy-mangle\n"
                         "delete table inet istio-proxy-mangle\n"
                         "add table inet istio-proxy-raw\n"
                         "delete table inet istio-proxy-raw\n");
}
END_TEST

START_TEST(test_load_missing_library) {
        _cleanup_free_ char *why = NULL, *err = NULL;

        nftapply_set_library("libnftables-cnibox-missing.so.9");
        ck_assert_int_eq(nftapply_load(&why), -ENOENT);
        ck_assert_ptr_nonnull(why);
        ck_assert_ptr_nonnull(strstr(why, "libnftables-cnibox-missing.so.9"));
        ck_assert_ptr_nonnull(strstr(why, "cannot load"));

        /* Every kernel-facing call reports the same, with the reason where it has an out param. */
        ck_assert_int_eq(nftapply_apply("add table inet x\n", &err), -ENOENT);
        ck_assert_ptr_nonnull(err);
        ck_assert_ptr_nonnull(strstr(err, "libnftables-cnibox-missing.so.9"));
        ck_assert_int_eq(nftapply_cleanup(NULL), -ENOENT);
        ck_assert_int_eq(nftapply_probe(NULL), -ENOENT);
        nftapply_set_library(NULL);
}
END_TEST

START_TEST(test_load_missing_symbol) {
        _cleanup_free_ char *why = NULL;

        /* A library that exists but is not libnftables. */
        nftapply_set_library("libc.so.6");
        ck_assert_int_eq(nftapply_load(&why), -ENOSYS);
        ck_assert_ptr_nonnull(why);
        ck_assert_ptr_nonnull(strstr(why, "nft_ctx_new"));
        nftapply_set_library(NULL);
}
END_TEST

START_TEST(test_load_real) {
        _cleanup_free_ char *why = NULL;

        nftapply_set_library(NULL);
        ck_assert_int_eq(nftapply_load(&why), 0);
        ck_assert_ptr_null(why);
        /* cached */
        ck_assert_int_eq(nftapply_load(NULL), 0);
}
END_TEST

/* Runs in check's forked child; unshare() confines the changes to that child. */
START_TEST(test_apply_roundtrip_root) {
        static const char text[] =
                "add table inet istio-proxy-nat\n"
                "flush table inet istio-proxy-nat\n"
                "add chain inet istio-proxy-nat output { type nat hook output priority -100 ; }\n"
                "add chain inet istio-proxy-nat istio-output\n"
                "add rule inet istio-proxy-nat output counter jump istio-output\n"
                "add rule inet istio-proxy-nat istio-output skuid 1337 counter return\n";
        _cleanup_free_ char *err = NULL, *list1 = NULL, *list2 = NULL, *why = NULL;
        unsigned mask = 99;
        bool in_sync = true;

        if (geteuid() != 0 || unshare(CLONE_NEWNET) < 0)
                return; /* needs root; the e2e tests cover this in depth */

        ck_assert_int_eq(nftapply_probe(&why), 0);
        ck_assert_int_eq(nftapply_tables_present(&mask), 0);
        ck_assert_uint_eq(mask, 0);
        ck_assert_int_eq(nftapply_state(text, &in_sync, NULL), 0);
        ck_assert(!in_sync);

        ck_assert_int_eq(nftapply_apply(text, &err), 0);
        ck_assert_int_eq(nftapply_tables_present(&mask), 0);
        ck_assert_uint_eq(mask, NFTAPPLY_TABLE_NAT);
        ck_assert_int_eq(nftapply_list(NFTAPPLY_LIST_OURS | NFTAPPLY_LIST_STATELESS, &list1), 0);
        ck_assert_ptr_nonnull(strstr(list1, "jump istio-output"));
        ck_assert_int_eq(nftapply_state(text, &in_sync, NULL), 0);
        ck_assert(in_sync);

        /* Re-run: same state. */
        ck_assert_int_eq(nftapply_apply(text, &err), 0);
        ck_assert_int_eq(nftapply_list(NFTAPPLY_LIST_OURS | NFTAPPLY_LIST_STATELESS, &list2), 0);
        ck_assert_str_eq(list1, list2);

        /* A rejected transaction reports the failing line and changes nothing. */
        ck_assert_int_eq(nftapply_apply("add table inet istio-proxy-raw\n"
                                        "add chain inet istio-proxy-raw c\n"
                                        "add rule inet istio-proxy-raw c jump nope\n", &err), -EINVAL);
        ck_assert_ptr_nonnull(strstr(err, "transaction:3:"));
        ck_assert_int_eq(nftapply_tables_present(&mask), 0);
        ck_assert_uint_eq(mask, NFTAPPLY_TABLE_NAT);

        /* Only our names in family inet count: other families, longer names and prefixes do not. */
        ck_assert_int_eq(nftapply_apply("add table ip istio-proxy-raw\n"
                                        "add table ip6 istio-proxy-mangle\n"
                                        "add table inet istio-proxy-raw2\n"
                                        "add table inet istio-proxy-mangl\n", &err), 0);
        ck_assert_int_eq(nftapply_tables_present(&mask), 0);
        ck_assert_uint_eq(mask, NFTAPPLY_TABLE_NAT);
        ck_assert_int_eq(nftapply_apply("add table inet istio-proxy-mangle\nadd table inet istio-proxy-raw\n", &err), 0);
        ck_assert_int_eq(nftapply_tables_present(&mask), 0);
        ck_assert_uint_eq(mask, NFTAPPLY_TABLES_ALL);

        ck_assert_int_eq(nftapply_cleanup(&err), 0);
        ck_assert_int_eq(nftapply_tables_present(&mask), 0);
        ck_assert_uint_eq(mask, 0);
        /* absent tables: still succeeds */
        ck_assert_int_eq(nftapply_cleanup(&err), 0);
}
END_TEST

static Suite *nftapply_suite(void) {
        Suite *s = suite_create("nftapply");
        TCase *tc = tcase_create("text");

        tcase_add_test(tc, test_cleanup_text);
        suite_add_tcase(s, tc);

        tc = tcase_create("loader");
        tcase_add_test(tc, test_load_missing_library);
        tcase_add_test(tc, test_load_missing_symbol);
        tcase_add_test(tc, test_load_real);
        suite_add_tcase(s, tc);

        tc = tcase_create("kernel");
        tcase_add_test(tc, test_apply_roundtrip_root);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(nftapply_suite());
        int failed;

        /* Always fork: the root test unshares its network namespace and must not leak it. */
        srunner_set_fork_status(sr, CK_FORK);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
