/* SPDX-License-Identifier: Apache-2.0 */
/* test_idname.c: user / group name → id through NSS (lib/base/idname.c), checked against the
 * host's own passwd and group databases. */
#include <check.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/idname.h"

START_TEST(test_user) {
        struct passwd *pw = getpwuid(getuid());
        uint32_t id = 4242;

        ck_assert_ptr_nonnull(pw);
        ck_assert_int_eq(idname_lookup(pw->pw_name, false, &id), 0);
        ck_assert_uint_eq(id, getuid());
        ck_assert_int_eq(idname_lookup("root", false, &id), 0);
        ck_assert_uint_eq(id, 0);
}
END_TEST

START_TEST(test_group) {
        struct group *gr = getgrgid(getgid());
        uint32_t id = 4242;

        ck_assert_ptr_nonnull(gr);
        ck_assert_int_eq(idname_lookup(gr->gr_name, true, &id), 0);
        ck_assert_uint_eq(id, getgid());
}
END_TEST

START_TEST(test_unknown) {
        uint32_t id = 4242;

        ck_assert_int_eq(idname_lookup("cnibox-no-such-user-x9", false, &id), -ENOENT);
        ck_assert_int_eq(idname_lookup("cnibox-no-such-group-x9", true, &id), -ENOENT);
        ck_assert_int_eq(idname_lookup("", false, &id), -EINVAL);
        ck_assert_int_eq(idname_lookup(NULL, true, &id), -EINVAL);
        ck_assert_uint_eq(id, 4242);
}
END_TEST

int main(void) {
        Suite *s = suite_create("idname");
        TCase *tc = tcase_create("idname");
        tcase_add_test(tc, test_user);
        tcase_add_test(tc, test_group);
        tcase_add_test(tc, test_unknown);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
