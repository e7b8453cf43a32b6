/* SPDX-License-Identifier: Apache-2.0 */
/* test_repair.c: the repair controller's pure parts (lib/agent/repair.c, lib/agent/workqueue.c):
 * the broken-pod predicate, one row per clause of istio-cni.md §5.3; REPAIR_* configuration and
 * mode precedence (§5.1); the reason code; the work queue's dedupe, per-item backoff, attempts
 * and global bucket (§5.2); the token bucket of the per-node action limit. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/repair.h"
#include "agent/workqueue.h"
#include "base/macro.h"

/* A pod: annotations JSON members, then the one init container status's JSON members. */
static cJSON *pod(const char *annotations, const char *status) {
        char buf[4096];
        snprintf(buf, sizeof buf,
                 "{\"metadata\":{\"name\":\"p\",\"namespace\":\"ns\",\"uid\":\"u1\",\"annotations\":{%s}},"
                 "\"status\":{\"initContainerStatuses\":[%s]}}", annotations, status);
        cJSON *j = cJSON_Parse(buf);
        ck_assert_msg(j != NULL, "bad fixture %s", buf);
        return j;
}

#define ANN "\"sidecar.istio.io/status\":\"{}\""
#define LAST126 "\"lastState\":{\"terminated\":{\"exitCode\":126,\"reason\":\"Error\",\"message\":\"no-redirect: a connection reached 127.0.0.6:15002\\n\"}}"
#define WAITING "\"state\":{\"waiting\":{\"reason\":\"CrashLoopBackOff\"}}"

static const struct row {
        const char *what;
        const char *env[6];
        const char *annotations, *status;
        bool broken;
        const char *msg;
} rows[] = {
        { "the classic: validation 126 last time, waiting now", {}, ANN,
          "{\"name\":\"istio-validation\"," WAITING "," LAST126 "}", true,
          "no-redirect: a connection reached 127.0.0.6:15002" },
        { "1: no sidecar annotation", {}, "\"other\":\"x\"", "{\"name\":\"istio-validation\"," LAST126 "}", false, NULL },
        { "1: annotation with an empty value counts (any value)", {}, "\"sidecar.istio.io/status\":\"\"",
          "{\"name\":\"istio-validation\"," LAST126 "}", true, NULL },
        { "1: empty SidecarAnnotation disables the check", { "REPAIR_SIDECAR_ANNOTATION=" }, "",
          "{\"name\":\"istio-validation\"," LAST126 "}", true, NULL },
        { "1: another annotation key configured", { "REPAIR_SIDECAR_ANNOTATION=x/y" }, ANN,
          "{\"name\":\"istio-validation\"," LAST126 "}", false, NULL },
        { "2: another init container's name", {}, ANN, "{\"name\":\"istio-init\"," LAST126 "}", false, NULL },
        { "2: empty InitContainerName: any init container", { "REPAIR_INIT_CONTAINER_NAME=" }, ANN,
          "{\"name\":\"istio-init\"," LAST126 "}", true, NULL },
        { "2: a container without a name never matches a name", {}, ANN, "{" LAST126 "}", false, NULL },
        { "2: currently terminated Completed: never broken", {}, ANN,
          "{\"name\":\"istio-validation\",\"state\":{\"terminated\":{\"reason\":\"Completed\",\"exitCode\":3}}," LAST126 "}",
          false, NULL },
        { "2: currently terminated with exit 0: never broken", {}, ANN,
          "{\"name\":\"istio-validation\",\"state\":{\"terminated\":{\"reason\":\"X\",\"exitCode\":0}}," LAST126 "}", false, NULL },
        { "2: currently terminated without exitCode (Go: 0)", {}, ANN,
          "{\"name\":\"istio-validation\",\"state\":{\"terminated\":{\"reason\":\"X\"}}," LAST126 "}", false, NULL },
        { "2: currently terminated with 126 again: broken", {}, ANN,
          "{\"name\":\"istio-validation\",\"state\":{\"terminated\":{\"reason\":\"Error\",\"exitCode\":126}}," LAST126 "}",
          true, NULL },
        { "2: running now, 126 last time: broken", {}, ANN,
          "{\"name\":\"istio-validation\",\"state\":{\"running\":{}}," LAST126 "}", true, NULL },
        { "2: no lastState (first failure, not restarted yet)", {}, ANN,
          "{\"name\":\"istio-validation\",\"state\":{\"terminated\":{\"exitCode\":126}}}", false, NULL },
        { "2: lastState without terminated", {}, ANN,
          "{\"name\":\"istio-validation\",\"lastState\":{\"waiting\":{}}}", false, NULL },
        { "2: exit code 1 last time", {}, ANN,
          "{\"name\":\"istio-validation\",\"lastState\":{\"terminated\":{\"exitCode\":1}}}", false, NULL },
        { "2: exit code as a string is not 126", {}, ANN,
          "{\"name\":\"istio-validation\",\"lastState\":{\"terminated\":{\"exitCode\":\"126\"}}}", false, NULL },
        { "2: InitExitCode 0: any exit code", { "REPAIR_INIT_CONTAINER_EXIT_CODE=0" }, ANN,
          "{\"name\":\"istio-validation\",\"lastState\":{\"terminated\":{\"exitCode\":1}}}", true, "" },
        { "2: InitExitCode 1 configured", { "REPAIR_INIT_CONTAINER_EXIT_CODE=1" }, ANN,
          "{\"name\":\"istio-validation\",\"lastState\":{\"terminated\":{\"exitCode\":1}}}", true, NULL },
        { "2: termination message filter matches after trimming both",
          { "REPAIR_INIT_CONTAINER_TERMINATION_MESSAGE=  hello \n" }, ANN,
          "{\"name\":\"istio-validation\",\"lastState\":{\"terminated\":{\"exitCode\":126,\"message\":\"\\thello\\n\"}}}", true,
          "hello" },
        { "2: termination message filter differs", { "REPAIR_INIT_CONTAINER_TERMINATION_MESSAGE=hello" }, ANN,
          "{\"name\":\"istio-validation\",\"lastState\":{\"terminated\":{\"exitCode\":126,\"message\":\"bye\"}}}", false, NULL },
        { "2: whitespace-only filter = no filter", { "REPAIR_INIT_CONTAINER_TERMINATION_MESSAGE=   " }, ANN,
          "{\"name\":\"istio-validation\"," LAST126 "}", true, NULL },
        { "2: filter set, message absent", { "REPAIR_INIT_CONTAINER_TERMINATION_MESSAGE=x" }, ANN,
          "{\"name\":\"istio-validation\",\"lastState\":{\"terminated\":{\"exitCode\":126}}}", false, NULL },
        { "2: second status matches (exists)", {}, ANN,
          "{\"name\":\"other\"},{\"name\":\"istio-validation\"," LAST126 "}", true, NULL },
        { "no init container statuses at all", {}, ANN, "", false, NULL },
};

START_TEST(test_predicate_table) {
        const struct row *t = &rows[_i];
        char *env[8] = {};
        struct repair_config c;
        char err[256] = "", msg[512];

        for (size_t i = 0; i < ELEMENTSOF(t->env) && t->env[i]; i++)
                env[i] = (char *)t->env[i];
        ck_assert_int_eq(repair_config_from_env(env, &c, err, sizeof err), 0);
        cJSON *j = pod(t->annotations, t->status);
        bool got = repair_pod_is_broken(&c, j, msg, sizeof msg);
        ck_assert_msg(got == t->broken, "%s: got %d", t->what, got);
        if (t->msg)
                ck_assert_str_eq(msg, t->msg);
        cJSON_Delete(j);
        repair_config_done(&c);
}
END_TEST

START_TEST(test_predicate_fixture_and_odd_input) {
        struct repair_config c;
        char err[256];
        char *env[] = { NULL };
        ck_assert_int_eq(repair_config_from_env(env, &c, err, sizeof err), 0);
        ck_assert(!repair_pod_is_broken(&c, NULL, NULL, 0));
        cJSON *j = cJSON_Parse("[1,2]");
        ck_assert(!repair_pod_is_broken(&c, j, NULL, 0));
        cJSON_Delete(j);
        j = cJSON_Parse("{\"metadata\":{\"annotations\":{\"sidecar.istio.io/status\":1}},\"status\":{\"initContainerStatuses\":{}}}");
        ck_assert(!repair_pod_is_broken(&c, j, NULL, 0));
        cJSON_Delete(j);
        repair_config_done(&c);
}
END_TEST

START_TEST(test_config_modes) {
        static const struct {
                const char *env[4];
                enum repair_mode mode;
        } t[] = {
                { {}, REPAIR_MODE_DETECT },
                { { "REPAIR_LABEL_PODS=true" }, REPAIR_MODE_LABEL },
                { { "REPAIR_LABEL_PODS=1", "REPAIR_DELETE_PODS=True" }, REPAIR_MODE_DELETE },
                { { "REPAIR_LABEL_PODS=t", "REPAIR_DELETE_PODS=TRUE", "REPAIR_REPAIR_PODS=true" }, REPAIR_MODE_REPAIR },
                { { "REPAIR_REPAIR_PODS=false", "REPAIR_DELETE_PODS=true" }, REPAIR_MODE_DELETE },
                { { "REPAIR_REPAIR_PODS=true", "REPAIR_DETECT_ONLY=true" }, REPAIR_MODE_DETECT },
        };
        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                char *env[5] = {};
                struct repair_config c;
                char err[256];
                for (size_t k = 0; k < 4 && t[i].env[k]; k++)
                        env[k] = (char *)t[i].env[k];
                ck_assert_int_eq(repair_config_from_env(env, &c, err, sizeof err), 0);
                ck_assert_msg(c.mode == t[i].mode, "row %zu: mode %s", i, repair_mode_name(c.mode));
                repair_config_done(&c);
        }
}
END_TEST

START_TEST(test_config_defaults_and_errors) {
        struct repair_config c;
        char err[256] = "";
        char *none[] = { NULL };
        ck_assert_int_eq(repair_config_from_env(none, &c, err, sizeof err), 0);
        ck_assert(c.enabled);
        ck_assert_str_eq(c.label_key, "cni.istio.io/uninitialized");
        ck_assert_str_eq(c.label_value, "true");
        ck_assert_str_eq(c.sidecar_annotation, "sidecar.istio.io/status");
        ck_assert_str_eq(c.init_container_name, "istio-validation");
        ck_assert_int_eq(c.init_exit_code, 126);
        ck_assert(c.action_qps == 10 && c.action_burst == 20);
        ck_assert_str_eq(c.host_proc, "/host/proc");
        /* empty node name: an error, not Istio's silent watch of unscheduled pods */
        ck_assert_int_eq(repair_config_check(&c, err, sizeof err), -EINVAL);
        ck_assert_ptr_nonnull(strstr(err, "REPAIR_NODE_NAME is empty"));
        repair_config_done(&c);

        static const struct {
                const char *env, *in_err;
        } bad[] = {
                { "REPAIR_ENABLED=yes", "REPAIR_ENABLED 'yes'" },
                { "REPAIR_DELETE_PODS=on", "REPAIR_DELETE_PODS 'on'" },
                { "REPAIR_INIT_CONTAINER_EXIT_CODE=12x", "REPAIR_INIT_CONTAINER_EXIT_CODE '12x'" },
                { "REPAIR_ACTION_RATE=0", "REPAIR_ACTION_RATE '0'" },
                { "REPAIR_ACTION_RATE=-1", "REPAIR_ACTION_RATE '-1'" },
                { "REPAIR_ACTION_BURST=0", "REPAIR_ACTION_BURST '0'" },
                { "REPAIR_ACTION_BURST=-3", "REPAIR_ACTION_BURST '-3'" },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                char *env[] = { (char *)bad[i].env, NULL };
                err[0] = 0;
                ck_assert_int_eq(repair_config_from_env(env, &c, err, sizeof err), -EINVAL);
                ck_assert_msg(strstr(err, bad[i].in_err), "%s: %s", bad[i].env, err);
                repair_config_done(&c);
        }
        char *env[] = { "REPAIR_NODE_NAME=Bad_Node", NULL };
        ck_assert_int_eq(repair_config_from_env(env, &c, err, sizeof err), 0);
        ck_assert_int_eq(repair_config_check(&c, err, sizeof err), -EINVAL);
        ck_assert_ptr_nonnull(strstr(err, "'Bad_Node'"));
        repair_config_done(&c);
        /* repair mode needs a procfs at REPAIR_HOST_PROC */
        char *envr[] = { "REPAIR_NODE_NAME=n1", "REPAIR_REPAIR_PODS=true", "REPAIR_HOST_PROC=/proc", NULL };
        ck_assert_int_eq(repair_config_from_env(envr, &c, err, sizeof err), 0);
        ck_assert_int_eq(repair_config_check(&c, err, sizeof err), 0);
        repair_config_done(&c);
        char *envr2[] = { "REPAIR_NODE_NAME=n1", "REPAIR_REPAIR_PODS=true", "REPAIR_HOST_PROC=/", NULL };
        ck_assert_int_eq(repair_config_from_env(envr2, &c, err, sizeof err), 0);
        ck_assert_int_eq(repair_config_check(&c, err, sizeof err), -EMEDIUMTYPE);
        ck_assert_ptr_nonnull(strstr(err, "not a proc filesystem"));
        repair_config_done(&c);
        char *envr3[] = { "REPAIR_NODE_NAME=n1", "REPAIR_REPAIR_PODS=true", "REPAIR_HOST_PROC=/nonexistent-proc", NULL };
        ck_assert_int_eq(repair_config_from_env(envr3, &c, err, sizeof err), 0);
        ck_assert_int_eq(repair_config_check(&c, err, sizeof err), -ENOENT);
        ck_assert_ptr_nonnull(strstr(err, "/nonexistent-proc"));
        repair_config_done(&c);
        char *env2[] = { "REPAIR_NODE_NAME=n1", "REPAIR_FIELD_SELECTORS=status.phase!=Failed", NULL };
        ck_assert_int_eq(repair_config_from_env(env2, &c, err, sizeof err), 0);
        ck_assert_int_eq(repair_config_check(&c, err, sizeof err), 0);
        char *fs = repair_field_selector(&c);
        ck_assert_str_eq(fs, "status.phase!=Failed,spec.nodeName=n1");
        free(fs);
        repair_config_done(&c);
}
END_TEST

START_TEST(test_reason_code) {
        char code[64];
        repair_reason_code("no-redirect: a connection from 127.0.0.1", code, sizeof code);
        ck_assert_str_eq(code, "no-redirect");
        repair_reason_code("Error connecting to 127.0.0.6:15002: dial tcp", code, sizeof code);
        ck_assert_str_eq(code, "");
        repair_reason_code("", code, sizeof code);
        ck_assert_str_eq(code, "");
        repair_reason_code("exempt-uid", code, sizeof code);
        ck_assert_str_eq(code, "");
}
END_TEST

START_TEST(test_queue_dedupe_and_dirty) {
        struct workqueue *q;
        char *k;
        ck_assert_int_eq(workqueue_new(NULL, &q), 0);
        ck_assert_int_eq(workqueue_add(q, "a/b"), 0);
        ck_assert_int_eq(workqueue_add(q, "a/b"), 0);
        ck_assert_int_eq(workqueue_add(q, "a/c"), 0);
        ck_assert_uint_eq(workqueue_len(q), 2);
        ck_assert_int_eq(workqueue_get(q, 1000, &k), 0);
        /* added again while in work: not handed out twice, queued again at done */
        ck_assert_int_eq(workqueue_add(q, k), 0);
        char *k2;
        ck_assert_int_eq(workqueue_get(q, 1000, &k2), 0);
        ck_assert_str_ne(k, k2);
        ck_assert_int_eq(workqueue_get(q, 1000, &k2 /* unchanged on timeout */), -ETIMEDOUT);
        workqueue_done(q, k);
        ck_assert_uint_eq(workqueue_len(q), 1);
        char *k3;
        ck_assert_int_eq(workqueue_get(q, 1000, &k3), 0);
        ck_assert_str_eq(k, k3);
        workqueue_done(q, k3);
        workqueue_done(q, k2);
        ck_assert_uint_eq(workqueue_len(q), 0);
        free(k);
        free(k2);
        free(k3);
        workqueue_shutdown(q);
        ck_assert_int_eq(workqueue_get(q, 1000, &k), -ESHUTDOWN);
        ck_assert_int_eq(workqueue_add(q, "x"), -ESHUTDOWN);
        workqueue_free(q);
}
END_TEST

START_TEST(test_queue_backoff_and_attempts) {
        struct workqueue_options o = { .base_delay_usec = 20000, .max_attempts = 5 };
        struct workqueue *q;
        char *k;
        ck_assert_int_eq(workqueue_new(&o, &q), 0);
        ck_assert_int_eq(workqueue_add(q, "a/b"), 0);
        uint64_t prev = now_usec();
        unsigned attempts = 0;
        for (;;) {
                ck_assert_int_eq(workqueue_get(q, 5000000, &k), 0);
                uint64_t now = now_usec();
                attempts++;
                if (attempts > 1) {
                        /* 20, 40, 80, 160 ms: exponential per item */
                        uint64_t want = 20000ULL << (attempts - 2);
                        ck_assert_msg(now - prev >= want, "attempt %u after %llu µs, want ≥ %llu", attempts,
                                      (unsigned long long)(now - prev), (unsigned long long)want);
                }
                prev = now;
                int r = workqueue_add_rate_limited(q, k);
                workqueue_done(q, k);
                free(k);
                if (r == 0)
                        break;
                ck_assert_int_eq(r, 1);
        }
        ck_assert_uint_eq(attempts, 5);
        ck_assert_uint_eq(workqueue_len(q), 0);
        ck_assert_int_eq(workqueue_get(q, 50000, &k), -ETIMEDOUT);
        /* forget resets the count */
        ck_assert_int_eq(workqueue_add_rate_limited(q, "x"), 1);
        ck_assert_uint_eq(workqueue_requeues(q, "x"), 1);
        workqueue_forget(q, "x");
        ck_assert_uint_eq(workqueue_requeues(q, "x"), 0);
        workqueue_free(q);
}
END_TEST

START_TEST(test_bucket) {
        struct workqueue_bucket b;
        uint64_t t = 1000000000, wait = 0;
        workqueue_bucket_init(&b, 10, 100, t);
        /* burst 100 at once, then 10/s: the 101st reservation waits 100 ms */
        for (int i = 0; i < 100; i++)
                ck_assert_uint_eq(workqueue_bucket_reserve(&b, t), 0);
        uint64_t w = workqueue_bucket_reserve(&b, t);
        ck_assert(w >= 99000 && w <= 101000);
        w = workqueue_bucket_reserve(&b, t);
        ck_assert(w >= 199000 && w <= 201000);

        workqueue_bucket_init(&b, 10, 20, t);
        for (int i = 0; i < 20; i++)
                ck_assert(workqueue_bucket_take(&b, t, &wait));
        ck_assert(!workqueue_bucket_take(&b, t, &wait));
        ck_assert(wait >= 99000 && wait <= 101000);
        ck_assert(!workqueue_bucket_take(&b, t + 50000, &wait));
        ck_assert(workqueue_bucket_take(&b, t + 100001, &wait));
        /* refill never exceeds the burst */
        ck_assert(workqueue_bucket_take(&b, t + 100000000, &wait));
        for (int i = 0; i < 19; i++)
                ck_assert(workqueue_bucket_take(&b, t + 100000000, &wait));
        ck_assert(!workqueue_bucket_take(&b, t + 100000000, &wait));
}
END_TEST

int main(void) {
        Suite *s = suite_create("repair");
        TCase *tc = tcase_create("core");
        tcase_set_timeout(tc, 30);
        tcase_add_loop_test(tc, test_predicate_table, 0, (int)ELEMENTSOF(rows));
        tcase_add_test(tc, test_predicate_fixture_and_odd_input);
        tcase_add_test(tc, test_config_modes);
        tcase_add_test(tc, test_config_defaults_and_errors);
        tcase_add_test(tc, test_reason_code);
        tcase_add_test(tc, test_queue_dedupe_and_dirty);
        tcase_add_test(tc, test_queue_backoff_and_attempts);
        tcase_add_test(tc, test_bucket);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
