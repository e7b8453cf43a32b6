/* SPDX-License-Identifier: Apache-2.0 */
/* doctor.h: the node and pod diagnosis behind `cnibox doctor`: each check says ok, warn or fail,
 * with its evidence and, for warn and fail, the exact fix. Read-only on the node: kernel facts
 * come from lib/kernel/detect (in a scratch netns when possible), files are read under a root,
 * the pod's rules are compared with lib/kernel/capture's check and probed with lib/kernel/validate.
 * The check ids, statuses and fix texts are the contract documented in docs/doctor.md.
 * Field notes idea 13; complaint rows 7-13, 20, 22, 23. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "rules/config.h"

enum doctor_status { DOCTOR_OK, DOCTOR_WARN, DOCTOR_FAIL };

struct doctor_check {
        char *id;               /* "kernel.backend", "cni.binary", ... */
        enum doctor_status status;
        char *summary;          /* one line */
        char **evidence;        /* NULL-terminated lines: what was read, where */
        size_t n_evidence;
        char *fix;              /* the exact fix (warn / fail), else NULL */
};

struct doctor_report {
        struct doctor_check *checks;
        size_t n, cap;
        bool oom;
};

/* Sections (bits): all by default. */
#define DOCTOR_KERNEL   (1u << 0)
#define DOCTOR_NODE     (1u << 1)
#define DOCTOR_CNI      (1u << 2)
#define DOCTOR_LIMITS   (1u << 3)
#define DOCTOR_POD      (1u << 4)

struct doctor_opts {
        const char *root;           /* the host's / as this process sees it ("/", or "/host") */
        unsigned sections;
        /* What install-cni was given, as host paths (the chart's values) */
        const char *cni_conf_dir;   /* cniConfDir, default /etc/cni/net.d */
        const char *cni_bin_dir;    /* cniBinDir, default /opt/cni/bin */
        const char *cni_netns_dir;  /* cniNetnsDir, default /var/run/netns */
        const char *run_dir;        /* CNI_AGENT_RUN_DIR on the host, default /var/run/istio-cni */
        const char *metrics_url;    /* the agent's /metrics, "" or NULL: do not ask */
        unsigned rival_minutes;     /* a config modified this recently after the install: warn */
        /* The pod (DOCTOR_POD): its netns file and the capture config its rules came from. */
        const char *pod_netns;
        struct capture_config *pod_cfg;
        /* With --pod NS/NAME: where the config came from (an evidence line), or why the pod
         * could not be looked up (pod.rules fails with it), or why the plugin would not capture
         * it (pod.rules is ok: nothing to check). NULL when unused. */
        const char *pod_source;
        const char *pod_error;
        const char *pod_skip;
        bool pod_probe;             /* run the istio-validation probe in the pod */
};

void doctor_opts_init(struct doctor_opts *o);

/* Runs the selected checks into rep (zeroed by the caller). Returns 0, or -ENOMEM. A check that
 * cannot run says so as its own status; it never stops the others. */
int doctor_run(const struct doctor_opts *o, struct doctor_report *rep);
void doctor_report_done(struct doctor_report *rep);

/* The worst status in rep (DOCTOR_OK for an empty report). */
enum doctor_status doctor_worst(const struct doctor_report *rep);
const char *doctor_status_to_string(enum doctor_status s);

/* Human text, and the JSON document of docs/doctor.md ({"version":1,"checks":[...],
 * "summary":{...}}). 0 or -ENOMEM. */
int doctor_render_text(const struct doctor_report *rep, char **ret);
int doctor_render_json(const struct doctor_report *rep, char **ret);
