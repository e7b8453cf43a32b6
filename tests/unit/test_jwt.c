/* SPDX-License-Identifier: Apache-2.0 */
/* test_jwt.c: a token's "exp" (lib/kube/jwt.c): base64url without padding, missing exp, and
 * malformed tokens, each refused with a message. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/macro.h"
#include "kube/jwt.h"

static const struct {
        const char *token;
        int ret;
        long long exp;
        const char *err;
} cases[] = {
        /* {"alg":"RS256"} . {"exp":1700000000} . sig */
        { "eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjE3MDAwMDAwMDB9.c2ln", 0, 1700000000, NULL },
        /* {"sub":"a?b>","exp":2} (base64url '-' '_' and no padding) */
        { "e30.eyJzdWIiOiJhP2I-IiwiZXhwIjoyfQ.", 0, 2, NULL },
        /* {"exp":1.5e9} */
        { "e30.eyJleHAiOjEuNWU5fQ.x", 0, 1500000000, NULL },
        /* {"sub":"x"}: no exp */
        { "e30.eyJzdWIiOiJ4In0.x", -ENOENT, 0, "no \"exp\"" },
        { "abc", -EINVAL, 0, "three dot-separated parts" },
        { "a.b.c.d", -EINVAL, 0, "three dot-separated parts" },
        { "e30..x", -EINVAL, 0, "empty JWT payload" },
        { "e30.eyJleHAiOjF9=.x", -EINVAL, 0, "not base64url" },
        { "e30.e30+.x", -EINVAL, 0, "not base64url" },
        /* [1] */
        { "e30.WzFd.x", -EINVAL, 0, "not a JSON object" },
        /* {"exp":"soon"} */
        { "e30.eyJleHAiOiJzb29uIn0.x", -EINVAL, 0, "not a NumericDate" },
        /* {"exp":-1} */
        { "e30.eyJleHAiOi0xfQ.x", -EINVAL, 0, "not a NumericDate" },
};

START_TEST(test_cases) {
        int64_t exp = -7;
        char err[128] = "";
        int r = jwt_exp(cases[_i].token, strlen(cases[_i].token), &exp, err, sizeof err);
        ck_assert_msg(r == cases[_i].ret, "case %d: %d (%s)", _i, r, err);
        if (r == 0)
                ck_assert_int_eq(exp, cases[_i].exp);
        else
                ck_assert_msg(strstr(err, cases[_i].err), "case %d: \"%s\"", _i, err);
}
END_TEST

int main(void) {
        Suite *s = suite_create("jwt");
        TCase *tc = tcase_create("jwt");
        tcase_add_loop_test(tc, test_cases, 0, ELEMENTSOF(cases));
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
