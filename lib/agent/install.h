/* SPDX-License-Identifier: Apache-2.0 */
/* install.h: the node agent's installer (spec istio-cni.md §4.3–§4.9, §4.11): copy the plugin
 * binary, write the plugin's kubeconfig, find the primary CNI config and insert the plugin entry,
 * check that it is still there, and remove everything again.
 *
 * The installer is one pass at a time, driven by cmd/install-cni.c's watch loop; it never blocks
 * (waiting for a primary config is the caller's job: install_all() returns -EAGAIN) and never
 * touches the network. Every file it writes is written atomically (temp file in the same
 * directory, fsync, rename), so a runtime reading the CNI conf dir never sees a torn file.
 *
 * DECISION (§4.8): Istio makes an auto-detected CNI_CONF_NAME sticky, so a primary config that
 * appears later and sorts first (another CNI installing 05-cilium.conflist before
 * 10-calico.conflist) is only warned about while the runtime uses it without our plugin. Here an
 * auto-detected name follows the first valid file (the move is logged); an explicit
 * CNI_CONF_NAME is respected as in Istio (warned about when preempted). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "agent/cniconf.h"

/* istio_cni_installs_total{result=…} (§4.10). */
enum install_result {
        INSTALL_SUCCESS,
        INSTALL_COPY_BINARIES_FAILURE,
        INSTALL_CREATE_KUBECONFIG_FAILURE,
        INSTALL_CREATE_CNI_CONFIG_FAILURE,
        _INSTALL_RESULT_MAX,
};
const char *install_result_name(enum install_result r);

/* Istio's fixed paths (§4.2 "Fixed"). */
#define INSTALL_BIN_SOURCE_DIR "/opt/cni/bin"
#define INSTALL_BIN_TARGET_DIR "/host/opt/cni/bin"
#define INSTALL_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
#define INSTALL_KUBECONFIG_NAME "istio-cni-kubeconfig"
#define INSTALL_STANDALONE_NAME "YYY-istio-cni.conf"

struct install_config {
        const char *net_dir;            /* MOUNTED_CNI_NET_DIR */
        const char *conf_name;          /* CNI_CONF_NAME; NULL or "" = auto-detect */
        bool chained;                   /* CHAINED_CNI_PLUGIN */
        const char *run_dir;            /* CNI_AGENT_RUN_DIR */
        mode_t kubeconfig_mode;         /* KUBECONFIG_MODE */
        bool conf_group_read;           /* CNI_CONF_GROUP_READ: 0640 instead of 0600 */
        const char *kube_ca_file;       /* KUBE_CA_FILE; NULL or "" = <sa_dir>/ca.crt */
        bool skip_tls_verify;
        const char *bin_source_dir;     /* INSTALL_BIN_SOURCE_DIR unless overridden */
        const char *bin_target_dir;     /* INSTALL_BIN_TARGET_DIR */
        const char *sa_dir;             /* INSTALL_SA_DIR */
        const char *k8s_host, *k8s_port, *k8s_protocol; /* KUBERNETES_SERVICE_{HOST,PORT,PROTOCOL} */
        struct cniconf_entry entry;     /* the plugin entry (§4.6) */
};

/* Long-running code in lib/ logs through the caller (lib never prints); level as in base/log.h. */
typedef void (*install_log_fn)(void *userdata, int level, const char *msg);

struct installer;

/* Copies cfg's strings. */
int install_new(const struct install_config *cfg, install_log_fn log, void *userdata, struct installer **ret);
struct installer *install_free(struct installer *in);

/* One installAll pass (§4.9): binaries, kubeconfig, then the validity check and, if it fails,
 * the config write. Returns 0 and INSTALL_SUCCESS, -EAGAIN while a chained install waits for a
 * primary config (nothing failed: wait for a conf dir event and call again), or another -errno
 * with the failing step in *ret_result and a message naming the path in err. */
int install_all(struct installer *in, enum install_result *ret_result, char *err, size_t errsz);

/* §4.4 alone: rewrite the plugin's kubeconfig if the token (or CA) changed. The watch loop calls
 * it as soon as anything changed, before the reinstall throttle, so a rotated token reaches the
 * plugin within a second whatever the throttle does. */
int install_kubeconfig(struct installer *in, char *err, size_t errsz);

/* §4.8: is our plugin in place? *ret_valid false with the reason in why. Also notices when our
 * config file was rewritten by someone else since we last wrote or checked it (*ret_rival). */
int install_check(struct installer *in, bool *ret_valid, bool *ret_rival, char *why, size_t whysz);

/* The paths the watch loop watches (§4.9 sleepWatchInstall): each installed binary in the target
 * dir, the conf dir and the service-account dir. A NULL-terminated list (strv_free()). */
int install_watch_paths(const struct installer *in, char ***ret);

/* The config file we last wrote or validated ("" before the first pass), borrowed. */
const char *install_conf_path(const struct installer *in);

/* §4.11: remove the plugin entry (or the standalone file), the kubeconfig and the binary. Each
 * step stops the rest on error, as in Istio; err names the path. */
int install_cleanup(struct installer *in, char *err, size_t errsz);
