/* SPDX-License-Identifier: Apache-2.0 */
/* redirect.h: a Pod object → capture or not, and the redirect config to program (the one code
 * path shared by the istio-cni plugin's ADD/CHECK and the repair controller's in-place repair).
 * Spec: istio-cni.md §2.4 step 12 (skip checks), §2.6 (PodInfo), §2.7 (annotations → values),
 * §2.8 (CNI-mode settings), §5.4 Repair step 3 ("exactly as the plugin"). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "cni/annotations.h"
#include "rules/config.h"

struct redirect_options {
        bool native_nftables;           /* the plugin's native_nftables / the agent's NATIVE_NFTABLES */
        const char *netns_path;         /* the pod's netns file (CNI_NETNS, or /host/proc/<pid>/ns/net) */
        uint64_t lock_wait_usec;        /* how long the xtables lock may be waited for */
        char *const *envp;              /* the runtime-environment inputs of §2.7; NULL = environ */
};

/* Decides (§2.4 step 12) and builds (§2.7) the CNI-mode config for pod. cfg must be
 * config_init()ed (the caller config_done()s it in every case). *ret_reason gets the decision's
 * sentence for the log. warn (may be NULL) gets the tolerated bad env bools.
 * Returns 1 with cfg filled when the pod is to be captured, 0 when it is skipped, -EBADMSG when
 * pod is not a Pod object, -EINVAL with err naming the bad annotation, -ENOMEM. */
int redirect_from_pod(const cJSON *pod, const struct redirect_options *o, struct capture_config *cfg,
                      const char **ret_reason, struct annotations_warnings *warn, char *err, size_t errsz);
