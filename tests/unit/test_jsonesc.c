/* SPDX-License-Identifier: Apache-2.0 */
/* test_jsonesc.c: the JSON escape of one ASCII byte (lib/base/jsonesc.c), per flag. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "base/jsonesc.h"

static const char *esc(unsigned char c, unsigned flags) {
        static char out[7];
        size_t n = jsonesc_byte(c, flags, out);
        ck_assert_uint_eq(n, strlen(out));
        return out;
}

START_TEST(test_always) {
        for (unsigned f = 0; f <= JSONESC_GO; f++) {
                ck_assert_str_eq(esc('"', f), "\\\"");
                ck_assert_str_eq(esc('\\', f), "\\\\");
                ck_assert_str_eq(esc(0, f), "\\u0000");
                ck_assert_str_eq(esc(0x1f, f), "\\u001f");
                ck_assert_str_eq(esc('a', f), "");
                ck_assert_str_eq(esc(' ', f), "");
                ck_assert_str_eq(esc(0x7f, f), "");
        }
}
END_TEST

START_TEST(test_flags) {
        ck_assert_str_eq(esc('\n', 0), "\\u000a");
        ck_assert_str_eq(esc('\n', JSONESC_SHORT_NRT), "\\n");
        ck_assert_str_eq(esc('\r', JSONESC_SHORT_NRT), "\\r");
        ck_assert_str_eq(esc('\t', JSONESC_SHORT_NRT), "\\t");
        ck_assert_str_eq(esc('\b', JSONESC_SHORT_NRT), "\\u0008");
        ck_assert_str_eq(esc('\b', JSONESC_SHORT_BF), "\\b");
        ck_assert_str_eq(esc('\f', JSONESC_SHORT_BF), "\\f");
        ck_assert_str_eq(esc('\f', 0), "\\u000c");
        ck_assert_str_eq(esc('<', 0), "");
        ck_assert_str_eq(esc('<', JSONESC_HTML), "\\u003c");
        ck_assert_str_eq(esc('>', JSONESC_HTML), "\\u003e");
        ck_assert_str_eq(esc('&', JSONESC_GO), "\\u0026");
}
END_TEST

int main(void) {
        Suite *s = suite_create("jsonesc");
        TCase *tc = tcase_create("jsonesc");
        tcase_add_test(tc, test_always);
        tcase_add_test(tc, test_flags);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
