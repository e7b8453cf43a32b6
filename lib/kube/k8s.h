/* SPDX-License-Identifier: Apache-2.0 */
/* k8s.h: a small Kubernetes API client (core/v1 pods and namespaces) over lib/httpc + cJSON.
 * Spec: istio-cni.md §2.5 (requests, timeouts, DECISION on bounded retries), §2.4 step 11 (the
 * plugin's 30×1 s retry loop), §5.2 (list + watch with selectors for the repair controller).
 * API: https://kubernetes.io/docs/reference/using-api/api-concepts/ (watch, bookmarks, 410 Gone).
 *
 * HTTP/1.1 and TLS come from lib/kube/httpc.h, which dlopen()s libssl.so.3 on first use (not libcurl:
 * its ~36 shared objects cost ≈6 ms at every plugin start), so applets that never talk to the API
 * do not pay for it. TLS verification (peer + host name or IP) is always on unless the kubeconfig
 * sets insecure-skip-tls-verify. When the kubeconfig gives a CA, only that CA is trusted (like
 * client-go); otherwise the system store is used. tls-server-name is sent as SNI and verified.
 *
 * Proxies: DECISION: proxy environment variables (HTTPS_PROXY, NO_PROXY, …) are ignored by default,
 * unlike client-go. The plugin runs with whatever environment the container runtime has; a proxy
 * inherited from there would route pod set-up through it and add DNS lookups on the ADD path. Set
 * k8s_options.honour_proxy_env to use them (the usual variables: https_proxy/HTTPS_PROXY, http_proxy,
 * all_proxy/ALL_PROXY, no_proxy/NO_PROXY); only http:// proxies are supported (CONNECT tunnel).
 *
 * Error convention (every function): 0 (or a count) on success, else a negative errno, and, when
 * err is non-NULL, a message naming the method, server + path and the HTTP status or transport error,
 * e.g. "GET https://10.96.0.1:443/api/v1/namespaces/a/pods/b: HTTP 404: pods \"b\" not found".
 *   -ENOENT        HTTP 404
 *   -EACCES        HTTP 401 or 403 (bad/expired token, RBAC)
 *   -ESTALE        HTTP 410 Gone, or a watch ERROR event with code 410 (relist, then rewatch)
 *   -EEXIST        HTTP 409 Conflict
 *   -EINVAL        HTTP 400/422, or a bad argument (NULL/empty name, bad method)
 *   -EAGAIN        HTTP 429 Too Many Requests
 *   -EIO           HTTP 5xx, any other non-2xx status, a watch ERROR event other than 410
 *   -EBADMSG       the body is not the JSON we expect (malformed, or wrong type / missing field)
 *   -ETIMEDOUT     the per-request (or total) deadline passed
 *   -ECONNREFUSED  could not connect (refused, unreachable)
 *   -ECONNRESET    the connection dropped (empty reply, reset, truncated body)
 *   -EKEYREJECTED  the server certificate failed verification (wrong CA, wrong name, expired)
 *   -EPROTO        another TLS or HTTP protocol error (including a rejected client certificate)
 *   -ENOKEY        the token file could not be read or is empty (the message names it)
 *   -EFBIG         the response body exceeds 64 MiB (a watch event 16 MiB)
 *   -ELIBACC       libssl.so.3 could not be loaded
 *   -ENOMEM
 *
 * Threads: a client is used by one thread at a time. Distinct clients may be used concurrently. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "kube/kubeconfig.h"

struct k8s_client;

/* Which failures a request retries (k8s_options.retry). */
enum k8s_retry {
        /* Transport errors (timeout, refused, reset, TLS handshake other than a failed
         * verification), HTTP 429 and 5xx. The default. */
        K8S_RETRY_TRANSIENT = 0,
        /* Every failure, including 401/403/404 and malformed JSON: what Istio's plugin does in
         * its GET-pod loop (§2.4 step 11 — the pod may not be visible yet from a lagging cache).
         * -ENOMEM, -EINVAL from arguments, -ENOKEY and -ELIBACC are never retried. */
        K8S_RETRY_ALL = 1,
};

struct k8s_options {
        uint64_t timeout_usec;          /* per attempt, whole request; 0 → 5 s (§2.5 DECISION) */
        uint64_t connect_timeout_usec;  /* TCP + TLS handshake; 0 → min(timeout, 3 s) */
        unsigned max_attempts;          /* 0 → 1 (no retry). Istio's plugin: 30 */
        uint64_t backoff_usec;          /* fixed sleep between attempts; 0 → 1 s (Istio) */
        /* Hard cap on one call including all attempts and sleeps; 0 → no cap beyond
         * max_attempts × (timeout + backoff). The plugin should pass < 120 s (kubelet's
         * runtime request timeout). */
        uint64_t total_timeout_usec;
        /* Absolute deadline (CLOCK_MONOTONIC µs, as now_usec()) shared by every call of this
         * client: no attempt starts after it, and each attempt (name resolution, connect, TLS,
         * request) ends by it. 0 → none. The plugin passes its whole-ADD deadline here. */
        uint64_t deadline_usec;
        enum k8s_retry retry;
        bool honour_proxy_env;          /* default false: see the DECISION above */
        const char *user_agent;         /* copied; NULL → "cnibox/<version>" */
};

/* Creates a client. kc is copied (the caller may kubeconfig_done() it afterwards). o may be NULL
 * for the defaults. Loads libssl for https servers (-ELIBACC). No network traffic happens here. */
int k8s_client_new(const struct kubeconfig *kc, const struct k8s_options *o,
                   struct k8s_client **ret, char *err, size_t errsz);
/* Frees the client (closes its kept-alive connection). Accepts NULL; returns NULL. */
struct k8s_client *k8s_client_free(struct k8s_client *c);

struct k8s_response {
        long http_status;       /* 0 when no response arrived */
        char *body;             /* NUL-terminated; owned */
        size_t body_len;
        cJSON *json;            /* parsed body when it is JSON, else NULL; owned */
};
void k8s_response_done(struct k8s_response *r);

/* One request with the client's retry policy. method: GET, POST, PUT, PATCH or DELETE;
 * path_and_query starts with '/' and is appended to the server URL (callers escape query values
 * with k8s_escape()). body may be NULL; content_type NULL means "application/json" when a body is
 * given. Returns 0 for a 2xx answer (ret filled), else the negative errno listed above; on an HTTP
 * error ret is still filled with the last response (status, body) for callers that want details.
 * ret is always initialised (call k8s_response_done()). */
int k8s_request(struct k8s_client *c, const char *method, const char *path_and_query,
                const char *content_type, const char *body, struct k8s_response *ret,
                char *err, size_t errsz);

/* GET /api/v1/namespaces/{ns}/pods/{name}. *ret_pod: the Pod object (kind checked), owned. */
int k8s_get_pod(struct k8s_client *c, const char *ns, const char *name, cJSON **ret_pod,
                char *err, size_t errsz);
/* GET /api/v1/namespaces/{name} (ambient branch, §2.15). */
int k8s_get_namespace(struct k8s_client *c, const char *name, cJSON **ret_ns, char *err, size_t errsz);
/* PATCH with application/merge-patch+json (e.g. the repair controller's label). *ret_pod may be
 * NULL; else it receives the patched Pod. */
int k8s_patch_pod(struct k8s_client *c, const char *ns, const char *name, const char *merge_patch_json,
                  cJSON **ret_pod, char *err, size_t errsz);
/* DELETE a pod. A 404 is returned as -ENOENT (the caller decides whether that is fine). */
int k8s_delete_pod(struct k8s_client *c, const char *ns, const char *name, char *err, size_t errsz);
/* GET /api/v1[/namespaces/{ns}]/pods?fieldSelector=…&labelSelector=… (selectors may be NULL).
 * *ret_list: the PodList (its "items" array), owned. ret_rv (optional): the list's
 * metadata.resourceVersion, to start a watch from. -ERANGE if rvsz is too small. */
int k8s_list_pods(struct k8s_client *c, const char *ns_or_null, const char *field_selector,
                  const char *label_selector, cJSON **ret_list, char *ret_rv, size_t rvsz,
                  char *err, size_t errsz);

/* Watch callback: type is "ADDED", "MODIFIED" or "DELETED"; obj is borrowed (valid during the
 * call; cJSON_DetachItem… it to keep it). Return 0 to continue, > 0 to stop the watch cleanly
 * (k8s_watch_pods returns 0), < 0 to abort (k8s_watch_pods returns that value). */
typedef int (*k8s_watch_cb)(const char *type, cJSON *obj, void *userdata);

/* Streams GET …/pods?watch=1&allowWatchBookmarks=true&resourceVersion=rv&timeoutSeconds=… .
 * Runs until the server ends the stream, timeout_usec passes (0 → 5 min), or the callback stops
 * it; those all return 0. Only the initial connection is retried (the client's policy); a stream
 * that breaks after it started returns 0 too, because the caller resumes from ret_rv anyway.
 * BOOKMARK events only update ret_rv; they are not passed to the callback.
 * ret_rv (in/out, may equal resource_version's buffer): the last resourceVersion seen.
 * Returns 0, -ESTALE when the resourceVersion is too old (HTTP 410 or an ERROR event with code
 * 410: relist and watch again), -EBADMSG for a malformed event, or the errors above. */
int k8s_watch_pods(struct k8s_client *c, const char *ns_or_null, const char *field_selector,
                   const char *label_selector, const char *resource_version, uint64_t timeout_usec,
                   k8s_watch_cb on_event, void *userdata, char *ret_rv, size_t rvsz,
                   char *err, size_t errsz);

/* Optional, per client (set by the thread that uses it): fn is called from k8s_watch_pods once
 * the server has accepted the stream (HTTP 2xx), before any event. The pod cache uses it to know
 * when its view is live again after a gap between streams. */
void k8s_client_set_watch_started(struct k8s_client *c, void (*fn)(void *userdata), void *userdata);

/* Safe from another thread: the request under way on c ends (a watch stream returns as a broken
 * stream, 0), and every later one fails with -ECANCELED, never retried. For stopping a watch
 * that could otherwise block for minutes. Accepts NULL. */
void k8s_client_interrupt(struct k8s_client *c);

/* Parses one watch-stream line ({"type":…,"object":{…}}). On success *ret_type points into
 * *ret_event (borrowed) and *ret_obj is its "object" member (borrowed); free *ret_event.
 * Returns -EBADMSG for anything that is not such an event. Exposed for the fuzzer and replay
 * tests of recorded streams (tests/fixtures). */
int k8s_watch_event_parse(const char *line, size_t len, cJSON **ret_event, const char **ret_type,
                          cJSON **ret_obj);

/* Field readers for API objects. "path" is dot-separated member names, e.g.
 * "metadata.annotations" — a name containing dots cannot be addressed this way, so use
 * k8s_obj_child() for annotation/label keys. All return NULL when absent or of another type;
 * the result is borrowed from obj. */
const cJSON *k8s_obj_child(const cJSON *obj, const char *name);            /* case-sensitive */
const cJSON *k8s_obj_path(const cJSON *obj, const char *dotted_path);
const char *k8s_obj_string(const cJSON *obj, const char *dotted_path);     /* strings only */
const cJSON *k8s_obj_object(const cJSON *obj, const char *dotted_path);    /* objects only */
const cJSON *k8s_obj_array(const cJSON *obj, const char *dotted_path);     /* arrays only */
/* Integer field (e.g. "spec.containers" items' "securityContext.runAsUser"): 0 and *ret set when
 * it is a JSON number that is an exact integer within [min, max]; -ENOENT absent, -EBADMSG
 * otherwise. */
int k8s_obj_int(const cJSON *obj, const char *dotted_path, int64_t min, int64_t max, int64_t *ret);
/* metadata.annotations[key] / metadata.labels[key] as strings, NULL when absent. */
const char *k8s_obj_annotation(const cJSON *obj, const char *key);
const char *k8s_obj_label(const cJSON *obj, const char *key);

/* Percent-escapes s for use in a URL path segment or query value (RFC 3986 unreserved kept).
 * Returns a malloc'ed string or NULL on ENOMEM. */
char *k8s_escape(const char *s);
/* True if s is a valid DNS-1123 subdomain (pod and namespace names); used before building paths
 * so that "../" or '?' from CNI_ARGS cannot redirect a request. */
bool k8s_name_is_valid(const char *s);
