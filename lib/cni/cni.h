/* SPDX-License-Identifier: Apache-2.0 */
/* cni.h: the CNI protocol side of the istio-cni plugin: environment, stdin configuration,
 * CNI_ARGS, prevResult conversion between result versions, error and VERSION output.
 * Spec: istio-cni.md §2.1–§2.3, §2.11–§2.13, §7 (CNI 1.1.0 / libcni v1.3.0). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

enum cni_command { CNI_CMD_NONE, CNI_CMD_ADD, CNI_CMD_DEL, CNI_CMD_CHECK, CNI_CMD_VERSION,
                   CNI_CMD_STATUS, CNI_CMD_GC, CNI_CMD_UNKNOWN };

/* In order, so comparisons like "≥ 0.4.0" are integer comparisons. */
enum cni_version { CNI_V010, CNI_V020, CNI_V030, CNI_V031, CNI_V040, CNI_V100, CNI_V110, CNI_V_MAX };

enum {
        CNI_ERR_INCOMPATIBLE = 1,
        CNI_ERR_UNSUPPORTED_FIELD = 2,
        CNI_ERR_UNKNOWN_CONTAINER = 3,
        CNI_ERR_INVALID_ENV = 4,
        CNI_ERR_IO = 5,
        CNI_ERR_DECODE = 6,
        CNI_ERR_INVALID_CONFIG = 7,
        CNI_ERR_INVALID_NETNS = 8,
        CNI_ERR_TRY_AGAIN = 11,
        CNI_ERR_NOT_AVAILABLE = 50,
        CNI_ERR_LIMITED = 51,
        CNI_ERR_INTERNAL = 999,
};

struct cni_error {
        int code;
        char msg[512];
        char details[512];
};

/* Fills err (code, msg, optional details) and returns -EINVAL, for "return cni_error_set(…)". */
int cni_error_set(struct cni_error *err, int code, const char *details, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

/* The error JSON (4-space indent, no trailing newline, like libcni) plus "cniVersion" as the CNI
 * spec asks (libcni omits it; runtimes ignore unknown keys). version may be NULL (→ 1.1.0).
 * Returns a malloc'ed string or NULL on OOM. */
char *cni_error_format(const struct cni_error *err, const char *version);

/* The VERSION reply, compact JSON + "\n" (libcni's exact bytes). Static string. */
const char *cni_version_reply(void);
/* "CNI plugin istio-cni <v>\nCNI protocol versions supported: …\n" for an empty CNI_COMMAND. */
const char *cni_about(void);

int cni_version_parse(const char *s, enum cni_version *ret);
const char *cni_version_to_string(enum cni_version v);

struct cni_env {
        enum cni_command command;
        const char *command_str, *containerid, *netns, *ifname, *args, *path;
        bool netns_override;
};

/* Reads the CNI_* variables from envp (NULL = environ) and validates them for the command
 * (§2.1 step 1: required variables, container ID, interface name). Strings point into envp.
 * Returns 0 or -EINVAL with err set (code 3/4). CNI_COMMAND empty → command CNI_CMD_NONE, 0. */
int cni_env_load(char *const *envp, struct cni_env *ret, struct cni_error *err);

int cni_validate_containerid(const char *id, struct cni_error *err);
int cni_validate_ifname(const char *ifname, struct cni_error *err);

struct cni_args {
        char *pod_name, *pod_namespace, *pod_infra_container_id, *pod_uid;
        bool ignore_unknown;
};
/* Parses "K=V;K=V" with libcni LoadArgs rules (§2.3). Returns 0 or -EINVAL (err: code 999,
 * "failed to load args: …"). */
int cni_args_parse(const char *s, struct cni_args *ret, struct cni_error *err);
void cni_args_done(struct cni_args *a);

/* The plugin's stdin configuration (§2.2), current names first, legacy names as fallbacks. */
struct cni_conf {
        enum cni_version version;
        char *cni_version;   /* as given (validated) */
        char *name, *type;
        char *plugin_log_level;   /* or legacy log_level */
        char *cni_agent_run_dir;
        char *kubeconfig;         /* legacy kubernetes.kubeconfig (only used when run dir unset) */
        char *log_uds_address;    /* legacy */
        bool ambient_enabled, native_nftables;
        char **exclude_namespaces; /* NULL-terminated; top-level, or legacy kubernetes.* */
        char *pod_namespace;
        char *intercept_type;     /* legacy kubernetes.intercept_type: parsed, not used */
        cJSON *prev_result;       /* converted to the 1.x model; NULL if absent */
        /* cnibox extensions (0 = default): bound the pod GET of §2.4 step 11. */
        unsigned k8s_max_attempts;
        unsigned k8s_timeout_ms, k8s_retry_interval_ms;
        /* cnibox extension (0 = default): one deadline for a whole ADD or CHECK (issue 11 A6). */
        unsigned add_timeout_ms;
};

/* Parses stdin for command cmd: JSON object (code 6), name (7), version gate (1), then the
 * fields and, for ADD/CHECK/DEL, prevResult parsed with the config version (999
 * "could not parse prevResult: …"). Returns 0 or -EINVAL with err set. */
int cni_conf_parse(const char *data, size_t len, enum cni_command cmd, struct cni_conf *ret,
                   struct cni_error *err);
void cni_conf_done(struct cni_conf *c);

/* Parses a result object as version v (its own cniVersion must belong to v's result model) and
 * converts it to the 1.x model. Returns a new cJSON or NULL with err set. */
cJSON *cni_result_parse(const cJSON *in, enum cni_version v, struct cni_error *err);
/* Renders a 1.x-model result (NULL = empty) in version v (§2.11 key order, 4-space indent, no
 * trailing newline). Returns a malloc'ed string or NULL with err set (e.g. 0.2.0 without IPs). */
char *cni_result_format(const cJSON *result, enum cni_version v, struct cni_error *err);

/* JSON writer used for results and errors: Go encoding/json style, indent spaces per level. */
char *cni_json_print(const cJSON *item, int indent);
