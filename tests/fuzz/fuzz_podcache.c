/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_podcache.c: libFuzzer target for the node agent's pod cache (lib/agent/podcache.c; spec
 * istio-cni.md §2.5): raw requests to podcache_handle_request (live = NULL) on a cache prefilled
 * from a small PodList, watch events and PodLists fed to podcache_apply/podcache_replace. Every
 * answer must be one well-formed HTTP/1.1 response with an exact Content-Length and a JSON-object
 * body, and the cache must answer what was last applied.
 *
 * Input: first byte = mode (low 2 bits), bit 2 = mark the cache unsynced first; the rest:
 *   mode 0: one raw request;
 *   mode 1: "TYPE\nJSON-object" → podcache_apply(TYPE, object), then a GET of that pod;
 *   mode 2: one watch-stream line ({"type":…,"object":…}) → podcache_apply;
 *   mode 3: a PodList → podcache_replace (rv = its metadata.resourceVersion), then /v1/status. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/k8s.h"
#include "agent/podcache.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char prefill[] =
        "{\"kind\":\"PodList\",\"metadata\":{\"resourceVersion\":\"100\"},\"items\":["
        "{\"metadata\":{\"namespace\":\"default\",\"name\":\"a\",\"uid\":\"0123abcd-0000-4000-8000-000000000001\","
        "\"managedFields\":[{}]},\"spec\":{\"nodeName\":\"n1\"}},"
        "{\"metadata\":{\"name\":\"skipped\"}},"
        "{\"metadata\":{\"namespace\":\"kube-system\",\"name\":\"b\"}}]}";

/* One complete response: status line, headers, one Content-Length equal to the body's size,
 * a JSON-object body. Returns the status. */
static int check_response(const char *resp, size_t len) {
        int status = 0, off = 0;
        const char *end, *cl;
        char *e;

        if (!resp || strlen(resp) != len)
                abort();
        if (sscanf(resp, "HTTP/1.1 %3d %*[A-Za-z ]%n", &status, &off) != 1 || off == 0 || status < 200 || status > 599 ||
            strncmp(resp + off, "\r\n", 2) != 0)
                abort();
        end = strstr(resp, "\r\n\r\n");
        cl = strstr(resp, "\r\nContent-Length: ");
        if (!end || !cl || cl > end)
                abort();
        const char *cl2 = strstr(cl + 1, "\r\nContent-Length: ");
        if (cl2 && cl2 < end)
                abort();
        unsigned long n = strtoul(cl + 18, &e, 10);
        if (strncmp(e, "\r\n", 2) != 0 || n != len - (size_t)(end + 4 - resp))
                abort();
        cJSON *j = cJSON_ParseWithLength(end + 4, n);
        if (!cJSON_IsObject(j))
                abort();
        if (status == 200 && k8s_obj_path(j, "pod")) {
                const char *src = k8s_obj_string(j, "source");
                if (!src || strcmp(src, "cache") != 0 || k8s_obj_path(j, "pod.metadata.managedFields") ||
                    !k8s_obj_string(j, "pod.metadata.namespace") || !k8s_obj_string(j, "pod.metadata.name"))
                        abort();
        }
        if (status != 200 && !k8s_obj_string(j, "error"))
                abort();
        cJSON_Delete(j);
        return status;
}

static int request(struct podcache *pc, const char *req, size_t len) {
        char *resp = NULL;
        size_t rlen = 0;
        int r = podcache_handle_request(pc, NULL, req, len, &resp, &rlen);
        if (r < 0) {
                if (r != -ENOMEM || resp)
                        abort();
                return r;
        }
        r = check_response(resp, rlen);
        free(resp);
        return r;
}

static int get(struct podcache *pc, const char *target) {
        char req[1200];
        int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", target);
        if (n < 0 || (size_t)n >= sizeof req)
                return 0;
        return request(pc, req, (size_t)n);
}

/* After a successful apply: the cache answers exactly what was applied. */
static void check_applied(struct podcache *pc, const char *type, const cJSON *obj, bool synced) {
        const char *ns = k8s_obj_string(obj, "metadata.namespace"), *name = k8s_obj_string(obj, "metadata.name");
        const char *uid = k8s_obj_string(obj, "metadata.uid");
        char *json = NULL;
        bool upsert = strcmp(type, "ADDED") == 0 || strcmp(type, "MODIFIED") == 0;

        if (!ns || !name || (!upsert && strcmp(type, "DELETED") != 0))
                return; /* an ignored type: nothing to check */
        int r = podcache_lookup(pc, ns, name, NULL, &json);
        if (!synced) {
                if (r != -EAGAIN || json)
                        abort();
                return;
        }
        if (strcmp(type, "DELETED") == 0) {
                if (r != -ENOENT)
                        abort();
        } else if (upsert) {
                cJSON *p = r == 0 ? cJSON_Parse(json) : NULL;
                const char *puid = k8s_obj_string(p, "metadata.uid");
                if (!cJSON_IsObject(p) || k8s_obj_path(p, "metadata.managedFields") || !k8s_obj_path(p, "kind") ||
                    !k8s_obj_path(p, "apiVersion") || !k8s_obj_string(p, "metadata.name") ||
                    strcmp(k8s_obj_string(p, "metadata.name"), name) != 0 ||
                    (uid && (!puid || strcmp(puid, uid) != 0)))
                        abort();
                cJSON_Delete(p);
                free(json);
                json = NULL;
                if (uid && *uid && podcache_lookup(pc, ns, name, uid, &json) != 0)
                        abort();
        }
        free(json);
        /* and over HTTP, when the names can be asked for */
        if (k8s_name_is_valid(ns) && k8s_name_is_valid(name)) {
                char target[600];
                snprintf(target, sizeof target, "/v1/pods/%s/%s", ns, name);
                int st = get(pc, target);
                if (st != (upsert ? 200 : 503) && st != -ENOMEM)
                        abort();
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct podcache *pc = NULL;
        if (size < 1 || podcache_new(&pc) < 0)
                return 0;
        cJSON *pl = cJSON_Parse(prefill);
        if (!pl || podcache_replace(pc, pl, "100") != 0)
                abort();
        cJSON_Delete(pl);
        podcache_set_streaming(pc, true); /* as the informer does once its watch is accepted */
        bool synced = !(data[0] & 4);
        if (!synced)
                podcache_set_unsynced(pc);

        unsigned mode = data[0] & 3;
        const char *buf = (const char *)data + 1;
        size_t len = size - 1;
        /* an exact-size copy, so that a read past len is caught by ASan */
        char *copy = malloc(len ? len : 1);
        if (!copy)
                abort();
        memcpy(copy, buf, len);

        if (mode == 0) {
                request(pc, copy, len);
        } else if (mode == 1) {
                const char *nl = memchr(copy, '\n', len);
                if (nl) {
                        char *type = strndup(copy, (size_t)(nl - copy));
                        cJSON *obj = cJSON_ParseWithLength(nl + 1, len - (size_t)(nl + 1 - copy));
                        if (type) {
                                int r = podcache_apply(pc, type, obj);
                                if (r == 0)
                                        check_applied(pc, type, obj, synced);
                                else if (r != -EBADMSG && r != -ENOMEM)
                                        abort();
                        }
                        free(type);
                        cJSON_Delete(obj);
                }
        } else if (mode == 2) {
                cJSON *ev = NULL, *obj = NULL;
                const char *type = NULL;
                if (k8s_watch_event_parse(copy, len, &ev, &type, &obj) == 0) {
                        int r = podcache_apply(pc, type, obj);
                        if (r == 0)
                                check_applied(pc, type, obj, synced);
                        cJSON_Delete(ev);
                }
        } else {
                cJSON *list = cJSON_ParseWithLength(copy, len);
                if (list) {
                        const char *rv = k8s_obj_string(list, "metadata.resourceVersion");
                        int r = podcache_replace(pc, list, rv);
                        if (r == 0)
                                podcache_set_streaming(pc, true);
                        struct podcache_stats st;
                        podcache_get_stats(pc, &st);
                        if (r == 0 && (!st.synced || strncmp(st.resource_version, rv ? rv : "", sizeof st.resource_version - 1)))
                                abort();
                        /* refused only when items is there and not an array */
                        const cJSON *items = k8s_obj_path(list, "items");
                        if (r < 0 && (r != -ENOMEM && !(r == -EBADMSG && items && !cJSON_IsArray(items))))
                                abort();
                        /* every addressable item is found */
                        const cJSON *it;
                        if (r == 0)
                                cJSON_ArrayForEach(it, k8s_obj_array(list, "items")) {
                                        const char *ns = k8s_obj_string(it, "metadata.namespace");
                                        const char *name = k8s_obj_string(it, "metadata.name");
                                        char *json = NULL;
                                        if (cJSON_IsObject(it) && ns && name) {
                                                int q = podcache_lookup(pc, ns, name, NULL, &json);
                                                if (q != 0 && q != -ENOMEM)
                                                        abort();
                                                free(json);
                                        }
                                }
                        cJSON_Delete(list);
                }
        }
        /* whatever happened, the fixed endpoints answer well-formed */
        int st = get(pc, "/v1/status");
        if (st != 200 && st != -ENOMEM)
                abort();
        get(pc, "/readyz");
        get(pc, "/v1/pods/default/a?uid=0123abcd-0000-4000-8000-000000000001");
        free(copy);
        podcache_free(pc);
        return 0;
}
