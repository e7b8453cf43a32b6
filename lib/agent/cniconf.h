/* SPDX-License-Identifier: Apache-2.0 */
/* cniconf.h: the CNI config files install-cni reads and rewrites: discovery of the valid configs
 * (libcni v1.3 rules), the istio-cni plugin entry, insertion into / removal from the primary
 * config, and the "is our entry still there" check. Spec: istio-cni.md §4.5, §4.6, §4.7, §4.8,
 * §4.11. Files are serialised like Go's encoding/json (agent/gojson.h), so they are byte-identical
 * to what Istio writes. Nothing here touches the file system except cniconf_list_valid(). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Largest CNI config file read (a real one is a few KiB). */
#define CNICONF_MAX_SIZE (4u << 20)

struct cniconf_entry {                  /* §4.6, fields emitted in this order */
        const char *plugin_log_level;   /* e.g. "info" */
        const char *cni_agent_run_dir;
        bool ambient_enabled;
        const char *enablement_selectors_json; /* JSON array text, NULL or "" => [] */
        char **exclude_namespaces;
        size_t n_exclude_namespaces;    /* 0 => null */
        const char *pod_namespace;
        bool native_nftables;
        bool enable_ambient_detection_retry;
};

/* The entry JSON: cniVersion "0.3.1", name and type "istio-cni", ipam {}, dns {}, then the fields
 * above. pretty: the standalone file (2-space indent, trailing newline); else compact.
 * -EINVAL when enablement_selectors_json is not a JSON array. */
int cniconf_entry_render(const struct cniconf_entry *e, bool pretty, char **ret);

/* §4.5: the valid config files in dir: names ending in ".conf" or ".conflist", not directories,
 * byte-wise sorted, valid by libcni v1.3 (a .conflist also gets the plugins of <dir>/<name>/<file>.conf
 * unless loadOnlyInlinedPlugins). Returns the names (not paths), a NULL-terminated array, and the
 * count. Each skipped file is reported through skip(userdata, name, reason) (skip may be NULL). A
 * missing dir gives 0 files. */
typedef void (*cniconf_skip_fn)(void *userdata, const char *name, const char *reason);
int cniconf_list_valid(const char *dir, cniconf_skip_fn skip, void *userdata, char ***ret_names, size_t *ret_n);
char **cniconf_names_free(char **names);

/* Validity of one config's content, as cniconf_list_valid() judges it. conflist selects the
 * .conflist rules; dir (may be NULL: no plugin directory) is where <name>/<file>.conf is looked up.
 * 1 valid, 0 invalid (reason in err), <0 error. */
int cniconf_check_content(const char *content, size_t len, bool conflist, const char *dir, char *err, size_t errsz);

/* §4.7 insert: the existing file content plus the entry JSON (cniconf_entry_render) → the merged
 * content: the entry (without its cniVersion) appended to "plugins" after removing every existing
 * istio-cni plugin; a single-plugin .conf (top-level "type") becomes the list
 * {"cniVersion":"0.3.1","name":"k8s-pod-network","plugins":[<conf without cniVersion>, <entry>]}.
 * Go map serialisation, 2-space indent, trailing newline. -EINVAL with the reason in err. */
int cniconf_insert(const char *existing, size_t len, const char *entry_json, char **ret, char *err, size_t errsz);

/* §4.11: removes the first plugin whose type is "istio-cni" (none: content re-serialised as is). */
int cniconf_remove(const char *existing, size_t len, char **ret, char *err, size_t errsz);

/* §4.8 steps 5-6. chained: "plugins" is an array of objects, one of them with type "istio-cni"
 * (other types are not checked, as in Istio: whatever cniconf_insert() writes passes); standalone: the top-level "type" is "istio-cni". A file that is not JSON or is
 * ill-typed gives *ret_has = false with the reason in err and returns 0. */
int cniconf_has_istio(const char *content, size_t len, bool chained, bool *ret_has, char *err, size_t errsz);
