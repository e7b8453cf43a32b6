/* SPDX-License-Identifier: Apache-2.0 */
/* upgrade.c: uninstall or restart? From the agent's DaemonSet and Node (see upgrade.h).
 * Node affinity semantics: k8s.io/component-helpers/scheduling/corev1/nodeaffinity (terms are
 * ORed, the requirements of a term ANDed; an empty term matches nothing). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/upgrade.h"
#include "base/errbuf.h"
#include "base/macro.h"

static bool parse_int64(const char *s, long long *ret) {
        char *end;
        errno = 0;
        if (!s || !*s)
                return false;
        *ret = strtoll(s, &end, 10);
        return errno == 0 && *end == 0;
}

/* One NodeSelectorRequirement against a value (NULL: the key is absent). */
static int requirement_matches(const cJSON *req, const char *value, bool *ret, char *why, size_t whysz) {
        const char *key = k8s_obj_string(req, "key"), *op = k8s_obj_string(req, "operator");
        const cJSON *values = k8s_obj_array(req, "values"), *v;

        if (!key || !op) {
                return errbuf_set(why, whysz, -EBADMSG, "node selector requirement without key or operator");
        }
        if (streq(op, "Exists") || streq(op, "DoesNotExist")) {
                *ret = (value != NULL) == streq(op, "Exists");
                return 0;
        }
        if (streq(op, "In") || streq(op, "NotIn")) {
                bool found = false;
                cJSON_ArrayForEach(v, values)
                        if (cJSON_IsString(v) && value && streq(v->valuestring, value))
                                found = true;
                *ret = streq(op, "In") ? found : !found;
                return 0;
        }
        if (streq(op, "Gt") || streq(op, "Lt")) {
                long long want, have;
                v = values ? cJSON_GetArrayItem(values, 0) : NULL;
                if (!v || !cJSON_IsString(v) || cJSON_GetArraySize(values) != 1 || !parse_int64(v->valuestring, &want)) {
                        return errbuf_set(why, whysz, -EBADMSG, "operator %s on %s needs one integer value", op, key);
                }
                *ret = value && parse_int64(value, &have) && (streq(op, "Gt") ? have > want : have < want);
                return 0;
        }
        return errbuf_set(why, whysz, -EBADMSG, "unknown node selector operator \"%s\" on %s", op, key);
}

static int term_matches(const cJSON *term, const cJSON *node, bool *ret, char *why, size_t whysz) {
        const cJSON *exprs = k8s_obj_array(term, "matchExpressions"), *fields = k8s_obj_array(term, "matchFields"), *req;
        bool any = false;
        int r;

        cJSON_ArrayForEach(req, exprs) {
                const char *key = k8s_obj_string(req, "key");
                bool ok;
                r = requirement_matches(req, key ? k8s_obj_label(node, key) : NULL, &ok, why, whysz);
                if (r < 0)
                        return r;
                any = true;
                if (!ok)
                        return *ret = false, 0;
        }
        cJSON_ArrayForEach(req, fields) {
                const char *key = k8s_obj_string(req, "key");
                bool ok;
                /* The only field the API allows here. */
                if (!key || !streq(key, "metadata.name")) {
                        return errbuf_set(why, whysz, -EBADMSG, "unsupported matchFields key \"%s\"", key ? key : "");
                }
                r = requirement_matches(req, k8s_obj_string(node, "metadata.name"), &ok, why, whysz);
                if (r < 0)
                        return r;
                any = true;
                if (!ok)
                        return *ret = false, 0;
        }
        *ret = any;
        return 0;
}

int upgrade_node_matches(const cJSON *ds, const cJSON *node, bool *ret, char *why, size_t whysz) {
        const cJSON *sel = k8s_obj_object(ds, "spec.template.spec.nodeSelector"), *kv, *terms, *term;
        const cJSON *required = k8s_obj_object(ds, "spec.template.spec.affinity.nodeAffinity."
                                                   "requiredDuringSchedulingIgnoredDuringExecution");

        cJSON_ArrayForEach(kv, sel) {
                const char *have = k8s_obj_label(node, kv->string);
                if (!cJSON_IsString(kv) || !have || !streq(have, kv->valuestring)) {
                        errbuf_set(why, whysz, 0, "nodeSelector %s=%s does not match this node", kv->string,
                               cJSON_IsString(kv) ? kv->valuestring : "?");
                        return *ret = false, 0;
                }
        }
        if (!required) {
                *ret = true;
                return 0;
        }
        terms = k8s_obj_array(required, "nodeSelectorTerms");
        cJSON_ArrayForEach(term, terms) {
                bool ok;
                int r = term_matches(term, node, &ok, why, whysz);
                if (r < 0)
                        return r;
                if (ok)
                        return *ret = true, 0;
        }
        errbuf_set(why, whysz, 0, "required node affinity no longer selects this node");
        *ret = false;
        return 0;
}

enum upgrade_verdict upgrade_decide(struct k8s_client *c, const char *ns, const char *node_name, char *why,
                                    size_t whysz) {
        _cleanup_free_ char *path = NULL, *ens = NULL, *enode = NULL;
        struct k8s_response ds = { 0 }, node = { 0 };
        char err[512] = "", mwhy[256] = "";
        enum upgrade_verdict v = UPGRADE_KEEP;
        bool match = false;
        int r;

        if (!c || !ns || !*ns) {
                errbuf_set(why, whysz, 0, "no API client or namespace: cannot tell, keeping the plugin");
                return UPGRADE_KEEP;
        }
        ens = k8s_escape(ns);
        if (!ens || asprintf(&path, "/apis/apps/v1/namespaces/%s/daemonsets/%s", ens, UPGRADE_DAEMONSET_NAME) < 0) {
                path = NULL;
                errbuf_set(why, whysz, 0, "out of memory, keeping the plugin");
                return UPGRADE_KEEP;
        }
        r = k8s_request(c, "GET", path, NULL, NULL, &ds, err, sizeof err);
        if (r == -ENOENT || r == -EACCES) {
                errbuf_set(why, whysz, 0, "DaemonSet %s/%s %s: uninstall", ns, UPGRADE_DAEMONSET_NAME,
                       r == -ENOENT ? "is gone" : "is no longer readable (RBAC removed)");
                v = UPGRADE_REMOVE;
                goto out;
        }
        if (r < 0 || !ds.json) {
                errbuf_set(why, whysz, 0, "cannot read DaemonSet %s/%s (%s): keeping the plugin", ns, UPGRADE_DAEMONSET_NAME,
                       err[0] ? err : strerror(r < 0 ? -r : EBADMSG));
                goto out;
        }
        if (k8s_obj_string(ds.json, "metadata.deletionTimestamp")) {
                errbuf_set(why, whysz, 0, "DaemonSet %s/%s is being deleted: uninstall", ns, UPGRADE_DAEMONSET_NAME);
                v = UPGRADE_REMOVE;
                goto out;
        }
        if (!node_name || !*node_name || !k8s_name_is_valid(node_name)) {
                errbuf_set(why, whysz, 0, "DaemonSet %s/%s present, node name unknown: restart, keeping the plugin", ns,
                       UPGRADE_DAEMONSET_NAME);
                goto out;
        }
        enode = k8s_escape(node_name);
        free(path);
        if (!enode || asprintf(&path, "/api/v1/nodes/%s", enode) < 0) {
                path = NULL;
                goto out;
        }
        err[0] = 0;
        r = k8s_request(c, "GET", path, NULL, NULL, &node, err, sizeof err);
        if (r < 0 || !node.json) {
                errbuf_set(why, whysz, 0, "DaemonSet %s/%s present, node %s unreadable (%s): restart, keeping the plugin", ns,
                       UPGRADE_DAEMONSET_NAME, node_name, err[0] ? err : strerror(r < 0 ? -r : EBADMSG));
                goto out;
        }
        r = upgrade_node_matches(ds.json, node.json, &match, mwhy, sizeof mwhy);
        if (r < 0)
                errbuf_set(why, whysz, 0, "DaemonSet %s/%s present, affinity not evaluable (%s): keeping the plugin", ns,
                       UPGRADE_DAEMONSET_NAME, mwhy);
        else if (match)
                errbuf_set(why, whysz, 0, "DaemonSet %s/%s is still present and selects node %s: rolling update or reboot, "
                       "leaving the plugin in place", ns, UPGRADE_DAEMONSET_NAME, node_name);
        else {
                errbuf_set(why, whysz, 0, "DaemonSet %s/%s no longer selects node %s (%s): uninstall", ns,
                       UPGRADE_DAEMONSET_NAME, node_name, mwhy);
                v = UPGRADE_REMOVE;
        }
out:
        k8s_response_done(&ds);
        k8s_response_done(&node);
        return v;
}
