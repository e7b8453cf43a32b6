/* SPDX-License-Identifier: Apache-2.0 */
/* test_env.c: variable lookup in an explicit environment block (lib/base/env.c). */
#include <check.h>
#include <stdlib.h>

#include "base/env.h"

START_TEST(test_lookup) {
        char *const envp[] = { "CNI_COMMAND=ADD", "CNI_NETNS=", "CNI_ARGSX=no", "CNI=short", "A=b=c", NULL };

        ck_assert_str_eq(env_get(envp, "CNI_COMMAND"), "ADD");
        ck_assert_str_eq(env_get(envp, "CNI_NETNS"), "");
        ck_assert_str_eq(env_get(envp, "A"), "b=c");
        ck_assert_str_eq(env_get(envp, "CNI"), "short");
        /* a prefix of a longer name is not a match, nor is a longer name than any entry */
        ck_assert_ptr_null(env_get(envp, "CNI_ARGS"));
        ck_assert_ptr_null(env_get(envp, "CNI_COMMAND_X"));
        ck_assert_ptr_null(env_get(envp, "MISSING"));
}
END_TEST

START_TEST(test_null) {
        char *const envp[] = { "A=1", NULL };
        char *const empty[] = { NULL };

        ck_assert_ptr_null(env_get(NULL, "A"));
        ck_assert_ptr_null(env_get(envp, NULL));
        ck_assert_ptr_null(env_get(empty, "A"));
}
END_TEST

int main(void) {
        Suite *s = suite_create("env");
        TCase *tc = tcase_create("env");
        tcase_add_test(tc, test_lookup);
        tcase_add_test(tc, test_null);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
