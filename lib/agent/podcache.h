/* SPDX-License-Identifier: Apache-2.0 */
/* podcache.h: the node agent's pod cache, which takes the API server off the CNI ADD hot path.
 *
 * Why: every ADD is a fresh process. A direct GET of the pod costs that process an OpenSSL 3.0
 * start (≈1.5 ms to load libssl/libcrypto, ≈2 ms for SSL_CTX_new, ≈0.6 ms for the CA) plus a TCP +
 * TLS handshake: ≈8 ms of the ≈10 ms an ADD took. The node agent instead keeps a node-scoped pod
 * cache (LIST + WATCH with fieldSelector spec.nodeName=<node>, relisting on 410 Gone) and answers
 * the plugin over a Unix socket; the plugin never loads libssl when the agent answers.
 *
 * Correctness rules (the plugin must never act on a wrong pod):
 *   - the cache answers only while its watch is healthy (after a LIST, until the stream fails);
 *   - a request carrying a pod UID (K8S_POD_UID from the runtime) is a hit only for that UID;
 *   - anything else (unknown pod, another node's pod, UID mismatch, watch down) is a live GET over
 *     the agent's kept-alive API connection; an API error is passed on as such, and the plugin
 *     then falls back to its own direct GET with Istio's retry loop.
 *
 * Protocol (HTTP/1.1 over the Unix socket, one request per connection, curl --unix-socket works):
 *   GET /v1/pods/{namespace}/{name}[?uid={uid}]
 *        200 {"source":"cache"|"api","pod":{…}} (metadata.managedFields dropped);
 *        404 pod not found (by the API server); 400 bad request; 502 API error; 503 no API client
 *        or too many connections. Errors carry {"error":"…"}.
 *   GET /v1/status   200 {"synced":bool,"pods":N,"resourceVersion":…,"hits":…,"live":…,"relists":…}
 *   GET /readyz      200 when the cache is synced, else 503
 * Only peers with the server's own uid are answered (SO_PEERCRED); the socket is created 0600.
 *
 * Threads: podcache_* functions are safe to call from any thread (one mutex). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "kube/k8s.h"

struct podcache;

/* Deadlines: the agent's live GET gives up before the plugin stops waiting for the agent, so a
 * slow API server yields a quick 502 (and the plugin's own fallback), not a plugin-side timeout. */
/* The socket's name inside the plugin's cni_agent_run_dir (next to istio-cni-kubeconfig). */
#define PODCACHE_SOCKET_NAME "cnibox-pods.sock"

#define PODCACHE_LIVE_TIMEOUT_USEC (2ULL * 1000 * 1000)
#define PODCACHE_CLIENT_TIMEOUT_USEC (3ULL * 1000 * 1000)

/* Log sink for the long-running loops (lib/ never prints): level as in log.h. */
typedef void (*podcache_log_fn)(void *userdata, int level, const char *msg);

int podcache_new(struct podcache **ret);
struct podcache *podcache_free(struct podcache *pc);

/* Replaces the whole cache with a PodList's items (after a LIST) and marks it synced. */
int podcache_replace(struct podcache *pc, const cJSON *pod_list, const char *resource_version);
/* Applies one watch event ("ADDED", "MODIFIED", "DELETED"); other types are ignored. */
int podcache_apply(struct podcache *pc, const char *type, const cJSON *pod);
/* The watch stream failed: stop answering from the cache until the next replace. */
void podcache_set_unsynced(struct podcache *pc);

/* Looks a pod up. uid may be NULL or "". Returns 0 and a malloc'ed JSON text in *ret_json,
 * -EAGAIN when not synced, -ENOENT when absent, -ESTALE when present with another UID. */
int podcache_lookup(struct podcache *pc, const char *ns, const char *name, const char *uid, char **ret_json);

struct podcache_stats {
        bool synced;
        unsigned pods;
        uint64_t hits, live, relists;
        char resource_version[64];
};
void podcache_get_stats(struct podcache *pc, struct podcache_stats *ret);

/* Runs LIST + WATCH of the pods with spec.nodeName=node until *stop is set (checked between
 * requests and at every event), relisting on 410 Gone and backing off 1 s … 30 s on errors. The
 * client is used by this thread only. Returns 0 when stopped. */
int podcache_run_informer(struct podcache *pc, struct k8s_client *c, const char *node, volatile int *stop,
                          podcache_log_fn log, void *userdata);

/* One request, already read from a socket: fills a complete HTTP response (malloc'ed) in
 * *ret_resp. live (may be NULL: no live GET, a miss is 503) serves misses, one live GET at a time
 * (its own lock). Exposed for tests. */
int podcache_handle_request(struct podcache *pc, struct k8s_client *live, const char *req, size_t len,
                            char **ret_resp, size_t *ret_len);

/* Creates the listening socket at path (replacing a stale socket, never another kind of file),
 * mode 0600. Returns the fd or -errno. */
int podcache_listen(const char *path);
/* Accepts and answers connections on listen_fd (a thread per connection, at most 256 at once)
 * until *stop is set, then waits up to 5 s for answers in flight. Returns 0, or -errno if
 * accept() fails for good. */
int podcache_serve(struct podcache *pc, int listen_fd, struct k8s_client *live, volatile int *stop,
                   podcache_log_fn log, void *userdata);

/* Client side (the plugin): GET the pod from the agent at socket_path within timeout_usec.
 * Returns 0 and the Pod in *ret_pod (checked: kind Pod, namespace, name, and uid when given),
 * with *ret_from_cache telling whether the agent answered from its cache; -ENOENT when the agent
 * says the pod does not exist; else another -errno with a message in err. Never loads libssl. */
int podcache_client_get(const char *socket_path, const char *ns, const char *name, const char *uid,
                        uint64_t timeout_usec, cJSON **ret_pod, bool *ret_from_cache, char *err, size_t errsz);
