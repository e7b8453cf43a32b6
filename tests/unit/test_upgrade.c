/* SPDX-License-Identifier: Apache-2.0 */
/* test_upgrade.c: does the agent's DaemonSet still select this node? (lib/agent/upgrade.c; node
 * affinity semantics of k8s.io/component-helpers nodeaffinity: terms ORed, requirements ANDed, an
 * empty term matches nothing, nodeSelector ANDed with the affinity). Table-driven. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "agent/upgrade.h"
#include "base/macro.h"

static const char *const node_json =
        "{\"metadata\":{\"name\":\"node-1\",\"labels\":{\"kubernetes.io/os\":\"linux\",\"pool\":\"a\","
        "\"cpus\":\"8\",\"zone\":\"z1\"}}}";

struct tcase_ds {
        const char *name;
        const char *template_spec; /* the pod template's spec */
        int want;                  /* 1 match, 0 no match, -1 error */
};

#define AFF(terms) "\"affinity\":{\"nodeAffinity\":{\"requiredDuringSchedulingIgnoredDuringExecution\":" \
                   "{\"nodeSelectorTerms\":" terms "}}}"
#define EXPR(k, op, vals) "{\"key\":\"" k "\",\"operator\":\"" op "\"" vals "}"

static const struct tcase_ds cases[] = {
        { "no selector, no affinity", "{}", 1 },
        { "nodeSelector matches", "{\"nodeSelector\":{\"kubernetes.io/os\":\"linux\"}}", 1 },
        { "nodeSelector value differs", "{\"nodeSelector\":{\"kubernetes.io/os\":\"windows\"}}", 0 },
        { "nodeSelector label absent", "{\"nodeSelector\":{\"gpu\":\"yes\"}}", 0 },
        { "In matches", "{" AFF("[{\"matchExpressions\":[" EXPR("pool", "In", ",\"values\":[\"b\",\"a\"]") "]}]") "}", 1 },
        { "In does not match", "{" AFF("[{\"matchExpressions\":[" EXPR("pool", "In", ",\"values\":[\"b\"]") "]}]") "}", 0 },
        { "NotIn", "{" AFF("[{\"matchExpressions\":[" EXPR("pool", "NotIn", ",\"values\":[\"b\"]") "]}]") "}", 1 },
        { "NotIn excludes", "{" AFF("[{\"matchExpressions\":[" EXPR("pool", "NotIn", ",\"values\":[\"a\"]") "]}]") "}", 0 },
        { "NotIn on an absent label matches", "{" AFF("[{\"matchExpressions\":[" EXPR("gpu", "NotIn", ",\"values\":[\"a\"]") "]}]") "}", 1 },
        { "Exists", "{" AFF("[{\"matchExpressions\":[" EXPR("zone", "Exists", "") "]}]") "}", 1 },
        { "Exists, absent", "{" AFF("[{\"matchExpressions\":[" EXPR("gpu", "Exists", "") "]}]") "}", 0 },
        { "DoesNotExist", "{" AFF("[{\"matchExpressions\":[" EXPR("gpu", "DoesNotExist", "") "]}]") "}", 1 },
        { "DoesNotExist, present", "{" AFF("[{\"matchExpressions\":[" EXPR("zone", "DoesNotExist", "") "]}]") "}", 0 },
        { "Gt", "{" AFF("[{\"matchExpressions\":[" EXPR("cpus", "Gt", ",\"values\":[\"4\"]") "]}]") "}", 1 },
        { "Gt, not greater", "{" AFF("[{\"matchExpressions\":[" EXPR("cpus", "Gt", ",\"values\":[\"8\"]") "]}]") "}", 0 },
        { "Lt", "{" AFF("[{\"matchExpressions\":[" EXPR("cpus", "Lt", ",\"values\":[\"16\"]") "]}]") "}", 1 },
        { "Gt on a non-number label", "{" AFF("[{\"matchExpressions\":[" EXPR("zone", "Gt", ",\"values\":[\"1\"]") "]}]") "}", 0 },
        { "Gt with a bad value", "{" AFF("[{\"matchExpressions\":[" EXPR("cpus", "Gt", ",\"values\":[\"x\"]") "]}]") "}", -1 },
        { "Gt with two values", "{" AFF("[{\"matchExpressions\":[" EXPR("cpus", "Gt", ",\"values\":[\"1\",\"2\"]") "]}]") "}", -1 },
        { "unknown operator", "{" AFF("[{\"matchExpressions\":[" EXPR("cpus", "Near", ",\"values\":[\"1\"]") "]}]") "}", -1 },
        { "requirements ANDed", "{" AFF("[{\"matchExpressions\":[" EXPR("pool", "In", ",\"values\":[\"a\"]") "," EXPR("zone", "In", ",\"values\":[\"z2\"]") "]}]") "}", 0 },
        { "terms ORed", "{" AFF("[{\"matchExpressions\":[" EXPR("pool", "In", ",\"values\":[\"x\"]") "]},{\"matchExpressions\":[" EXPR("zone", "In", ",\"values\":[\"z1\"]") "]}]") "}", 1 },
        { "an empty term matches nothing", "{" AFF("[{}]") "}", 0 },
        { "no terms match nothing", "{" AFF("[]") "}", 0 },
        { "matchFields metadata.name", "{" AFF("[{\"matchFields\":[" EXPR("metadata.name", "In", ",\"values\":[\"node-1\"]") "]}]") "}", 1 },
        { "matchFields other node", "{" AFF("[{\"matchFields\":[" EXPR("metadata.name", "In", ",\"values\":[\"node-2\"]") "]}]") "}", 0 },
        { "matchFields unsupported key", "{" AFF("[{\"matchFields\":[" EXPR("spec.x", "In", ",\"values\":[\"a\"]") "]}]") "}", -1 },
        { "nodeSelector AND affinity", "{\"nodeSelector\":{\"kubernetes.io/os\":\"linux\"}," AFF("[{\"matchExpressions\":[" EXPR("pool", "In", ",\"values\":[\"b\"]") "]}]") "}", 0 },
};

START_TEST(test_node_matches) {
        const struct tcase_ds *c = &cases[_i];
        _cleanup_free_ char *ds_text = NULL;
        cJSON *ds, *node = cJSON_Parse(node_json);
        char why[256] = "";
        bool match = false;
        int r;

        ck_assert(asprintf(&ds_text, "{\"spec\":{\"template\":{\"spec\":%s}}}", c->template_spec) > 0);
        ds = cJSON_Parse(ds_text);
        ck_assert_msg(ds && node, "%s: fixture does not parse", c->name);
        r = upgrade_node_matches(ds, node, &match, why, sizeof why);
        if (c->want < 0) {
                ck_assert_msg(r == -EBADMSG, "%s: want -EBADMSG, got %d", c->name, r);
                ck_assert_msg(why[0], "%s: no reason given", c->name);
        } else {
                ck_assert_msg(r == 0, "%s: r=%d (%s)", c->name, r, why);
                ck_assert_msg(match == (c->want == 1), "%s: want %d, got %d", c->name, c->want, match);
                if (!match)
                        ck_assert_msg(why[0], "%s: no reason given for the mismatch", c->name);
        }
        cJSON_Delete(ds);
        cJSON_Delete(node);
}
END_TEST

START_TEST(test_decide_without_client) {
        char why[256] = "";
        ck_assert_int_eq(upgrade_decide(NULL, "istio-system", "node-1", why, sizeof why), UPGRADE_KEEP);
        ck_assert_ptr_nonnull(strstr(why, "keeping"));
}
END_TEST

static Suite *upgrade_suite(void) {
        Suite *s = suite_create("upgrade");
        TCase *tc = tcase_create("affinity");
        tcase_add_loop_test(tc, test_node_matches, 0, (int)ELEMENTSOF(cases));
        tcase_add_test(tc, test_decide_without_client);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(upgrade_suite());
        int failed;
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
