/* SPDX-License-Identifier: Apache-2.0 */
/* cniconf.c: CNI config discovery, the istio-cni entry, merge and check (spec istio-cni.md §4.5,
 * §4.6, §4.7, §4.8, §4.11; libcni v1.3 libcni/conf.go, pkg/types NetConf; Istio
 * cni/pkg/install/cniconfig.go insertCNIConfig, install.go cleanup and checkValidCNIConfig). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent/cniconf.h"
#include "agent/gojson.h"
#include "base/fileio.h"
#include "base/errbuf.h"
#include "base/macro.h"


static const char *type_name(const gojson *v) {
        if (!v)
                return "missing";
        switch (v->type) {
        case GOJSON_NULL: return "null";
        case GOJSON_BOOL: return "a bool";
        case GOJSON_NUMBER: return "a number";
        case GOJSON_STRING: return "a string";
        case GOJSON_ARRAY: return "an array";
        case GOJSON_OBJECT: return "an object";
        }
        return "?";
}

/* ---- the entry (§4.6) ---- */

static int obj_add(gojson *obj, const char *key, gojson *v) {
        if (!v)
                return -ENOMEM;
        return gojson_object_set(obj, key, v);
}

static gojson *str_or_empty(const char *s) {
        return gojson_new_string(s ? s : "", s ? strlen(s) : 0);
}

int cniconf_entry_render(const struct cniconf_entry *e, bool pretty, char **ret) {
        _cleanup_gojson_ gojson *o = gojson_new(GOJSON_OBJECT), *sel = NULL, *ex = NULL;
        int r;

        if (!e || !ret)
                return -EINVAL;
        if (!o)
                return -ENOMEM;
        if (e->enablement_selectors_json && *e->enablement_selectors_json) {
                r = gojson_parse(e->enablement_selectors_json, strlen(e->enablement_selectors_json), 64, &sel, NULL, 0);
                if (r < 0)
                        return r;
                if (sel->type != GOJSON_ARRAY)
                        return -EINVAL;
        } else {
                sel = gojson_new(GOJSON_ARRAY);
                if (!sel)
                        return -ENOMEM;
        }
        if (e->n_exclude_namespaces == 0)
                ex = gojson_new(GOJSON_NULL);
        else {
                ex = gojson_new(GOJSON_ARRAY);
                for (size_t i = 0; ex && i < e->n_exclude_namespaces; i++) {
                        r = gojson_array_append(ex, str_or_empty(e->exclude_namespaces[i]));
                        if (r < 0)
                                return r;
                }
        }
        if (!ex)
                return -ENOMEM;

        if ((r = obj_add(o, "cniVersion", gojson_new_string("0.3.1", 5))) < 0 ||
            (r = obj_add(o, "name", gojson_new_string("istio-cni", 9))) < 0 ||
            (r = obj_add(o, "type", gojson_new_string("istio-cni", 9))) < 0 ||
            (r = obj_add(o, "ipam", gojson_new(GOJSON_OBJECT))) < 0 ||
            (r = obj_add(o, "dns", gojson_new(GOJSON_OBJECT))) < 0 ||
            (r = obj_add(o, "plugin_log_level", str_or_empty(e->plugin_log_level))) < 0 ||
            (r = obj_add(o, "cni_agent_run_dir", str_or_empty(e->cni_agent_run_dir))) < 0 ||
            (r = obj_add(o, "ambient_enabled", gojson_new_bool(e->ambient_enabled))) < 0 ||
            (r = obj_add(o, "enablement_selectors", TAKE_PTR(sel))) < 0 ||
            (r = obj_add(o, "exclude_namespaces", TAKE_PTR(ex))) < 0 ||
            (r = obj_add(o, "pod_namespace", str_or_empty(e->pod_namespace))) < 0 ||
            (r = obj_add(o, "native_nftables", gojson_new_bool(e->native_nftables))) < 0 ||
            (r = obj_add(o, "enable_ambient_detection_retry", gojson_new_bool(e->enable_ambient_detection_retry))) < 0)
                return r;
        return gojson_format(o, pretty ? GOJSON_INDENT | GOJSON_NEWLINE : 0, ret, NULL);
}

/* ---- libcni validity (§4.5) ---- */

/* Go's case-insensitive struct field match (foldName): ASCII letters fold, and so do U+017F (ſ)
 * and U+212A (Kelvin sign), whose simple fold orbits contain 's' and 'k'. field is lower case. */
static bool field_fold_eq(const char *key, size_t key_len, const char *field) {
        const unsigned char *k = (const unsigned char *)key;
        size_t i = 0;

        for (const char *f = field; *f; f++) {
                if (i >= key_len)
                        return false;
                if (*f == 's' && i + 1 < key_len && k[i] == 0xC5 && k[i + 1] == 0xBF) {
                        i += 2;
                        continue;
                }
                if (*f == 'k' && i + 2 < key_len && k[i] == 0xE2 && k[i + 1] == 0x84 && k[i + 2] == 0xAA) {
                        i += 3;
                        continue;
                }
                unsigned char c = k[i];
                if (c >= 'A' && c <= 'Z')
                        c = (unsigned char)(c - 'A' + 'a');
                if (c != (unsigned char)*f)
                        return false;
                i++;
        }
        return i == key_len;
}

/* The members of obj in the order Go's decoder sees them: the document order when decoding the
 * file's bytes, or sorted with duplicates dropped when libcni decodes a re-marshalled map. */
static int member_order(const gojson *obj, bool sorted, const struct gojson_member ***ret, size_t *ret_n);

static int check_string(const gojson *v, const char *what, char *err, size_t errsz) {
        if (v->type == GOJSON_STRING || v->type == GOJSON_NULL)
                return 0;
        return errbuf_set(err, errsz, -EINVAL, "cannot unmarshal %s into \"%s\" of type string", type_name(v), what);
}

static int check_string_list(const gojson *v, const char *what, char *err, size_t errsz) {
        if (v->type == GOJSON_NULL)
                return 0;
        if (v->type != GOJSON_ARRAY)
                return errbuf_set(err, errsz, -EINVAL, "cannot unmarshal %s into \"%s\" of type []string", type_name(v), what);
        for (size_t i = 0; i < v->n_items; i++)
                if (check_string(v->items[i], what, err, errsz) < 0)
                        return -EINVAL;
        return 0;
}

/* Decodes a struct whose fields are all strings or []string (IPAM, DNS, GCAttachment). */
static int check_struct(const gojson *v, const char *what, const char *const *str_fields,
                        const char *const *list_fields, char *err, size_t errsz) {
        if (v->type == GOJSON_NULL)
                return 0;
        if (v->type != GOJSON_OBJECT)
                return errbuf_set(err, errsz, -EINVAL, "cannot unmarshal %s into \"%s\" (an object)", type_name(v), what);
        for (size_t i = 0; i < v->n_members; i++) {
                const struct gojson_member *m = &v->members[i];
                for (size_t j = 0; str_fields && str_fields[j]; j++)
                        if (field_fold_eq(m->key, m->key_len, str_fields[j]) && check_string(m->value, str_fields[j], err, errsz) < 0)
                                return -EINVAL;
                for (size_t j = 0; list_fields && list_fields[j]; j++)
                        if (field_fold_eq(m->key, m->key_len, list_fields[j]) &&
                            check_string_list(m->value, list_fields[j], err, errsz) < 0)
                                return -EINVAL;
        }
        return 0;
}

/* json.Unmarshal into libcni's types.PluginConf, then "type" must be non-empty. */
static int check_plugin(const gojson *v, bool sorted, char *err, size_t errsz) {
        static const char *const ipam_str[] = { "type", NULL };
        static const char *const dns_str[] = { "domain", NULL };
        static const char *const dns_list[] = { "nameservers", "search", "options", NULL };
        static const char *const att_str[] = { "containerid", "ifname", NULL };
        _cleanup_free_ const struct gojson_member **order = NULL;
        const gojson *type = NULL;
        size_t n;
        int r;

        if (!v || v->type != GOJSON_OBJECT)
                return errbuf_set(err, errsz, -EINVAL, "the plugin config is %s, not an object", type_name(v));
        r = member_order(v, sorted, &order, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                const char *k = order[i]->key;
                size_t kl = order[i]->key_len;
                const gojson *x = order[i]->value;

                if (field_fold_eq(k, kl, "cniversion") || field_fold_eq(k, kl, "name")) {
                        if (check_string(x, k, err, errsz) < 0)
                                return -EINVAL;
                } else if (field_fold_eq(k, kl, "type")) {
                        if (check_string(x, "type", err, errsz) < 0)
                                return -EINVAL;
                        /* null leaves the field as it was; a later key overrides. */
                        if (x->type == GOJSON_STRING)
                                type = x;
                } else if (field_fold_eq(k, kl, "capabilities")) {
                        if (x->type != GOJSON_NULL && x->type != GOJSON_OBJECT)
                                return errbuf_set(err, errsz, -EINVAL, "cannot unmarshal %s into \"capabilities\" of type map[string]bool",
                                              type_name(x));
                        for (size_t j = 0; x->type == GOJSON_OBJECT && j < x->n_members; j++) {
                                const gojson *c = x->members[j].value;
                                if (c->type != GOJSON_BOOL && c->type != GOJSON_NULL)
                                        return errbuf_set(err, errsz, -EINVAL, "cannot unmarshal %s into a \"capabilities\" value of type bool",
                                                      type_name(c));
                        }
                } else if (field_fold_eq(k, kl, "ipam")) {
                        if (check_struct(x, "ipam", ipam_str, NULL, err, errsz) < 0)
                                return -EINVAL;
                } else if (field_fold_eq(k, kl, "dns")) {
                        if (check_struct(x, "dns", dns_str, dns_list, err, errsz) < 0)
                                return -EINVAL;
                } else if (field_fold_eq(k, kl, "prevresult")) {
                        if (x->type != GOJSON_NULL && x->type != GOJSON_OBJECT)
                                return errbuf_set(err, errsz, -EINVAL, "cannot unmarshal %s into \"prevResult\" (an object)", type_name(x));
                } else if (field_fold_eq(k, kl, "cni.dev/valid-attachments")) {
                        if (x->type != GOJSON_NULL && x->type != GOJSON_ARRAY)
                                return errbuf_set(err, errsz, -EINVAL, "cannot unmarshal %s into \"cni.dev/valid-attachments\" (an array)",
                                              type_name(x));
                        for (size_t j = 0; x->type == GOJSON_ARRAY && j < x->n_items; j++)
                                if (check_struct(x->items[j], "cni.dev/valid-attachments", att_str, NULL, err, errsz) < 0)
                                        return -EINVAL;
                }
        }
        if (!type || type->len == 0)
                return errbuf_set(err, errsz, -EINVAL, "missing 'type'");
        return 0;
}

static int member_cmp(const void *a, const void *b) {
        const struct gojson_member *x = *(const struct gojson_member *const *)a;
        const struct gojson_member *y = *(const struct gojson_member *const *)b;
        size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
        int c = memcmp(x->key, y->key, n);
        if (c != 0)
                return c;
        if (x->key_len != y->key_len)
                return x->key_len < y->key_len ? -1 : 1;
        return x < y ? -1 : x > y;
}

static int member_order(const gojson *obj, bool sorted, const struct gojson_member ***ret, size_t *ret_n) {
        const struct gojson_member **order = calloc(obj->n_members ? obj->n_members : 1, sizeof *order);
        size_t n = 0;

        if (!order)
                return -ENOMEM;
        for (size_t i = 0; i < obj->n_members; i++)
                order[i] = &obj->members[i];
        if (!sorted) {
                *ret = order;
                *ret_n = obj->n_members;
                return 0;
        }
        qsort(order, obj->n_members, sizeof *order, member_cmp);
        for (size_t i = 0; i < obj->n_members; i++) {
                if (i + 1 < obj->n_members && order[i]->key_len == order[i + 1]->key_len && memcmp(order[i]->key, order[i + 1]->key, order[i]->key_len) == 0)
                        continue;
                order[n++] = order[i];
        }
        *ret = order;
        *ret_n = n;
        return 0;
}

static bool is_digit_c(char c) { return c >= '0' && c <= '9'; }

/* libcni version.ParseVersion: up to three dot-separated strconv.Atoi parts ("" is 0.1.0). */
static bool version_ok(const gojson *v) {
        const char *s = v->str, *end = v->str + v->len;
        int parts = 0;

        if (v->len == 0)
                return true;
        for (;;) {
                const char *dot = memchr(s, '.', (size_t)(end - s));
                const char *pe = dot ? dot : end;
                const char *q = s;
                size_t nd = 0;

                if (++parts > 3)
                        return false;
                if (q < pe && (*q == '+' || *q == '-'))
                        q++;
                for (; q < pe; q++, nd++)
                        if (!is_digit_c(*q))
                                return false;
                /* An int64 holds 18 digits safely; Atoi fails past 9223372036854775807. */
                if (nd == 0 || nd > 19)
                        return false;
                if (nd == 19) {
                        const char *d = pe - 19;
                        if (memcmp(d, "9223372036854775807", 19) > 0 &&
                            !(s[0] == '-' && memcmp(d, "9223372036854775808", 19) == 0))
                                return false;
                }
                if (!dot)
                        return true;
                s = dot + 1;
        }
}

/* libcni's readBool: absent false; a bool; or the string "true"/"false" in any case. */
static int read_bool(const gojson *list, const char *key, bool *ret, char *err, size_t errsz) {
        const gojson *v = gojson_get(list, key);

        *ret = false;
        if (!v)
                return 0;
        if (v->type == GOJSON_BOOL) {
                *ret = v->boolean;
                return 0;
        }
        if (v->type == GOJSON_STRING && v->len == 4 && strncasecmp(v->str, "true", 4) == 0) {
                *ret = true;
                return 0;
        }
        if (v->type == GOJSON_STRING && v->len == 5 && strncasecmp(v->str, "false", 5) == 0)
                return 0;
        if (v->type == GOJSON_STRING)
                return errbuf_set(err, errsz, -EINVAL, "invalid value \"%.64s\" for %s", v->str, key);
        return errbuf_set(err, errsz, -EINVAL, "invalid type (%s) for %s", type_name(v), key);
}

/* libcni NetworkPluginConfsFromFiles: <dir>/<name>/<file>.conf (no dir: none); returns the count. */
static int load_plugin_dir(const char *dir, const gojson *name, char *err, size_t errsz) {
        _cleanup_free_ char *path = NULL;
        struct dirent **ents = NULL;
        int n, count = 0, r = 0;

        if (memchr(name->str, '\0', name->len))
                return errbuf_set(err, errsz, -EINVAL, "failed to read plugin config files: network name contains a NUL byte");
        if (asprintf(&path, "%s/%s", dir, name->str) < 0)
                return -ENOMEM;
        n = scandir(path, &ents, NULL, alphasort);
        if (n < 0) {
                if (errno == ENOENT)
                        return 0;
                return errbuf_set(err, errsz, -EINVAL, "failed to read plugin config files in %s: %s", path, strerror(errno));
        }
        for (int i = 0; i < n; i++) {
                const char *fn = ents[i]->d_name, *dot = strrchr(fn, '.');
                _cleanup_free_ char *fp = NULL, *buf = NULL;
                _cleanup_gojson_ gojson *v = NULL;
                char perr[256];
                size_t len;
                struct stat st;

                if (r < 0 || !dot || strcmp(dot, ".conf") != 0)
                        continue;
                if (asprintf(&fp, "%s/%s", path, fn) < 0) {
                        r = -ENOMEM;
                        continue;
                }
                /* ReadDir's IsDir() does not follow symlinks; a directory is skipped silently. */
                if (fstatat(AT_FDCWD, fp, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
                        continue;
                int k = fileio_read_file(fp, CNICONF_MAX_SIZE, &buf, &len);
                if (k < 0) {
                        r = errbuf_set(err, errsz, -EINVAL, "failed to read plugin config file %s: %s", fp, strerror(-k));
                        continue;
                }
                k = gojson_parse(buf, len, GOJSON_MAX_DEPTH, &v, perr, sizeof perr);
                if (k == -ENOMEM) {
                        r = k;
                        continue;
                }
                if (k < 0 || check_plugin(v, false, perr, sizeof perr) < 0) {
                        r = errbuf_set(err, errsz, -EINVAL, "plugin config file %s: error parsing configuration: %s", fp, perr);
                        continue;
                }
                count++;
        }
        for (int i = 0; i < n; i++)
                free(ents[i]);
        free(ents);
        return r < 0 ? r : count;
}

/* libcni NetworkConfFromBytes (+ NetworkConfFromFile's plugin directory when dir is set). */
static int check_conflist(const gojson *list, const char *dir, char *err, size_t errsz) {
        const gojson *name, *ver, *vers, *plugins;
        bool only_inlined, b;
        char perr[256];
        int n = 0, r;

        if (list->type == GOJSON_NULL)
                return errbuf_set(err, errsz, -EINVAL, "error parsing configuration list: no name");
        if (list->type != GOJSON_OBJECT)
                return errbuf_set(err, errsz, -EINVAL, "error parsing configuration list: the top level is %s, not an object",
                              type_name(list));
        name = gojson_get(list, "name");
        if (!name)
                return errbuf_set(err, errsz, -EINVAL, "error parsing configuration list: no name");
        if (name->type != GOJSON_STRING)
                return errbuf_set(err, errsz, -EINVAL, "error parsing configuration list: invalid name type (%s)", type_name(name));
        ver = gojson_get(list, "cniVersion");
        if (ver && ver->type != GOJSON_STRING)
                return errbuf_set(err, errsz, -EINVAL, "error parsing configuration list: invalid cniVersion type (%s)", type_name(ver));
        vers = gojson_get(list, "cniVersions");
        if (vers) {
                if (vers->type != GOJSON_ARRAY)
                        return errbuf_set(err, errsz, -EINVAL, "error parsing configuration list: invalid type for cniVersions (%s)",
                                      type_name(vers));
                for (size_t i = 0; i < vers->n_items; i++) {
                        const gojson *x = vers->items[i];
                        if (x->type != GOJSON_STRING)
                                return errbuf_set(err, errsz, -EINVAL, "error parsing configuration list: invalid type for cniVersions index %zu (%s)",
                                              i, type_name(x));
                        if (!version_ok(x))
                                return errbuf_set(err, errsz, -EINVAL, "error parsing configuration list: invalid cniVersions entry \"%.64s\" at index %zu",
                                              x->str, i);
                }
                if (ver && !version_ok(ver))
                        return errbuf_set(err, errsz, -EINVAL, "error parsing configuration list: invalid cniVersion \"%.64s\"", ver->str);
        }
        if (read_bool(list, "disableCheck", &b, perr, sizeof perr) < 0 ||
            read_bool(list, "disableGC", &b, perr, sizeof perr) < 0 ||
            read_bool(list, "loadOnlyInlinedPlugins", &only_inlined, perr, sizeof perr) < 0)
                return errbuf_set(err, errsz, -EINVAL, "error parsing configuration list: %s", perr);

        plugins = gojson_get(list, "plugins");
        if (!plugins && only_inlined)
                return errbuf_set(err, errsz, -EINVAL, "error parsing configuration list: `loadOnlyInlinedPlugins` is true, and no 'plugins' key");
        if (plugins) {
                if (plugins->type != GOJSON_ARRAY)
                        return errbuf_set(err, errsz, -EINVAL, "error parsing configuration list: invalid 'plugins' type (%s)", type_name(plugins));
                if (plugins->n_items == 0)
                        return errbuf_set(err, errsz, -EINVAL, "error parsing configuration list: no plugins in list");
                for (size_t i = 0; i < plugins->n_items; i++) {
                        /* libcni re-marshals each element (Go map order) and decodes that. */
                        r = check_plugin(plugins->items[i], true, perr, sizeof perr);
                        if (r == -ENOMEM)
                                return r;
                        if (r < 0)
                                return errbuf_set(err, errsz, -EINVAL, "failed to parse plugin config %zu: error parsing configuration: %s", i, perr);
                        n++;
                }
        }
        if (dir && !only_inlined) {
                r = load_plugin_dir(dir, name, err, errsz);
                if (r < 0)
                        return r;
                n += r;
        }
        if (n == 0)
                return errbuf_set(err, errsz, -EINVAL, "no plugin configs found");
        return 0;
}

int cniconf_check_content(const char *content, size_t len, bool conflist, const char *dir, char *err, size_t errsz) {
        _cleanup_gojson_ gojson *v = NULL;
        char perr[256];
        int r;

        r = gojson_parse(content, len, GOJSON_MAX_DEPTH, &v, perr, sizeof perr);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                errbuf_set(err, errsz, -EINVAL, "error parsing configuration%s: %s", conflist ? " list" : "", perr);
                return 0;
        }
        if (conflist)
                r = check_conflist(v, dir, err, errsz);
        else {
                /* libcni ConfFromBytes decodes the file as it is, then ConfListFromConf wraps the
                 * re-marshalled map into a one-plugin list and decodes that again. */
                r = check_plugin(v, false, perr, sizeof perr);
                if (r == 0)
                        r = check_plugin(v, true, perr, sizeof perr);
                if (r == -EINVAL) {
                        if (strstr(perr, "missing 'type'"))
                                errbuf_set(err, errsz, -EINVAL, "error parsing configuration: missing 'type' (perhaps this is a .conflist?)");
                        else
                                errbuf_set(err, errsz, -EINVAL, "error parsing configuration: %s", perr);
                }
        }
        if (r == -ENOMEM)
                return r;
        return r == 0;
}

char **cniconf_names_free(char **names) {
        return strv_free(names);
}

static int name_cmp(const void *a, const void *b) {
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool has_conf_ext(const char *name) {
        const char *dot = strrchr(name, '.');
        return dot && (streq(dot, ".conf") || streq(dot, ".conflist"));
}

int cniconf_list_valid(const char *dir, cniconf_skip_fn skip, void *userdata, char ***ret_names, size_t *ret_n) {
        _cleanup_strv_free_ char **cand = NULL, **valid = NULL;
        size_t nc = 0, cap = 0, nv = 0;
        DIR *d;
        int r = 0;

        if (!dir || !ret_names)
                return -EINVAL;
        d = opendir(dir);
        if (!d) {
                if (errno != ENOENT)
                        return -errno;
        } else {
                for (struct dirent *de; (errno = 0, de = readdir(d));) {
                        struct stat st;

                        if (!has_conf_ext(de->d_name))
                                continue;
                        if (de->d_type == DT_DIR)
                                continue;
                        if (de->d_type == DT_UNKNOWN && fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                            S_ISDIR(st.st_mode))
                                continue;
                        if (nc + 1 >= cap) {
                                size_t ncap = cap ? cap * 2 : 16;
                                char **n = reallocarray(cand, ncap, sizeof *cand);
                                if (!n) {
                                        r = -ENOMEM;
                                        break;
                                }
                                cand = n;
                                cap = ncap;
                        }
                        cand[nc] = strdup(de->d_name);
                        if (!cand[nc]) {
                                r = -ENOMEM;
                                break;
                        }
                        cand[++nc] = NULL;
                }
                if (r == 0 && errno != 0)
                        r = -errno;
                closedir(d);
                if (r < 0)
                        return r;
        }
        if (nc > 0)
                qsort(cand, nc, sizeof *cand, name_cmp);

        valid = calloc(nc + 1, sizeof *valid);
        if (!valid)
                return -ENOMEM;
        for (size_t i = 0; i < nc; i++) {
                _cleanup_free_ char *path = NULL, *buf = NULL;
                char reason[512];
                size_t len;
                bool conflist = streq(strrchr(cand[i], '.'), ".conflist");

                if (asprintf(&path, "%s/%s", dir, cand[i]) < 0)
                        return -ENOMEM;
                r = fileio_read_file(path, CNICONF_MAX_SIZE, &buf, &len);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        snprintf(reason, sizeof reason, "cannot read: %s",
                                 r == -EFBIG ? "larger than 4 MiB" : r == -EBADFD ? "not a regular file" : strerror(-r));
                        if (skip)
                                skip(userdata, cand[i], reason);
                        continue;
                }
                reason[0] = '\0';
                r = cniconf_check_content(buf, len, conflist, dir, reason, sizeof reason);
                if (r < 0)
                        return r;
                if (r == 0) {
                        if (skip)
                                skip(userdata, cand[i], reason);
                        continue;
                }
                /* A copy: cand stays a NULL-terminated list its cleanup can free whole. */
                valid[nv] = strdup(cand[i]);
                if (!valid[nv])
                        return -ENOMEM;
                nv++;
        }
        *ret_names = TAKE_PTR(valid);
        if (ret_n)
                *ret_n = nv;
        return 0;
}

/* ---- insert / remove / check (§4.7, §4.8, §4.11) ---- */

static int format_file(const gojson *v, char **ret) {
        return gojson_format(v, GOJSON_SORT | GOJSON_INDENT | GOJSON_NEWLINE, ret, NULL);
}

/* What we write must read back (our own check, the next merge, the runtime's parser): a converted
 * .conf sits two levels deeper than it was. */
static int format_merged(const gojson *v, char **ret, char *err, size_t errsz) {
        if (gojson_depth(v) > GOJSON_MAX_DEPTH)
                return errbuf_set(err, errsz, -EINVAL, "existing CNI config: the merged config would be nested deeper than %u levels",
                              GOJSON_MAX_DEPTH);
        return format_file(v, ret);
}

/* Parses an existing config file: a JSON object. */
static int parse_existing(const char *existing, size_t len, gojson **ret, char *err, size_t errsz) {
        _cleanup_gojson_ gojson *v = NULL;
        char perr[256];
        int r;

        if (!existing)
                return errbuf_set(err, errsz, -EINVAL, "existing CNI config: no content");
        r = gojson_parse(existing, len, GOJSON_MAX_DEPTH, &v, perr, sizeof perr);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return errbuf_set(err, errsz, -EINVAL, "error loading existing CNI config (JSON error): %s", perr);
        if (v->type != GOJSON_OBJECT)
                return errbuf_set(err, errsz, -EINVAL, "existing CNI config: the top level is %s, not an object", type_name(v));
        *ret = TAKE_PTR(v);
        return 0;
}

static gojson *get_plugins(gojson *conf, char *err, size_t errsz) {
        gojson *plugins = gojson_get(conf, "plugins");

        if (!plugins) {
                errbuf_set(err, errsz, -EINVAL, "existing CNI config: no \"plugins\" list (and no top-level \"type\")");
                return NULL;
        }
        if (plugins->type != GOJSON_ARRAY) {
                errbuf_set(err, errsz, -EINVAL, "existing CNI config: \"plugins\" is %s, not an array", type_name(plugins));
                return NULL;
        }
        return plugins;
}

int cniconf_insert(const char *existing, size_t len, const char *entry_json, char **ret, char *err, size_t errsz) {
        _cleanup_gojson_ gojson *conf = NULL, *entry = NULL, *out = NULL;
        char perr[256];
        int r;

        if (!ret || !entry_json)
                return -EINVAL;
        r = gojson_parse(entry_json, strlen(entry_json), GOJSON_MAX_DEPTH, &entry, perr, sizeof perr);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return errbuf_set(err, errsz, -EINVAL, "istio-cni plugin entry: %s", perr);
        if (entry->type != GOJSON_OBJECT)
                return errbuf_set(err, errsz, -EINVAL, "istio-cni plugin entry is %s, not an object", type_name(entry));
        r = parse_existing(existing, len, &conf, err, errsz);
        if (r < 0)
                return r;
        gojson_object_del(entry, "cniVersion");

        if (gojson_get(conf, "type")) {
                /* A single-plugin .conf: wrap it and our entry into a 0.3.1 list (Istio's quirk). */
                gojson *plugins;

                gojson_object_del(conf, "cniVersion");
                out = gojson_new(GOJSON_OBJECT);
                plugins = gojson_new(GOJSON_ARRAY);
                if (!out || !plugins) {
                        gojson_free(plugins);
                        return -ENOMEM;
                }
                if ((r = gojson_array_append(plugins, TAKE_PTR(conf))) < 0 ||
                    (r = gojson_array_append(plugins, TAKE_PTR(entry))) < 0) {
                        gojson_free(plugins);
                        return r;
                }
                if ((r = obj_add(out, "name", gojson_new_string("k8s-pod-network", 15))) < 0 ||
                    (r = obj_add(out, "cniVersion", gojson_new_string("0.3.1", 5))) < 0 ||
                    (r = gojson_object_set(out, "plugins", plugins)) < 0)
                        return r;
                return format_merged(out, ret, err, errsz);
        }

        gojson *plugins = get_plugins(conf, err, errsz);
        if (!plugins)
                return -EINVAL;
        /* Every element must be a plugin object. Every istio-cni entry goes (Istio removes only the
         * first), so the result always holds exactly one, last. */
        for (size_t i = 0; i < plugins->n_items; i++)
                if (plugins->items[i]->type != GOJSON_OBJECT)
                        return errbuf_set(err, errsz, -EINVAL, "existing CNI config: plugin %zu is %s, not an object", i,
                                      type_name(plugins->items[i]));
        for (size_t i = plugins->n_items; i > 0; i--)
                if (gojson_is_str(gojson_get(plugins->items[i - 1], "type"), "istio-cni"))
                        gojson_array_remove(plugins, i - 1);
        r = gojson_array_append(plugins, TAKE_PTR(entry));
        if (r < 0)
                return r;
        /* With duplicate "plugins" keys the last is the one we edited, and the one written. */
        return format_merged(conf, ret, err, errsz);
}

int cniconf_remove(const char *existing, size_t len, char **ret, char *err, size_t errsz) {
        _cleanup_gojson_ gojson *conf = NULL;
        gojson *plugins;
        int r;

        if (!ret)
                return -EINVAL;
        r = parse_existing(existing, len, &conf, err, errsz);
        if (r < 0)
                return r;
        plugins = get_plugins(conf, err, errsz);
        if (!plugins)
                return -EINVAL;
        for (size_t i = 0; i < plugins->n_items; i++) {
                if (plugins->items[i]->type != GOJSON_OBJECT)
                        return errbuf_set(err, errsz, -EINVAL, "existing CNI config: plugin %zu is %s, not an object", i,
                                      type_name(plugins->items[i]));
                if (gojson_is_str(gojson_get(plugins->items[i], "type"), "istio-cni")) {
                        gojson_array_remove(plugins, i);
                        break;
                }
        }
        return format_file(conf, ret);
}

int cniconf_has_istio(const char *content, size_t len, bool chained, bool *ret_has, char *err, size_t errsz) {
        _cleanup_gojson_ gojson *conf = NULL;
        bool found = false;
        int r;

        if (!ret_has)
                return -EINVAL;
        if (err && errsz)
                err[0] = '\0';
        *ret_has = false;
        r = parse_existing(content, len, &conf, err, errsz);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return 0;
        if (!chained) {
                const gojson *type = gojson_get(conf, "type");
                if (gojson_is_str(type, "istio-cni"))
                        *ret_has = true;
                else
                        errbuf_set(err, errsz, -EINVAL, "the top-level type is %s%s%.64s%s, not \"istio-cni\"",
                               type && type->type == GOJSON_STRING ? "" : type_name(type),
                               type && type->type == GOJSON_STRING ? "\"" : "",
                               type && type->type == GOJSON_STRING ? type->str : "",
                               type && type->type == GOJSON_STRING ? "\"" : "");
                return 0;
        }
        const gojson *plugins = get_plugins(conf, err, errsz);
        if (!plugins)
                return 0;
        for (size_t i = 0; i < plugins->n_items; i++) {
                const gojson *p = plugins->items[i];
                if (p->type != GOJSON_OBJECT) {
                        errbuf_set(err, errsz, -EINVAL, "plugin %zu is %s, not an object", i, type_name(p));
                        return 0;
                }
                /* Like Istio (plugin["type"] == "istio-cni"), any other "type" — missing, or not a
                 * string — is just not ours: calling it an error would make the agent rewrite a file
                 * that cniconf_insert() accepts on every pass. */
                if (gojson_is_str(gojson_get(p, "type"), "istio-cni"))
                        found = true;
        }
        if (!found)
                errbuf_set(err, errsz, -EINVAL, "no plugin of type \"istio-cni\" in the plugin list");
        *ret_has = found;
        return 0;
}
