/* SPDX-License-Identifier: Apache-2.0 */
/* podcache.c: node-scoped pod cache + its Unix-socket server and client (see podcache.h). */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "kube/httpc.h"
#include "base/log.h"
#include "base/macro.h"
#include "agent/podcache.h"

#define REQ_MAX 4096            /* a request head; ours are < 400 bytes */
#define CONN_MAX 256            /* concurrent connections (a node runs ≤ 250 pods) */
#define CONN_TIMEOUT_MS 2000    /* to send the request head */

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
        char rv[64];
        uint64_t hits, live, relists;
        unsigned conns;
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
        pthread_mutex_unlock(&pc->lock);
}

int podcache_lookup(struct podcache *pc, const char *ns, const char *name, const char *uid, char **ret_json) {
        int r;

        pthread_mutex_lock(&pc->lock);
        ssize_t i = pc->synced ? find(pc, ns, name) : -1;
        if (!pc->synced)
                r = -EAGAIN;
        else if (i < 0)
                r = -ENOENT;
        else if (uid && *uid && !streq(uid, pc->e[i].uid))
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

void podcache_get_stats(struct podcache *pc, struct podcache_stats *ret) {
        pthread_mutex_lock(&pc->lock);
        *ret = (struct podcache_stats){ .synced = pc->synced, .pods = (unsigned)pc->n, .hits = pc->hits,
                                        .live = pc->live, .relists = pc->relists };
        snprintf(ret->resource_version, sizeof ret->resource_version, "%s", pc->rv);
        pthread_mutex_unlock(&pc->lock);
}

/* ---- informer ---- */

static void logf_(podcache_log_fn fn, void *ud, int level, const char *fmt, ...) _printf_(4, 5);
static void logf_(podcache_log_fn fn, void *ud, int level, const char *fmt, ...) {
        char buf[1024];
        va_list ap;
        if (!fn)
                return;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);
        fn(ud, level, buf);
}

struct watch_ctx {
        struct podcache *pc;
        volatile int *stop;
        podcache_log_fn log;
        void *ud;
};

static int on_event(const char *type, cJSON *obj, void *userdata) {
        struct watch_ctx *w = userdata;
        int r = podcache_apply(w->pc, type, obj);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                logf_(w->log, w->ud, LOG_LEVEL_WARN, "pod cache: ignored a %s event without namespace/name", type);
        return *w->stop ? 1 : 0;
}

static void sleep_usec_stop(uint64_t usec, volatile int *stop) {
        while (usec > 0 && !*stop) {
                uint64_t s = usec > 100000 ? 100000 : usec;
                struct timespec ts = { .tv_sec = (time_t)(s / 1000000), .tv_nsec = (long)(s % 1000000) * 1000 };
                nanosleep(&ts, NULL);
                usec -= s;
        }
}

int podcache_run_informer(struct podcache *pc, struct k8s_client *c, const char *node, volatile int *stop,
                          podcache_log_fn log, void *userdata) {
        _cleanup_free_ char *fs = NULL;
        struct watch_ctx w = { .pc = pc, .stop = stop, .log = log, .ud = userdata };
        uint64_t backoff = 1000000;
        char rv[64], e[512];
        bool first = true;

        if (asprintf(&fs, "spec.nodeName=%s", node) < 0) {
                fs = NULL;
                return -ENOMEM;
        }
        while (!*stop) {
                cJSON *list = NULL;
                e[0] = 0; /* a failing replace leaves no message of its own */
                int r = k8s_list_pods(c, NULL, fs, NULL, &list, rv, sizeof rv, e, sizeof e);
                if (r >= 0)
                        r = podcache_replace(pc, list, rv);
                cJSON_Delete(list);
                if (r < 0) {
                        logf_(log, userdata, LOG_LEVEL_WARN, "pod cache: LIST failed (retrying in %llu s): %s",
                              (unsigned long long)(backoff / 1000000), e[0] ? e : strerror(-r));
                        sleep_usec_stop(backoff, stop);
                        backoff = backoff * 2 > 30000000 ? 30000000 : backoff * 2;
                        continue;
                }
                pthread_mutex_lock(&pc->lock);
                if (!first)
                        pc->relists++;
                unsigned n = (unsigned)pc->n;
                pthread_mutex_unlock(&pc->lock);
                logf_(log, userdata, first ? LOG_LEVEL_INFO : LOG_LEVEL_DEBUG,
                      "pod cache: synced %u pod(s) on node %s at resourceVersion %s", n, node, rv);
                first = false;
                backoff = 1000000;
                while (!*stop) {
                        uint64_t t0 = now_usec();
                        r = k8s_watch_pods(c, NULL, fs, NULL, rv, 0, on_event, &w, rv, sizeof rv, e, sizeof e);
                        if (r >= 0) {
                                pthread_mutex_lock(&pc->lock);
                                snprintf(pc->rv, sizeof pc->rv, "%s", rv);
                                pthread_mutex_unlock(&pc->lock);
                                /* The server ended the stream: resume from rv, but never in a hot
                                 * loop against a server that ends every stream at once. */
                                if (now_usec() - t0 < 1000000)
                                        sleep_usec_stop(1000000, stop);
                                continue;
                        }
                        /* Until the next LIST the cache may miss events: stop answering from it. */
                        podcache_set_unsynced(pc);
                        if (r == -ESTALE)
                                logf_(log, userdata, LOG_LEVEL_INFO, "pod cache: resourceVersion %s expired; relisting", rv);
                        else {
                                logf_(log, userdata, LOG_LEVEL_WARN, "pod cache: watch failed (relisting in %llu s): %s",
                                      (unsigned long long)(backoff / 1000000), e[0] ? e : strerror(-r));
                                sleep_usec_stop(backoff, stop);
                                backoff = backoff * 2 > 30000000 ? 30000000 : backoff * 2;
                        }
                        break;
                }
        }
        return 0;
}

/* ---- server ---- */

static int response(int status, const char *json, char **ret, size_t *ret_len) {
        const char *reason = status == 200 ? "OK" : status == 400 ? "Bad Request" : status == 403 ? "Forbidden"
                           : status == 404 ? "Not Found" : status == 405 ? "Method Not Allowed"
                           : status == 502 ? "Bad Gateway" : "Service Unavailable";
        int n = asprintf(ret, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                              "Connection: close\r\n\r\n%s", status, reason, strlen(json), json);
        if (n < 0) {
                *ret = NULL;
                return -ENOMEM;
        }
        *ret_len = (size_t)n;
        return 0;
}

static int error_response(int status, const char *msg, char **ret, size_t *ret_len) {
        cJSON *o = cJSON_CreateObject();
        _cleanup_free_ char *s = NULL;
        if (!o || !cJSON_AddStringToObject(o, "error", msg) || !(s = cJSON_PrintUnformatted(o))) {
                cJSON_Delete(o);
                return -ENOMEM;
        }
        cJSON_Delete(o);
        return response(status, s, ret, ret_len);
}

static bool uid_is_valid(const char *s) {
        size_t n = strlen(s);
        return n > 0 && n <= 64 && strspn(s, "0123456789abcdefABCDEF-") == n;
}

static int pod_response(const char *source, const char *pod_json, char **ret, size_t *ret_len) {
        _cleanup_free_ char *body = NULL;
        if (asprintf(&body, "{\"source\":\"%s\",\"pod\":%s}", source, pod_json) < 0) {
                body = NULL;
                return -ENOMEM;
        }
        return response(200, body, ret, ret_len);
}

static int live_get(struct podcache *pc, struct k8s_client *live, const char *ns, const char *name, const char *uid,
                    char **ret, size_t *ret_len) {
        cJSON *pod = NULL;
        struct entry e = { 0 };
        char err[512] = "";
        int r;

        if (!live)
                return error_response(503, "pod not in the cache and no API client", ret, ret_len);
        pthread_mutex_lock(&pc->live_lock);
        r = k8s_get_pod(live, ns, name, &pod, err, sizeof err);
        pthread_mutex_unlock(&pc->live_lock);
        if (r == -ENOENT)
                return error_response(404, err, ret, ret_len);
        if (r < 0)
                return error_response(502, err[0] ? err : strerror(-r), ret, ret_len);
        r = entry_make(pod, &e);
        cJSON_Delete(pod);
        if (r < 0)
                return r == -ENOMEM ? r : error_response(502, "API server returned a Pod without namespace/name", ret, ret_len);
        if (uid && *uid && !streq(uid, e.uid)) {
                entry_done(&e);
                return error_response(404, "pod exists with another UID", ret, ret_len);
        }
        pthread_mutex_lock(&pc->lock);
        pc->live++;
        pthread_mutex_unlock(&pc->lock);
        r = pod_response("api", e.json, ret, ret_len);
        entry_done(&e);
        return r;
}

int podcache_handle_request(struct podcache *pc, struct k8s_client *live, const char *req, size_t len,
                            char **ret, size_t *ret_len) {
        char method[8], target[512], ns[254], name[254], uid[80] = "";
        const char *eol = memchr(req, '\n', len);
        int n;

        /* Request line: METHOD SP target SP HTTP/1.x */
        if (!eol || (size_t)(eol - req) >= sizeof target)
                return error_response(400, "malformed request line", ret, ret_len);
        {
                char line[600];
                size_t l = (size_t)(eol - req);
                memcpy(line, req, l);
                line[l] = 0;
                if (l && line[l - 1] == '\r')
                        line[l - 1] = 0;
                n = 0;
                if (sscanf(line, "%7s %511s HTTP/1.%*1[01]%n", method, target, &n) != 2 || n == 0 || line[n])
                        return error_response(400, "malformed request line", ret, ret_len);
        }
        if (!streq(method, "GET"))
                return error_response(405, "only GET is served", ret, ret_len);
        if (streq(target, "/readyz")) {
                struct podcache_stats st;
                podcache_get_stats(pc, &st);
                return st.synced ? response(200, "{\"ready\":true}", ret, ret_len)
                                 : error_response(503, "pod cache not synced", ret, ret_len);
        }
        if (streq(target, "/v1/status")) {
                struct podcache_stats st;
                _cleanup_free_ char *b = NULL;
                cJSON *o = cJSON_CreateObject();
                podcache_get_stats(pc, &st);
                /* cJSON escapes the resourceVersion, an opaque string from the API server */
                if (!o || !cJSON_AddBoolToObject(o, "synced", st.synced) ||
                    !cJSON_AddNumberToObject(o, "pods", st.pods) ||
                    !cJSON_AddStringToObject(o, "resourceVersion", st.resource_version) ||
                    !cJSON_AddNumberToObject(o, "hits", (double)st.hits) ||
                    !cJSON_AddNumberToObject(o, "live", (double)st.live) ||
                    !cJSON_AddNumberToObject(o, "relists", (double)st.relists) || !(b = cJSON_PrintUnformatted(o))) {
                        cJSON_Delete(o);
                        return -ENOMEM;
                }
                cJSON_Delete(o);
                return response(200, b, ret, ret_len);
        }
        /* /v1/pods/{ns}/{name}[?uid={uid}]: names are DNS-1123, so no escaping is ever needed. */
        n = 0;
        if (sscanf(target, "/v1/pods/%253[^/?]/%253[^/?]%n", ns, name, &n) != 2 || n == 0)
                return error_response(404, "unknown path", ret, ret_len);
        if (target[n] == '?') {
                int m = 0;
                if (sscanf(target + n, "?uid=%79[^&]%n", uid, &m) != 1 || target[n + m] || !uid_is_valid(uid))
                        return error_response(400, "bad query (only uid=<pod uid>)", ret, ret_len);
        } else if (target[n])
                return error_response(404, "unknown path", ret, ret_len);
        if (!k8s_name_is_valid(ns) || !k8s_name_is_valid(name))
                return error_response(400, "invalid namespace or pod name", ret, ret_len);

        _cleanup_free_ char *json = NULL;
        int r = podcache_lookup(pc, ns, name, uid, &json);
        if (r == 0)
                return pod_response("cache", json, ret, ret_len);
        if (r == -ENOMEM)
                return r;
        return live_get(pc, live, ns, name, uid, ret, ret_len);
}

int podcache_listen(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct stat st;

        if (strlen(path) >= sizeof sa.sun_path)
                return -ENAMETOOLONG;
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
        if (lstat(path, &st) == 0) {
                if (!S_ISSOCK(st.st_mode))
                        return -EEXIST;
                (void)unlink(path); /* a stale socket of a previous run */
        }
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        /* Created 0600 from the start (umask), not chmod'ed after: no window for other users. */
        mode_t old = umask(0177);
        int r = bind(fd, (struct sockaddr *)&sa, sizeof sa);
        umask(old);
        if (r < 0 || listen(fd, 512) < 0)
                return -errno;
        return TAKE_FD(fd);
}

struct conn {
        struct podcache *pc;
        struct k8s_client *live;
        podcache_log_fn log;
        void *ud;
        int fd;
};

static void write_all(int fd, const char *p, size_t n) {
        while (n > 0) {
                ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return;
                p += k;
                n -= (size_t)k;
        }
}

static void *conn_main(void *arg) {
        struct conn *c = arg;
        char req[REQ_MAX + 1];
        size_t len = 0;
        _cleanup_free_ char *resp = NULL;
        size_t rlen = 0;
        struct ucred cred;
        socklen_t cl = sizeof cred;
        int r;

        if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0 || cred.uid != geteuid()) {
                r = error_response(403, "only the agent's own uid may ask", &resp, &rlen);
                goto send;
        }
        /* Read the head (up to the blank line) within a deadline; the body of a GET is ignored. */
        for (;;) {
                struct pollfd p = { .fd = c->fd, .events = POLLIN };
                int k = poll(&p, 1, CONN_TIMEOUT_MS);
                if (k <= 0)
                        goto out;
                ssize_t m = recv(c->fd, req + len, REQ_MAX - len, 0);
                if (m < 0 && errno == EINTR)
                        continue;
                if (m <= 0)
                        goto out;
                len += (size_t)m;
                req[len] = 0;
                if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
                        break;
                if (len == REQ_MAX) {
                        r = error_response(400, "request head too large", &resp, &rlen);
                        goto send;
                }
        }
        r = podcache_handle_request(c->pc, c->live, req, len, &resp, &rlen);
send:
        if (r < 0)
                logf_(c->log, c->ud, LOG_LEVEL_ERROR, "pod cache: cannot answer a request: %s", strerror(-r));
        else
                write_all(c->fd, resp, rlen);
out:
        close(c->fd);
        pthread_mutex_lock(&c->pc->lock);
        c->pc->conns--;
        pthread_mutex_unlock(&c->pc->lock);
        free(c);
        return NULL;
}

int podcache_serve(struct podcache *pc, int listen_fd, struct k8s_client *live, volatile int *stop,
                   podcache_log_fn log, void *userdata) {
        pthread_attr_t attr;

        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&attr, 256 * 1024);
        while (!*stop) {
                struct pollfd p = { .fd = listen_fd, .events = POLLIN };
                if (poll(&p, 1, 200) <= 0)
                        continue;
                int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
                if (fd < 0) {
                        if (errno == EINTR || errno == EAGAIN || errno == ECONNABORTED || errno == EMFILE ||
                            errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                                continue;
                        int r = -errno;
                        pthread_attr_destroy(&attr);
                        return r;
                }
                pthread_mutex_lock(&pc->lock);
                bool full = pc->conns >= CONN_MAX;
                if (!full)
                        pc->conns++;
                pthread_mutex_unlock(&pc->lock);
                struct conn *c = full ? NULL : malloc(sizeof *c);
                pthread_t t;
                if (c) {
                        *c = (struct conn){ .pc = pc, .live = live, .log = log, .ud = userdata, .fd = fd };
                        if (pthread_create(&t, &attr, conn_main, c) == 0)
                                continue;
                        free(c);
                }
                if (!full) {
                        pthread_mutex_lock(&pc->lock);
                        pc->conns--;
                        pthread_mutex_unlock(&pc->lock);
                }
                /* Overloaded: say so at once; the plugin falls back to its direct GET. */
                char *resp = NULL;
                size_t rlen;
                if (error_response(503, "too many connections", &resp, &rlen) == 0)
                        write_all(fd, resp, rlen);
                free(resp);
                close(fd);
        }
        pthread_attr_destroy(&attr);
        /* Let answers in flight finish (each is bounded by its own deadlines), so that the caller
         * may free the cache after we return. */
        for (int i = 0; i < 500; i++) {
                pthread_mutex_lock(&pc->lock);
                unsigned n = pc->conns;
                pthread_mutex_unlock(&pc->lock);
                if (n == 0)
                        break;
                nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
        }
        return 0;
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
