/* SPDX-License-Identifier: Apache-2.0 */
/* test_logsink.c: the log socket's body parser (lib/agent/logsink.c; spec istio-cni.md §2.14). */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/logsink.h"
#include "base/macro.h"

/* ---- logsink_parse_time: Go's time.Parse(time.RFC3339Nano, …) ---- */

static const struct {
        const char *s;
        int r;
        long long sec;
        long nsec;
} time_cases[] = {
        { "1970-01-01T00:00:00Z", 0, 0, 0 },
        { "2024-02-29T12:34:56.789012Z", 0, 1709210096, 789012000 },
        { "2024-02-29T12:34:56.789012+02:00", 0, 1709210096 - 7200, 789012000 },
        { "2000-01-01T00:00:00,5-00:30", 0, 946684800 + 1800, 500000000 },
        { "2024-01-02T3:04:05Z", 0, 1704164645, 0 },           /* Go's "15" takes one digit */
        { "2024-01-02T03:04:05.1Z", 0, 1704164645, 100000000 },
        { "9999-12-31T23:59:59.999999999999Z", 0, 253402300799, 999999999 },
        { "2000-02-29T00:00:00Z", 0, 951782400, 0 },
        { "0000-01-01T00:00:00Z", 0, -62167219200, 0 },
        { "2024-01-02T03:04:05+24:00", 0, 1704164645 - 86400, 0 },
        { "2024-01-02T03:04:05-00:60", 0, 1704164645 + 3600, 0 },
        { "", -EINVAL, 0, 0 },
        { "garbage", -EINVAL, 0, 0 },
        { "2023-02-29T00:00:00Z", -EINVAL, 0, 0 },
        { "1900-02-29T00:00:00Z", -EINVAL, 0, 0 },
        { "2024-04-31T00:00:00Z", -EINVAL, 0, 0 },
        { "2024-13-01T00:00:00Z", -EINVAL, 0, 0 },
        { "2024-00-01T00:00:00Z", -EINVAL, 0, 0 },
        { "2024-01-00T00:00:00Z", -EINVAL, 0, 0 },
        { "2024-01-01t00:00:00Z", -EINVAL, 0, 0 },
        { "2024-01-01 00:00:00Z", -EINVAL, 0, 0 },
        { "2024-01-01T24:00:00Z", -EINVAL, 0, 0 },
        { "2024-01-01T00:60:00Z", -EINVAL, 0, 0 },
        { "2024-01-01T00:00:60Z", -EINVAL, 0, 0 },
        { "2024-01-01T00:00:00z", -EINVAL, 0, 0 },
        { "2024-01-01T00:00:00", -EINVAL, 0, 0 },
        { "2024-01-01T00:00:00.Z", -EINVAL, 0, 0 },
        { "2024-01-01T00:00:00.x1Z", -EINVAL, 0, 0 },
        { "2024-01-01T00:00:00+0100", -EINVAL, 0, 0 },
        { "2024-01-01T00:00:00+01", -EINVAL, 0, 0 },
        { "2024-01-01T00:00:00+25:00", -EINVAL, 0, 0 },
        { "2024-01-01T00:00:00+01:61", -EINVAL, 0, 0 },
        { "2024-01-01T00:00:00 +01:00", -EINVAL, 0, 0 },
        { "2024-01-01T00:00:00Zjunk", -EINVAL, 0, 0 },
        { "2024-01-01T00:00:00Z ", -EINVAL, 0, 0 },
        { " 2024-01-01T00:00:00Z", -EINVAL, 0, 0 },
        { "24-01-01T00:00:00Z", -EINVAL, 0, 0 },
        { "2024-1-01T00:00:00Z", -EINVAL, 0, 0 },
        { "+2024-01-01T00:00:00Z", -EINVAL, 0, 0 },
        { "2024-01-01T00:0:00Z", -EINVAL, 0, 0 },
        { "2024-01-01T000:00:00Z", -EINVAL, 0, 0 },
        { "2024-01-01T:00:00Z", -EINVAL, 0, 0 },
        { "2024-01-01", -EINVAL, 0, 0 },
        { "1700000000", -EINVAL, 0, 0 },
};

START_TEST(test_time) {
        struct timespec ts = { -1, -1 };
        int r = logsink_parse_time(time_cases[_i].s, &ts);
        ck_assert_msg(r == time_cases[_i].r, "'%s': got %d want %d", time_cases[_i].s, r, time_cases[_i].r);
        if (r == 0) {
                ck_assert_msg((long long)ts.tv_sec == time_cases[_i].sec && ts.tv_nsec == time_cases[_i].nsec,
                              "'%s': got %lld.%09ld", time_cases[_i].s, (long long)ts.tv_sec, ts.tv_nsec);
        } else {
                ck_assert(ts.tv_sec == -1);     /* untouched on failure */
        }
}
END_TEST

/* ---- logsink_parse: one entry at a time ---- */

struct seen {
        size_t n;
        char last[65536];        /* "level|scope|msg|time|labels" of the last entry */
        struct logsink_latency lat;
        bool has_lat;
};

static void record(const struct logsink_entry *e, void *userdata) {
        struct seen *s = userdata;
        _cleanup_free_ char *labels = cJSON_PrintUnformatted(e->labels);
        ck_assert(cJSON_IsObject(e->labels));
        snprintf(s->last, sizeof s->last, "%s|%s|%s|%s|%s", e->level, e->scope ? e->scope : "(null)", e->msg,
                 e->time, labels);
        s->has_lat = logsink_latency(e, &s->lat);
        s->n++;
}

#define T "\\\"time\\\":\\\"2026-12-04T11:00:00.123456Z\\\""

static const struct {
        const char *name;
        const char *line;       /* JSON-string-escaped log line, without the quotes */
        const char *want;       /* the recorded entry, or NULL: dropped */
} entry_cases[] = {
        { "plugin line", "{" T ",\\\"level\\\":\\\"info\\\",\\\"scope\\\":\\\"default\\\",\\\"msg\\\":\\\"setting up redirect\\\",\\\"pod\\\":\\\"ns/p\\\"}",
          "info|default|setting up redirect|2026-12-04T11:00:00.123456Z|{\"pod\":\"ns/p\"}" },
        { "no scope", "{" T ",\\\"level\\\":\\\"debug\\\",\\\"msg\\\":\\\"m\\\"}",
          "debug|(null)|m|2026-12-04T11:00:00.123456Z|{}" },
        { "warn", "{" T ",\\\"level\\\":\\\"warn\\\",\\\"msg\\\":\\\"m\\\"}", "warn|(null)|m|2026-12-04T11:00:00.123456Z|{}" },
        { "error", "{" T ",\\\"level\\\":\\\"error\\\",\\\"msg\\\":\\\"m\\\"}", "error|(null)|m|2026-12-04T11:00:00.123456Z|{}" },
        { "empty msg", "{" T ",\\\"level\\\":\\\"info\\\",\\\"msg\\\":\\\"\\\"}", "info|(null)||2026-12-04T11:00:00.123456Z|{}" },
        { "offset time", "{\\\"time\\\":\\\"2026-12-04T12:00:00+01:00\\\",\\\"level\\\":\\\"info\\\",\\\"msg\\\":\\\"m\\\"}",
          "info|(null)|m|2026-12-04T12:00:00+01:00|{}" },
        { "surrounding space", " \\n{" T ",\\\"level\\\":\\\"info\\\",\\\"msg\\\":\\\"m\\\"}\\t ",
          "info|(null)|m|2026-12-04T11:00:00.123456Z|{}" },
        { "labels of every type", "{" T ",\\\"level\\\":\\\"info\\\",\\\"msg\\\":\\\"m\\\",\\\"n\\\":1.5,\\\"b\\\":true,\\\"z\\\":null,\\\"o\\\":{\\\"a\\\":[1,{}]},\\\"caller\\\":\\\"x.c:1\\\"}",
          "info|(null)|m|2026-12-04T11:00:00.123456Z|{\"n\":1.5,\"b\":true,\"z\":null,\"o\":{\"a\":[1,{}]},\"caller\":\"x.c:1\"}" },
        { "non-string scope stays a label", "{" T ",\\\"level\\\":\\\"info\\\",\\\"msg\\\":\\\"m\\\",\\\"scope\\\":7}",
          "info|(null)|m|2026-12-04T11:00:00.123456Z|{\"scope\":7}" },
        { "repeated key: last wins", "{" T ",\\\"level\\\":\\\"bogus\\\",\\\"msg\\\":\\\"a\\\",\\\"pod\\\":\\\"x\\\",\\\"level\\\":\\\"info\\\",\\\"pod\\\":\\\"y\\\"}",
          "info|(null)|a|2026-12-04T11:00:00.123456Z|{\"pod\":\"y\"}" },
        { "repeated key: last wins (drop)", "{" T ",\\\"level\\\":\\\"info\\\",\\\"msg\\\":\\\"a\\\",\\\"level\\\":\\\"fatal\\\"}", NULL },
        { "missing msg", "{" T ",\\\"level\\\":\\\"info\\\"}", NULL },
        { "missing level", "{" T ",\\\"msg\\\":\\\"m\\\"}", NULL },
        { "missing time", "{\\\"level\\\":\\\"info\\\",\\\"msg\\\":\\\"m\\\"}", NULL },
        { "bad time", "{\\\"time\\\":\\\"yesterday\\\",\\\"level\\\":\\\"info\\\",\\\"msg\\\":\\\"m\\\"}", NULL },
        { "numeric time", "{\\\"time\\\":1700000000,\\\"level\\\":\\\"info\\\",\\\"msg\\\":\\\"m\\\"}", NULL },
        { "numeric msg", "{" T ",\\\"level\\\":\\\"info\\\",\\\"msg\\\":5}", NULL },
        { "null level", "{" T ",\\\"level\\\":null,\\\"msg\\\":\\\"m\\\"}", NULL },
        { "level fatal", "{" T ",\\\"level\\\":\\\"fatal\\\",\\\"msg\\\":\\\"m\\\"}", NULL },
        { "level INFO", "{" T ",\\\"level\\\":\\\"INFO\\\",\\\"msg\\\":\\\"m\\\"}", NULL },
        { "level warning", "{" T ",\\\"level\\\":\\\"warning\\\",\\\"msg\\\":\\\"m\\\"}", NULL },
        { "key case", "{" T ",\\\"Level\\\":\\\"info\\\",\\\"msg\\\":\\\"m\\\"}", NULL },
        { "not JSON", "time=now level=info msg=hello", NULL },
        { "array line", "[1,2]", NULL },
        { "string line", "\\\"info\\\"", NULL },
        { "empty line", "", NULL },
        { "trailing junk", "{" T ",\\\"level\\\":\\\"info\\\",\\\"msg\\\":\\\"m\\\"}x", NULL },
        { "two objects", "{" T ",\\\"level\\\":\\\"info\\\",\\\"msg\\\":\\\"m\\\"}{}", NULL },
        { "truncated", "{" T ",\\\"level\\\":\\\"info\\\",\\\"msg\\\":\\\"m\\\"", NULL },
        { "non-finite label", "{" T ",\\\"level\\\":\\\"info\\\",\\\"msg\\\":\\\"m\\\",\\\"x\\\":1e999}", NULL },
        { "non-finite nested", "{" T ",\\\"level\\\":\\\"info\\\",\\\"msg\\\":\\\"m\\\",\\\"x\\\":[{\\\"y\\\":-1e400}]}", NULL },
        { "raw tab in msg", "{" T ",\\\"level\\\":\\\"info\\\",\\\"msg\\\":\\\"a\\tb\\\"}", NULL },
        { "raw control between tokens", "{" T ",\\\"level\\\":\\\"info\\\",\\\"msg\\\":\\\"m\\\"\\u0001}", NULL },
        { "NUL in the line", "{" T ",\\\"level\\\":\\\"info\\\",\\\"msg\\\":\\\"m\\\"}\\u0000junk", NULL },
        { "escaped tab in msg", "{" T ",\\\"level\\\":\\\"info\\\",\\\"msg\\\":\\\"a\\\\tb\\\"}",
          "info|(null)|a\tb|2026-12-04T11:00:00.123456Z|{}" },
        { "tab between tokens", "{" T ",\\t\\\"level\\\":\\\"info\\\",\\\"msg\\\":\\\"m\\\"}",
          "info|(null)|m|2026-12-04T11:00:00.123456Z|{}" },
        { "invalid UTF-8 becomes U+FFFD", "{" T ",\\\"level\\\":\\\"info\\\",\\\"msg\\\":\\\"a\xff\xc3" "b\\\",\\\"k\xe9\\\":\\\"\xed\xa0\x80\\\"}",
          "info|(null)|a\xef\xbf\xbd\xef\xbf\xbd" "b|2026-12-04T11:00:00.123456Z|{\"k\xef\xbf\xbd\":\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"}" },
        { "valid UTF-8 kept", "{" T ",\\\"level\\\":\\\"info\\\",\\\"msg\\\":\\\"h\xc3\xa9 \xf0\x9f\x98\x80\\\"}",
          "info|(null)|h\xc3\xa9 \xf0\x9f\x98\x80|2026-12-04T11:00:00.123456Z|{}" },
        { "largest finite kept", "{" T ",\\\"level\\\":\\\"info\\\",\\\"msg\\\":\\\"m\\\",\\\"x\\\":1e308}",
          "info|(null)|m|2026-12-04T11:00:00.123456Z|{\"x\":1e+308}" },
};

START_TEST(test_entry) {
        char *body = NULL;
        ck_assert_int_gt(asprintf(&body, "[\"%s\"]", entry_cases[_i].line), 0);
        struct seen s = {};
        size_t acc = 99, drop = 99;
        int r = logsink_parse(body, strlen(body), record, &s, &acc, &drop);
        ck_assert_msg(r == 0, "%s: %d", entry_cases[_i].name, r);
        if (entry_cases[_i].want) {
                ck_assert_msg(acc == 1 && drop == 0 && s.n == 1, "%s: accepted %zu dropped %zu", entry_cases[_i].name,
                              acc, drop);
                ck_assert_msg(streq(s.last, entry_cases[_i].want), "%s:\n got %s\nwant %s", entry_cases[_i].name,
                              s.last, entry_cases[_i].want);
        } else {
                ck_assert_msg(acc == 0 && drop == 1 && s.n == 0, "%s: accepted %zu dropped %zu (%s)",
                              entry_cases[_i].name, acc, drop, s.last);
        }
        free(body);
}
END_TEST

/* ---- logsink_parse: whole bodies ---- */

static const struct {
        const char *body;
        int r;
        size_t accepted, dropped;
} body_cases[] = {
        { "[]", 0, 0, 0 },
        { " [ ] \r\n", 0, 0, 0 },
        { "[\"{" T ",\\\"level\\\":\\\"info\\\",\\\"msg\\\":\\\"a\\\"}\", \"junk\", \"{" T ",\\\"level\\\":\\\"warn\\\",\\\"msg\\\":\\\"b\\\"}\"]", 0, 2, 1 },
        { "", -EBADMSG, 0, 0 },
        { "   ", -EBADMSG, 0, 0 },
        { "null", 0, 0, 0 },
        { "[null, \"x\"]", 0, 0, 2 },
        { "[\"a\tb\"]", -EBADMSG, 0, 0 },
        { "[\"a\"]\x01", -EBADMSG, 0, 0 },
        { "nul", -EBADMSG, 0, 0 },
        { "{}", -EBADMSG, 0, 0 },
        { "\"[]\"", -EBADMSG, 0, 0 },
        { "[1]", -EBADMSG, 0, 0 },
        { "[1e999]", -EBADMSG, 0, 0 },
        { "[null]", 0, 0, 1 },
        { "[[]]", -EBADMSG, 0, 0 },
        { "[{\"level\":\"info\"}]", -EBADMSG, 0, 0 },
        /* One bad element spoils the body, and nothing of it is emitted (Go's []string decoding). */
        { "[\"{" T ",\\\"level\\\":\\\"info\\\",\\\"msg\\\":\\\"a\\\"}\", 2]", -EBADMSG, 0, 0 },
        { "[\"a\"", -EBADMSG, 0, 0 },
        { "[\"a\"]]", -EBADMSG, 0, 0 },
        { "[\"a\"] x", -EBADMSG, 0, 0 },
        { "[\"a\",]", -EBADMSG, 0, 0 },
        { "POST /log HTTP/1.1", -EBADMSG, 0, 0 },
};

START_TEST(test_body) {
        struct seen s = {};
        size_t acc = 99, drop = 99;
        int r = logsink_parse(body_cases[_i].body, strlen(body_cases[_i].body), record, &s, &acc, &drop);
        ck_assert_msg(r == body_cases[_i].r, "%s: got %d want %d", body_cases[_i].body, r, body_cases[_i].r);
        if (r == 0) {
                ck_assert_uint_eq(acc, body_cases[_i].accepted);
                ck_assert_uint_eq(drop, body_cases[_i].dropped);
                ck_assert_uint_eq(s.n, acc);
        } else {
                ck_assert_uint_eq(s.n, 0);
                ck_assert_uint_eq(acc, 99);     /* outputs untouched on failure */
        }
}
END_TEST

/* The body need not be NUL-terminated; a NUL inside it is not JSON. */
START_TEST(test_length) {
        static const char b[] = "[]xyz";
        struct seen s = {};
        ck_assert_int_eq(logsink_parse(b, 2, record, &s, NULL, NULL), 0);
        ck_assert_int_eq(logsink_parse(b, 3, record, &s, NULL, NULL), -EBADMSG);
        static const char nul[] = "[\"a\"]\0";
        ck_assert_int_eq(logsink_parse(nul, sizeof nul - 1, record, &s, NULL, NULL), -EBADMSG);
        ck_assert_int_eq(logsink_parse(NULL, 0, record, &s, NULL, NULL), -EBADMSG);
        ck_assert_int_eq(logsink_parse(NULL, 1, record, &s, NULL, NULL), -EINVAL);
}
END_TEST

/* Nesting: cJSON stops at 1000 levels; deeper input is refused, never a stack overflow. */
START_TEST(test_nested) {
        size_t depth = 100000;
        char *b = malloc(2 * depth + 1);
        memset(b, '[', depth);
        memset(b + depth, ']', depth);
        struct seen s = {};
        ck_assert_int_eq(logsink_parse(b, 2 * depth, record, &s, NULL, NULL), -EBADMSG);
        free(b);

        /* A deep label inside an accepted line: kept while under the limit, dropped beyond it. */
        for (int pass = 0; pass < 2; pass++) {
                size_t d = pass == 0 ? 900 : 5000;
                char *line = NULL;
                size_t acc = 0, drop = 0;
                _cleanup_free_ char *open = malloc(d + 1), *close = malloc(d + 1);
                memset(open, '[', d);
                open[d] = '\0';
                memset(close, ']', d);
                close[d] = '\0';
                ck_assert_int_gt(asprintf(&line, "[\"{" T ",\\\"level\\\":\\\"info\\\",\\\"msg\\\":\\\"m\\\",\\\"x\\\":%s%s}\"]",
                                          open, close), 0);
                ck_assert_int_eq(logsink_parse(line, strlen(line), record, &s, &acc, &drop), 0);
                ck_assert_uint_eq(acc, pass == 0 ? 1 : 0);
                ck_assert_uint_eq(drop, pass == 0 ? 0 : 1);
                free(line);
        }
}
END_TEST

static void count_only(const struct logsink_entry *e, void *userdata) {
        (void)e;
        (*(size_t *)userdata)++;
}

/* Huge bodies: the cap, and a body just under it full of lines is parsed whole and fast. */
START_TEST(test_huge) {
        static const char line[] = "\"{" T ",\\\"level\\\":\\\"info\\\",\\\"msg\\\":\\\"setting up redirect\\\",\\\"pod\\\":\\\"default/p\\\"}\"";
        size_t cap = LOGSINK_MAX_BODY + 2;
        char *b = malloc(cap), *p = b;
        size_t n = 0;
        *p++ = '[';
        while ((size_t)(p - b) + sizeof line + 2 < LOGSINK_MAX_BODY) {
                if (n++)
                        *p++ = ',';
                memcpy(p, line, sizeof line - 1);
                p += sizeof line - 1;
        }
        *p++ = ']';
        size_t emitted = 0, acc = 0, drop = 0;
        uint64_t t0 = now_usec();
        ck_assert_int_eq(logsink_parse(b, (size_t)(p - b), count_only, &emitted, &acc, &drop), 0);
        uint64_t dt = now_usec() - t0;
        ck_assert_uint_eq(acc, n);
        ck_assert_uint_eq(emitted, n);
        ck_assert_uint_eq(drop, 0);
        printf("logsink: %zu lines, %zu bytes in %llu ms\n", n, (size_t)(p - b), (unsigned long long)dt / 1000);

        /* One byte over the cap is refused before any parsing. */
        memset(b, ' ', cap);
        b[0] = '[';
        b[LOGSINK_MAX_BODY] = ']';
        ck_assert_int_eq(logsink_parse(b, LOGSINK_MAX_BODY + 1, count_only, &emitted, NULL, NULL), -EFBIG);
        ck_assert_int_eq(logsink_parse(b, LOGSINK_MAX_BODY + 1 - 1, count_only, &emitted, NULL, NULL), -EBADMSG);
        free(b);

        /* One line with 200,000 keys, many repeated: the dedupe must not go quadratic. */
        size_t keys = 200000;
        char *big = malloc(keys * 24 + 256);
        p = big + sprintf(big, "[\"{" T ",\\\"level\\\":\\\"info\\\",\\\"msg\\\":\\\"m\\\"");
        for (size_t i = 0; i < keys; i++)
                p += sprintf(p, ",\\\"k%zu\\\":%zu", i % 1000, i);
        p += sprintf(p, "}\"]");
        struct seen s = {};
        t0 = now_usec();
        ck_assert_int_eq(logsink_parse(big, (size_t)(p - big), record, &s, &acc, &drop), 0);
        dt = now_usec() - t0;
        ck_assert_uint_eq(acc, 1);
        ck_assert_msg(dt < 5 * 1000 * 1000, "200k keys took %llu ms", (unsigned long long)dt / 1000);
        ck_assert_msg(strstr(s.last, "\"k999\":199999}"), "%.200s", s.last);
        ck_assert_msg(strstr(s.last, "\"k0\":199000,"), "last value of k0 kept");
        free(big);
}
END_TEST

/* ---- logsink_latency ---- */

START_TEST(test_latency) {
        struct seen s = {};
        static const char full[] = "[\"{" T ",\\\"level\\\":\\\"info\\\",\\\"msg\\\":\\\"added\\\",\\\"latency_setup_ms\\\":1.25,"
                                   "\\\"latency_pod_lookup_ms\\\":0.5,\\\"latency_rules_ms\\\":3,\\\"latency_total_ms\\\":4.75}\"]";
        ck_assert_int_eq(logsink_parse(full, strlen(full), record, &s, NULL, NULL), 0);
        ck_assert(s.has_lat);
        ck_assert_double_eq(s.lat.setup, 0.00125);
        ck_assert_double_eq(s.lat.pod_lookup, 0.0005);
        ck_assert_double_eq(s.lat.rules, 0.003);
        ck_assert_double_eq(s.lat.total, 0.00475);

        /* Missing, string, negative: NAN for that stage only. */
        static const char partial[] = "[\"{" T ",\\\"level\\\":\\\"info\\\",\\\"msg\\\":\\\"added\\\",\\\"latency_setup_ms\\\":\\\"2\\\","
                                      "\\\"latency_rules_ms\\\":-1,\\\"latency_total_ms\\\":0}\"]";
        ck_assert_int_eq(logsink_parse(partial, strlen(partial), record, &s, NULL, NULL), 0);
        ck_assert(s.has_lat);
        ck_assert(isnan(s.lat.setup) && isnan(s.lat.pod_lookup) && isnan(s.lat.rules));
        ck_assert_double_eq(s.lat.total, 0);

        static const char none[] = "[\"{" T ",\\\"level\\\":\\\"info\\\",\\\"msg\\\":\\\"m\\\",\\\"latency_setup_ms\\\":true}\"]";
        ck_assert_int_eq(logsink_parse(none, strlen(none), record, &s, NULL, NULL), 0);
        ck_assert(!s.has_lat);
        ck_assert(!logsink_latency(NULL, &s.lat));
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("logsink");
        TCase *tc = tcase_create("parse");
        tcase_set_timeout(tc, 60);
        tcase_add_loop_test(tc, test_time, 0, ELEMENTSOF(time_cases));
        tcase_add_loop_test(tc, test_entry, 0, ELEMENTSOF(entry_cases));
        tcase_add_loop_test(tc, test_body, 0, ELEMENTSOF(body_cases));
        tcase_add_test(tc, test_length);
        tcase_add_test(tc, test_nested);
        tcase_add_test(tc, test_huge);
        tcase_add_test(tc, test_latency);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(suite());
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
