/* SPDX-License-Identifier: Apache-2.0 */
/* install.c: the node agent's installer passes (spec istio-cni.md §4.3–§4.8, §4.11). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/install.h"
#include "agent/pluginkube.h"
#include "base/fileio.h"
#include "base/log.h"
#include "base/errbuf.h"
#include "base/macro.h"

/* The files we read are configs, a token and a CA: far below this. */
#define INSTALL_READ_MAX (4u << 20)

/* What a file looked like when we last wrote or validated it: a change we did not make is a
 * rewrite by someone else (the rival detection of the watch loop). */
struct file_id {
        bool known;
        dev_t dev;
        ino_t ino;
        off_t size;
        struct timespec mtime, ctime;
};

struct installer {
        struct install_config cfg;      /* strings below are owned copies */
        char *s_net_dir, *s_conf_name, *s_run_dir, *s_ca, *s_src, *s_dst, *s_sa, *s_host, *s_port, *s_proto;
        bool conf_name_explicit;
        char *conf_path;                /* last written or validated; "" at start */
        struct file_id conf_id;
        char *preempted_by;             /* the file we last warned about (warn once per file) */
        char **installed;               /* binary names copied (NULL-terminated) */
        install_log_fn log;
        void *log_ud;
};

static const char *const result_names[_INSTALL_RESULT_MAX] = {
        [INSTALL_SUCCESS] = "SUCCESS",
        [INSTALL_COPY_BINARIES_FAILURE] = "COPY_BINARIES_FAILURE",
        [INSTALL_CREATE_KUBECONFIG_FAILURE] = "CREATE_KUBECONFIG_FAILURE",
        [INSTALL_CREATE_CNI_CONFIG_FAILURE] = "CREATE_CNI_CONFIG_FAILURE",
};

const char *install_result_name(enum install_result r) {
        return r < _INSTALL_RESULT_MAX ? result_names[r] : "UNKNOWN";
}

#define logf_(in, level, ...) log_callback((in)->log, (in)->log_ud, (level), __VA_ARGS__)

static char *dup_or_empty(const char *s) {
        return strdup(s ? s : "");
}

static char *path_join(const char *dir, const char *name) {
        char *p;
        if (asprintf(&p, "%s/%s", dir, name) < 0)
                return NULL;
        return p;
}

static bool ends_with(const char *s, const char *suffix) {
        size_t n = strlen(s), m = strlen(suffix);
        return n >= m && streq(s + n - m, suffix);
}

static bool exists(const char *path) {
        struct stat st;
        return stat(path, &st) == 0;
}

static void file_id_take(const char *path, struct file_id *ret) {
        struct stat st;
        *ret = (struct file_id){ 0 };
        if (stat(path, &st) < 0)
                return;
        *ret = (struct file_id){ .known = true, .dev = st.st_dev, .ino = st.st_ino, .size = st.st_size,
                                 .mtime = st.st_mtim, .ctime = st.st_ctim };
}

static bool file_id_same(const struct file_id *a, const struct file_id *b) {
        return a->known == b->known && a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
               a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec &&
               a->ctime.tv_sec == b->ctime.tv_sec && a->ctime.tv_nsec == b->ctime.tv_nsec;
}

struct installer *install_free(struct installer *in) {
        if (!in)
                return NULL;
        free(in->s_net_dir);
        free(in->s_conf_name);
        free(in->s_run_dir);
        free(in->s_ca);
        free(in->s_src);
        free(in->s_dst);
        free(in->s_sa);
        free(in->s_host);
        free(in->s_port);
        free(in->s_proto);
        free(in->conf_path);
        free(in->preempted_by);
        strv_free(in->installed);
        free(in);
        return NULL;
}

int install_new(const struct install_config *cfg, install_log_fn log, void *userdata, struct installer **ret) {
        struct installer *in = calloc(1, sizeof *in);
        if (!in)
                return -ENOMEM;
        in->cfg = *cfg;
        in->log = log;
        in->log_ud = userdata;
        in->s_net_dir = dup_or_empty(cfg->net_dir);
        in->s_conf_name = dup_or_empty(cfg->conf_name);
        in->s_run_dir = dup_or_empty(cfg->run_dir);
        in->s_ca = dup_or_empty(cfg->kube_ca_file);
        in->s_src = strdup(cfg->bin_source_dir ? cfg->bin_source_dir : INSTALL_BIN_SOURCE_DIR);
        in->s_dst = strdup(cfg->bin_target_dir ? cfg->bin_target_dir : INSTALL_BIN_TARGET_DIR);
        in->s_sa = strdup(cfg->sa_dir ? cfg->sa_dir : INSTALL_SA_DIR);
        in->s_host = dup_or_empty(cfg->k8s_host);
        in->s_port = dup_or_empty(cfg->k8s_port);
        in->s_proto = dup_or_empty(cfg->k8s_protocol);
        in->conf_path = strdup("");
        in->installed = calloc(1, sizeof(char *));
        if (!in->s_net_dir || !in->s_conf_name || !in->s_run_dir || !in->s_ca || !in->s_src || !in->s_dst ||
            !in->s_sa || !in->s_host || !in->s_port || !in->s_proto || !in->conf_path || !in->installed) {
                install_free(in);
                return -ENOMEM;
        }
        /* The copied config points at our copies; entry strings stay the caller's (documented). */
        in->cfg.net_dir = in->s_net_dir;
        in->cfg.conf_name = in->s_conf_name;
        in->cfg.run_dir = in->s_run_dir;
        in->cfg.kube_ca_file = in->s_ca;
        in->cfg.bin_source_dir = in->s_src;
        in->cfg.bin_target_dir = in->s_dst;
        in->cfg.sa_dir = in->s_sa;
        in->conf_name_explicit = *in->s_conf_name != 0;
        *ret = in;
        return 0;
}

const char *install_conf_path(const struct installer *in) {
        return in->conf_path;
}

static int set_conf_path(struct installer *in, const char *path) {
        char *p = strdup(path);
        if (!p)
                return -ENOMEM;
        free(in->conf_path);
        in->conf_path = p;
        file_id_take(path, &in->conf_id);
        return 0;
}

static bool strv_contains(char **l, const char *s) {
        for (; l && *l; l++)
                if (streq(*l, s))
                        return true;
        return false;
}

static int strv_push(char ***l, const char *s) {
        size_t n = 0;
        char **nl, *c;
        while ((*l)[n])
                n++;
        c = strdup(s);
        if (!c)
                return -ENOMEM;
        nl = realloc(*l, (n + 2) * sizeof(char *));
        if (!nl) {
                free(c);
                return -ENOMEM;
        }
        nl[n] = c;
        nl[n + 1] = NULL;
        *l = nl;
        return 0;
}

/* §4.3: every regular file of the source dir into the target dir, each only when its content
 * differs (no page-cache churn, no event storm for other watchers of the bin dir). */
static int copy_binaries(struct installer *in, char *err, size_t errsz) {
        _cleanup_closedir_ DIR *d = NULL;
        struct dirent *de;
        int r;

        d = opendir(in->s_src);
        if (!d)
                return errbuf_set(err, errsz, -errno, "cannot read the plugin source dir %s: %s", in->s_src, strerror(errno));
        while ((errno = 0, de = readdir(d))) {
                _cleanup_free_ char *src = NULL, *dst = NULL;
                struct stat st;
                bool changed = false;

                if (de->d_name[0] == '.')
                        continue;
                src = path_join(in->s_src, de->d_name);
                dst = path_join(in->s_dst, de->d_name);
                if (!src || !dst)
                        return -ENOMEM;
                if (stat(src, &st) < 0 || !S_ISREG(st.st_mode))
                        continue;
                r = fileio_copy_if_changed(src, dst, &changed);
                if (r < 0) {
                        if (r == -EROFS)
                                return errbuf_set(err, errsz, r,
                                              "cannot copy %s to %s: read-only file system; this platform keeps the CNI "
                                              "bin dir elsewhere: set the Helm value global.platform (e.g. k3s, gke, "
                                              "microk8s) or cni.cniBinDir to a writable host dir",
                                              src, dst);
                        return errbuf_set(err, errsz, r, "cannot copy %s to %s: %s", src, dst, strerror(-r));
                }
                if (changed)
                        logf_(in, LOG_LEVEL_INFO, "copied %s to %s", src, dst);
                if (!strv_contains(in->installed, de->d_name) && (r = strv_push(&in->installed, de->d_name)) < 0)
                        return r;
        }
        if (errno)
                return errbuf_set(err, errsz, -errno, "cannot read the plugin source dir %s: %s", in->s_src, strerror(errno));
        if (!in->installed[0])
                return errbuf_set(err, errsz, -ENOENT, "no plugin binary in %s", in->s_src);
        return 0;
}

static int mkdir_p(const char *path, mode_t mode) {
        _cleanup_free_ char *p = strdup(path);
        if (!p)
                return -ENOMEM;
        for (char *s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = 0;
                if (mkdir(p, mode) < 0 && errno != EEXIST)
                        return -errno;
                *s = '/';
        }
        if (mkdir(p, mode) < 0 && errno != EEXIST)
                return -errno;
        return 0;
}

/* Writes path only when its content or mode differs: an unchanged kubeconfig is not rewritten
 * every pass (Istio rewrites it; the plugin reads it on every ADD, so a rename is harmless, but
 * needless writes wake every watcher of the run dir). */
static int write_if_changed(const char *path, const char *data, size_t len, mode_t mode, bool *ret_written) {
        _cleanup_free_ char *old = NULL;
        size_t old_len = 0;
        struct stat st;

        *ret_written = false;
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 07777) == mode &&
            fileio_read_file(path, INSTALL_READ_MAX, &old, &old_len) == 0 && old_len == len &&
            memcmp(old, data, len) == 0)
                return 0;
        *ret_written = true;
        return fileio_write_atomic(path, data, len, mode);
}

/* §4.4: the plugin's kubeconfig, with the service account's current token. */
static int write_kubeconfig(struct installer *in, char *err, size_t errsz) {
        _cleanup_free_ char *server = NULL, *token = NULL, *ca = NULL, *yaml = NULL, *path = NULL, *tpath = NULL,
                            *capath = NULL;
        size_t token_len = 0, ca_len = 0;
        bool written;
        int r;

        if (!*in->s_host || !*in->s_port)
                return errbuf_set(err, errsz, -EINVAL,
                              "KUBERNETES_SERVICE_HOST not set. Is this not running within a pod?");
        r = pluginkube_server_url(in->s_proto, in->s_host, in->s_port, &server);
        if (r < 0)
                return errbuf_set(err, errsz, r, "bad API server address %s:%s: %s", in->s_host, in->s_port, strerror(-r));
        tpath = path_join(in->s_sa, "token");
        capath = *in->s_ca ? strdup(in->s_ca) : path_join(in->s_sa, "ca.crt");
        path = path_join(in->s_run_dir, INSTALL_KUBECONFIG_NAME);
        if (!tpath || !capath || !path)
                return -ENOMEM;
        r = fileio_read_file(tpath, INSTALL_READ_MAX, &token, &token_len);
        if (r < 0)
                return errbuf_set(err, errsz, r, "cannot read the service account token %s: %s", tpath, strerror(-r));
        if (!in->cfg.skip_tls_verify) {
                r = fileio_read_file(capath, INSTALL_READ_MAX, &ca, &ca_len);
                if (r < 0)
                        return errbuf_set(err, errsz, r, "cannot read the API server CA %s: %s", capath, strerror(-r));
        }
        r = pluginkube_render(&(struct pluginkube_input){ .server = server, .ca = ca, .ca_len = ca_len,
                                                          .skip_tls_verify = in->cfg.skip_tls_verify,
                                                          .token = token, .token_len = token_len },
                              &yaml);
        if (r < 0)
                return errbuf_set(err, errsz, r, "cannot render the plugin kubeconfig: %s", strerror(-r));
        r = mkdir_p(in->s_run_dir, 0750);
        if (r < 0)
                return errbuf_set(err, errsz, r, "cannot create %s: %s", in->s_run_dir, strerror(-r));
        r = write_if_changed(path, yaml, strlen(yaml), in->cfg.kubeconfig_mode, &written);
        if (r < 0)
                return errbuf_set(err, errsz, r, "cannot write %s: %s", path, strerror(-r));
        if (written)
                logf_(in, LOG_LEVEL_INFO, "wrote kubeconfig %s (server %s, %s)", path, server,
                      in->cfg.skip_tls_verify ? "insecure-skip-tls-verify" : "CA from file, token redacted");
        return 0;
}

int install_kubeconfig(struct installer *in, char *err, size_t errsz) {
        return write_kubeconfig(in, err, errsz);
}

static void skip_cb(void *userdata, const char *name, const char *reason) {
        const struct installer *in = userdata;
        logf_(in, LOG_LEVEL_DEBUG, "skipping CNI config %s/%s: %s", in->s_net_dir, name, reason);
}

/* The first valid config file (§4.5), as a path; -EAGAIN with none. */
static int first_valid(struct installer *in, char **ret) {
        char **names = NULL;
        size_t n = 0;
        int r = cniconf_list_valid(in->s_net_dir, skip_cb, in, &names, &n);
        if (r < 0)
                return r;
        if (n == 0) {
                cniconf_names_free(names);
                return -EAGAIN;
        }
        *ret = path_join(in->s_net_dir, names[0]);
        cniconf_names_free(names);
        return *ret ? 0 : -ENOMEM;
}

/* §4.5 primary selection for a chained install: the named file (or its .conf/.conflist twin), or
 * the first valid file. -EAGAIN: nothing to install into yet. */
static int find_primary(struct installer *in, char **ret, char *err, size_t errsz) {
        _cleanup_free_ char *path = NULL, *twin = NULL;
        int r;

        if (!in->conf_name_explicit) {
                r = first_valid(in, ret);
                if (r == -EAGAIN)
                        return errbuf_set(err, errsz, r, "no valid CNI config in %s yet, waiting", in->s_net_dir);
                return r;
        }
        path = path_join(in->s_net_dir, in->s_conf_name);
        if (!path)
                return -ENOMEM;
        if (exists(path)) {
                *ret = TAKE_PTR(path);
                return 0;
        }
        if (ends_with(path, ".conf"))
                r = asprintf(&twin, "%slist", path);
        else if (ends_with(path, ".conflist"))
                r = asprintf(&twin, "%.*s", (int)(strlen(path) - 4), path);
        else
                r = 0;
        if (r < 0)
                return -ENOMEM;
        if (twin && exists(twin)) {
                *ret = TAKE_PTR(twin);
                return 0;
        }
        return errbuf_set(err, errsz, -EAGAIN, "CNI config %s does not exist yet, waiting", path);
}

/* Takes the first istio-cni entry out of a chained config, keeping the file's mode. Returns 1 when
 * one was removed, 0 when the file is gone or holds none, or -errno with err naming the path. */
static int remove_entry(const char *path, char *err, size_t errsz) {
        _cleanup_free_ char *content = NULL, *out = NULL;
        char e[256] = "";
        size_t len = 0;
        bool has = false;
        struct stat st;
        int r;

        if (stat(path, &st) < 0)
                return errno == ENOENT ? 0 : errbuf_set(err, errsz, -errno, "cannot stat %s: %s", path, strerror(errno));
        r = fileio_read_file(path, INSTALL_READ_MAX, &content, &len);
        if (r < 0)
                return r == -ENOENT ? 0 : errbuf_set(err, errsz, r, "cannot read %s: %s", path, strerror(-r));
        r = cniconf_has_istio(content, len, true, &has, e, sizeof e);
        if (r < 0)
                return errbuf_set(err, errsz, r, "cannot check %s: %s", path, strerror(-r));
        if (!has)
                return 0;
        r = cniconf_remove(content, len, &out, e, sizeof e);
        if (r < 0)
                return errbuf_set(err, errsz, r, "cannot remove istio-cni from %s: %s", path, e[0] ? e : strerror(-r));
        r = fileio_write_atomic(path, out, strlen(out), st.st_mode & 07777);
        if (r < 0)
                return errbuf_set(err, errsz, r, "cannot write %s: %s", path, strerror(-r));
        return 1;
}

/* Takes our entry out of a file we no longer target (best effort), so that no file keeps an
 * entry whose binary the uninstall will remove. */
static void unhook_old(struct installer *in, const char *old) {
        char e[512] = "";
        int r;

        if (!*old || !in->cfg.chained)
                return;
        r = remove_entry(old, e, sizeof e);
        if (r < 0)
                logf_(in, LOG_LEVEL_WARN, "could not remove the istio-cni entry from %s: %s, ignoring", old, e);
        else if (r > 0)
                logf_(in, LOG_LEVEL_INFO, "removed the istio-cni entry from %s (no longer the primary config)", old);
}

static mode_t own_file_mode(const struct installer *in) {
        return in->cfg.conf_group_read ? 0640 : 0600;
}

/* §4.7: insert the entry into the primary (chained), or write the standalone file. */
static int write_config(struct installer *in, char *err, size_t errsz) {
        _cleanup_free_ char *path = NULL, *entry = NULL, *content = NULL, *merged = NULL, *listpath = NULL;
        size_t len = 0;
        struct stat st;
        int r;

        if (!in->cfg.chained) {
                path = path_join(in->s_net_dir, *in->s_conf_name ? in->s_conf_name : INSTALL_STANDALONE_NAME);
                if (!path)
                        return -ENOMEM;
                r = cniconf_entry_render(&in->cfg.entry, true, &entry);
                if (r < 0)
                        return errbuf_set(err, errsz, r, "cannot render the plugin entry: %s", strerror(-r));
                r = fileio_write_atomic(path, entry, strlen(entry), own_file_mode(in));
                if (r < 0)
                        return errbuf_set(err, errsz, r, "cannot write %s: %s", path, strerror(-r));
                logf_(in, LOG_LEVEL_INFO, "wrote standalone CNI config %s", path);
                return set_conf_path(in, path);
        }
        r = find_primary(in, &path, err, errsz);
        if (r < 0)
                return r;
        if (*in->conf_path && !streq(in->conf_path, path))
                unhook_old(in, in->conf_path);
        r = fileio_read_file(path, INSTALL_READ_MAX, &content, &len);
        if (r == -ENOENT)
                return errbuf_set(err, errsz, -EAGAIN, "CNI config file %s removed during configuration", path);
        if (r < 0)
                return errbuf_set(err, errsz, r, "cannot read %s: %s", path, strerror(-r));
        if (stat(path, &st) < 0)
                return errbuf_set(err, errsz, -EAGAIN, "CNI config file %s removed during configuration", path);
        r = cniconf_entry_render(&in->cfg.entry, false, &entry);
        if (r < 0)
                return errbuf_set(err, errsz, r, "cannot render the plugin entry: %s", strerror(-r));
        {
                char e[512] = "";
                r = cniconf_insert(content, len, entry, &merged, e, sizeof e);
                if (r < 0)
                        return errbuf_set(err, errsz, r, "cannot insert istio-cni into %s: %s", path, e[0] ? e : strerror(-r));
        }
        /* Already exactly what we would write (an agent restart, a second agent): adopt it
         * without a rewrite, which would wake every other watcher of the conf dir. */
        if (strlen(merged) == len && memcmp(merged, content, len) == 0 && !ends_with(path, ".conf")) {
                logf_(in, LOG_LEVEL_INFO, "%s already holds the istio-cni entry", path);
                return set_conf_path(in, path);
        }
        /* Chained and not Istio-owned: keep the primary's own mode (§4.7 step 6). */
        r = fileio_write_atomic(path, merged, strlen(merged), st.st_mode & 07777);
        if (r < 0)
                return errbuf_set(err, errsz, r, "cannot write %s: %s", path, strerror(-r));
        if (ends_with(path, ".conf")) {
                /* §4.7 step 8: a converted .conf becomes the .conflist, by one atomic rename. */
                if (asprintf(&listpath, "%slist", path) < 0)
                        return -ENOMEM;
                if (rename(path, listpath) < 0)
                        return errbuf_set(err, errsz, -errno, "cannot rename %s to %s: %s", path, listpath, strerror(errno));
                logf_(in, LOG_LEVEL_INFO, "inserted istio-cni into %s and renamed it to %s", path, listpath);
                return set_conf_path(in, listpath);
        }
        logf_(in, LOG_LEVEL_INFO, "inserted istio-cni into %s", path);
        return set_conf_path(in, path);
}

int install_check(struct installer *in, bool *ret_valid, bool *ret_rival, char *why, size_t whysz) {
        _cleanup_free_ char *first = NULL, *content = NULL;
        struct file_id now;
        size_t len = 0;
        bool has = false;
        char e[256] = "";
        int r;

        *ret_valid = false;
        *ret_rival = false;
        r = first_valid(in, &first);
        if (r == -EAGAIN) {
                errbuf_set(why, whysz, 0, "no valid CNI config files in %s", in->s_net_dir);
                return 0;
        }
        if (r < 0)
                return errbuf_set(why, whysz, r, "cannot list %s: %s", in->s_net_dir, strerror(-r));
        if (!streq(first, in->conf_path)) {
                if (in->conf_name_explicit || !in->cfg.chained) {
                        /* Istio's behaviour for a name the operator chose: warn (once per file). */
                        if (*in->conf_path && (!in->preempted_by || !streq(in->preempted_by, first))) {
                                logf_(in, LOG_LEVEL_WARN, "CNI config file %s preempted by %s", in->conf_path, first);
                                free(in->preempted_by);
                                in->preempted_by = strdup(first);
                        }
                } else {
                        if (*in->conf_path)
                                logf_(in, LOG_LEVEL_WARN,
                                      "CNI config file %s now sorts before %s: the runtime uses it, moving the istio-cni "
                                      "entry there",
                                      first, in->conf_path);
                        errbuf_set(why, whysz, 0, "%s is the primary CNI config, perform initial update", first);
                        return 0;
                }
        }
        if (!*in->conf_path) {
                errbuf_set(why, whysz, 0, "no CNI config written yet");
                return 0;
        }
        file_id_take(in->conf_path, &now);
        *ret_rival = in->conf_id.known && !file_id_same(&now, &in->conf_id);
        in->conf_id = now;
        if (!now.known) {
                errbuf_set(why, whysz, 0, "CNI config file %s removed", in->conf_path);
                return 0;
        }
        r = fileio_read_file(in->conf_path, INSTALL_READ_MAX, &content, &len);
        if (r < 0) {
                errbuf_set(why, whysz, 0, "cannot read %s: %s", in->conf_path, strerror(-r));
                return 0;
        }
        r = cniconf_has_istio(content, len, in->cfg.chained, &has, e, sizeof e);
        if (r < 0)
                return errbuf_set(why, whysz, r, "cannot check %s: %s", in->conf_path, strerror(-r));
        if (!has) {
                errbuf_set(why, whysz, 0, "CNI config file %s modified: %s", in->conf_path,
                       e[0] ? e : "no istio-cni plugin entry");
                return 0;
        }
        /* Our binary must still be there too (someone may have cleaned the bin dir). */
        for (char **n = in->installed; *n; n++) {
                _cleanup_free_ char *p = path_join(in->s_dst, *n);
                if (!p)
                        return -ENOMEM;
                if (!exists(p)) {
                        errbuf_set(why, whysz, 0, "plugin binary %s removed", p);
                        return 0;
                }
        }
        *ret_valid = true;
        return 0;
}

int install_all(struct installer *in, enum install_result *ret_result, char *err, size_t errsz) {
        bool valid = false, rival = false;
        char why[512] = "";
        int r;

        *ret_result = INSTALL_COPY_BINARIES_FAILURE;
        r = copy_binaries(in, err, errsz);
        if (r < 0)
                return r;
        *ret_result = INSTALL_CREATE_KUBECONFIG_FAILURE;
        r = write_kubeconfig(in, err, errsz);
        if (r < 0)
                return r;
        *ret_result = INSTALL_CREATE_CNI_CONFIG_FAILURE;
        r = install_check(in, &valid, &rival, why, sizeof why);
        if (r < 0)
                return errbuf_set(err, errsz, r, "%s", why);
        if (!valid) {
                logf_(in, LOG_LEVEL_INFO, "CNI config needs an update: %s", why);
                r = write_config(in, err, errsz);
                if (r < 0)
                        return r;
        }
        *ret_result = INSTALL_SUCCESS;
        return 0;
}

int install_watch_paths(const struct installer *in, char ***ret) {
        size_t n = 0, i = 0;
        char **l;

        while (in->installed[n])
                n++;
        l = calloc(n + 3, sizeof(char *));
        if (!l)
                return -ENOMEM;
        for (; i < n; i++)
                if (!(l[i] = path_join(in->s_dst, in->installed[i])))
                        return strv_free(l), -ENOMEM;
        if (!(l[i++] = strdup(in->s_net_dir)) || !(l[i++] = strdup(in->s_sa)))
                return strv_free(l), -ENOMEM;
        *ret = l;
        return 0;
}

int install_cleanup(struct installer *in, char *err, size_t errsz) {
        _cleanup_free_ char *kc = NULL, *bin = NULL;
        int r;

        if (*in->conf_path && exists(in->conf_path)) {
                if (in->cfg.chained) {
                        r = remove_entry(in->conf_path, err, errsz);
                        if (r < 0)
                                return r;
                        if (r > 0)
                                logf_(in, LOG_LEVEL_INFO, "removed the istio-cni entry from %s", in->conf_path);
                } else {
                        if (unlink(in->conf_path) < 0 && errno != ENOENT)
                                return errbuf_set(err, errsz, -errno, "cannot remove %s: %s", in->conf_path, strerror(errno));
                        logf_(in, LOG_LEVEL_INFO, "removed %s", in->conf_path);
                }
        }
        kc = path_join(in->s_run_dir, INSTALL_KUBECONFIG_NAME);
        bin = path_join(in->s_dst, "istio-cni");
        if (!kc || !bin)
                return -ENOMEM;
        if (unlink(kc) < 0 && errno != ENOENT)
                return errbuf_set(err, errsz, -errno, "cannot remove %s: %s", kc, strerror(errno));
        if (unlink(bin) < 0 && errno != ENOENT)
                return errbuf_set(err, errsz, -errno, "cannot remove %s: %s", bin, strerror(errno));
        logf_(in, LOG_LEVEL_INFO, "removed %s and %s", kc, bin);
        return 0;
}
