/* SPDX-License-Identifier: Apache-2.0 */
/* test_elfcheck.c: static or dynamic from the program headers (lib/agent/elfcheck.c): built
 * headers of both classes and byte orders, truncations, and this test binary itself. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/elfcheck.h"
#include "base/fileio.h"

static void put(unsigned char *p, unsigned n, unsigned long long v, int be) {
        for (unsigned i = 0; i < n; i++)
                p[be ? n - 1 - i : i] = (unsigned char)(v >> (8 * i));
}

/* An ELF with phnum headers of the given types; a PT_INTERP points at "/lib/ld.so". */
static size_t build(unsigned char *b, int bits, int be, const unsigned *types, unsigned n) {
        size_t eh = bits == 64 ? 64 : 52, phs = bits == 64 ? 56 : 32, str = eh + n * phs;
        memset(b, 0, 4096);
        memcpy(b, "\x7f" "ELF", 4);
        b[4] = bits == 64 ? 2 : 1;
        b[5] = be ? 2 : 1;
        put(b + 16, 2, 2, be);
        put(b + 18, 2, bits == 64 ? 62 : 3, be);
        if (bits == 64) {
                put(b + 32, 8, eh, be);
                put(b + 54, 2, phs, be);
                put(b + 56, 2, n, be);
        } else {
                put(b + 28, 4, eh, be);
                put(b + 42, 2, phs, be);
                put(b + 44, 2, n, be);
        }
        for (unsigned i = 0; i < n; i++) {
                unsigned char *ph = b + eh + i * phs;
                put(ph, 4, types[i], be);
                if (types[i] == 3) {
                        put(bits == 64 ? ph + 8 : ph + 4, bits == 64 ? 8 : 4, str, be);
                        put(bits == 64 ? ph + 32 : ph + 16, bits == 64 ? 8 : 4, 11, be);
                }
        }
        memcpy(b + str, "/lib/ld.so", 11);
        return str + 11;
}

START_TEST(test_classes) {
        unsigned char b[4096];
        struct elfcheck_info i;
        char err[128];
        static const unsigned dyn[] = { 6, 3, 1, 2 }, stat[] = { 1, 1 }, pie[] = { 1, 2 };
        int bits = _i & 1 ? 32 : 64, be = _i & 2 ? 1 : 0;

        size_t n = build(b, bits, be, dyn, 4);
        ck_assert_int_eq(elfcheck_parse(b, n, &i, err, sizeof err), 0);
        ck_assert_uint_eq(i.bits, (unsigned)bits);
        ck_assert(i.has_interp && i.has_dynamic && !elfcheck_is_static(&i));
        ck_assert_str_eq(i.interp, "/lib/ld.so");
        n = build(b, bits, be, stat, 2);
        ck_assert_int_eq(elfcheck_parse(b, n, &i, err, sizeof err), 0);
        ck_assert(elfcheck_is_static(&i) && !i.has_dynamic);
        n = build(b, bits, be, pie, 2);
        ck_assert_int_eq(elfcheck_parse(b, n, &i, err, sizeof err), 0);
        ck_assert(elfcheck_is_static(&i) && i.has_dynamic); /* static-pie */
}
END_TEST

START_TEST(test_bad) {
        unsigned char b[4096];
        struct elfcheck_info i;
        char err[128] = "";
        static const unsigned t[] = { 1, 1, 1 };
        size_t n = build(b, 64, 0, t, 3);

        ck_assert_int_eq(elfcheck_parse("#!/bin/sh\n", 10, &i, err, sizeof err), -ENOEXEC);
        ck_assert_str_eq(err, "not an ELF file");
        ck_assert_int_eq(elfcheck_parse(b, 40, &i, err, sizeof err), -ENOEXEC);
        ck_assert_str_eq(err, "truncated ELF header");
        ck_assert_int_eq(elfcheck_parse(b, 64 + 56 * 2, &i, err, sizeof err), -ENOEXEC);
        ck_assert_ptr_nonnull(strstr(err, "program headers beyond"));
        b[4] = 9;
        ck_assert_int_eq(elfcheck_parse(b, n, &i, err, sizeof err), -ENOEXEC);
        b[4] = 2;
        b[56] = 0; /* no program headers */
        ck_assert_int_eq(elfcheck_parse(b, n, &i, err, sizeof err), -ENOEXEC);
        /* phoff far past the buffer, a huge phnum: no overflow */
        b[56] = 0xff, b[57] = 0xff;
        memset(b + 32, 0xff, 8);
        ck_assert_int_eq(elfcheck_parse(b, n, &i, err, sizeof err), -ENOEXEC);
}
END_TEST

/* This unit test is a dynamic executable (the build links it against libcheck). */
START_TEST(test_self) {
        char *text = NULL;
        size_t len = 0;
        struct elfcheck_info i;
        char err[128];
        FILE *f = fopen("/proc/self/exe", "rb");
        ck_assert_ptr_nonnull(f);
        text = malloc(65536);
        len = fread(text, 1, 65536, f);
        fclose(f);
        ck_assert_int_eq(elfcheck_parse(text, len, &i, err, sizeof err), 0);
        ck_assert(!elfcheck_is_static(&i));
        ck_assert_ptr_nonnull(strstr(i.interp, "ld"));
        free(text);
}
END_TEST

int main(void) {
        Suite *s = suite_create("elfcheck");
        TCase *tc = tcase_create("elfcheck");
        tcase_add_loop_test(tc, test_classes, 0, 4);
        tcase_add_test(tc, test_bad);
        tcase_add_test(tc, test_self);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
