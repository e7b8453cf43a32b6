/* SPDX-License-Identifier: Apache-2.0 */
/* test_idname.c: user / group name → id from passwd/group files (lib/base/idname.c): the
 * line rules of Go's os/user on written fixtures, and the host's own databases. */
#include <check.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/idname.h"


static const char *fixture(const char *text) {
        static char path[64];
        FILE *f;

        snprintf(path, sizeof path, "%s", "/tmp/test_idname.XXXXXX");
        int fd = mkstemp(path);
        ck_assert_int_ge(fd, 0);
        f = fdopen(fd, "w");
        ck_assert_ptr_nonnull(f);
        fputs(text, f);
        ck_assert_int_eq(fclose(f), 0);
        return path;
}

static int lookup(const char *text, const char *name, bool group, uint32_t *id) {
        const char *p = fixture(text);
        int r = idname_lookup_file(p, name, group, id);
        unlink(p);
        return r;
}

START_TEST(test_passwd_lines) {
        uint32_t id = 4242;
        const char *pw = "# comment:a:b:c:d:e:f\n"
                         "\n"
                         "+nis:x:7:7::/:/bin/sh\n"
                         "short:x:5:5:/home\n"
                         "bad:x:abc:1::/:/bin/sh\n"
                         "bad:x:77:1::/:/bin/sh\n"
                         "  istio-proxy:x:1337:1337:Istio Proxy:/home/istio-proxy:/bin/false  \n"
                         "istio-proxy:x:9:9::/:/bin/sh\n"
                         "noshell:x:+12:13::/:\n"
                         "fivecolons:x:14:15::/\n"
                         "big:x:4294967296:1::/:/bin/sh\n"
                         "neg:x:-1:1::/:/bin/sh\n"
                         "badgid:x:3:y::/:/bin/sh\n"
                         "colon:x:21:22::/:/bin/sh:extra:fields\n"
                         "last:x:4294967295:0::/:/bin/sh";

        ck_assert_int_eq(lookup(pw, "istio-proxy", false, &id), 0);
        ck_assert_uint_eq(id, 1337); /* the first line that names it, leading blanks trimmed */
        ck_assert_int_eq(lookup(pw, "bad", false, &id), 0);
        ck_assert_uint_eq(id, 77); /* a non-numeric uid is skipped, as Go does */
        ck_assert_int_eq(lookup(pw, "noshell", false, &id), 0);
        ck_assert_uint_eq(id, 12); /* an empty shell field; Atoi takes a sign */
        ck_assert_int_eq(lookup(pw, "colon", false, &id), 0);
        ck_assert_uint_eq(id, 21);
        ck_assert_int_eq(lookup(pw, "last", false, &id), 0); /* no final newline */
        ck_assert_uint_eq(id, 4294967295u);
        id = 4242;
        ck_assert_int_eq(lookup(pw, "big", false, &id), -ERANGE);
        ck_assert_int_eq(lookup(pw, "neg", false, &id), -ERANGE);
        ck_assert_int_eq(lookup(pw, "nis", false, &id), -ENOENT);
        ck_assert_int_eq(lookup(pw, "+nis", false, &id), -ENOENT);
        ck_assert_int_eq(lookup(pw, "short", false, &id), -ENOENT);
        ck_assert_int_eq(lookup(pw, "fivecolons", false, &id), -ENOENT); /* Go wants 6 colons */
        ck_assert_int_eq(lookup(pw, "badgid", false, &id), -ENOENT);
        ck_assert_int_eq(lookup(pw, "# comment", false, &id), -ENOENT);
        ck_assert_int_eq(lookup(pw, "istio", false, &id), -ENOENT); /* a prefix is not a name */
        ck_assert_uint_eq(id, 4242);
}
END_TEST

START_TEST(test_group_lines) {
        uint32_t id = 4242;
        const char *gr = "wheel:*:0:root\n"
                         "nomembers:x:5\n"
                         "tooshort:x\n"
                         "commented:x:8:a # a trailing comment: with:colons\n"
                         "cut:x # comment:9:\n"
                         "-nis:x:3:\n";

        ck_assert_int_eq(lookup(gr, "wheel", true, &id), 0);
        ck_assert_uint_eq(id, 0);
        ck_assert_int_eq(lookup(gr, "commented", true, &id), 0);
        ck_assert_uint_eq(id, 8);
        id = 4242;
        /* Go counts 3 colons on the raw line, so "nomembers:x:5" (2 colons) is not an entry. */
        ck_assert_int_eq(lookup(gr, "nomembers", true, &id), -ENOENT);
        ck_assert_int_eq(lookup(gr, "tooshort", true, &id), -ENOENT);
        ck_assert_int_eq(lookup(gr, "cut", true, &id), -ENOENT);
        ck_assert_int_eq(lookup(gr, "-nis", true, &id), -ENOENT);
        ck_assert_uint_eq(id, 4242);
}
END_TEST

START_TEST(test_huge_member_list) {
        /* getgrnam_r with the old 4 KiB buffer failed with -ERANGE on such a group. */
        size_t n = 200000;
        char *text = malloc(n + 64);
        uint32_t id = 0;

        ck_assert_ptr_nonnull(text);
        strcpy(text, "crowd:x:4000:");
        for (size_t i = strlen(text); i < n; i++)
                text[i] = i % 8 ? 'u' : ',';
        strcpy(text + n, "\nafter:x:4001:\n");
        ck_assert_int_eq(lookup(text, "crowd", true, &id), 0);
        ck_assert_uint_eq(id, 4000);
        ck_assert_int_eq(lookup(text, "after", true, &id), 0);
        ck_assert_uint_eq(id, 4001);
        free(text);
}
END_TEST

START_TEST(test_parse_line_unterminated) {
        uint32_t id = 0;
        const char buf[] = "a:x:1:2::/:/bin/shXXXX";

        /* len stops before the junk; the line need not be NUL-terminated. */
        ck_assert_int_eq(idname_parse_line(buf, strlen(buf) - 4, "a", false, &id), 1);
        ck_assert_uint_eq(id, 1);
        ck_assert_int_eq(idname_parse_line("a:x:1:2::/", 10, "a", false, &id), 0);
        ck_assert_int_eq(idname_parse_line("g:x:3:", 6, "g", true, &id), 1);
        ck_assert_uint_eq(id, 3);
}
END_TEST

START_TEST(test_host_databases) {
        /* The host's own files, checked against glibc's NSS (its files module reads the same). */
        struct passwd *pw = getpwuid(getuid());
        struct group *gr = getgrgid(getgid());
        uint32_t id = 4242;

        ck_assert_ptr_nonnull(pw);
        ck_assert_int_eq(idname_lookup(pw->pw_name, false, &id), 0);
        ck_assert_uint_eq(id, getuid());
        ck_assert_int_eq(idname_lookup("root", false, &id), 0);
        ck_assert_uint_eq(id, 0);
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
        ck_assert_int_eq(idname_lookup_file("/nonexistent/cnibox/passwd", "root", false, &id), -ENOENT);
        ck_assert_int_eq(idname_lookup_file("/", "root", false, &id), -EISDIR);
        ck_assert_uint_eq(id, 4242);
}
END_TEST

int main(void) {
        Suite *s = suite_create("idname");
        TCase *tc = tcase_create("idname");
        tcase_add_test(tc, test_passwd_lines);
        tcase_add_test(tc, test_group_lines);
        tcase_add_test(tc, test_huge_member_list);
        tcase_add_test(tc, test_parse_line_unterminated);
        tcase_add_test(tc, test_host_databases);
        tcase_add_test(tc, test_unknown);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
