/* SPDX-License-Identifier: Apache-2.0 */
/* runtimecfg.c: CNI dirs from the container runtime's config. Key paths: containerd
 * docs/cri/config.md (v1 plugins.cri.cni, v2 plugins."io.containerd.grpc.v1.cri".cni, v3
 * plugins."io.containerd.cri.v1.runtime".cni: conf_dir, bin_dir, bin_dirs); CRI-O crio.conf(5)
 * ([crio.network] network_dir, plugin_dirs; [crio.runtime] namespaces_dir); k3s and MicroK8s
 * defaults as their installers write them. */
#include "agent/runtimecfg.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent/toml.h"
#include "base/errbuf.h"
#include "base/fileio.h"
#include "base/macro.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct toml_doc *, toml_free);

static int set_str(char **dst, const char *s) {
        char *n = strdup(s);
        if (!n)
                return -ENOMEM;
        /* "/etc/cni/net.d/" and "/etc/cni/net.d" are one dir. */
        for (size_t l = strlen(n); l > 1 && n[l - 1] == '/'; l--)
                n[l - 1] = 0;
        free(*dst);
        *dst = n;
        return 0;
}

static int set_strv(char ***dst, char *const *v) {
        size_t n = strv_length(v);
        char **l;

        if (n == 0)
                return 0; /* an empty list leaves the default (both runtimes fall back to it) */
        l = calloc(n + 1, sizeof *l);
        if (!l)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                if (set_str(&l[i], v[i]) < 0) {
                        strv_free(l);
                        return -ENOMEM;
                }
        strv_free(*dst);
        *dst = l;
        return 0;
}

static int set_one_dir(char ***dst, const char *s) {
        char *const v[] = { (char *)s, NULL };
        return set_strv(dst, v);
}

int runtimecfg_containerd_apply(const char *text, size_t len, struct runtimecfg *ret, char *err, size_t errsz) {
        _cleanup_(toml_freep) struct toml_doc *d = NULL;
        const char *plugin, *s;
        char *const *v;
        int64_t version = 1;
        int r;

        r = toml_parse(text, len, &d, err, errsz);
        if (r < 0)
                return r;
        (void)toml_get_int(d, (const char *const[]){ "version", NULL }, &version);
        /* Each version has its own table; a key under another version's table is ignored by that
         * containerd too (2.x migrates a version 2 file to 3 with the same values). */
        plugin = version >= 3 ? "io.containerd.cri.v1.runtime" : version == 2 ? "io.containerd.grpc.v1.cri" : "cri";
        if (toml_get_string(d, (const char *const[]){ "plugins", plugin, "cni", "conf_dir", NULL }, &s) == 0) {
                r = set_str(&ret->conf_dir, s);
                if (r < 0)
                        return r;
        }
        /* containerd 2.1: bin_dirs (a list) replaces bin_dir. */
        if (toml_get_strv(d, (const char *const[]){ "plugins", plugin, "cni", "bin_dirs", NULL }, &v) == 0)
                r = set_strv(&ret->bin_dirs, v);
        else if (toml_get_string(d, (const char *const[]){ "plugins", plugin, "cni", "bin_dir", NULL }, &s) == 0)
                r = set_one_dir(&ret->bin_dirs, s);
        return r;
}

int runtimecfg_crio_apply(const char *text, size_t len, struct runtimecfg *ret, char *err, size_t errsz) {
        _cleanup_(toml_freep) struct toml_doc *d = NULL;
        const char *s;
        char *const *v;
        int r;

        r = toml_parse(text, len, &d, err, errsz);
        if (r < 0)
                return r;
        if (toml_get_string(d, (const char *const[]){ "crio", "network", "network_dir", NULL }, &s) == 0) {
                r = set_str(&ret->conf_dir, s);
                if (r < 0)
                        return r;
        }
        if (toml_get_strv(d, (const char *const[]){ "crio", "network", "plugin_dirs", NULL }, &v) == 0)
                r = set_strv(&ret->bin_dirs, v);
        else if (toml_get_string(d, (const char *const[]){ "crio", "network", "plugin_dir", NULL }, &s) == 0)
                r = set_one_dir(&ret->bin_dirs, s);
        if (r < 0)
                return r;
        if (toml_get_string(d, (const char *const[]){ "crio", "runtime", "namespaces_dir", NULL }, &s) == 0) {
                char buf[4096];
                if (snprintf(buf, sizeof buf, "%s/netns", s) >= (int)sizeof buf)
                        return errbuf_set(err, errsz, -EINVAL, "namespaces_dir too long");
                r = set_str(&ret->netns_dir, buf);
        }
        return r;
}

static int entry_init(struct runtimecfg *e, const char *runtime, const char *conf, const char *bin, const char *netns) {
        *e = (struct runtimecfg){};
        if (set_str(&e->runtime, runtime) < 0 || set_str(&e->source, "built-in defaults") < 0 ||
            set_str(&e->conf_dir, conf) < 0 || set_one_dir(&e->bin_dirs, bin) < 0 || set_str(&e->netns_dir, netns) < 0)
                return -ENOMEM;
        return 0;
}

static void entry_done(struct runtimecfg *e) {
        free(e->runtime);
        free(e->source);
        free(e->conf_dir);
        strv_free(e->bin_dirs);
        free(e->netns_dir);
        free(e->note);
        *e = (struct runtimecfg){};
}

void runtimecfg_list_free(struct runtimecfg *l, size_t n) {
        for (size_t i = 0; l && i < n; i++)
                entry_done(&l[i]);
        free(l);
}

static bool exists_under(const char *root, const char *path, bool want_dir) {
        char p[4096];
        struct stat st;
        if (snprintf(p, sizeof p, "%s%s", root, path) >= (int)sizeof p || stat(p, &st) < 0)
                return false;
        return want_dir ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode);
}

typedef int (*apply_fn)(const char *text, size_t len, struct runtimecfg *ret, char *err, size_t errsz);

/* Reads root+path and applies it; a failure becomes the entry's note (the defaults stay). */
static int apply_file(const char *root, const char *path, apply_fn fn, struct runtimecfg *e) {
        _cleanup_free_ char *text = NULL;
        char p[4096], err[300] = "", note[512];
        size_t len;
        int r;

        if (snprintf(p, sizeof p, "%s%s", root, path) >= (int)sizeof p)
                return 0;
        r = fileio_read_file(p, TOML_MAX_SIZE, &text, &len);
        if (r == -ENOMEM)
                return r;
        if (r >= 0)
                r = fn(text, len, e, err, sizeof err);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                snprintf(note, sizeof note, "%s: %s", path, err[0] ? err : strerror(-r));
                if (e->note) { /* keep the first problem; later ones are of the same kind */
                        return 0;
                }
                return set_str(&e->note, note);
        }
        return set_str(&e->source, path);
}

/* MicroK8s' containerd template names its dirs with ${SNAP_DATA}. */
static int microk8s_expand(char **s) {
        static const char var[] = "${SNAP_DATA}", data[] = "/var/snap/microk8s/current";
        char buf[4096];
        if (!*s || strncmp(*s, var, sizeof var - 1) != 0)
                return 0;
        if (snprintf(buf, sizeof buf, "%s%s", data, *s + sizeof var - 1) >= (int)sizeof buf)
                return 0;
        return set_str(s, buf);
}

static int crio_dropins(const char *root, struct runtimecfg *e) {
        char d[4096];
        struct dirent **names = NULL;
        int n, r = 0;

        if (snprintf(d, sizeof d, "%s/etc/crio/crio.conf.d", root) >= (int)sizeof d)
                return 0;
        n = scandir(d, &names, NULL, alphasort);
        for (int i = 0; i < n; i++) {
                char p[4096];
                if (r >= 0 && names[i]->d_name[0] != '.' &&
                    snprintf(p, sizeof p, "/etc/crio/crio.conf.d/%s", names[i]->d_name) < (int)sizeof p &&
                    exists_under(root, p, false))
                        r = apply_file(root, p, runtimecfg_crio_apply, e);
                free(names[i]);
        }
        free(names);
        return r;
}

int runtimecfg_find(const char *root, struct runtimecfg **ret, size_t *ret_n) {
        struct runtimecfg *l = calloc(5, sizeof *l);
        size_t n = 0;
        int r = 0;

        if (!l)
                return -ENOMEM;
        if (!root || streq(root, "/"))
                root = "";
        if (exists_under(root, "/var/lib/rancher/k3s", true)) {
                struct runtimecfg *e = &l[n++];
                r = entry_init(e, "k3s", "/var/lib/rancher/k3s/agent/etc/cni/net.d", "/var/lib/rancher/k3s/data/current/bin",
                               "/var/run/netns");
                if (r >= 0 && exists_under(root, "/var/lib/rancher/k3s/agent/etc/containerd/config-v3.toml", false))
                        r = apply_file(root, "/var/lib/rancher/k3s/agent/etc/containerd/config-v3.toml",
                                       runtimecfg_containerd_apply, e);
                else if (r >= 0 && exists_under(root, "/var/lib/rancher/k3s/agent/etc/containerd/config.toml", false))
                        r = apply_file(root, "/var/lib/rancher/k3s/agent/etc/containerd/config.toml",
                                       runtimecfg_containerd_apply, e);
        }
        if (r >= 0 && exists_under(root, "/var/snap/microk8s/current", true)) {
                struct runtimecfg *e = &l[n++];
                r = entry_init(e, "microk8s", "/var/snap/microk8s/current/args/cni-network",
                               "/var/snap/microk8s/current/opt/cni/bin", "/run/netns");
                if (r >= 0 && exists_under(root, "/var/snap/microk8s/current/args/containerd-template.toml", false))
                        r = apply_file(root, "/var/snap/microk8s/current/args/containerd-template.toml",
                                       runtimecfg_containerd_apply, e);
                if (r >= 0)
                        r = microk8s_expand(&e->conf_dir);
                for (size_t i = 0; r >= 0 && e->bin_dirs[i]; i++)
                        r = microk8s_expand(&e->bin_dirs[i]);
        }
        if (r >= 0 && (exists_under(root, "/etc/crio/crio.conf", false) || exists_under(root, "/etc/crio/crio.conf.d", true))) {
                struct runtimecfg *e = &l[n++];
                r = entry_init(e, "cri-o", "/etc/cni/net.d", "/opt/cni/bin", "/var/run/netns");
                if (r >= 0 && exists_under(root, "/etc/crio/crio.conf", false))
                        r = apply_file(root, "/etc/crio/crio.conf", runtimecfg_crio_apply, e);
                if (r >= 0)
                        r = crio_dropins(root, e);
        }
        if (r >= 0 && exists_under(root, "/etc/containerd/config.toml", false)) {
                struct runtimecfg *e = &l[n++];
                r = entry_init(e, "containerd", "/etc/cni/net.d", "/opt/cni/bin", "/var/run/netns");
                if (r >= 0)
                        r = apply_file(root, "/etc/containerd/config.toml", runtimecfg_containerd_apply, e);
        }
        if (r >= 0 && n == 0)
                r = entry_init(&l[n++], "none", "/etc/cni/net.d", "/opt/cni/bin", "/var/run/netns");
        if (r < 0) {
                runtimecfg_list_free(l, n);
                return r;
        }
        *ret = l;
        *ret_n = n;
        return 0;
}
