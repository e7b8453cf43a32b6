/* SPDX-License-Identifier: Apache-2.0 */
/* test_log.c: lib/base/log: JSON and text lines with labels (log_msg_fields), level filtering,
 * the in-memory sink that feeds the plugin's log socket. Spec: istio-cni.md §2.14. */
#include <check.h>
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/macro.h"

/* Reads what was written to the pipe so far. */
static char *drain(int fd) {
        static char buf[65536];
        ssize_t n = read(fd, buf, sizeof buf - 1);
        buf[n > 0 ? n : 0] = 0;
        return buf;
}

static int pipe_nb(int p[2]) {
        if (pipe2(p, O_CLOEXEC) < 0)
                return -1;
        return fcntl(p[0], F_SETFL, O_NONBLOCK);
}

START_TEST(test_json_fields) {
        int p[2];
        ck_assert_int_eq(pipe_nb(p), 0);
        log_setup("istio-cni", p[1], LOG_LEVEL_INFO, true);
        const struct log_field f[] = { LOG_FIELD_STR("pod", "ns/a\"b"), LOG_FIELD_NUM("latency_total_ms", 1.25) };
        log_msg_fields(LOG_LEVEL_INFO, f, ELEMENTSOF(f), "pod %s: done", "x");
        log_debug("hidden %d", 1);
        char *out = drain(p[0]);
        ck_assert_ptr_nonnull(strchr(out, '\n'));
        ck_assert_ptr_null(strstr(out, "hidden"));
        cJSON *j = cJSON_Parse(out);
        ck_assert_ptr_nonnull(j);
        ck_assert_str_eq(cJSON_GetObjectItem(j, "msg")->valuestring, "pod x: done");
        ck_assert_str_eq(cJSON_GetObjectItem(j, "level")->valuestring, "info");
        ck_assert_str_eq(cJSON_GetObjectItem(j, "scope")->valuestring, "istio-cni");
        ck_assert_str_eq(cJSON_GetObjectItem(j, "pod")->valuestring, "ns/a\"b");
        ck_assert(cJSON_IsNumber(cJSON_GetObjectItem(j, "latency_total_ms")));
        ck_assert(cJSON_GetObjectItem(j, "latency_total_ms")->valuedouble == 1.25);
        regex_t re;
        ck_assert_int_eq(regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}Z$", REG_EXTENDED), 0);
        ck_assert_int_eq(regexec(&re, cJSON_GetObjectItem(j, "time")->valuestring, 0, NULL, 0), 0);
        regfree(&re);
        cJSON_Delete(j);

        /* Text lines (istio-iptables' format) get the labels after a tab. */
        log_setup("istio-iptables", p[1], LOG_LEVEL_INFO, false);
        log_msg_fields(LOG_LEVEL_WARN, f, ELEMENTSOF(f), "hello");
        out = drain(p[0]);
        ck_assert_msg(strstr(out, "\twarn\thello\tpod=ns/a\"b latency_total_ms=1.250\n"), "%s", out);
        /* Lines without labels are unchanged. */
        log_info("plain");
        out = drain(p[0]);
        ck_assert_msg(strstr(out, "\tinfo\tplain\n") && !strstr(out, "plain\t"), "%s", out);
        close(p[0]);
        close(p[1]);
}
END_TEST

START_TEST(test_memory_sink) {
        int p[2];
        char *body = NULL;
        size_t len = 0;
        ck_assert_int_eq(pipe_nb(p), 0);
        log_setup("istio-cni", p[1], LOG_LEVEL_WARN, true);
        ck_assert_int_eq(log_memory_take_json(&body, &len), -ENODATA);
        log_set_memory(true, LOG_LEVEL_INFO);
        ck_assert_int_eq(log_get_level(), LOG_LEVEL_INFO);
        log_info("one \"quoted\"\nline");
        log_debug("not kept");
        const struct log_field f[] = { LOG_FIELD_NUM("n", 3) };
        log_msg_fields(LOG_LEVEL_ERROR, f, 1, "two");
        /* The main sink still filters at warn. */
        char *out = drain(p[0]);
        ck_assert_ptr_null(strstr(out, "quoted"));
        ck_assert_ptr_nonnull(strstr(out, "two"));
        ck_assert_int_eq(log_memory_take_json(&body, &len), 0);
        ck_assert_uint_eq(len, strlen(body));
        cJSON *a = cJSON_Parse(body);
        ck_assert_msg(cJSON_IsArray(a) && cJSON_GetArraySize(a) == 2, "%s", body);
        cJSON *l0 = cJSON_Parse(cJSON_GetArrayItem(a, 0)->valuestring);
        cJSON *l1 = cJSON_Parse(cJSON_GetArrayItem(a, 1)->valuestring);
        ck_assert_ptr_nonnull(l0);
        ck_assert_ptr_nonnull(l1);
        ck_assert_str_eq(cJSON_GetObjectItem(l0, "msg")->valuestring, "one \"quoted\"\nline");
        ck_assert_str_eq(cJSON_GetObjectItem(l1, "level")->valuestring, "error");
        ck_assert(cJSON_GetObjectItem(l1, "n")->valuedouble == 3);
        cJSON_Delete(l0);
        cJSON_Delete(l1);
        cJSON_Delete(a);
        free(body);
        /* Taken: empty again. */
        ck_assert_int_eq(log_memory_take_json(&body, &len), -ENODATA);

        /* Bounded: past LOG_MEMORY_MAX later lines are dropped, never a torn array. */
        char big[4000];
        memset(big, 'x', sizeof big - 1);
        big[sizeof big - 1] = 0;
        for (unsigned i = 0; i < 2 * LOG_MEMORY_MAX / sizeof big; i++)
                log_info("%s", big);
        ck_assert_int_eq(log_memory_take_json(&body, &len), 0);
        a = cJSON_Parse(body);
        ck_assert(cJSON_IsArray(a));
        int n = cJSON_GetArraySize(a);
        ck_assert_msg(n > 100 && (size_t)n * sizeof big <= LOG_MEMORY_MAX + sizeof big, "%d lines", n);
        cJSON_Delete(a);
        free(body);
        log_set_memory(false, LOG_LEVEL_INFO);
        ck_assert_int_eq(log_get_level(), LOG_LEVEL_WARN);
        close(p[0]);
        close(p[1]);
}
END_TEST

int main(void) {
        Suite *s = suite_create("log");
        TCase *tc = tcase_create("core");
        tcase_add_test(tc, test_json_fields);
        tcase_add_test(tc, test_memory_sink);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? 1 : 0;
}
