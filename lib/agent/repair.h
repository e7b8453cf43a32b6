/* SPDX-License-Identifier: Apache-2.0 */
/* repair.h: the repair controller (cni-repair): finds the pods on this node that lost the start-up
 * race (istio-validation exits 126 because no redirect rules were programmed) and repairs them in
 * place, deletes them, labels them, or only reports them.
 * Spec: istio-cni.md §5.1 (configuration), §5.2 (watch and work queue), §5.3 (the broken-pod
 * predicate, exact), §5.4 (actions), §5.5 (netns discovery), §5.6 (RBAC per mode).
 *
 * Beyond Istio: an empty node name is an error (Istio silently watches nothing); a per-node action
 * rate limit (deletes and repairs; default 10/s, burst 20); a detect-only mode; the validation's
 * reason code in the log line and the Event; a rights check (SelfSubjectAccessReview) before any
 * pod is touched; repaired pods are remembered by UID, so a pod re-created under the same name is
 * repaired again.
 *
 * Threads: the controller runs one worker thread; repair_controller_on_event() may be called from
 * any thread (the pod cache's informer thread). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "agent/metrics.h"
#include "agent/podcache.h"
#include "kube/k8s.h"

enum repair_mode {
        REPAIR_MODE_DETECT,     /* no action: log and count */
        REPAIR_MODE_LABEL,
        REPAIR_MODE_DELETE,
        REPAIR_MODE_REPAIR,
};

struct repair_config {
        bool enabled;                   /* REPAIR_ENABLED, default true */
        bool repair_pods, delete_pods, label_pods, detect_only;
        enum repair_mode mode;          /* repair > delete > label; detect_only or none → detect */
        char *label_key, *label_value;
        char *node_name;
        char *sidecar_annotation;       /* "" disables the check */
        char *init_container_name;      /* "" = any init container */
        char *init_termination_msg;     /* "" = no filter */
        int64_t init_exit_code;         /* 0 = no filter */
        char *label_selectors, *field_selectors;
        bool native_nftables;
        double action_qps;              /* per-node action rate limit (deletes, repairs, labels) */
        unsigned action_burst;
        char *host_proc;                /* where the host's /proc is mounted (§5.5) */
};

/* Environment variables read by repair_config_from_env (§5.1 plus ours). */
#define REPAIR_ENV_LIST                                                                                       \
        "REPAIR_ENABLED, REPAIR_REPAIR_PODS, REPAIR_DELETE_PODS, REPAIR_LABEL_PODS, REPAIR_DETECT_ONLY,\n"   \
        "REPAIR_BROKEN_POD_LABEL_KEY, REPAIR_BROKEN_POD_LABEL_VALUE, REPAIR_NODE_NAME,\n"                     \
        "REPAIR_SIDECAR_ANNOTATION, REPAIR_INIT_CONTAINER_NAME, REPAIR_INIT_CONTAINER_TERMINATION_MESSAGE,\n" \
        "REPAIR_INIT_CONTAINER_EXIT_CODE, REPAIR_LABEL_SELECTORS, REPAIR_FIELD_SELECTORS, NATIVE_NFTABLES,\n" \
        "REPAIR_ACTION_RATE, REPAIR_ACTION_BURST, REPAIR_HOST_PROC"

/* Fills c from envp (NULL = environ) with Istio's code defaults (§5.1; REPAIR_REPAIR_PODS false),
 * rate 10/s burst 20, host proc /host/proc. Booleans parse like Go's strconv.ParseBool. Returns 0,
 * -EINVAL with err naming the variable and its value, or -ENOMEM. Does not check the node name
 * (see repair_config_check). Free with repair_config_done(). */
int repair_config_from_env(char *const *envp, struct repair_config *c, char *err, size_t errsz);
/* Checks what an enabled controller needs: a valid node name (an empty one is an error), a
 * label key when labelling, the host's procfs at host_proc in repair mode. -EINVAL (or the
 * statfs error, -EMEDIUMTYPE for another filesystem) with err. */
int repair_config_check(const struct repair_config *c, char *err, size_t errsz);
void repair_config_done(struct repair_config *c);
const char *repair_mode_name(enum repair_mode m);     /* "repair", "delete", "label", "detect" */

/* The field selector of the watch: [FieldSelectors ","] "spec.nodeName=" NodeName (§5.2).
 * malloc'ed, NULL on ENOMEM. */
char *repair_field_selector(const struct repair_config *c);

/* §5.3, exactly. When broken, the matching init container's lastState.terminated.message is
 * copied to msg (first line, trimmed; "" when absent), when msg is non-NULL. */
bool repair_pod_is_broken(const struct repair_config *c, const cJSON *pod, char *msg, size_t msgsz);
/* istio-validation's reason code from its termination message ("no-redirect: …" → "no-redirect"),
 * "" when the message carries none (for example Istio's own validation). */
void repair_reason_code(const char *msg, char *code, size_t codesz);

/* The rights the mode needs (§5.6), checked with SelfSubjectAccessReview. Returns 0 when all are
 * allowed, -EACCES with err naming each missing verb and resource, or the request's error. */
int repair_check_rights(const struct repair_config *c, struct k8s_client *client, char *err, size_t errsz);

struct repair_controller;

struct repair_controller_options {
        const struct repair_config *cfg;        /* borrowed; must outlive the controller */
        struct podcache *pc;                    /* the informer's cache: reconcile reads pods there */
        struct k8s_client *client;              /* actions and Events; unused in repair/detect mode */
        struct metrics *metrics;                /* may be NULL; families are declared here */
        podcache_log_fn log;
        void *log_userdata;
        /* Work queue tuning, 0 = client-go's defaults (5 ms … 1000 s per item, 10 qps burst 100,
         * 5 attempts). */
        uint64_t base_delay_usec, max_delay_usec;
        double qps;
        unsigned burst, max_attempts;
        /* For tests: run the rights check in the worker before the first pod (hosted mode);
         * a denied right turns repair off with one error line. */
        bool check_rights_in_worker;
};

/* Starts the worker thread. Returns 0 or -errno. */
int repair_controller_start(const struct repair_controller_options *o, struct repair_controller **ret);
/* The pod cache's on_event hook (userdata = the controller): enqueues broken pods and deletions. */
void repair_controller_on_event(void *userdata, const char *type, const cJSON *pod);
/* Stops and joins the worker. NULL ok; returns NULL. */
struct repair_controller *repair_controller_stop(struct repair_controller *ctl);

struct repair_stats {
        unsigned queue_depth;
        uint64_t detected, repaired, deleted, labeled, skipped, failed, dropped, rate_limited;
        bool disabled;                  /* the rights check failed in the worker */
};
void repair_controller_get_stats(struct repair_controller *ctl, struct repair_stats *ret);
