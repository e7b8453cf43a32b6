/* SPDX-License-Identifier: Apache-2.0 */
/* test_selector.c: lib/kube/selector, table-driven: label and field selectors parsed as
 * k8s.io/apimachinery does, matched against one Pod, and each bad selector refused with the bad
 * part named. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/macro.h"
#include "kube/selector.h"

static const char pod_json[] =
        "{\"metadata\":{\"name\":\"web-1\",\"namespace\":\"shop\",\"labels\":{\"app\":\"web\",\"tier\":\"front\","
        "\"team.example.com/owner\":\"ana\",\"replicas\":\"3\"}},"
        "\"spec\":{\"nodeName\":\"node1\",\"hostNetwork\":false,\"restartPolicy\":\"Always\"},"
        "\"status\":{\"phase\":\"Pending\",\"podIP\":\"10.1.0.5\"}}";

static const struct {
        const char *sel;
        bool fields, match;
} ok_cases[] = {
        { "", false, true },
        { "app=web", false, true },
        { "app==web", false, true },
        { " app = web , tier = front ", false, true },
        { "app=db", false, false },
        { "app!=db", false, true },
        { "missing!=x", false, true },        /* != matches an absent label */
        { "app", false, true },
        { "missing", false, false },
        { "!missing", false, true },
        { "!app", false, false },
        { "app in (db, web)", false, true },
        { "app in (db)", false, false },
        { "app notin (db)", false, true },
        { "missing notin (db)", false, true },
        { "missing in (db)", false, false },
        { "team.example.com/owner=ana", false, true },
        { "replicas>2", false, true },
        { "replicas<3", false, false },
        { "app>2", false, false },            /* not a number: no match */
        { "app=web,tier=back", false, false },
        { "tier=", false, false },            /* an empty value is a value */
        { "", true, true },
        { "metadata.name=web-1", true, true },
        { "metadata.namespace==shop,spec.nodeName=node1", true, true },
        { "status.phase!=Running", true, true },
        { "status.phase=Running", true, false },
        { "spec.hostNetwork=false", true, true },
        { "status.nominatedNodeName=", true, true }, /* missing compares as "" */
        { "metadata.name=web\\,1", true, false },    /* escaped comma: the value is "web,1" */
        { "spec.schedulerName!=x,", true, true },    /* an empty term is skipped */
};

static const struct {
        const char *sel, *named;
        bool fields;
} bad_cases[] = {
        { "app=we b", "b", false },
        { "-app=web", "-app", false },
        { "app in db", "needs '('", false },
        { "app in (db", "expected ','", false },
        { "app in ()", "empty value set", false },
        { "app like web", "like", false },
        { "replicas>two", "two", false },
        { "app=-web", "-web", false },
        { "!app=web", "unexpected", false },
        { "app=web)", "unexpected ')'", false },
        { "metadata.labels=x", "not supported for pods: 'metadata.labels'", true },
        { "metadata.name", "is not key=value", true },
};

START_TEST(test_ok) {
        cJSON *pod = cJSON_Parse(pod_json);
        struct selector *sel = NULL;
        char err[256] = "";
        int r;

        ck_assert_ptr_nonnull(pod);
        r = ok_cases[_i].fields ? selector_parse_fields(ok_cases[_i].sel, &sel, err, sizeof err)
                                : selector_parse_labels(ok_cases[_i].sel, &sel, err, sizeof err);
        ck_assert_msg(r == 0, "'%s': %s", ok_cases[_i].sel, err);
        ck_assert_msg(selector_matches(sel, pod) == ok_cases[_i].match, "'%s' should %smatch", ok_cases[_i].sel,
                      ok_cases[_i].match ? "" : "not ");
        selector_free(sel);
        cJSON_Delete(pod);
}
END_TEST

START_TEST(test_bad) {
        struct selector *sel = NULL;
        char err[256] = "";
        int r;

        r = bad_cases[_i].fields ? selector_parse_fields(bad_cases[_i].sel, &sel, err, sizeof err)
                                 : selector_parse_labels(bad_cases[_i].sel, &sel, err, sizeof err);
        ck_assert_msg(r == -EINVAL, "'%s' was accepted", bad_cases[_i].sel);
        ck_assert_msg(strstr(err, bad_cases[_i].named), "'%s': '%s' does not name '%s'", bad_cases[_i].sel, err,
                      bad_cases[_i].named);
}
END_TEST

START_TEST(test_null_matches_all) {
        ck_assert(selector_matches(NULL, NULL));
}
END_TEST

int main(void) {
        Suite *s = suite_create("selector");
        TCase *tc = tcase_create("core");
        SRunner *sr;
        int failed;

        tcase_add_loop_test(tc, test_ok, 0, ELEMENTSOF(ok_cases));
        tcase_add_loop_test(tc, test_bad, 0, ELEMENTSOF(bad_cases));
        tcase_add_test(tc, test_null_matches_all);
        suite_add_tcase(s, tc);
        sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
