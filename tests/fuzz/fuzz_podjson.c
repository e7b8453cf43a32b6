/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_podjson.c: libFuzzer target for pod JSON as the API server returns it, and for watch
 * stream lines (lib/kube/k8s.c field readers and k8s_watch_event_parse; spec istio-cni.md §2.6, §5.2).
 * Walks the fields the CNI plugin and the repair controller read. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kube/k8s.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile size_t sink;

static void walk_pod(const cJSON *pod) {
        static const char *const paths[] = {
                "metadata.name", "metadata.namespace", "metadata.resourceVersion", "metadata.uid",
                "spec.nodeName", "status.phase", "status.podIP", "kind", "apiVersion", "type", "object.kind",
                "metadata..x", ".", "", "metadata.", ".metadata",
        };
        const cJSON *c;
        int64_t v;

        for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
                const char *s = k8s_obj_string(pod, paths[i]);
                sink += s ? strlen(s) : 0;
                sink += k8s_obj_object(pod, paths[i]) != NULL;
                sink += k8s_obj_array(pod, paths[i]) != NULL;
        }
        const char *a = k8s_obj_annotation(pod, "sidecar.istio.io/status");
        sink += a ? strlen(a) : 0;
        a = k8s_obj_label(pod, "sidecar.istio.io/inject");
        sink += a ? strlen(a) : 0;
        /* §2.6: containers ∪ initContainers, the istio-proxy env, args and securityContext */
        static const char *const lists[] = { "spec.containers", "spec.initContainers", "status.podIPs" };
        for (size_t l = 0; l < 3; l++) {
                cJSON_ArrayForEach(c, k8s_obj_array(pod, lists[l])) {
                        const char *name = k8s_obj_string(c, "name");
                        sink += name ? strlen(name) : 0;
                        if (k8s_obj_int(c, "securityContext.runAsUser", 0, INT64_MAX, &v) == 0)
                                sink += (size_t)v;
                        if (k8s_obj_int(c, "securityContext.runAsGroup", -1, 65535, &v) == 0)
                                sink += (size_t)v;
                        const cJSON *e;
                        cJSON_ArrayForEach(e, k8s_obj_array(c, "env")) {
                                const char *n = k8s_obj_string(e, "name"), *val = k8s_obj_string(e, "value");
                                sink += (n ? strlen(n) : 0) + (val ? strlen(val) : 0);
                        }
                        sink += cJSON_GetArraySize(k8s_obj_array(c, "args"));
                        const char *ip = k8s_obj_string(c, "ip");
                        sink += ip ? strlen(ip) : 0;
                }
        }
        if (k8s_obj_int(pod, "metadata.generation", INT64_MIN, INT64_MAX, &v) == 0)
                sink += (size_t)v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *buf = malloc(size ? size : 1);
        if (!buf)
                return 0;
        memcpy(buf, data, size);

        cJSON *pod = cJSON_ParseWithLength(buf, size);
        if (pod) {
                walk_pod(pod);
                /* PodList items, as k8s_list_pods returns them */
                const cJSON *it;
                cJSON_ArrayForEach(it, k8s_obj_array(pod, "items"))
                        walk_pod(it);
                cJSON_Delete(pod);
        }

        cJSON *ev = NULL, *obj = NULL;
        const char *type = NULL;
        if (k8s_watch_event_parse(buf, size, &ev, &type, &obj) == 0) {
                if (!type || !cJSON_IsObject(obj))
                        abort();
                walk_pod(obj);
                cJSON_Delete(ev);
        }

        /* Names from CNI_ARGS end up in URL paths: the validator and escaper must be safe. */
        char *s = strndup(buf, size);
        if (s) {
                if (k8s_name_is_valid(s) && strpbrk(s, "/?#% "))
                        abort();
                char *e = k8s_escape(s);
                if (e && strpbrk(e, "/?#& "))
                        abort();
                free(e);
                free(s);
        }
        free(buf);
        return 0;
}
