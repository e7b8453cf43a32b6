/* SPDX-License-Identifier: Apache-2.0 */
/* runtimecfg.h: where the node's container runtime looks for CNI configs and plugins, read from
 * its own config: containerd config.toml (version 1, 2 and 3 layouts), CRI-O crio.conf +
 * crio.conf.d files, k3s (its generated containerd config, else its defaults) and MicroK8s (its
 * containerd template, else its defaults). For doctor: these paths move between distros and
 * versions (k3s#11369, istio#47444). Files are read under a root (the host's / as mounted). */
#pragma once

#include <stddef.h>

struct runtimecfg {
        char *runtime;    /* "k3s", "microk8s", "cri-o", "containerd", "none" */
        char *source;     /* host path of the config file the dirs came from, or "built-in defaults" */
        char *conf_dir;   /* host path, no trailing '/' */
        char **bin_dirs;  /* host paths, NULL-terminated, at least one */
        char *netns_dir;  /* where the runtime mounts pod netns files */
        char *note;       /* NULL, or why a config was not (fully) used, e.g. a parse error */
};

/* Applies a containerd config.toml (any version) to ret, whose dirs hold the defaults.
 * 0, or -EINVAL (err names the line) for a file outside the TOML subset (agent/toml.h). */
int runtimecfg_containerd_apply(const char *text, size_t len, struct runtimecfg *ret, char *err, size_t errsz);
/* Applies one CRI-O config file ([crio.network] network_dir, plugin_dirs / plugin_dir,
 * [crio.runtime] namespaces_dir) over ret. Same returns. */
int runtimecfg_crio_apply(const char *text, size_t len, struct runtimecfg *ret, char *err, size_t errsz);

/* The runtimes whose config (or install dir) exists under root, most specific first: k3s,
 * microk8s, cri-o, containerd; or one "none" entry with the upstream defaults. The first is the
 * one in effect. 0 or -ENOMEM. */
int runtimecfg_find(const char *root, struct runtimecfg **ret, size_t *ret_n);
void runtimecfg_list_free(struct runtimecfg *l, size_t n);
