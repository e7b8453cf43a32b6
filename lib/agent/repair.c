/* SPDX-License-Identifier: Apache-2.0 */
/* repair.c: the repair controller (see repair.h; spec istio-cni.md §5). */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/vfs.h>
#include <time.h>

#include "agent/podnetns.h"
#include "agent/repair.h"
#include "agent/workqueue.h"
#include "base/env.h"
#include "base/errbuf.h"
#include "base/log.h"
#include "base/macro.h"
#include "base/netns.h"
#include "cni/redirect.h"
#include "kube/selector.h"
#include "rules/config.h"

extern char **environ;

#define METRIC_REPAIRED "istio_cni_repair_pods_repaired_total"
#define METRIC_QUEUE "istio_cni_repair_queue_depth"
#define EVENTS_MAX 256                          /* aggregation memory: recent (pod, reason, message) */
#define LOCK_WAIT_USEC (30ULL * 1000 * 1000)    /* xtables lock, as a plugin ADD may wait */

/* ---- configuration (§5.1) ---- */

static int env_bool(char *const *envp, const char *name, bool def, bool *ret, char *err, size_t errsz) {
        const char *v = env_get(envp, name);
        *ret = def;
        if (!v || !*v)
                return 0;
        if (config_parse_bool(v, ret) < 0)
                return errbuf_set(err, errsz, -EINVAL, "invalid %s '%s': want true or false", name, v);
        return 0;
}

static int env_str(char *const *envp, const char *name, const char *def, char **ret) {
        const char *v = env_get(envp, name);
        *ret = strdup(v ? v : def);
        return *ret ? 0 : -ENOMEM;
}

int repair_config_from_env(char *const *envp, struct repair_config *c, char *err, size_t errsz) {
        const char *v;
        int r;

        if (!envp)
                envp = environ;
        *c = (struct repair_config){ .init_exit_code = 126, .action_qps = 10, .action_burst = 20 };
        if ((r = env_bool(envp, "REPAIR_ENABLED", true, &c->enabled, err, errsz)) < 0 ||
            (r = env_bool(envp, "REPAIR_REPAIR_PODS", false, &c->repair_pods, err, errsz)) < 0 ||
            (r = env_bool(envp, "REPAIR_DELETE_PODS", false, &c->delete_pods, err, errsz)) < 0 ||
            (r = env_bool(envp, "REPAIR_LABEL_PODS", false, &c->label_pods, err, errsz)) < 0 ||
            (r = env_bool(envp, "REPAIR_DETECT_ONLY", false, &c->detect_only, err, errsz)) < 0 ||
            (r = env_bool(envp, "NATIVE_NFTABLES", false, &c->native_nftables, err, errsz)) < 0)
                return r;
        if (env_str(envp, "REPAIR_BROKEN_POD_LABEL_KEY", "cni.istio.io/uninitialized", &c->label_key) < 0 ||
            env_str(envp, "REPAIR_BROKEN_POD_LABEL_VALUE", "true", &c->label_value) < 0 ||
            env_str(envp, "REPAIR_NODE_NAME", "", &c->node_name) < 0 ||
            env_str(envp, "REPAIR_SIDECAR_ANNOTATION", "sidecar.istio.io/status", &c->sidecar_annotation) < 0 ||
            env_str(envp, "REPAIR_INIT_CONTAINER_NAME", "istio-validation", &c->init_container_name) < 0 ||
            env_str(envp, "REPAIR_INIT_CONTAINER_TERMINATION_MESSAGE", "", &c->init_termination_msg) < 0 ||
            env_str(envp, "REPAIR_LABEL_SELECTORS", "", &c->label_selectors) < 0 ||
            env_str(envp, "REPAIR_FIELD_SELECTORS", "", &c->field_selectors) < 0 ||
            env_str(envp, "REPAIR_HOST_PROC", "/host/proc", &c->host_proc) < 0)
                return errbuf_set(err, errsz, -ENOMEM, "out of memory");
        if ((v = env_get(envp, "REPAIR_INIT_CONTAINER_EXIT_CODE")) && *v) {
                char *end;
                errno = 0;
                long long x = strtoll(v, &end, 10);
                if (errno || *end || x < INT32_MIN || x > INT32_MAX)
                        return errbuf_set(err, errsz, -EINVAL, "invalid REPAIR_INIT_CONTAINER_EXIT_CODE '%s': want an integer", v);
                c->init_exit_code = x;
        }
        if ((v = env_get(envp, "REPAIR_ACTION_RATE")) && *v) {
                char *end;
                errno = 0;
                double x = strtod(v, &end);
                if (errno || *end || !(x > 0) || x > 1e6)
                        return errbuf_set(err, errsz, -EINVAL, "invalid REPAIR_ACTION_RATE '%s': want actions per second > 0", v);
                c->action_qps = x;
        }
        if ((v = env_get(envp, "REPAIR_ACTION_BURST")) && *v) {
                char *end;
                errno = 0;
                unsigned long x = strtoul(v, &end, 10);
                if (errno || *end || !isdigit((unsigned char)*v) || x < 1 || x > 100000)
                        return errbuf_set(err, errsz, -EINVAL, "invalid REPAIR_ACTION_BURST '%s': want an integer 1…100000", v);
                c->action_burst = (unsigned)x;
        }
        /* Mode precedence (§5.1): repair > delete > label; none → detect. */
        c->mode = c->detect_only ? REPAIR_MODE_DETECT
                : c->repair_pods ? REPAIR_MODE_REPAIR
                : c->delete_pods ? REPAIR_MODE_DELETE
                : c->label_pods ? REPAIR_MODE_LABEL
                : REPAIR_MODE_DETECT;
        return 0;
}

int repair_config_check(const struct repair_config *c, char *err, size_t errsz) {
        if (!c->node_name || !*c->node_name)
                return errbuf_set(err, errsz, -EINVAL, "REPAIR_NODE_NAME is empty: the repair controller would watch "
                                  "no pod (set it to spec.nodeName through the downward API)");
        if (!k8s_name_is_valid(c->node_name))
                return errbuf_set(err, errsz, -EINVAL, "invalid REPAIR_NODE_NAME '%s'", c->node_name);
        struct selector *sel = NULL;
        char e[256] = "";
        int r = selector_parse_labels(c->label_selectors, &sel, e, sizeof e);
        selector_free(sel);
        if (r < 0)
                return errbuf_set(err, errsz, r, "REPAIR_LABEL_SELECTORS: %s", r == -ENOMEM ? "out of memory" : e);
        sel = NULL;
        r = selector_parse_fields(c->field_selectors, &sel, e, sizeof e);
        selector_free(sel);
        if (r < 0)
                return errbuf_set(err, errsz, r, "REPAIR_FIELD_SELECTORS: %s", r == -ENOMEM ? "out of memory" : e);
        if (c->mode == REPAIR_MODE_LABEL && (!c->label_key || !*c->label_key))
                return errbuf_set(err, errsz, -EINVAL, "REPAIR_BROKEN_POD_LABEL_KEY is empty with REPAIR_LABEL_PODS");
        if (c->mode == REPAIR_MODE_REPAIR) {
                struct statfs sf;
                if (!c->host_proc || c->host_proc[0] != '/')
                        return errbuf_set(err, errsz, -EINVAL, "invalid REPAIR_HOST_PROC '%s': want an absolute path",
                                          c->host_proc ? c->host_proc : "");
                if (statfs(c->host_proc, &sf) < 0)
                        return errbuf_set(err, errsz, -errno, "repair mode needs the host's /proc mounted at %s "
                                          "(REPAIR_HOST_PROC): %s", c->host_proc, strerror(errno));
                if (sf.f_type != PROC_SUPER_MAGIC)
                        return errbuf_set(err, errsz, -EMEDIUMTYPE, "repair mode needs the host's /proc mounted at %s "
                                          "(REPAIR_HOST_PROC): not a proc filesystem", c->host_proc);
        }
        return 0;
}

void repair_config_done(struct repair_config *c) {
        free(c->label_key);
        free(c->label_value);
        free(c->node_name);
        free(c->sidecar_annotation);
        free(c->init_container_name);
        free(c->init_termination_msg);
        free(c->label_selectors);
        free(c->field_selectors);
        free(c->host_proc);
        *c = (struct repair_config){};
}

const char *repair_mode_name(enum repair_mode m) {
        switch (m) {
        case REPAIR_MODE_REPAIR: return "repair";
        case REPAIR_MODE_DELETE: return "delete";
        case REPAIR_MODE_LABEL: return "label";
        default: return "detect";
        }
}

char *repair_field_selector(const struct repair_config *c) {
        char *s = NULL;
        const char *fs = c->field_selectors ? c->field_selectors : "";
        if (asprintf(&s, "%s%sspec.nodeName=%s", fs, *fs ? "," : "", c->node_name ? c->node_name : "") < 0)
                return NULL;
        return s;
}

/* ---- the predicate (§5.3) ---- */

/* strings.TrimSpace over ASCII white space: the span [*b, *e). */
static void trim(const char *s, const char **b, const char **e) {
        *b = s;
        *e = s + strlen(s);
        while (*b < *e && isspace((unsigned char)**b))
                (*b)++;
        while (*e > *b && isspace((unsigned char)(*e)[-1]))
                (*e)--;
}

static bool trimmed_equal(const char *a, const char *b) {
        const char *ab, *ae, *bb, *be;
        trim(a, &ab, &ae);
        trim(b, &bb, &be);
        return ae - ab == be - bb && memcmp(ab, bb, (size_t)(ae - ab)) == 0;
}

static bool json_int_is(const cJSON *v, int64_t want) {
        return cJSON_IsNumber(v) && v->valuedouble == (double)want;
}

bool repair_pod_is_broken(const struct repair_config *c, const cJSON *pod, char *msg, size_t msgsz) {
        const char *ann = c->sidecar_annotation ? c->sidecar_annotation : "";
        const char *want_name = c->init_container_name ? c->init_container_name : "";
        const char *want_msg = c->init_termination_msg ? c->init_termination_msg : "";
        const cJSON *s;

        if (msg && msgsz)
                msg[0] = 0;
        if (!cJSON_IsObject(pod))
                return false;
        /* 1. the sidecar annotation's key (any value), unless the check is disabled */
        if (*ann && !k8s_obj_child(k8s_obj_object(pod, "metadata.annotations"), ann))
                return false;
        /* 2. some init container status matches */
        cJSON_ArrayForEach(s, k8s_obj_array(pod, "status.initContainerStatuses")) {
                const char *name = k8s_obj_string(s, "name");
                if (*want_name && (!name || !streq(name, want_name)))
                        continue;
                /* a container that currently exited successfully is never broken */
                const cJSON *cur = k8s_obj_object(s, "state.terminated");
                if (cur) {
                        const char *reason = k8s_obj_string(cur, "reason");
                        if ((reason && streq(reason, "Completed")) || json_int_is(k8s_obj_child(cur, "exitCode"), 0) ||
                            !k8s_obj_child(cur, "exitCode"))
                                continue; /* Go: a missing exitCode is 0 */
                }
                const cJSON *last = k8s_obj_object(s, "lastState.terminated");
                if (!last)
                        continue;
                const char *m = k8s_obj_string(last, "message");
                if (!m)
                        m = "";
                const char *tb, *te;
                trim(want_msg, &tb, &te);
                if (te > tb && !trimmed_equal(want_msg, m))
                        continue;
                if (c->init_exit_code != 0) {
                        const cJSON *ec = k8s_obj_child(last, "exitCode");
                        if (!json_int_is(ec, c->init_exit_code))
                                continue;
                }
                if (msg && msgsz) {
                        const char *b, *e;
                        trim(m, &b, &e);
                        size_t n = strcspn(b, "\n");
                        if (n > (size_t)(e - b))
                                n = (size_t)(e - b);
                        snprintf(msg, msgsz, "%.*s", (int)n, b);
                }
                return true;
        }
        return false;
}

void repair_reason_code(const char *msg, char *code, size_t codesz) {
        size_t n = strspn(msg ? msg : "", "abcdefghijklmnopqrstuvwxyz0123456789-");
        if (codesz)
                code[0] = 0;
        if (n == 0 || msg[n] != ':' || !codesz)
                return;
        snprintf(code, codesz, "%.*s", (int)n, msg);
}

/* ---- rights (§5.6) ---- */

struct right {
        const char *verb, *resource, *subresource;
};

static int ssar(struct k8s_client *client, const struct right *rt, bool *ret_allowed, char *err, size_t errsz) {
        struct k8s_response resp = {};
        _cleanup_free_ char *body = NULL;
        cJSON *o = cJSON_CreateObject(), *spec, *ra;
        int r;

        if (!o || !cJSON_AddStringToObject(o, "kind", "SelfSubjectAccessReview") ||
            !cJSON_AddStringToObject(o, "apiVersion", "authorization.k8s.io/v1") ||
            !(spec = cJSON_AddObjectToObject(o, "spec")) || !(ra = cJSON_AddObjectToObject(spec, "resourceAttributes")) ||
            !cJSON_AddStringToObject(ra, "verb", rt->verb) || !cJSON_AddStringToObject(ra, "group", "") ||
            !cJSON_AddStringToObject(ra, "resource", rt->resource) ||
            (rt->subresource && !cJSON_AddStringToObject(ra, "subresource", rt->subresource)) ||
            !(body = cJSON_PrintUnformatted(o))) {
                cJSON_Delete(o);
                return errbuf_set(err, errsz, -ENOMEM, "out of memory");
        }
        cJSON_Delete(o);
        r = k8s_request(client, "POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", NULL, body, &resp,
                        err, errsz);
        if (r >= 0) {
                const cJSON *a = k8s_obj_path(resp.json, "status.allowed");
                *ret_allowed = cJSON_IsTrue(a);
        }
        k8s_response_done(&resp);
        return r;
}

int repair_check_rights(const struct repair_config *c, struct k8s_client *client, char *err, size_t errsz) {
        static const struct right base[] = {
                { "get", "pods", NULL }, { "list", "pods", NULL }, { "watch", "pods", NULL },
        };
        static const struct right events[] = { { "create", "events", NULL }, { "patch", "events", NULL } };
        static const struct right del[] = { { "delete", "pods", NULL } };
        static const struct right label[] = { { "patch", "pods", "status" } };
        const struct {
                const struct right *r;
                size_t n;
        } sets[] = {
                { base, ELEMENTSOF(base) },
                { c->mode == REPAIR_MODE_DELETE || c->mode == REPAIR_MODE_LABEL ? events : NULL, ELEMENTSOF(events) },
                { c->mode == REPAIR_MODE_DELETE ? del : NULL, 1 },
                { c->mode == REPAIR_MODE_LABEL ? label : NULL, 1 },
        };
        char missing[512] = "", e[512];
        size_t len = 0;

        for (size_t s = 0; s < ELEMENTSOF(sets); s++)
                for (size_t i = 0; sets[s].r && i < sets[s].n; i++) {
                        const struct right *rt = &sets[s].r[i];
                        bool ok = false;
                        int r = ssar(client, rt, &ok, e, sizeof e);
                        if (r < 0)
                                return errbuf_set(err, errsz, r, "cannot check the rights (SelfSubjectAccessReview): %s", e);
                        if (!ok)
                                len += (size_t)snprintf(missing + len, len < sizeof missing ? sizeof missing - len : 0,
                                                        "%s%s %s%s%s", len ? ", " : "", rt->verb, rt->resource,
                                                        rt->subresource ? "/" : "", rt->subresource ? rt->subresource : "");
                        if (len >= sizeof missing)
                                len = sizeof missing - 1;
                }
        if (len)
                return errbuf_set(err, errsz, -EACCES, "mode %s needs the right to %s (RBAC: ClusterRole istio-cni-repair-role)",
                                  repair_mode_name(c->mode), missing);
        return 0;
}

/* ---- the controller (§5.2, §5.4) ---- */

struct handled {
        char *key, *uid;
};

struct event_rec {
        char *uid, *reason, *message, *name;
        unsigned count;
};

struct repair_controller {
        const struct repair_config *cfg;
        struct podcache *pc;
        struct k8s_client *client;
        struct metrics *metrics;
        podcache_log_fn log;
        void *log_ud;
        bool check_rights;
        /* REPAIR_*_SELECTORS, applied to each event: the watch that feeds the controller may be
         * the agent's node-wide one, which cannot carry them (alone, the watch carries them too,
         * and this re-check agrees with the server's). */
        struct selector *labels_sel, *fields_sel;
        struct workqueue *q;
        pthread_t worker;
        volatile sig_atomic_t stop;

        pthread_mutex_t lock;           /* stats */
        struct repair_stats st;
        /* worker thread only: */
        struct workqueue_bucket actions;        /* the per-node limit, strict: a token per action */
        struct workqueue_bucket schedule;       /* the same rate, to give each waiting pod its slot */
        struct handled *handled;        /* repaired (or reported) pods: key → UID */
        size_t n_handled, cap_handled;
        char **reserved;                /* keys holding an action token they wait for */
        size_t n_reserved, cap_reserved;
        struct event_rec events[EVENTS_MAX];
        size_t next_event;
};

#define logf_(ctl, level, ...) log_callback((ctl)->log, (ctl)->log_ud, (level), __VA_ARGS__)

static void count(struct repair_controller *ctl, const char *type, const char *result, uint64_t *stat) {
        char labels[96];
        pthread_mutex_lock(&ctl->lock);
        if (stat)
                (*stat)++;
        pthread_mutex_unlock(&ctl->lock);
        if (ctl->metrics) {
                snprintf(labels, sizeof labels, "type=\"%s\",result=\"%s\"", type, result);
                (void)metrics_counter_add(ctl->metrics, METRIC_REPAIRED, labels, 1);
        }
}

static void update_depth(struct repair_controller *ctl) {
        unsigned n = workqueue_len(ctl->q);
        pthread_mutex_lock(&ctl->lock);
        ctl->st.queue_depth = n;
        pthread_mutex_unlock(&ctl->lock);
        if (ctl->metrics)
                (void)metrics_gauge_set(ctl->metrics, METRIC_QUEUE, NULL, n);
}

static bool repair_selected(const struct repair_controller *ctl, const cJSON *pod) {
        return selector_matches(ctl->labels_sel, pod) && selector_matches(ctl->fields_sel, pod);
}

void repair_controller_on_event(void *userdata, const char *type, const cJSON *pod) {
        struct repair_controller *ctl = userdata;
        const char *ns = k8s_obj_string(pod, "metadata.namespace"), *name = k8s_obj_string(pod, "metadata.name");
        char key[512];

        if (!ns || !name || ctl->stop)
                return;
        /* A pod the selectors leave out is not ours: not even its deletion is queued. */
        if (!repair_selected(ctl, pod))
                return;
        /* Istio enqueues every event; only deletions (to forget the pod) and broken pods can lead
         * anywhere, so the others are not queued at all. */
        if (!streq(type, "DELETED") && !repair_pod_is_broken(ctl->cfg, pod, NULL, 0))
                return;
        snprintf(key, sizeof key, "%s/%s", ns, name);
        logf_(ctl, LOG_LEVEL_DEBUG, "repair: queued pod %s (%s)", key, type);
        if (workqueue_add(ctl->q, key) == -ENOMEM)
                logf_(ctl, LOG_LEVEL_ERROR, "repair: out of memory queueing pod %s", key);
        update_depth(ctl);
}

static struct handled *handled_find(struct repair_controller *ctl, const char *key) {
        for (size_t i = 0; i < ctl->n_handled; i++)
                if (streq(ctl->handled[i].key, key))
                        return &ctl->handled[i];
        return NULL;
}

static void handled_forget(struct repair_controller *ctl, const char *key) {
        struct handled *h = handled_find(ctl, key);
        if (!h)
                return;
        free(h->key);
        free(h->uid);
        *h = ctl->handled[--ctl->n_handled];
}

static int handled_set(struct repair_controller *ctl, const char *key, const char *uid) {
        struct handled *h = handled_find(ctl, key);
        char *u = strdup(uid);
        if (!u)
                return -ENOMEM;
        if (h) {
                free(h->uid);
                h->uid = u;
                return 0;
        }
        if (ctl->n_handled == ctl->cap_handled) {
                size_t cap = ctl->cap_handled ? ctl->cap_handled * 2 : 64;
                struct handled *n = realloc(ctl->handled, cap * sizeof *n);
                if (!n) {
                        free(u);
                        return -ENOMEM;
                }
                ctl->handled = n;
                ctl->cap_handled = cap;
        }
        char *k = strdup(key);
        if (!k) {
                free(u);
                return -ENOMEM;
        }
        ctl->handled[ctl->n_handled++] = (struct handled){ .key = k, .uid = u };
        return 0;
}

/* Takes key's reservation if it holds one. */
static bool reservation_take(struct repair_controller *ctl, const char *key) {
        for (size_t i = 0; i < ctl->n_reserved; i++)
                if (streq(ctl->reserved[i], key)) {
                        free(ctl->reserved[i]);
                        ctl->reserved[i] = ctl->reserved[--ctl->n_reserved];
                        return true;
                }
        return false;
}

static int reservation_add(struct repair_controller *ctl, const char *key) {
        if (ctl->n_reserved == ctl->cap_reserved) {
                size_t cap = ctl->cap_reserved ? ctl->cap_reserved * 2 : 64;
                char **n = realloc(ctl->reserved, cap * sizeof *n);
                if (!n)
                        return -ENOMEM;
                ctl->reserved = n;
                ctl->cap_reserved = cap;
        }
        if (!(ctl->reserved[ctl->n_reserved] = strdup(key)))
                return -ENOMEM;
        ctl->n_reserved++;
        return 0;
}

static void rfc3339_now(char *buf, size_t sz) {
        time_t t = time(NULL);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(buf, sz, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void event_rec_done(struct event_rec *e) {
        free(e->uid);
        free(e->reason);
        free(e->message);
        free(e->name);
        *e = (struct event_rec){};
}

/* An Event about pod (§5.4), aggregated like client-go's recorder: the same (pod UID, reason,
 * message) again PATCHes the earlier Event's count instead of creating another. Failures are
 * logged: an Event never decides the outcome. */
static void emit_event(struct repair_controller *ctl, const cJSON *pod, const char *reason, const char *message) {
        const char *ns = k8s_obj_string(pod, "metadata.namespace"), *name = k8s_obj_string(pod, "metadata.name");
        const char *uid = k8s_obj_string(pod, "metadata.uid"), *rv = k8s_obj_string(pod, "metadata.resourceVersion");
        char ts[32], path[1024], e[512] = "";
        struct k8s_response resp = {};
        _cleanup_free_ char *body = NULL;
        struct event_rec *rec = NULL;
        int r;

        uid = uid ? uid : "";
        rfc3339_now(ts, sizeof ts);
        for (size_t i = 0; i < EVENTS_MAX; i++)
                if (ctl->events[i].name && streq(ctl->events[i].uid, uid) && streq(ctl->events[i].reason, reason) &&
                    streq(ctl->events[i].message, message)) {
                        rec = &ctl->events[i];
                        break;
                }
        if (rec) {
                if (asprintf(&body, "{\"count\":%u,\"lastTimestamp\":\"%s\"}", rec->count + 1, ts) < 0) {
                        body = NULL;
                        return;
                }
                snprintf(path, sizeof path, "/api/v1/namespaces/%s/events/%s", ns, rec->name);
                r = k8s_request(ctl->client, "PATCH", path, "application/strategic-merge-patch+json", body, &resp, e,
                                sizeof e);
                k8s_response_done(&resp);
                if (r >= 0) {
                        rec->count++;
                        return;
                }
                if (r != -ENOENT) {
                        logf_(ctl, LOG_LEVEL_WARN, "repair: pod %s/%s: cannot update Event %s: %s", ns, name, rec->name, e);
                        return;
                }
                event_rec_done(rec); /* the Event expired: create a new one */
                free(body);
                body = NULL;
        }
        char evname[300];
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        snprintf(evname, sizeof evname, "%.200s.%llx", name, (unsigned long long)now.tv_sec * 1000000000ULL + (unsigned long long)now.tv_nsec);
        cJSON *o = cJSON_CreateObject(), *md, *io, *src;
        if (!o || !cJSON_AddStringToObject(o, "kind", "Event") || !cJSON_AddStringToObject(o, "apiVersion", "v1") ||
            !(md = cJSON_AddObjectToObject(o, "metadata")) || !cJSON_AddStringToObject(md, "name", evname) ||
            !cJSON_AddStringToObject(md, "namespace", ns) || !(io = cJSON_AddObjectToObject(o, "involvedObject")) ||
            !cJSON_AddStringToObject(io, "kind", "Pod") || !cJSON_AddStringToObject(io, "namespace", ns) ||
            !cJSON_AddStringToObject(io, "name", name) || !cJSON_AddStringToObject(io, "uid", uid) ||
            !cJSON_AddStringToObject(io, "apiVersion", "v1") ||
            !cJSON_AddStringToObject(io, "resourceVersion", rv ? rv : "") ||
            !cJSON_AddStringToObject(o, "reason", reason) || !cJSON_AddStringToObject(o, "message", message) ||
            !(src = cJSON_AddObjectToObject(o, "source")) || !cJSON_AddStringToObject(src, "component", "cni-repair") ||
            !cJSON_AddStringToObject(src, "host", ctl->cfg->node_name) ||
            !cJSON_AddStringToObject(o, "firstTimestamp", ts) || !cJSON_AddStringToObject(o, "lastTimestamp", ts) ||
            !cJSON_AddNumberToObject(o, "count", 1) || !cJSON_AddStringToObject(o, "type", "Warning") ||
            !cJSON_AddStringToObject(o, "reportingComponent", "cni-repair") ||
            !cJSON_AddStringToObject(o, "reportingInstance", ctl->cfg->node_name) || !(body = cJSON_PrintUnformatted(o))) {
                cJSON_Delete(o);
                return;
        }
        cJSON_Delete(o);
        snprintf(path, sizeof path, "/api/v1/namespaces/%s/events", ns);
        r = k8s_request(ctl->client, "POST", path, NULL, body, &resp, e, sizeof e);
        k8s_response_done(&resp);
        if (r < 0) {
                logf_(ctl, LOG_LEVEL_WARN, "repair: pod %s/%s: cannot create Event %s: %s", ns, name, reason, e);
                return;
        }
        rec = &ctl->events[ctl->next_event];
        ctl->next_event = (ctl->next_event + 1) % EVENTS_MAX;
        event_rec_done(rec);
        *rec = (struct event_rec){ .uid = strdup(uid), .reason = strdup(reason), .message = strdup(message),
                                   .name = strdup(evname), .count = 1 };
        if (!rec->uid || !rec->reason || !rec->message || !rec->name)
                event_rec_done(rec);
}

/* The validation's reason for the log and the Event: "no-redirect: …" as written, or Istio's text. */
static void describe(const char *msg, char *out, size_t outsz) {
        char code[64];
        repair_reason_code(msg, code, sizeof code);
        if (code[0])
                snprintf(out, outsz, "istio-validation reason %s (%.300s)", code, msg);
        else if (msg[0])
                snprintf(out, outsz, "istio-validation message: %.300s", msg);
        else
                snprintf(out, outsz, "istio-validation gave no termination message");
}

static int do_label(struct repair_controller *ctl, const cJSON *pod, const char *ns, const char *name, const char *why) {
        char path[600], e[512] = "", msg[800]; /* Event messages: the API caps them at 1 KiB, so the parts are cut to fit */
        struct k8s_response resp = {};
        _cleanup_free_ char *body = NULL;
        int r;

        if (k8s_obj_child(k8s_obj_object(pod, "metadata.labels"), ctl->cfg->label_key)) {
                logf_(ctl, LOG_LEVEL_DEBUG, "repair: pod %s/%s: broken but already labelled %s", ns, name, ctl->cfg->label_key);
                count(ctl, "label", "skip", &ctl->st.skipped);
                return 0;
        }
        cJSON *o = cJSON_CreateObject(), *md, *labels;
        if (!o || !(md = cJSON_AddObjectToObject(o, "metadata")) || !(labels = cJSON_AddObjectToObject(md, "labels")) ||
            !cJSON_AddStringToObject(labels, ctl->cfg->label_key, ctl->cfg->label_value) ||
            !(body = cJSON_PrintUnformatted(o))) {
                cJSON_Delete(o);
                return -ENOMEM;
        }
        cJSON_Delete(o);
        /* pods/status on purpose: a less privileged subresource that can still change metadata */
        snprintf(path, sizeof path, "/api/v1/namespaces/%s/pods/%s/status", ns, name);
        r = k8s_request(ctl->client, "PATCH", path, "application/merge-patch+json", body, &resp, e, sizeof e);
        k8s_response_done(&resp);
        if (r < 0) {
                logf_(ctl, LOG_LEVEL_ERROR, "repair: pod %s/%s: broken (%s) but labelling failed: %s", ns, name, why, e);
                snprintf(msg, sizeof msg, "pod detected as broken, but failed to label: %.300s; %.400s", e, why);
                emit_event(ctl, pod, "LabelBrokenPod", msg);
                count(ctl, "label", "fail", &ctl->st.failed);
                return r;
        }
        logf_(ctl, LOG_LEVEL_INFO, "repair: pod %s/%s: broken (%s): labelled %s=%s", ns, name, why, ctl->cfg->label_key,
              ctl->cfg->label_value);
        snprintf(msg, sizeof msg, "pod detected as broken, labeled; %.400s", why);
        emit_event(ctl, pod, "LabelBrokenPod", msg);
        count(ctl, "label", "success", &ctl->st.labeled);
        return 0;
}

static int do_delete(struct repair_controller *ctl, const cJSON *pod, const char *ns, const char *name, const char *why) {
        const char *uid = k8s_obj_string(pod, "metadata.uid"), *rv = k8s_obj_string(pod, "metadata.resourceVersion");
        char path[600], e[512] = "", msg[800];
        struct k8s_response resp = {};
        _cleanup_free_ char *body = NULL;
        int r;

        cJSON *o = cJSON_CreateObject(), *pre;
        if (!o || !cJSON_AddStringToObject(o, "kind", "DeleteOptions") || !cJSON_AddStringToObject(o, "apiVersion", "v1") ||
            !(pre = cJSON_AddObjectToObject(o, "preconditions")) || !cJSON_AddStringToObject(pre, "uid", uid ? uid : "") ||
            !cJSON_AddStringToObject(pre, "resourceVersion", rv ? rv : "") || !(body = cJSON_PrintUnformatted(o))) {
                cJSON_Delete(o);
                return -ENOMEM;
        }
        cJSON_Delete(o);
        snprintf(path, sizeof path, "/api/v1/namespaces/%s/pods/%s", ns, name);
        r = k8s_request(ctl->client, "DELETE", path, NULL, body, &resp, e, sizeof e);
        k8s_response_done(&resp);
        if (r == -ENOENT) {
                logf_(ctl, LOG_LEVEL_INFO, "repair: pod %s/%s: already gone", ns, name);
                return 0;
        }
        if (r < 0) {
                /* 409: our copy is stale (a newer resourceVersion, or another pod under the name);
                 * the retry reads the informer's fresh object. */
                logf_(ctl, LOG_LEVEL_ERROR, "repair: pod %s/%s: broken (%s) but deleting failed: %s", ns, name, why, e);
                snprintf(msg, sizeof msg, "pod detected as broken, but failed to delete: %.300s; %.400s", e, why);
                emit_event(ctl, pod, "DeleteBrokenPod", msg);
                count(ctl, "delete", "fail", &ctl->st.failed);
                return r;
        }
        logf_(ctl, LOG_LEVEL_INFO, "repair: pod %s/%s: broken (%s): deleted", ns, name, why);
        snprintf(msg, sizeof msg, "pod detected as broken, deleted; %.400s", why);
        emit_event(ctl, pod, "DeleteBrokenPod", msg);
        count(ctl, "delete", "success", &ctl->st.deleted);
        return 0;
}

/* In place (§5.4 Repair, §5.5): find the netns by the pod IP, build the redirect exactly as the
 * plugin does, apply it with the plugin's code. No API write, not even an Event. */
static int do_repair(struct repair_controller *ctl, const cJSON *pod, const char *key, const char *why) {
        const char *uid = k8s_obj_string(pod, "metadata.uid"), *ip = k8s_obj_string(pod, "status.podIP");
        struct podnetns_stats nst;
        struct capture_config cfg;
        struct capture_report rep;
        struct annotations_warnings warn = {};
        const char *reason;
        char path[4200], e[1200] = "";
        int r;

        uint64_t t0 = now_usec();
        r = podnetns_find(ctl->cfg->host_proc, ip, path, sizeof path, &nst, e, sizeof e);
        if (r < 0) {
                logf_(ctl, LOG_LEVEL_ERROR, "repair: pod %s: broken (%s) but %s", key, why, e);
                count(ctl, "repair", "fail", &ctl->st.failed);
                return r;
        }
        uint64_t t1 = now_usec();
        config_init(&cfg);
        struct redirect_options o = { .native_nftables = ctl->cfg->native_nftables, .netns_path = path,
                                      .lock_wait_usec = LOCK_WAIT_USEC };
        r = redirect_from_pod(pod, &o, &cfg, &reason, &warn, e, sizeof e);
        for (unsigned i = 0; i < warn.n; i++)
                logf_(ctl, LOG_LEVEL_WARN, "repair: pod %s: %s", key, warn.msg[i]);
        if (r == 0) {
                /* the plugin would not capture it either: nothing to program */
                logf_(ctl, LOG_LEVEL_INFO, "repair: pod %s: broken (%s) but not captured by the plugin (%s): nothing to repair",
                      key, why, reason);
                config_done(&cfg);
                count(ctl, "repair", "skip", &ctl->st.skipped);
                return handled_set(ctl, key, uid ? uid : "");
        }
        if (r > 0)
                r = podnetns_apply(path, &cfg, false, &rep, e, sizeof e);
        config_done(&cfg);
        if (r == NETNS_ERR_RESTORE) {
                logf_(ctl, LOG_LEVEL_ERROR, "repair: could not return to the agent's network namespace: stopping repair");
                ctl->stop = 1;
                return r;
        }
        if (r < 0) {
                logf_(ctl, LOG_LEVEL_ERROR, "repair: pod %s: broken (%s) but programming the rules in %s failed: %s", key,
                      why, path, e);
                count(ctl, "repair", "fail", &ctl->st.failed);
                return r;
        }
        for (unsigned i = 0; i < rep.n_notes; i++)
                logf_(ctl, LOG_LEVEL_DEBUG, "repair: pod %s: %s", key, rep.notes[i]);
        r = handled_set(ctl, key, uid ? uid : "");
        logf_(ctl, LOG_LEVEL_INFO, "repair: pod %s: broken (%s): redirect rules programmed in %s in %.2f ms "
              "(netns found in %.2f ms: %u processes, %u network namespaces, %u entered)", key, why, path,
              (now_usec() - t0) / 1000.0, (t1 - t0) / 1000.0, nst.pids, nst.netns, nst.entered);
        count(ctl, "repair", "success", &ctl->st.repaired);
        return r;
}

/* 0 done (forget), > 0 requeue after that many µs without counting an attempt, < 0 failed. */
static int64_t reconcile(struct repair_controller *ctl, const char *key) {
        _cleanup_free_ char *json = NULL;
        char ns[256], name[256], msg[512], why[800];
        const char *slash = strchr(key, '/');
        int r;

        if (!slash || (size_t)(slash - key) >= sizeof ns || strlen(slash + 1) >= sizeof name)
                return 0;
        snprintf(ns, sizeof ns, "%.*s", (int)(slash - key), key);
        snprintf(name, sizeof name, "%s", slash + 1);
        r = podcache_get(ctl->pc, ns, name, &json);
        if (r == -EAGAIN)
                return 1000000; /* the cache is relisting: never act on a stale view */
        if (r == -ENOENT) {
                handled_forget(ctl, key);
                (void)reservation_take(ctl, key); /* gone while it waited for its token */
                return 0;
        }
        if (r < 0)
                return r;
        cJSON *pod = cJSON_Parse(json);
        if (!pod)
                return -ENOMEM;
        const char *uid = k8s_obj_string(pod, "metadata.uid");
        if (!repair_selected(ctl, pod) || !repair_pod_is_broken(ctl->cfg, pod, msg, sizeof msg)) {
                (void)reservation_take(ctl, key);
                cJSON_Delete(pod);
                return 0;
        }
        /* A pod on its way out (graceful deletion under way) needs no action; Istio would delete
         * it again at every status update until it is gone. */
        if (k8s_obj_string(pod, "metadata.deletionTimestamp") && ctl->cfg->mode != REPAIR_MODE_DETECT) {
                logf_(ctl, LOG_LEVEL_DEBUG, "repair: pod %s: broken but terminating: no action", key);
                (void)reservation_take(ctl, key);
                cJSON_Delete(pod);
                return 0;
        }
        describe(msg, why, sizeof why);
        struct handled *h = handled_find(ctl, key);
        if (h && uid && streq(h->uid, uid) && (ctl->cfg->mode == REPAIR_MODE_REPAIR || ctl->cfg->mode == REPAIR_MODE_DETECT)) {
                cJSON_Delete(pod);
                return 0; /* handled already; a pod re-created under this name has another UID */
        }
        if (ctl->cfg->mode == REPAIR_MODE_DETECT) {
                logf_(ctl, LOG_LEVEL_INFO, "repair: pod %s: broken (%s): detect-only, no action", key, why);
                count(ctl, "detect", "success", &ctl->st.detected);
                r = handled_set(ctl, key, uid ? uid : "");
                cJSON_Delete(pod);
                return r;
        }
        /* Beyond Istio: a bad rollout must not delete (or touch) a node's worth of pods at once.
         * A pod that finds no token reserves a slot in the schedule and comes back when it is
         * due (each waiting pod its own slot: no herd re-checking an empty bucket); the action
         * itself still takes a token from the strict bucket, so a worker that fell behind cannot
         * fire its overdue slots in one burst. */
        uint64_t now = now_usec(), wait = 0;
        bool slot = reservation_take(ctl, key);
        if (!slot && (wait = workqueue_bucket_reserve(&ctl->schedule, now)) == 0)
                slot = true;
        if (slot && !workqueue_bucket_take(&ctl->actions, now, &wait))
                slot = false;
        if (!slot) {
                r = reservation_add(ctl, key);
                cJSON_Delete(pod);
                if (r < 0)
                        return r;
                pthread_mutex_lock(&ctl->lock);
                ctl->st.rate_limited++;
                pthread_mutex_unlock(&ctl->lock);
                return (int64_t)(wait ? wait : 1);
        }
        switch (ctl->cfg->mode) {
        case REPAIR_MODE_LABEL: r = do_label(ctl, pod, ns, name, why); break;
        case REPAIR_MODE_DELETE: r = do_delete(ctl, pod, ns, name, why); break;
        default: r = do_repair(ctl, pod, key, why); break;
        }
        cJSON_Delete(pod);
        return r;
}

static void *worker_main(void *arg) {
        struct repair_controller *ctl = arg;
        uint64_t backoff = 1000000;
        char e[1024];

        while (ctl->check_rights && !ctl->stop) {
                int r = repair_check_rights(ctl->cfg, ctl->client, e, sizeof e);
                if (r == 0)
                        break;
                if (r == -EACCES) {
                        logf_(ctl, LOG_LEVEL_ERROR, "repair: %s; repair is off", e);
                        pthread_mutex_lock(&ctl->lock);
                        ctl->st.disabled = true;
                        pthread_mutex_unlock(&ctl->lock);
                        workqueue_shutdown(ctl->q);
                        return NULL;
                }
                logf_(ctl, LOG_LEVEL_WARN, "repair: %s (retrying in %llu s)", e, (unsigned long long)(backoff / 1000000));
                for (uint64_t t = 0; t < backoff && !ctl->stop; t += 100000)
                        nanosleep(&(struct timespec){ .tv_nsec = 100000000 }, NULL);
                backoff = backoff * 2 > 30000000 ? 30000000 : backoff * 2;
        }
        while (!ctl->stop) {
                char *key = NULL;
                int r = workqueue_get(ctl->q, 200000, &key);
                if (r == -ESHUTDOWN)
                        break;
                if (r < 0)
                        continue;
                int64_t x = reconcile(ctl, key);
                if (x == 0)
                        workqueue_forget(ctl->q, key);
                else if (x > 0)
                        (void)workqueue_add_after(ctl->q, key, (uint64_t)x);
                else if (workqueue_add_rate_limited(ctl->q, key) == 0) {
                        logf_(ctl, LOG_LEVEL_ERROR, "repair: pod %s: giving up after its last attempt", key);
                        pthread_mutex_lock(&ctl->lock);
                        ctl->st.dropped++;
                        pthread_mutex_unlock(&ctl->lock);
                }
                workqueue_done(ctl->q, key);
                free(key);
                update_depth(ctl);
        }
        return NULL;
}

int repair_controller_start(const struct repair_controller_options *o, struct repair_controller **ret) {
        struct repair_controller *ctl;
        int r;

        if (!o || !o->cfg || !o->pc || !ret)
                return -EINVAL;
        if ((o->cfg->mode == REPAIR_MODE_DELETE || o->cfg->mode == REPAIR_MODE_LABEL || o->check_rights_in_worker) &&
            !o->client)
                return -EINVAL;
        if (!(ctl = calloc(1, sizeof *ctl)))
                return -ENOMEM;
        *ctl = (struct repair_controller){ .cfg = o->cfg, .pc = o->pc, .client = o->client, .metrics = o->metrics,
                                           .log = o->log, .log_ud = o->log_userdata,
                                           .check_rights = o->check_rights_in_worker };
        struct workqueue_options qo = { .base_delay_usec = o->base_delay_usec, .max_delay_usec = o->max_delay_usec,
                                        .qps = o->qps, .burst = o->burst, .max_attempts = o->max_attempts };
        char e[256];
        /* repair_config_check() has refused bad selectors already: an error here is memory. */
        if ((r = selector_parse_labels(o->cfg->label_selectors, &ctl->labels_sel, e, sizeof e)) < 0 ||
            (r = selector_parse_fields(o->cfg->field_selectors, &ctl->fields_sel, e, sizeof e)) < 0 ||
            (r = workqueue_new(&qo, &ctl->q)) < 0) {
                selector_free(ctl->labels_sel);
                selector_free(ctl->fields_sel);
                free(ctl);
                return r;
        }
        workqueue_bucket_init(&ctl->actions, o->cfg->action_qps, o->cfg->action_burst, now_usec());
        workqueue_bucket_init(&ctl->schedule, o->cfg->action_qps, o->cfg->action_burst, now_usec());
        pthread_mutex_init(&ctl->lock, NULL);
        if (ctl->metrics) {
                /* -EEXIST: a registry shared with an earlier controller already has them */
                r = metrics_declare(ctl->metrics, METRIC_REPAIRED, METRICS_COUNTER,
                                    "Total number of pods repaired by repair controller", NULL, 0);
                if (r >= 0 || r == -EEXIST)
                        r = metrics_declare(ctl->metrics, METRIC_QUEUE, METRICS_GAUGE,
                                            "Pods waiting in the repair controller's work queue", NULL, 0);
                if (r >= 0 || r == -EEXIST)
                        r = metrics_gauge_set(ctl->metrics, METRIC_QUEUE, NULL, 0);
                if (r < 0 && r != -EEXIST)
                        goto fail;
        }
        r = -pthread_create(&ctl->worker, NULL, worker_main, ctl);
        if (r < 0)
                goto fail;
        *ret = ctl;
        return 0;
fail:
        workqueue_free(ctl->q);
        selector_free(ctl->labels_sel);
        selector_free(ctl->fields_sel);
        pthread_mutex_destroy(&ctl->lock);
        free(ctl);
        return r;
}

struct repair_controller *repair_controller_stop(struct repair_controller *ctl) {
        if (!ctl)
                return NULL;
        ctl->stop = 1;
        workqueue_shutdown(ctl->q);
        pthread_join(ctl->worker, NULL);
        workqueue_free(ctl->q);
        for (size_t i = 0; i < ctl->n_handled; i++) {
                free(ctl->handled[i].key);
                free(ctl->handled[i].uid);
        }
        free(ctl->handled);
        for (size_t i = 0; i < ctl->n_reserved; i++)
                free(ctl->reserved[i]);
        free(ctl->reserved);
        for (size_t i = 0; i < EVENTS_MAX; i++)
                event_rec_done(&ctl->events[i]);
        selector_free(ctl->labels_sel);
        selector_free(ctl->fields_sel);
        pthread_mutex_destroy(&ctl->lock);
        free(ctl);
        return NULL;
}

void repair_controller_get_stats(struct repair_controller *ctl, struct repair_stats *ret) {
        unsigned n = workqueue_len(ctl->q);
        pthread_mutex_lock(&ctl->lock);
        *ret = ctl->st;
        ret->queue_depth = n;
        pthread_mutex_unlock(&ctl->lock);
}
