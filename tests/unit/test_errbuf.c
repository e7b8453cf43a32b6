/* SPDX-License-Identifier: Apache-2.0 */
/* test_errbuf.c: the shared error-detail buffer (lib/base/errbuf.c). */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "base/errbuf.h"

START_TEST(test_formats_and_returns_r) {
        char err[64] = "old";
        ck_assert_int_eq(errbuf_set(err, sizeof err, -EINVAL, "bad %s: %d", "port", 70000), -EINVAL);
        ck_assert_str_eq(err, "bad port: 70000");
        ck_assert_int_eq(errbuf_set(err, sizeof err, 0, "%s", ""), 0);
        ck_assert_str_eq(err, "");
}
END_TEST

START_TEST(test_truncates_with_nul) {
        char err[8];
        memset(err, 'x', sizeof err);
        ck_assert_int_eq(errbuf_set(err, sizeof err, -E2BIG, "%s", "0123456789"), -E2BIG);
        ck_assert_str_eq(err, "0123456");
}
END_TEST

START_TEST(test_no_buffer) {
        char err[4] = "abc";
        ck_assert_int_eq(errbuf_set(NULL, 16, -ENOENT, "x"), -ENOENT);
        ck_assert_int_eq(errbuf_set(err, 0, -ENOMEM, "x"), -ENOMEM);
        ck_assert_str_eq(err, "abc");
}
END_TEST

static int wrap(char *err, size_t errsz, const char *fmt, ...) {
        va_list ap;
        int r;
        va_start(ap, fmt);
        r = errbuf_setv(err, errsz, -EIO, fmt, ap);
        va_end(ap);
        return r;
}

START_TEST(test_va_list_variant) {
        char err[32];
        ck_assert_int_eq(wrap(err, sizeof err, "%s=%u", "uid", 1337u), -EIO);
        ck_assert_str_eq(err, "uid=1337");
}
END_TEST

int main(void) {
        Suite *s = suite_create("errbuf");
        TCase *tc = tcase_create("core");
        tcase_add_test(tc, test_formats_and_returns_r);
        tcase_add_test(tc, test_truncates_with_nul);
        tcase_add_test(tc, test_no_buffer);
        tcase_add_test(tc, test_va_list_variant);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? 1 : 0;
}
