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
 *   - a request without a UID is a hit only while a watch stream is connected: in a gap between
 *     streams a delete + re-create under the same name is not seen yet;
 *   - anything else (unknown pod, another node's pod, UID mismatch, watch down) is a live GET over
 *     the agent's kept-alive API connection; an API error is passed on as such, and the plugin
 *     then falls back to its own direct GET with Istio's retry loop.
 *
 * Protocol (HTTP/1.1 over the Unix socket, one request per connection, curl --unix-socket works):
 *   GET /v1/pods/{namespace}/{name}[?uid={uid}]
 *        200 {"source":"cache"|"api","pod":{…}} (metadata.managedFields dropped);
 *        404 pod not found (by the API server); 400 bad request; 502 API error; 503 no API client,
 *        too many connections, or the live GET queue busy (waited PODCACHE_LIVE_QUEUE_USEC).
 *        Errors carry {"error":"…"}.
 *   GET /v1/status   200 {"synced":bool,"watching":bool,"pods":N,"resourceVersion":…,"hits":…,
 *                    "live":…,"relists":…,"dropped":…}
 *   GET /readyz      200 when the cache is synced, else 503
 * Served by lib/agent/httpd: only peers with the server's own uid are answered (SO_PEERCRED); the
 * socket is 0600; a live agent's socket is never taken over (a second agent refuses to start).
 *
 * Threads: podcache_* functions are safe to call from any thread (one mutex). */
#pragma once

#include <signal.h>
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
/* How long a request may wait for the one live GET at a time: with the GET's own 2 s, the answer
 * still comes before the plugin's 3 s wait ends. A request whose client left is never sent. */
#define PODCACHE_LIVE_QUEUE_USEC (500ULL * 1000)

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
/* Whether a watch stream is connected now (the informer sets it; a replace does not). Lookups
 * without a UID are answered only while it is. */
void podcache_set_streaming(struct podcache *pc, bool streaming);

/* Looks a pod up. uid may be NULL or "". Returns 0 and a malloc'ed JSON text in *ret_json,
 * -EAGAIN when not synced (or, without a uid, not streaming), -ENOENT when absent, -ESTALE when
 * present with another UID. */
int podcache_lookup(struct podcache *pc, const char *ns, const char *name, const char *uid, char **ret_json);

/* The informer's view of a pod, whether or not a stream is connected (for the repair controller,
 * which acts only on what the watch delivered): 0 and a malloc'ed JSON text in *ret_json, -EAGAIN
 * while not synced (relisting), -ENOENT when absent. */
int podcache_get(struct podcache *pc, const char *ns, const char *name, char **ret_json);

struct podcache_stats {
        bool synced, streaming;
        unsigned pods;
        uint64_t hits, live, relists;
        uint64_t dropped;       /* live GETs not sent: the queue wait ran out, or the client left */
        char resource_version[64];
};
void podcache_get_stats(struct podcache *pc, struct podcache_stats *ret);

/* Runs LIST + WATCH of the pods with spec.nodeName=node until *stop is set (checked between
 * requests and at every event), relisting on 410 Gone and backing off 1 s … 30 s on errors. The
 * client is used by this thread only. Returns 0 when stopped. */
int podcache_run_informer(struct podcache *pc, struct k8s_client *c, const char *node, volatile sig_atomic_t *stop,
                          podcache_log_fn log, void *userdata);

/* One request, already read from a socket: fills a complete HTTP response (malloc'ed) in
 * *ret_resp, as the agent's server would answer it. live (may be NULL: no live GET, a miss is
 * 503) serves misses. Exposed for tests and the fuzzer. */
int podcache_handle_request(struct podcache *pc, struct k8s_client *live, const char *req, size_t len,
                            char **ret_resp, size_t *ret_len);

/* The pod cache as the node agent embeds it: one informer thread (node-scoped LIST + WATCH, the
 * one watch of the node, shared with the repair controller through on_event) and the socket
 * server. */
struct podcache_agent_options {
        const char *node_name;          /* required with a watch_client */
        const char *socket_path;        /* its directory must exist; NULL: no server (cni-repair alone) */
        /* Extra selectors of the watch (REPAIR_FIELD_SELECTORS, REPAIR_LABEL_SELECTORS of a
         * standalone cni-repair): the field selector is prepended to spec.nodeName=<node>. NULL
         * or "" for none. A cache that serves the plugin must see every pod: leave them empty. */
        const char *field_selector, *label_selector;
        struct k8s_client *watch_client;        /* NULL: no informer (the caller fills the cache) */
        struct k8s_client *live_client;         /* NULL: misses get 503 */
        podcache_log_fn log;
        void *log_userdata;
        /* observer for the repair controller (lib/agent/repair): called from the informer thread after
         * each applied event ("ADDED", "MODIFIED", "DELETED"; after every LIST each listed pod as
         * "ADDED"), outside the lock. pod is borrowed for the call. */
        void (*on_event)(void *userdata, const char *type, const cJSON *pod);
        void *event_userdata;
};
struct podcache_agent;

/* Binds the socket (refusing with -EADDRINUSE when a live agent answers on it), starts the
 * server and the informer thread, and returns: it never waits for the API server. The clients
 * are borrowed; pc and they must outlive the agent. */
int podcache_agent_start(struct podcache *pc, const struct podcache_agent_options *o, struct podcache_agent **ret);
/* Stops the informer (interrupting its watch: the watch client is unusable afterwards, free
 * it) and the server, joins every thread, and unlinks the socket only if it is still the one it
 * bound. NULL ok; returns NULL. */
struct podcache_agent *podcache_agent_stop(struct podcache_agent *a);

/* Client side (the plugin): GET the pod from the agent at socket_path within timeout_usec.
 * Returns 0 and the Pod in *ret_pod (checked: kind Pod, namespace, name, and uid when given),
 * with *ret_from_cache telling whether the agent answered from its cache; -ENOENT when the agent
 * says the pod does not exist; else another -errno with a message in err. Never loads libssl. */
int podcache_client_get(const char *socket_path, const char *ns, const char *name, const char *uid,
                        uint64_t timeout_usec, cJSON **ret_pod, bool *ret_from_cache, char *err, size_t errsz);
