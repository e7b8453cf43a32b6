/* SPDX-License-Identifier: Apache-2.0 */
/* annotations.h: a Pod object → the plugin's decisions and a typed capture_config.
 * Spec: istio-cni.md §2.4 step 12 (skip checks, in order), §2.6 (PodInfo), §2.7 (annotations,
 * proxy env and uid → redirect values, validation order, excludeInboundPorts post-processing). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "rules/config.h"

/* §2.6, borrowed from the Pod cJSON (valid while it lives). */
struct annotations_pod {
        const cJSON *labels, *annotations;
        bool has_istio_init, has_istio_proxy;
        const cJSON *proxy;        /* the last container named istio-proxy */
        const char *proxy_type;    /* args[1] when args[0] == "proxy", else "" */
        bool has_uid, has_gid;
        int64_t uid, gid;          /* container-level runAsUser / runAsGroup */
};

/* Fills p from a Pod object. Returns 0 or -EBADMSG (not an object / wrong member types). */
int annotations_pod_info(const cJSON *pod, struct annotations_pod *p);

/* The literal env value of the proxy container (valueFrom entries give ""), NULL if absent. */
const char *annotations_proxy_env(const struct annotations_pod *p, const char *name);

enum annotations_decision {
        ANNOTATIONS_CAPTURE,
        ANNOTATIONS_SKIP_ISTIO_INIT,     /* a: already injected with istio-init */
        ANNOTATIONS_SKIP_DISABLE_ENVOY,  /* b: DISABLE_ENVOY=true (proxyless) */
        ANNOTATIONS_SKIP_NO_PROXY,       /* c: no istio-proxy container */
        ANNOTATIONS_SKIP_PROXY_TYPE,     /* d: proxy type is not "sidecar" (gateway) */
        ANNOTATIONS_SKIP_INJECT_FALSE,   /* e: sidecar.istio.io/inject false (label over annotation) */
        ANNOTATIONS_SKIP_NO_STATUS,      /* f: no sidecar.istio.io/status annotation */
};

/* Runs the skip checks of §2.4 step 12 in order. *reason gets a static sentence for the log. */
enum annotations_decision annotations_decide(const struct annotations_pod *p, const char **reason);

struct annotations_error {
        char annotation[96];   /* the annotation (or env var) at fault */
        char value[256];       /* its value, truncated */
        char msg[768];         /* full message for the CNI error */
};

#define ANNOTATIONS_MAX_WARNINGS 4
struct annotations_warnings {
        unsigned n;
        char msg[ANNOTATIONS_MAX_WARNINGS][256];
};

/* Builds the capture configuration for a sidecar pod (§2.7): config_init() defaults, the
 * runtime-environment inputs of envp (ISTIO_OUTBOUND_OWNER_GROUPS[_EXCLUDE],
 * ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR only; NULL = environ), then annotations and the proxy
 * container's env and uid/gid. c must be config_init()ed; on error it may be partly filled (the
 * caller config_done()s it). Bad-but-tolerated env bools land in warn (may be NULL).
 * Returns 0, -EINVAL (err names the annotation and value), or -ENOMEM. */
int annotations_to_config(const struct annotations_pod *p, char *const *envp, struct capture_config *c,
                          struct annotations_error *err, struct annotations_warnings *warn);
