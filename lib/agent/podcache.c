/* SPDX-License-Identifier: Apache-2.0 */
/* podcache.c: node-scoped pod cache + its Unix-socket server and client (see podcache.h). */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kube/httpc.h"
#include "base/log.h"
#include "base/macro.h"
#include "agent/httpd.h"
#include "agent/podcache.h"

#define CONN_MAX 256            /* concurrent connections (a node runs ≤ 250 pods) */
#define IO_TIMEOUT_USEC (2ULL * 1000 * 1000)   /* to send the request, and to take the answer */

struct entry {
        char *ns, *name, *uid;
        char *json;             /* the Pod without metadata.managedFields */
};

struct podcache {
        pthread_mutex_t lock;
        pthread_mutex_t live_lock;      /* one live GET at a time on the shared client */
        struct entry *e;
        size_t n, cap;
        bool synced;
        bool streaming;                 /* a watch stream is connected right now */
        char rv[64];
        uint64_t hits, live, relists, dropped;
};

static void entry_done(struct entry *e) {
        free(e->ns);
        free(e->name);
        free(e->uid);
        free(e->json);
        *e = (struct entry){};
}

int podcache_new(struct podcache **ret) {
        struct podcache *pc = calloc(1, sizeof *pc);
        if (!pc)
                return -ENOMEM;
        pthread_mutex_init(&pc->lock, NULL);
        pthread_mutex_init(&pc->live_lock, NULL);
        *ret = pc;
        return 0;
}

struct podcache *podcache_free(struct podcache *pc) {
        if (!pc)
                return NULL;
        for (size_t i = 0; i < pc->n; i++)
                entry_done(&pc->e[i]);
        free(pc->e);
        pthread_mutex_destroy(&pc->lock);
        pthread_mutex_destroy(&pc->live_lock);
        free(pc);
        return NULL;
}

/* Pod → entry. Objects without namespace/name are refused (-EBADMSG): they cannot be looked up. */
static int entry_make(const cJSON *pod, struct entry *ret) {
        const char *ns = k8s_obj_string(pod, "metadata.namespace"), *name = k8s_obj_string(pod, "metadata.name");
        const char *uid = k8s_obj_string(pod, "metadata.uid");
        cJSON *copy;

        if (!cJSON_IsObject(pod) || !ns || !name)
                return -EBADMSG;
        copy = cJSON_Duplicate(pod, true);
        if (!copy)
                return -ENOMEM;
        /* managedFields is often half of a Pod's size and nothing downstream reads it. */
        cJSON *md = cJSON_GetObjectItemCaseSensitive(copy, "metadata");
        if (md)
                cJSON_DeleteItemFromObjectCaseSensitive(md, "managedFields");
        /* A PodList's items carry no kind/apiVersion; answer with what a GET would return. */
        if ((!cJSON_GetObjectItemCaseSensitive(copy, "kind") && !cJSON_AddStringToObject(copy, "kind", "Pod")) ||
            (!cJSON_GetObjectItemCaseSensitive(copy, "apiVersion") && !cJSON_AddStringToObject(copy, "apiVersion", "v1"))) {
                cJSON_Delete(copy);
                return -ENOMEM;
        }
        *ret = (struct entry){ .ns = strdup(ns), .name = strdup(name), .uid = strdup(uid ? uid : ""),
                               .json = cJSON_PrintUnformatted(copy) };
        cJSON_Delete(copy);
        if (!ret->ns || !ret->name || !ret->uid || !ret->json) {
                entry_done(ret);
                return -ENOMEM;
        }
        return 0;
}

/* Linear search: a node holds at most a few hundred pods, so this is a few µs. */
static ssize_t find(const struct podcache *pc, const char *ns, const char *name) {
        for (size_t i = 0; i < pc->n; i++)
                if (streq(pc->e[i].ns, ns) && streq(pc->e[i].name, name))
                        return (ssize_t)i;
        return -1;
}

static int upsert_locked(struct podcache *pc, struct entry *ne) {
        ssize_t i = find(pc, ne->ns, ne->name);
        if (i >= 0) {
                entry_done(&pc->e[i]);
                pc->e[i] = *ne;
                return 0;
        }
        if (pc->n == pc->cap) {
                size_t cap = pc->cap ? pc->cap * 2 : 64;
                struct entry *e = realloc(pc->e, cap * sizeof *e);
                if (!e)
                        return -ENOMEM;
                pc->e = e;
                pc->cap = cap;
        }
        pc->e[pc->n++] = *ne;
        return 0;
}

static void remove_locked(struct podcache *pc, const char *ns, const char *name) {
        ssize_t i = find(pc, ns, name);
        if (i < 0)
                return;
        entry_done(&pc->e[i]);
        pc->e[i] = pc->e[--pc->n];
}

int podcache_replace(struct podcache *pc, const cJSON *pod_list, const char *resource_version) {
        const cJSON *items = k8s_obj_path(pod_list, "items"), *it;
        struct entry *ne = NULL;
        size_t n = 0, cap = (size_t)cJSON_GetArraySize(items);
        int r = 0;

        if (items && !cJSON_IsArray(items))
                return -EBADMSG;
        if (cap && !(ne = calloc(cap, sizeof *ne)))
                return -ENOMEM;
        cJSON_ArrayForEach(it, items) {
                struct entry e;
                r = entry_make(it, &e);
                if (r == -EBADMSG) {
                        r = 0;
                        continue; /* an unaddressable object cannot be asked for */
                }
                if (r < 0)
                        break;
                ne[n++] = e;
                r = 0;
        }
        if (r < 0) {
                for (size_t i = 0; i < n; i++)
                        entry_done(&ne[i]);
                free(ne);
                return r;
        }
        pthread_mutex_lock(&pc->lock);
        for (size_t i = 0; i < pc->n; i++)
                entry_done(&pc->e[i]);
        free(pc->e);
        pc->e = ne;
        pc->n = n;
        pc->cap = cap;
        snprintf(pc->rv, sizeof pc->rv, "%s", resource_version ? resource_version : "");
        pc->synced = true;
        pthread_mutex_unlock(&pc->lock);
        return 0;
}

int podcache_apply(struct podcache *pc, const char *type, const cJSON *pod) {
        struct entry e;
        int r = 0;

        if (!type)
                return -EINVAL;
        if (streq(type, "DELETED")) {
                const char *ns = k8s_obj_string(pod, "metadata.namespace"), *name = k8s_obj_string(pod, "metadata.name");
                if (!ns || !name)
                        return -EBADMSG;
                pthread_mutex_lock(&pc->lock);
                remove_locked(pc, ns, name);
                pthread_mutex_unlock(&pc->lock);
                return 0;
        }
        if (!streq(type, "ADDED") && !streq(type, "MODIFIED"))
                return 0;
        r = entry_make(pod, &e);
        if (r < 0)
                return r;
        pthread_mutex_lock(&pc->lock);
        r = upsert_locked(pc, &e);
        pthread_mutex_unlock(&pc->lock);
        if (r < 0)
                entry_done(&e);
        return r;
}

void podcache_set_unsynced(struct podcache *pc) {
        pthread_mutex_lock(&pc->lock);
        pc->synced = false;
        pc->streaming = false;
        pthread_mutex_unlock(&pc->lock);
}

void podcache_set_streaming(struct podcache *pc, bool streaming) {
        pthread_mutex_lock(&pc->lock);
        pc->streaming = streaming;
        pthread_mutex_unlock(&pc->lock);
}

int podcache_lookup(struct podcache *pc, const char *ns, const char *name, const char *uid, char **ret_json) {
        int r;

        pthread_mutex_lock(&pc->lock);
        bool by_uid = uid && *uid;
        ssize_t i = pc->synced ? find(pc, ns, name) : -1;
        /* Without a UID nothing tells a re-created pod from the cached one: answer only while the
         * stream is connected, not in a gap between streams, where a delete + create is unseen. */
        if (!pc->synced || (!by_uid && !pc->streaming))
                r = -EAGAIN;
        else if (i < 0)
                r = -ENOENT;
        else if (by_uid && !streq(uid, pc->e[i].uid))
                r = -ESTALE; /* same name, another pod (e.g. a StatefulSet pod re-created) */
        else {
                *ret_json = strdup(pc->e[i].json);
                r = *ret_json ? 0 : -ENOMEM;
                if (r == 0)
                        pc->hits++;
        }
        pthread_mutex_unlock(&pc->lock);
        return r;
}

int podcache_get(struct podcache *pc, const char *ns, const char *name, char **ret_json) {
        int r;

        pthread_mutex_lock(&pc->lock);
        ssize_t i = pc->synced ? find(pc, ns, name) : -1;
        if (!pc->synced)
                r = -EAGAIN;
        else if (i < 0)
                r = -ENOENT;
        else {
                *ret_json = strdup(pc->e[i].json);
                r = *ret_json ? 0 : -ENOMEM;
        }
        pthread_mutex_unlock(&pc->lock);
        return r;
}

void podcache_get_stats(struct podcache *pc, struct podcache_stats *ret) {
        pthread_mutex_lock(&pc->lock);
        *ret = (struct podcache_stats){ .synced = pc->synced, .streaming = pc->streaming, .pods = (unsigned)pc->n,
                                        .hits = pc->hits, .live = pc->live, .relists = pc->relists,
                                        .dropped = pc->dropped };
        snprintf(ret->resource_version, sizeof ret->resource_version, "%s", pc->rv);
        pthread_mutex_unlock(&pc->lock);
}

/* ---- informer ---- */

#define logf_ log_callback

struct informer {
        struct podcache *pc;
        struct k8s_client *c;
        const char *node;
        const char *field_selector, *label_selector;    /* extra, may be NULL */
        volatile sig_atomic_t *stop;
        podcache_log_fn log;
        void *ud;
        void (*on_event)(void *userdata, const char *type, const cJSON *pod);
        void *event_ud;
};

static int on_watch_event(const char *type, cJSON *obj, void *userdata) {
        struct informer *w = userdata;
        int r = podcache_apply(w->pc, type, obj);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                logf_(w->log, w->ud, LOG_LEVEL_WARN, "pod cache: ignored a %s event without namespace/name", type);
        else if (w->on_event)
                w->on_event(w->event_ud, type, obj); /* outside the cache's lock: podcache_apply released it */
        return *w->stop ? 1 : 0;
}

static void on_watch_started(void *userdata) {
        podcache_set_streaming(userdata, true);
}

static void sleep_usec_stop(uint64_t usec, volatile sig_atomic_t *stop) {
        while (usec > 0 && !*stop) {
                uint64_t s = usec > 100000 ? 100000 : usec;
                struct timespec ts = { .tv_sec = (time_t)(s / 1000000), .tv_nsec = (long)(s % 1000000) * 1000 };
                nanosleep(&ts, NULL);
                usec -= s;
        }
}

/* One LIST: replace the cache, then report every listed pod to the observer as ADDED (as a
 * client-go informer does on a (re)list). */
static int informer_list(struct informer *w, const char *fs, char *rv, size_t rvsz, char *e, size_t esz) {
        cJSON *list = NULL;
        e[0] = 0; /* a failing replace leaves no message of its own */
        int r = k8s_list_pods(w->c, NULL, fs, w->label_selector && *w->label_selector ? w->label_selector : NULL, &list,
                              rv, rvsz, e, esz);
        if (r >= 0)
                r = podcache_replace(w->pc, list, rv);
        if (r >= 0 && w->on_event) {
                const cJSON *it;
                cJSON_ArrayForEach(it, k8s_obj_array(list, "items"))
                        if (cJSON_IsObject(it) && k8s_obj_string(it, "metadata.namespace") &&
                            k8s_obj_string(it, "metadata.name"))
                                w->on_event(w->event_ud, "ADDED", it);
        }
        cJSON_Delete(list);
        /* A LIST of a few hundred pods parses into ~10 MB of short-lived cJSON nodes, which glibc
         * keeps after they are freed (measured: RSS 16 MB with 250 pods, 9 MB after a trim). The
         * agent runs for weeks on every node: give that memory back. */
        malloc_trim(0);
        return r;
}

static int run_informer(struct informer *w) {
        _cleanup_free_ char *fs = NULL;
        struct podcache *pc = w->pc;
        uint64_t backoff = 1000000;
        char rv[64], e[512];
        bool first = true;

        const char *xfs = w->field_selector ? w->field_selector : "";
        if (asprintf(&fs, "%s%sspec.nodeName=%s", xfs, *xfs ? "," : "", w->node) < 0) {
                fs = NULL;
                return -ENOMEM;
        }
        k8s_client_set_watch_started(w->c, on_watch_started, pc);
        while (!*w->stop) {
                int r = informer_list(w, fs, rv, sizeof rv, e, sizeof e);
                if (r < 0) {
                        if (*w->stop)
                                break;
                        logf_(w->log, w->ud, LOG_LEVEL_WARN, "pod cache: LIST failed (retrying in %llu s): %s",
                              (unsigned long long)(backoff / 1000000), e[0] ? e : strerror(-r));
                        sleep_usec_stop(backoff, w->stop);
                        backoff = backoff * 2 > 30000000 ? 30000000 : backoff * 2;
                        continue;
                }
                pthread_mutex_lock(&pc->lock);
                if (!first)
                        pc->relists++;
                unsigned n = (unsigned)pc->n;
                pthread_mutex_unlock(&pc->lock);
                logf_(w->log, w->ud, first ? LOG_LEVEL_INFO : LOG_LEVEL_DEBUG,
                      "pod cache: synced %u pod(s) on node %s at resourceVersion %s", n, w->node, rv);
                first = false;
                backoff = 1000000;
                while (!*w->stop) {
                        uint64_t t0 = now_usec();
                        r = k8s_watch_pods(w->c, NULL, fs, w->label_selector && *w->label_selector ? w->label_selector : NULL,
                                           rv, 0, on_watch_event, w, rv, sizeof rv, e, sizeof e);
                        /* Between streams the cache may miss a delete + create: only UID-checked
                         * lookups are answered until the next stream is accepted. */
                        podcache_set_streaming(pc, false);
                        if (r >= 0) {
                                pthread_mutex_lock(&pc->lock);
                                snprintf(pc->rv, sizeof pc->rv, "%s", rv);
                                pthread_mutex_unlock(&pc->lock);
                                /* The server ended the stream: resume from rv, but never in a hot
                                 * loop against a server that ends every stream at once. */
                                if (now_usec() - t0 < 1000000)
                                        sleep_usec_stop(1000000, w->stop);
                                continue;
                        }
                        /* Until the next LIST the cache may miss events: stop answering from it. */
                        podcache_set_unsynced(pc);
                        if (*w->stop)
                                break;
                        if (r == -ESTALE)
                                logf_(w->log, w->ud, LOG_LEVEL_INFO, "pod cache: resourceVersion %s expired; relisting", rv);
                        else {
                                logf_(w->log, w->ud, LOG_LEVEL_WARN, "pod cache: watch failed (relisting in %llu s): %s",
                                      (unsigned long long)(backoff / 1000000), e[0] ? e : strerror(-r));
                                sleep_usec_stop(backoff, w->stop);
                                backoff = backoff * 2 > 30000000 ? 30000000 : backoff * 2;
                        }
                        break;
                }
        }
        podcache_set_streaming(pc, false);
        k8s_client_set_watch_started(w->c, NULL, NULL);
        return 0;
}

int podcache_run_informer(struct podcache *pc, struct k8s_client *c, const char *node, volatile sig_atomic_t *stop,
                          podcache_log_fn log, void *userdata) {
        struct informer w = { .pc = pc, .c = c, .node = node, .stop = stop, .log = log, .ud = userdata };
        return run_informer(&w);
}

/* ---- server ---- */

/* A JSON answer; body is copied. On ENOMEM resp is a bodiless 500 (httpd sends it). */
static int json_response(struct httpd_response *resp, int status, const char *json) {
        return httpd_respond(resp, status, "application/json", json);
}

static int error_response(struct httpd_response *resp, int status, const char *msg) {
        cJSON *o = cJSON_CreateObject();
        _cleanup_free_ char *s = NULL;
        if (!o || !cJSON_AddStringToObject(o, "error", msg) || !(s = cJSON_PrintUnformatted(o))) {
                cJSON_Delete(o);
                *resp = (struct httpd_response){ .status = 500 };
                return -ENOMEM;
        }
        cJSON_Delete(o);
        return json_response(resp, status, s);
}

static bool uid_is_valid(const char *s) {
        size_t n = strlen(s);
        return n > 0 && n <= 64 && strspn(s, "0123456789abcdefABCDEF-") == n;
}

static int pod_response(struct httpd_response *resp, const char *source, const char *pod_json) {
        _cleanup_free_ char *body = NULL;
        if (asprintf(&body, "{\"source\":\"%s\",\"pod\":%s}", source, pod_json) < 0) {
                body = NULL;
                *resp = (struct httpd_response){ .status = 500 };
                return -ENOMEM;
        }
        return json_response(resp, 200, body);
}

static void count_dropped(struct podcache *pc) {
        pthread_mutex_lock(&pc->lock);
        pc->dropped++;
        pthread_mutex_unlock(&pc->lock);
}

/* The live GET: one at a time on the shared client. The wait for it is bounded (the plugin stops
 * waiting for us after PODCACHE_CLIENT_TIMEOUT_USEC, and the GET itself may take
 * PODCACHE_LIVE_TIMEOUT_USEC), and a request whose client left meanwhile is dropped unsent. */
static int live_get(struct podcache *pc, struct k8s_client *live, const struct httpd_request *req, const char *ns,
                    const char *name, const char *uid, struct httpd_response *resp) {
        cJSON *pod = NULL;
        struct entry e = { 0 };
        char err[512] = "";
        int r;

        if (!live)
                return error_response(resp, 503, "pod not in the cache and no API client");
        uint64_t deadline = (req->received_usec ? req->received_usec : now_usec()) + PODCACHE_LIVE_QUEUE_USEC;
        struct timespec ts = { .tv_sec = (time_t)(deadline / 1000000), .tv_nsec = (long)(deadline % 1000000) * 1000 };
        r = pthread_mutex_clocklock(&pc->live_lock, CLOCK_MONOTONIC, &ts);
        if (r != 0) {
                count_dropped(pc);
                return error_response(resp, 503, "too many live API GETs waiting; try the API server directly");
        }
        if (httpd_request_abandoned(req)) {
                pthread_mutex_unlock(&pc->live_lock);
                count_dropped(pc);
                return error_response(resp, 503, "the client left before its live GET");
        }
        r = k8s_get_pod(live, ns, name, &pod, err, sizeof err);
        pthread_mutex_unlock(&pc->live_lock);
        if (r == -ENOENT)
                return error_response(resp, 404, err);
        if (r < 0)
                return error_response(resp, 502, err[0] ? err : strerror(-r));
        r = entry_make(pod, &e);
        cJSON_Delete(pod);
        if (r < 0)
                return r == -ENOMEM ? error_response(resp, 500, "out of memory")
                                    : error_response(resp, 502, "API server returned a Pod without namespace/name");
        if (uid && *uid && !streq(uid, e.uid)) {
                entry_done(&e);
                return error_response(resp, 404, "pod exists with another UID");
        }
        pthread_mutex_lock(&pc->lock);
        pc->live++;
        pthread_mutex_unlock(&pc->lock);
        r = pod_response(resp, "api", e.json);
        entry_done(&e);
        return r;
}

static int status_response(struct podcache *pc, struct httpd_response *resp) {
        struct podcache_stats st;
        _cleanup_free_ char *b = NULL;
        cJSON *o = cJSON_CreateObject();
        podcache_get_stats(pc, &st);
        /* cJSON escapes the resourceVersion, an opaque string from the API server */
        if (!o || !cJSON_AddBoolToObject(o, "synced", st.synced) || !cJSON_AddBoolToObject(o, "watching", st.streaming) ||
            !cJSON_AddNumberToObject(o, "pods", st.pods) ||
            !cJSON_AddStringToObject(o, "resourceVersion", st.resource_version) ||
            !cJSON_AddNumberToObject(o, "hits", (double)st.hits) || !cJSON_AddNumberToObject(o, "live", (double)st.live) ||
            !cJSON_AddNumberToObject(o, "relists", (double)st.relists) ||
            !cJSON_AddNumberToObject(o, "dropped", (double)st.dropped) || !(b = cJSON_PrintUnformatted(o))) {
                cJSON_Delete(o);
                *resp = (struct httpd_response){ .status = 500 };
                return -ENOMEM;
        }
        cJSON_Delete(o);
        return json_response(resp, 200, b);
}

struct serve_ctx {
        struct podcache *pc;
        struct k8s_client *live;
};

/* GET /v1/pods/{ns}/{name}[?uid=…], /v1/status, /readyz (see podcache.h). */
static void serve(const struct httpd_request *req, struct httpd_response *resp, void *userdata) {
        struct serve_ctx *x = userdata;
        char ns[254], name[254], uid[80] = "";

        if (!streq(req->method, "GET")) {
                error_response(resp, 405, "only GET is served");
                return;
        }
        if (streq(req->path, "/readyz") && !req->query) {
                struct podcache_stats st;
                podcache_get_stats(x->pc, &st);
                if (st.synced)
                        json_response(resp, 200, "{\"ready\":true}");
                else
                        error_response(resp, 503, "pod cache not synced");
                return;
        }
        if (streq(req->path, "/v1/status") && !req->query) {
                status_response(x->pc, resp);
                return;
        }
        /* /v1/pods/{ns}/{name}: names are DNS-1123, so no escaping is ever needed. */
        const char *p = req->path, *slash;
        if (strncmp(p, "/v1/pods/", 9) != 0 || !(slash = strchr(p + 9, '/')) || slash == p + 9 || !slash[1] ||
            strchr(slash + 1, '/')) {
                error_response(resp, 404, "unknown path");
                return;
        }
        size_t nl = (size_t)(slash - (p + 9)), ml = strlen(slash + 1);
        if (nl >= sizeof ns || ml >= sizeof name) {
                error_response(resp, 400, "invalid namespace or pod name");
                return;
        }
        memcpy(ns, p + 9, nl);
        ns[nl] = 0;
        memcpy(name, slash + 1, ml + 1);
        if (req->query) {
                if (strncmp(req->query, "uid=", 4) != 0 || strlen(req->query + 4) >= sizeof uid ||
                    !uid_is_valid(req->query + 4)) {
                        error_response(resp, 400, "bad query (only uid=<pod uid>)");
                        return;
                }
                strcpy(uid, req->query + 4);
        }
        if (!k8s_name_is_valid(ns) || !k8s_name_is_valid(name)) {
                error_response(resp, 400, "invalid namespace or pod name");
                return;
        }
        _cleanup_free_ char *json = NULL;
        int r = podcache_lookup(x->pc, ns, name, uid, &json);
        if (r == 0)
                pod_response(resp, "cache", json);
        else if (r == -ENOMEM)
                error_response(resp, 500, "out of memory");
        else
                live_get(x->pc, x->live, req, ns, name, uid, resp);
}

int podcache_handle_request(struct podcache *pc, struct k8s_client *live, const char *req, size_t len,
                            char **ret, size_t *ret_len) {
        struct serve_ctx x = { .pc = pc, .live = live };
        struct httpd_response resp = {};
        struct httpd_parsed p;
        int r;

        r = httpd_parse_request(req, len, 0, &p);
        if (r == -ENOMEM)
                return r;
        if (r == 0)
                error_response(&resp, 400, "incomplete request");
        else if (r < 0)
                error_response(&resp, p.error_status, p.error);
        else
                serve(&p.req, &resp, &x);
        httpd_parsed_done(&p);
        if (resp.status == 500 && !resp.body)
                return -ENOMEM;
        r = httpd_format_response(&resp, ret, ret_len);
        free(resp.body);
        return r;
}

/* ---- the agent: informer thread + socket server ---- */

struct podcache_agent {
        struct podcache *pc;
        char *node, *socket_path, *fs, *ls;
        struct k8s_client *watch;
        volatile sig_atomic_t stop;
        bool have_informer;
        pthread_t informer;
        struct informer w;
        int listen_fd;
        struct httpd *srv;
        struct serve_ctx ctx;
};

static void *informer_main(void *arg) {
        struct podcache_agent *a = arg;
        run_informer(&a->w);
        return NULL;
}

static struct podcache_agent *agent_free(struct podcache_agent *a) {
        free(a->node);
        free(a->socket_path);
        free(a->fs);
        free(a->ls);
        free(a);
        return NULL;
}

int podcache_agent_start(struct podcache *pc, const struct podcache_agent_options *o, struct podcache_agent **ret) {
        int r;

        if (!pc || !o || (o->socket_path && !*o->socket_path) || (!o->socket_path && !o->watch_client) || !ret)
                return -EINVAL;
        if (o->watch_client && (!o->node_name || !k8s_name_is_valid(o->node_name)))
                return -EINVAL;
        struct podcache_agent *a = calloc(1, sizeof *a);
        if (!a)
                return -ENOMEM;
        a->pc = pc;
        a->watch = o->watch_client;
        a->listen_fd = -1;
        a->socket_path = o->socket_path ? strdup(o->socket_path) : NULL;
        a->node = o->node_name ? strdup(o->node_name) : NULL;
        a->fs = o->field_selector ? strdup(o->field_selector) : NULL;
        a->ls = o->label_selector ? strdup(o->label_selector) : NULL;
        if ((o->socket_path && !a->socket_path) || (o->node_name && !a->node) || (o->field_selector && !a->fs) ||
            (o->label_selector && !a->ls)) {
                agent_free(a);
                return -ENOMEM;
        }
        a->ctx = (struct serve_ctx){ .pc = pc, .live = o->live_client };
        a->w = (struct informer){ .pc = pc, .c = o->watch_client, .node = a->node, .field_selector = a->fs,
                                  .label_selector = a->ls, .stop = &a->stop, .log = o->log,
                                  .ud = o->log_userdata, .on_event = o->on_event, .event_ud = o->event_userdata };

        /* Only local work here: the install must never wait for the API server. */
        r = a->socket_path ? httpd_listen_unix(a->socket_path, 0600, &a->listen_fd) : 0;
        if (r < 0) {
                agent_free(a);
                return r;
        }
        struct httpd_options ho = { .max_conns = CONN_MAX, .io_timeout_usec = IO_TIMEOUT_USEC, .same_uid_only = true };
        int lfd = a->listen_fd;
        r = a->socket_path ? httpd_start(lfd, &ho, serve, &a->ctx, &a->srv) : 0;
        if (r < 0) {
                /* httpd_start closed the fd: the inode check is gone, but nobody else can have
                 * bound this path while we held it, so unlink it */
                (void)unlink(a->socket_path);
                agent_free(a);
                return r;
        }
        if (a->watch) {
                r = -pthread_create(&a->informer, NULL, informer_main, a);
                if (r < 0) {
                        if (a->socket_path)
                                (void)httpd_unlink_unix(a->socket_path, a->listen_fd);
                        httpd_stop(a->srv);
                        agent_free(a);
                        return r;
                }
                a->have_informer = true;
        }
        if (a->socket_path)
                logf_(o->log, o->log_userdata, LOG_LEVEL_INFO, "pod cache: serving node %s's pods on %s",
                      a->node ? a->node : "(no informer)", a->socket_path);
        *ret = a;
        return 0;
}

struct podcache_agent *podcache_agent_stop(struct podcache_agent *a) {
        if (!a)
                return NULL;
        a->stop = 1;
        /* The watch may sit in a stream for minutes: cut it. */
        if (a->have_informer)
                k8s_client_interrupt(a->watch);
        /* Unlink before closing the listener: while we still listen, nobody can have replaced
         * the file (httpd_listen_unix refuses a live socket), so the inode check is exact. */
        if (a->socket_path)
                (void)httpd_unlink_unix(a->socket_path, a->listen_fd);
        a->srv = httpd_stop(a->srv);
        if (a->have_informer)
                pthread_join(a->informer, NULL);
        return agent_free(a);
}

/* ---- client ---- */

int podcache_client_get(const char *socket_path, const char *ns, const char *name, const char *uid,
                        uint64_t timeout_usec, cJSON **ret_pod, bool *ret_from_cache, char *err, size_t errsz) {
        struct httpc_config hc = { .server = "http://localhost", .unix_socket = socket_path };
        struct httpc *h = NULL;
        struct httpc_body b = { .max = 16u << 20 };
        char path[700], e[256] = "";
        int status = 0, r;
        cJSON *doc = NULL;

        if (!k8s_name_is_valid(ns) || !k8s_name_is_valid(name) || (uid && *uid && !uid_is_valid(uid))) {
                snprintf(err, errsz, "invalid pod reference");
                return -EINVAL;
        }
        snprintf(path, sizeof path, "/v1/pods/%s/%s%s%s", ns, name, uid && *uid ? "?uid=" : "", uid && *uid ? uid : "");
        r = httpc_new(&hc, &h, e, sizeof e);
        if (r >= 0) {
                struct httpc_request rq = { .method = "GET", .path = path, .timeout_usec = timeout_usec };
                r = httpc_request(h, &rq, httpc_body_cb, &b, &status, e, sizeof e);
        }
        httpc_free(h);
        if (r < 0) {
                snprintf(err, errsz, "%s", e[0] ? e : strerror(-r));
                goto out;
        }
        doc = b.buf ? cJSON_ParseWithLength(b.buf, b.len) : NULL;
        if (status != 200) {
                const cJSON *m = k8s_obj_child(doc, "error");
                snprintf(err, errsz, "agent answered HTTP %d: %s", status, cJSON_IsString(m) ? m->valuestring : "");
                r = status == 404 ? -ENOENT : -EIO;
                goto out;
        }
        const char *src = k8s_obj_string(doc, "source");
        cJSON *pod = cJSON_DetachItemFromObjectCaseSensitive(doc, "pod");
        const char *k = k8s_obj_string(pod, "kind"), *pns = k8s_obj_string(pod, "metadata.namespace");
        const char *pname = k8s_obj_string(pod, "metadata.name"), *puid = k8s_obj_string(pod, "metadata.uid");
        /* Trust, but check: the answer must be the pod we asked for. */
        if (!src || !cJSON_IsObject(pod) || (k && !streq(k, "Pod")) || !pns || !pname || !streq(pns, ns) ||
            !streq(pname, name) || (uid && *uid && (!puid || !streq(puid, uid)))) {
                cJSON_Delete(pod);
                snprintf(err, errsz, "agent answered with something other than pod %s/%s", ns, name);
                r = -EBADMSG;
                goto out;
        }
        *ret_pod = pod;
        *ret_from_cache = streq(src, "cache");
        r = 0;
out:
        cJSON_Delete(doc);
        free(b.buf);
        return r;
}
