/* SPDX-License-Identifier: Apache-2.0 */
/* redirect.c: Pod → capture decision and CNI-mode capture_config (see redirect.h; spec
 * istio-cni.md §2.4 step 12, §2.6–§2.8, §5.4). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/errbuf.h"
#include "cni/redirect.h"

int redirect_from_pod(const cJSON *pod, const struct redirect_options *o, struct capture_config *cfg,
                      const char **ret_reason, struct annotations_warnings *warn, char *err, size_t errsz) {
        struct annotations_pod info;
        struct annotations_error aerr = { 0 };
        const char *reason = "";
        int r;

        *ret_reason = "";
        if (annotations_pod_info(pod, &info) < 0)
                return errbuf_set(err, errsz, -EBADMSG, "unexpected Pod object from the API server");
        if (annotations_decide(&info, &reason) != ANNOTATIONS_CAPTURE) {
                *ret_reason = reason;
                return 0;
        }
        *ret_reason = reason;
        r = annotations_to_config(&info, o->envp, cfg, &aerr, warn);
        if (r < 0)
                return errbuf_set(err, errsz, r, "%s", r == -ENOMEM ? "out of memory" : aerr.msg);
        /* CNI mode: per-pod xtables lock (the netns fd); a repeated apply converges (reconcile). */
        cfg->native_nftables = o->native_nftables;
        cfg->cni_mode = true;
        cfg->reconcile = true;
        cfg->lock_wait_usec = o->lock_wait_usec;
        cfg->network_namespace = strdup(o->netns_path ? o->netns_path : "");
        if (!cfg->network_namespace)
                return errbuf_set(err, errsz, -ENOMEM, "out of memory");
        return 1;
}
