/* SPDX-License-Identifier: Apache-2.0 */
/* cni.c: CNI protocol handling for istio-cni: env, stdin config, CNI_ARGS, result versions.
 * Spec: istio-cni.md §2.1–§2.3, §2.11–§2.13, §7. Behaviour follows libcni v1.3.0 (skel, types/
 * 020, 040, 100) because that is what runtimes have been tested against. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cni/cni.h"
#include "base/env.h"
#include "base/jsonesc.h"
#include "base/macro.h"

extern char **environ;

static const char *const cni_versions[CNI_V_MAX] = { "0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0" };
#define CNI_SUPPORTED "0.1.0, 0.2.0, 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0"
#define CNI_SUPPORTED_GO "[0.1.0 0.2.0 0.3.0 0.3.1 0.4.0 1.0.0 1.1.0]"

int cni_error_set(struct cni_error *err, int code, const char *details, const char *fmt, ...) {
        va_list ap;

        if (!err)
                return -EINVAL;
        err->code = code;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        snprintf(err->details, sizeof err->details, "%s", details ? details : "");
        return -EINVAL;
}

int cni_version_parse(const char *s, enum cni_version *ret) {
        for (int i = 0; s && i < CNI_V_MAX; i++)
                if (streq(s, cni_versions[i])) {
                        *ret = (enum cni_version)i;
                        return 0;
                }
        return -EINVAL;
}

const char *cni_version_to_string(enum cni_version v) {
        return v < CNI_V_MAX ? cni_versions[v] : "?";
}

const char *cni_version_reply(void) {
        return "{\"cniVersion\":\"1.1.0\",\"supportedVersions\":[\"0.1.0\",\"0.2.0\",\"0.3.0\",\"0.3.1\","
               "\"0.4.0\",\"1.0.0\",\"1.1.0\"]}\n";
}

const char *cni_about(void) {
        return "CNI plugin istio-cni " CNIBOX_VERSION "\nCNI protocol versions supported: " CNI_SUPPORTED "\n";
}

/* ---- JSON output, Go encoding/json style ---- */

struct buf {
        char *p;
        size_t n, cap;
        bool oom;
};

static void buf_add(struct buf *b, const char *s, size_t n) {
        if (b->oom)
                return;
        if (b->n + n + 1 > b->cap) {
                size_t cap = b->cap ? b->cap * 2 : 256;
                while (cap < b->n + n + 1)
                        cap *= 2;
                char *p = realloc(b->p, cap);
                if (!p) {
                        b->oom = true;
                        return;
                }
                b->p = p;
                b->cap = cap;
        }
        memcpy(b->p + b->n, s, n);
        b->n += n;
        b->p[b->n] = 0;
}

static void buf_puts(struct buf *b, const char *s) { buf_add(b, s, strlen(s)); }

static void buf_printf(struct buf *b, const char *fmt, ...) _printf_(2, 3);
static void buf_printf(struct buf *b, const char *fmt, ...) {
        char tmp[64];
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
        va_end(ap);
        if (n > 0)
                buf_add(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static void json_string(struct buf *b, const char *s) {
        buf_puts(b, "\"");
        for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
                /* Go's escapes, as this writer has always made them: \b and \f stay \u0008, \u000c. */
                char e[7];
                size_t n = jsonesc_byte(*c, JSONESC_SHORT_NRT | JSONESC_HTML, e);
                buf_add(b, n ? e : (const char *)c, n ? n : 1);
        }
        buf_puts(b, "\"");
}

static void json_indent(struct buf *b, int indent, int depth) {
        buf_puts(b, "\n");
        for (int i = 0; i < indent * depth; i++)
                buf_puts(b, " ");
}

static void json_value(struct buf *b, const cJSON *v, int indent, int depth) {
        if (cJSON_IsObject(v) || cJSON_IsArray(v)) {
                bool obj = cJSON_IsObject(v);
                const cJSON *c = v->child;
                buf_puts(b, obj ? "{" : "[");
                if (!c) {
                        buf_puts(b, obj ? "}" : "]");
                        return;
                }
                for (; c; c = c->next) {
                        if (indent)
                                json_indent(b, indent, depth + 1);
                        if (obj) {
                                json_string(b, c->string ? c->string : "");
                                buf_puts(b, indent ? ": " : ":");
                        }
                        json_value(b, c, indent, depth + 1);
                        if (c->next)
                                buf_puts(b, ",");
                }
                if (indent)
                        json_indent(b, indent, depth);
                buf_puts(b, obj ? "}" : "]");
        } else if (cJSON_IsString(v))
                json_string(b, v->valuestring ? v->valuestring : "");
        else if (cJSON_IsNumber(v)) {
                double d = v->valuedouble;
                if (isfinite(d) && d == floor(d) && fabs(d) < 9007199254740992.0)
                        buf_printf(b, "%lld", (long long)d);
                else if (isfinite(d))
                        buf_printf(b, "%.17g", d);
                else
                        buf_puts(b, "null");
        } else if (cJSON_IsTrue(v))
                buf_puts(b, "true");
        else if (cJSON_IsFalse(v))
                buf_puts(b, "false");
        else
                buf_puts(b, "null");
}

char *cni_json_print(const cJSON *item, int indent) {
        struct buf b = { 0 };
        json_value(&b, item, indent, 0);
        if (b.oom) {
                free(b.p);
                return NULL;
        }
        return b.p;
}

char *cni_error_format(const struct cni_error *err, const char *version) {
        cJSON *o = cJSON_CreateObject();
        char *s = NULL;

        if (!o)
                return NULL;
        if (cJSON_AddStringToObject(o, "cniVersion", version ? version : "1.1.0") &&
            cJSON_AddNumberToObject(o, "code", err->code) &&
            cJSON_AddStringToObject(o, "msg", err->msg) &&
            (!err->details[0] || cJSON_AddStringToObject(o, "details", err->details)))
                s = cni_json_print(o, 4);
        cJSON_Delete(o);
        return s;
}

/* ---- environment ---- */

static enum cni_command command_parse(const char *s) {
        static const struct {
                const char *name;
                enum cni_command cmd;
        } t[] = { { "ADD", CNI_CMD_ADD }, { "DEL", CNI_CMD_DEL }, { "CHECK", CNI_CMD_CHECK },
                  { "VERSION", CNI_CMD_VERSION }, { "STATUS", CNI_CMD_STATUS }, { "GC", CNI_CMD_GC } };
        if (!s || !*s)
                return CNI_CMD_NONE;
        for (size_t i = 0; i < ELEMENTSOF(t); i++)
                if (streq(s, t[i].name))
                        return t[i].cmd;
        return CNI_CMD_UNKNOWN;
}

static bool id_char(char c, bool first) {
        return isalnum((unsigned char)c) || (!first && (c == '_' || c == '.' || c == '-'));
}

/* ^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$ (libcni's container ID and network name rule). */
static bool id_valid(const char *s) {
        if (!s || !*s || !id_char(s[0], true))
                return false;
        for (const char *c = s + 1; *c; c++)
                if (!id_char(*c, false))
                        return false;
        return true;
}

int cni_validate_containerid(const char *id, struct cni_error *err) {
        if (!id || !*id)
                return cni_error_set(err, CNI_ERR_UNKNOWN_CONTAINER, NULL, "missing containerID");
        if (!id_valid(id))
                return cni_error_set(err, CNI_ERR_INVALID_ENV, id, "invalid characters in containerID");
        return 0;
}

int cni_validate_ifname(const char *ifname, struct cni_error *err) {
        if (!ifname || !*ifname)
                return cni_error_set(err, CNI_ERR_INVALID_ENV, NULL, "interface name is empty");
        if (strlen(ifname) > 15)
                return cni_error_set(err, CNI_ERR_INVALID_ENV, ifname, "interface name is too long");
        if (streq(ifname, ".") || streq(ifname, ".."))
                return cni_error_set(err, CNI_ERR_INVALID_ENV, ifname, "interface name is . or ..");
        for (const char *c = ifname; *c; c++)
                if (*c == '/' || *c == ':' || isspace((unsigned char)*c))
                        return cni_error_set(err, CNI_ERR_INVALID_ENV, ifname,
                                             "interface name contains / or : or whitespace characters");
        return 0;
}

int cni_env_load(char *const *envp, struct cni_env *ret, struct cni_error *err) {
        /* Requirement bits per command: ADD CHECK DEL GC STATUS (libcni skel's table). */
        static const struct {
                const char *name;
                bool add, check, del, gc, status;
        } vars[] = {
                { "CNI_CONTAINERID", true, true, true, false, false },
                { "CNI_NETNS", true, true, false, false, false },
                { "CNI_IFNAME", true, true, true, false, false },
                { "CNI_ARGS", false, false, false, false, false },
                { "CNI_PATH", true, true, true, true, true },
        };
        char missing[256] = "";
        char *const *env = envp ? envp : environ;
        const char *v;

        *ret = (struct cni_env){ 0 };
        ret->command_str = env_get(env, "CNI_COMMAND");
        ret->command = command_parse(ret->command_str);
        if (ret->command == CNI_CMD_NONE)
                return 0;
        ret->containerid = env_get(env, "CNI_CONTAINERID");
        ret->netns = env_get(env, "CNI_NETNS");
        ret->ifname = env_get(env, "CNI_IFNAME");
        ret->args = env_get(env, "CNI_ARGS");
        ret->path = env_get(env, "CNI_PATH");
        v = env_get(env, "CNI_NETNS_OVERRIDE");
        ret->netns_override = v && (strcasecmp(v, "true") == 0 || streq(v, "1"));
        if (ret->command == CNI_CMD_UNKNOWN)
                return cni_error_set(err, CNI_ERR_INVALID_ENV, NULL, "unknown CNI_COMMAND: %s", ret->command_str);
        for (size_t i = 0; i < ELEMENTSOF(vars); i++) {
                bool req = (ret->command == CNI_CMD_ADD && vars[i].add) ||
                           (ret->command == CNI_CMD_CHECK && vars[i].check) ||
                           (ret->command == CNI_CMD_DEL && vars[i].del) ||
                           (ret->command == CNI_CMD_GC && vars[i].gc) ||
                           (ret->command == CNI_CMD_STATUS && vars[i].status);
                const char *val = env_get(env, vars[i].name);
                if (req && (!val || !*val)) {
                        if (missing[0])
                                strncat(missing, ",", sizeof missing - strlen(missing) - 1);
                        strncat(missing, vars[i].name, sizeof missing - strlen(missing) - 1);
                }
        }
        if (missing[0])
                return cni_error_set(err, CNI_ERR_INVALID_ENV, NULL, "required env variables [%s] missing", missing);
        if (ret->command == CNI_CMD_ADD || ret->command == CNI_CMD_CHECK || ret->command == CNI_CMD_DEL) {
                int r = cni_validate_containerid(ret->containerid, err);
                if (r < 0)
                        return r;
                r = cni_validate_ifname(ret->ifname, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* ---- CNI_ARGS ---- */

void cni_args_done(struct cni_args *a) {
        free(a->pod_name);
        free(a->pod_namespace);
        free(a->pod_infra_container_id);
        free(a->pod_uid);
        *a = (struct cni_args){ 0 };
}

static int args_fail(struct cni_args *a, struct cni_error *err, const char *what) {
        cni_args_done(a);
        return cni_error_set(err, CNI_ERR_INTERNAL, NULL, "failed to load args: %s", what);
}

int cni_args_parse(const char *s, struct cni_args *ret, struct cni_error *err) {
        char unknown[256] = "";
        char why[400];

        *ret = (struct cni_args){ 0 };
        if (!s || !*s)
                return 0;
        for (const char *p = s;;) {
                const char *end = strchr(p, ';');
                size_t len = end ? (size_t)(end - p) : strlen(p);
                const char *eq = memchr(p, '=', len);
                if (!eq || memchr(eq + 1, '=', len - (size_t)(eq + 1 - p))) {
                        snprintf(why, sizeof why, "ARGS: invalid pair \"%.*s\"", (int)(len > 200 ? 200 : len), p);
                        return args_fail(ret, err, why);
                }
                size_t klen = (size_t)(eq - p);
                char **slot = NULL;
                _cleanup_free_ char *val = strndup(eq + 1, len - klen - 1);
                if (!val)
                        return args_fail(ret, err, "out of memory");
#define KEY(k) (klen == strlen(k) && strncmp(p, k, klen) == 0)
                if (KEY("K8S_POD_NAME"))
                        slot = &ret->pod_name;
                else if (KEY("K8S_POD_NAMESPACE"))
                        slot = &ret->pod_namespace;
                else if (KEY("K8S_POD_INFRA_CONTAINER_ID"))
                        slot = &ret->pod_infra_container_id;
                else if (KEY("K8S_POD_UID"))
                        slot = &ret->pod_uid;
                else if (KEY("IgnoreUnknown")) {
                        if (streq(val, "1") || strcasecmp(val, "true") == 0)
                                ret->ignore_unknown = true;
                        else if (streq(val, "0") || strcasecmp(val, "false") == 0)
                                ret->ignore_unknown = false;
                        else {
                                snprintf(why, sizeof why, "ARGS: error parsing value of pair \"%.*s\": "
                                         "boolean unmarshal error: invalid input %.100s",
                                         (int)(len > 200 ? 200 : len), p, val);
                                return args_fail(ret, err, why);
                        }
                } else {
                        size_t u = strlen(unknown);
                        snprintf(unknown + u, sizeof unknown - u, "%s\"%.*s\"", u ? " " : "",
                                 (int)(klen > 64 ? 64 : klen), p);
                }
#undef KEY
                if (slot) {
                        free(*slot);
                        *slot = TAKE_PTR(val);
                }
                if (!end)
                        break;
                p = end + 1;
        }
        if (unknown[0] && !ret->ignore_unknown) {
                snprintf(why, sizeof why, "ARGS: unknown args [%s]", unknown);
                return args_fail(ret, err, why);
        }
        return 0;
}

/* ---- results ---- */

static bool cidr_valid(const char *s) {
        char ip[INET6_ADDRSTRLEN + 1];
        unsigned char b[16];
        const char *slash = s ? strchr(s, '/') : NULL;
        char *end;

        if (!slash || (size_t)(slash - s) >= sizeof ip)
                return false;
        memcpy(ip, s, (size_t)(slash - s));
        ip[slash - s] = 0;
        if (!slash[1] || !isdigit((unsigned char)slash[1]))
                return false;
        errno = 0;
        long len = strtol(slash + 1, &end, 10);
        if (*end || errno)
                return false;
        if (inet_pton(AF_INET, ip, b) == 1)
                return len >= 0 && len <= 32;
        if (inet_pton(AF_INET6, ip, b) == 1)
                return len >= 0 && len <= 128;
        return false;
}

static int ip_family(const char *s) {
        unsigned char b[16];
        char ip[INET6_ADDRSTRLEN + 1];
        size_t n = strcspn(s, "/");
        if (n >= sizeof ip)
                return 0;
        memcpy(ip, s, n);
        ip[n] = 0;
        if (inet_pton(AF_INET, ip, b) == 1)
                return 4;
        if (inet_pton(AF_INET6, ip, b) == 1) {
                /* Go treats IPv4-mapped addresses as IPv4. */
                static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
                return memcmp(b, mapped, 12) == 0 ? 4 : 6;
        }
        return 0;
}

static bool ip_valid(const char *s) {
        return ip_family(s) != 0 && !strchr(s, '/');
}

enum field_kind { F_STR, F_INT, F_CIDR, F_IP, F_STRV };

struct field {
        const char *key;
        enum field_kind kind;
};

/* cJSON reports an allocation failure only through its return values (a NULL item, or false from
 * an add whose key copy failed). Every build step goes through these, so a result is either
 * complete or an error: never a "successful" result with its IPs silently missing (issue 11 A9).
 * Each takes ownership of item and frees it on failure. */
static bool obj_add(cJSON *o, const char *key, cJSON *item) {
        if (!item)
                return false;
        if (!o || !cJSON_AddItemToObject(o, key, item)) {
                cJSON_Delete(item);
                return false;
        }
        return true;
}

static bool arr_add(cJSON *a, cJSON *item) {
        if (!item)
                return false;
        if (!a || !cJSON_AddItemToArray(a, item)) {
                cJSON_Delete(item);
                return false;
        }
        return true;
}

static bool obj_add_str(cJSON *o, const char *key, const char *s) {
        return obj_add(o, key, cJSON_CreateString(s));
}

static bool obj_add_dup(cJSON *o, const char *key, const cJSON *v) {
        return obj_add(o, key, cJSON_Duplicate(v, true));
}

/* Copies the known fields of in into a new object (keys in the order given; unknown dropped).
 * Type mismatches fail like Go's json.Unmarshal would. */
static cJSON *copy_fields(const cJSON *in, const struct field *f, size_t n, const char *what, struct cni_error *err) {
        cJSON *out;

        if (!cJSON_IsObject(in)) {
                cni_error_set(err, CNI_ERR_INTERNAL, NULL, "could not parse prevResult: %s is not an object", what);
                return NULL;
        }
        out = cJSON_CreateObject();
        if (!out)
                goto oom;
        for (size_t i = 0; i < n; i++) {
                const cJSON *v = cJSON_GetObjectItem(in, f[i].key);
                cJSON *c = NULL;
                if (!v || cJSON_IsNull(v))
                        continue;
                switch (f[i].kind) {
                case F_STR:
                case F_CIDR:
                case F_IP:
                        if (!cJSON_IsString(v) || (f[i].kind == F_CIDR && !cidr_valid(v->valuestring)) ||
                            (f[i].kind == F_IP && !ip_valid(v->valuestring)))
                                goto bad;
                        if (f[i].kind == F_STR && !*v->valuestring)
                                continue;
                        c = cJSON_CreateString(v->valuestring);
                        break;
                case F_INT:
                        if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
                            fabs(v->valuedouble) > 2147483647.0)
                                goto bad;
                        c = cJSON_CreateNumber(v->valuedouble);
                        break;
                case F_STRV: {
                        const cJSON *e;
                        if (!cJSON_IsArray(v))
                                goto bad;
                        cJSON_ArrayForEach(e, v) if (!cJSON_IsString(e)) goto bad;
                        if (!v->child)
                                continue;
                        c = cJSON_CreateArray();
                        if (!c)
                                goto oom;
                        cJSON_ArrayForEach(e, v) {
                                if (!arr_add(c, cJSON_CreateString(e->valuestring))) {
                                        cJSON_Delete(c);
                                        goto oom;
                                }
                        }
                        break;
                }
                }
                if (!obj_add(out, f[i].key, c))
                        goto oom;
                continue;
        bad:
                cni_error_set(err, CNI_ERR_INTERNAL, NULL, "could not parse prevResult: invalid %s.%s", what, f[i].key);
                cJSON_Delete(out);
                return NULL;
        }
        return out;
oom:
        cJSON_Delete(out);
        cni_error_set(err, CNI_ERR_INTERNAL, NULL, "out of memory");
        return NULL;
}

static const struct field iface_fields[] = { { "mac", F_STR }, { "mtu", F_INT }, { "name", F_STR },
                                             { "pciID", F_STR }, { "sandbox", F_STR }, { "socketPath", F_STR } };
static const struct field ip_fields[] = { { "address", F_CIDR }, { "gateway", F_IP }, { "interface", F_INT } };
static const struct field route_fields[] = { { "dst", F_CIDR }, { "gw", F_IP }, { "mtu", F_INT }, { "advmss", F_INT },
                                             { "priority", F_INT }, { "table", F_INT }, { "scope", F_INT } };
static const struct field dns_fields[] = { { "domain", F_STR }, { "nameservers", F_STRV }, { "options", F_STRV },
                                           { "search", F_STRV } };

/* Copies the array in[key] element-wise into out[key]; absent or empty arrays are left out. */
static int copy_array(cJSON *out, const cJSON *in, const char *key, const struct field *f, size_t n,
                      struct cni_error *err) {
        const cJSON *a = cJSON_GetObjectItem(in, key), *e;
        cJSON *arr;

        if (!a || cJSON_IsNull(a))
                return 0;
        if (!cJSON_IsArray(a))
                return cni_error_set(err, CNI_ERR_INTERNAL, NULL, "could not parse prevResult: %s is not an array", key);
        arr = cJSON_CreateArray();
        if (!arr)
                return cni_error_set(err, CNI_ERR_INTERNAL, NULL, "out of memory");
        cJSON_ArrayForEach(e, a) {
                cJSON *c = copy_fields(e, f, n, key, err);
                if (!c) {
                        cJSON_Delete(arr);
                        return -EINVAL;
                }
                if (!arr_add(arr, c)) {
                        cJSON_Delete(arr);
                        return cni_error_set(err, CNI_ERR_INTERNAL, NULL, "out of memory");
                }
        }
        if (!arr->child) {
                cJSON_Delete(arr);
                return 0;
        }
        if (!obj_add(out, key, arr))
                return cni_error_set(err, CNI_ERR_INTERNAL, NULL, "out of memory");
        return 0;
}

static bool version_in(const char *v, enum cni_version lo, enum cni_version hi) {
        enum cni_version x;
        return v && cni_version_parse(v, &x) == 0 && x >= lo && x <= hi;
}

/* 0.3.x/0.4.0 ips carry "version"; it must match the address family. */
static int check_ip_versions(const cJSON *in, struct cni_error *err) {
        const cJSON *a = cJSON_GetObjectItem(in, "ips"), *e;
        cJSON_ArrayForEach(e, a) {
                const cJSON *iv = cJSON_GetObjectItem(e, "version");
                const cJSON *ad = cJSON_GetObjectItem(e, "address");
                if (iv && !cJSON_IsString(iv))
                        return cni_error_set(err, CNI_ERR_INTERNAL, NULL, "could not parse prevResult: invalid ips.version");
                if (iv && cJSON_IsString(ad) &&
                    !((streq(iv->valuestring, "4") && ip_family(ad->valuestring) == 4) ||
                      (streq(iv->valuestring, "6") && ip_family(ad->valuestring) == 6)))
                        return cni_error_set(err, CNI_ERR_INTERNAL, NULL,
                                             "could not parse prevResult: ips.version does not match the address");
        }
        return 0;
}

/* 0.1.0/0.2.0: ip4/ip6 {ip, gateway, routes} → ips + routes of the 1.x model. */
static int parse_v02(cJSON *out, const cJSON *in, struct cni_error *err) {
        static const char *const fam[] = { "ip4", "ip6" };
        static const struct field ipc[] = { { "ip", F_CIDR }, { "gateway", F_IP } };
        cJSON *ips = cJSON_CreateArray(), *routes = cJSON_CreateArray();
        int r = -EINVAL;

        if (!ips || !routes)
                goto oom;
        for (size_t i = 0; i < 2; i++) {
                const cJSON *f = cJSON_GetObjectItem(in, fam[i]), *rt, *x;
                cJSON *c, *ip;
                if (!f || cJSON_IsNull(f))
                        continue;
                c = copy_fields(f, ipc, ELEMENTSOF(ipc), fam[i], err);
                if (!c)
                        goto out;
                ip = cJSON_CreateObject();
                bool ok = ip && (!(x = cJSON_GetObjectItem(c, "ip")) || obj_add_str(ip, "address", x->valuestring)) &&
                          (!(x = cJSON_GetObjectItem(c, "gateway")) || obj_add_str(ip, "gateway", x->valuestring));
                cJSON_Delete(c);
                if (!ok) {
                        cJSON_Delete(ip);
                        goto oom;
                }
                if (!arr_add(ips, ip))
                        goto oom;
                rt = cJSON_GetObjectItem(f, "routes");
                if (rt && !cJSON_IsNull(rt)) {
                        const cJSON *e;
                        if (!cJSON_IsArray(rt)) {
                                cni_error_set(err, CNI_ERR_INTERNAL, NULL, "could not parse prevResult: %s.routes is not an array", fam[i]);
                                goto out;
                        }
                        cJSON_ArrayForEach(e, rt) {
                                cJSON *rc = copy_fields(e, route_fields, ELEMENTSOF(route_fields), "routes", err);
                                if (!rc)
                                        goto out;
                                if (!arr_add(routes, rc))
                                        goto oom;
                        }
                }
        }
        if (ips->child) {
                r = obj_add(out, "ips", TAKE_PTR(ips)) ? 0 : -ENOMEM;
                if (r < 0)
                        goto oom;
        }
        if (routes->child) {
                r = obj_add(out, "routes", TAKE_PTR(routes)) ? 0 : -ENOMEM;
                if (r < 0)
                        goto oom;
        }
        r = 0;
        goto out;
oom:
        r = cni_error_set(err, CNI_ERR_INTERNAL, NULL, "out of memory");
out:
        cJSON_Delete(ips);
        cJSON_Delete(routes);
        return r;
}

cJSON *cni_result_parse(const cJSON *in, enum cni_version v, struct cni_error *err) {
        const cJSON *ver, *dns;
        cJSON *out = NULL;
        enum cni_version lo, hi;
        const char *supported;

        if (!cJSON_IsObject(in)) {
                cni_error_set(err, CNI_ERR_INTERNAL, NULL, "could not parse prevResult: not a JSON object");
                return NULL;
        }
        if (v >= CNI_V100)
                lo = CNI_V100, hi = CNI_V110, supported = "[1.0.0 1.1.0]";
        else if (v >= CNI_V030)
                lo = CNI_V030, hi = CNI_V040, supported = "[0.3.0 0.3.1 0.4.0]";
        else
                lo = CNI_V010, hi = CNI_V020, supported = "[0.1.0 0.2.0]";
        /* cJSON_GetObjectItem is case-insensitive, like Go's decoder (fixtures send "cniversion"). */
        ver = cJSON_GetObjectItem(in, "cniVersion");
        if (ver && !cJSON_IsString(ver)) {
                cni_error_set(err, CNI_ERR_INTERNAL, NULL, "could not parse prevResult: cniVersion is not a string");
                return NULL;
        }
        if (!version_in(ver ? ver->valuestring : "", lo, hi)) {
                cni_error_set(err, CNI_ERR_INTERNAL, NULL,
                              "could not parse prevResult: result type supports %s but unmarshalled CNIVersion is \"%.64s\"",
                              supported, ver ? ver->valuestring : "");
                return NULL;
        }
        out = cJSON_CreateObject();
        if (!out)
                goto oom;
        if (v >= CNI_V030) {
                if (copy_array(out, in, "interfaces", iface_fields, ELEMENTSOF(iface_fields), err) < 0 ||
                    copy_array(out, in, "ips", ip_fields, ELEMENTSOF(ip_fields), err) < 0 ||
                    copy_array(out, in, "routes", route_fields, ELEMENTSOF(route_fields), err) < 0)
                        goto fail;
                if (v < CNI_V100 && check_ip_versions(in, err) < 0)
                        goto fail;
        } else if (parse_v02(out, in, err) < 0)
                goto fail;
        dns = cJSON_GetObjectItem(in, "dns");
        if (dns && !cJSON_IsNull(dns)) {
                cJSON *d = copy_fields(dns, dns_fields, ELEMENTSOF(dns_fields), "dns", err);
                if (!d)
                        goto fail;
                if (!d->child)
                        cJSON_Delete(d);
                else if (!obj_add(out, "dns", d))
                        goto oom;
        }
        return out;
oom:
        cni_error_set(err, CNI_ERR_INTERNAL, NULL, "out of memory");
fail:
        cJSON_Delete(out);
        return NULL;
}

/* A copy of src's keys in the given order (only those present); NULL on allocation failure. */
static cJSON *pick(const cJSON *src, const char *const *keys, size_t n) {
        cJSON *o = cJSON_CreateObject();
        for (size_t i = 0; o && i < n; i++) {
                const cJSON *v = cJSON_GetObjectItemCaseSensitive(src, keys[i]);
                if (v && !obj_add_dup(o, keys[i], v)) {
                        cJSON_Delete(o);
                        return NULL;
                }
        }
        return o;
}

static const char *const route_keys[] = { "dst", "gw", "mtu", "advmss", "priority", "table", "scope" };
static const char *const dns_keys[] = { "nameservers", "domain", "search", "options" };

/* 1.x: sorted keys, empty parts omitted (libcni 1.x marshals through a map). */
static bool format_v1(cJSON *o, const cJSON *result) {
        static const char *const keys[] = { "dns", "interfaces", "ips", "routes" };
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                const cJSON *v = result ? cJSON_GetObjectItemCaseSensitive(result, keys[i]) : NULL;
                if (v && !obj_add_dup(o, keys[i], v))
                        return false;
        }
        return true;
}

/* Builds one array under key from each element of src through fn; false on allocation failure. */
static bool add_mapped(cJSON *o, const char *key, const cJSON *src, cJSON *(*fn)(const cJSON *)) {
        cJSON *a = cJSON_CreateArray();
        const cJSON *e;
        if (!a)
                return false;
        cJSON_ArrayForEach(e, src) {
                if (!arr_add(a, fn(e))) {
                        cJSON_Delete(a);
                        return false;
                }
        }
        return obj_add(o, key, a);
}

static cJSON *pick_iface(const cJSON *e) {
        static const char *const if_keys[] = { "name", "mac", "sandbox" };
        return pick(e, if_keys, ELEMENTSOF(if_keys));
}

static cJSON *pick_route(const cJSON *e) {
        return pick(e, route_keys, ELEMENTSOF(route_keys));
}

/* A 1.x ips element in the 0.3.x/0.4.0 shape: "version" first, then interface, address, gateway. */
static cJSON *ip_v04(const cJSON *e) {
        static const char *const keys[] = { "interface", "address", "gateway" };
        const cJSON *addr = cJSON_GetObjectItemCaseSensitive(e, "address");
        cJSON *ip = cJSON_CreateObject();
        if (!obj_add_str(ip, "version", addr && ip_family(addr->valuestring) == 6 ? "6" : "4"))
                goto fail;
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                const cJSON *x = cJSON_GetObjectItemCaseSensitive(e, keys[i]);
                if (x && !obj_add_dup(ip, keys[i], x))
                        goto fail;
        }
        return ip;
fail:
        cJSON_Delete(ip);
        return NULL;
}

static bool format_v04(cJSON *o, const cJSON *ifs, const cJSON *ips, const cJSON *routes, const cJSON *dns) {
        return (!ifs || add_mapped(o, "interfaces", ifs, pick_iface)) && (!ips || add_mapped(o, "ips", ips, ip_v04)) &&
               (!routes || add_mapped(o, "routes", routes, pick_route)) &&
               obj_add(o, "dns", dns ? pick(dns, dns_keys, ELEMENTSOF(dns_keys)) : cJSON_CreateObject());
}

/* 0.1.0/0.2.0: at most one address per family, as ip4/ip6 with that family's routes. Returns 0,
 * -ENOMEM, or -EINVAL with err set when the result cannot be expressed in this version. */
static int format_v02(cJSON *o, const cJSON *ips, const cJSON *routes, const cJSON *dns, enum cni_version v,
                      struct cni_error *err) {
        const cJSON *fam_ip[2] = { NULL, NULL }, *e;

        cJSON_ArrayForEach(e, ips) {
                const cJSON *addr = cJSON_GetObjectItemCaseSensitive(e, "address");
                int f = addr ? ip_family(addr->valuestring) : 0;
                if (!f)
                        continue;
                if (fam_ip[f == 6])
                        return cni_error_set(err, CNI_ERR_INTERNAL, NULL,
                                             "could not convert result to version %s: cannot convert: too many IPv%d addresses",
                                             cni_version_to_string(v), f);
                fam_ip[f == 6] = e;
        }
        if (!fam_ip[0] && !fam_ip[1])
                return cni_error_set(err, CNI_ERR_INTERNAL, NULL,
                                     "could not convert result to version %s: cannot convert: no valid IP addresses",
                                     cni_version_to_string(v));
        for (int f = 0; f < 2; f++) {
                static const char *const k[] = { "dst", "gw" };
                const cJSON *x;
                cJSON *c, *ra;
                if (!fam_ip[f])
                        continue;
                c = cJSON_CreateObject();
                if (!obj_add(o, f ? "ip6" : "ip4", c))
                        return -ENOMEM;
                if ((x = cJSON_GetObjectItemCaseSensitive(fam_ip[f], "address")) && !obj_add_str(c, "ip", x->valuestring))
                        return -ENOMEM;
                if ((x = cJSON_GetObjectItemCaseSensitive(fam_ip[f], "gateway")) && !obj_add_str(c, "gateway", x->valuestring))
                        return -ENOMEM;
                ra = cJSON_CreateArray();
                if (!ra)
                        return -ENOMEM;
                cJSON_ArrayForEach(e, routes) {
                        const cJSON *d = cJSON_GetObjectItemCaseSensitive(e, "dst");
                        if (d && ip_family(d->valuestring) == (f ? 6 : 4) && !arr_add(ra, pick(e, k, 2))) {
                                cJSON_Delete(ra);
                                return -ENOMEM;
                        }
                }
                if (!ra->child)
                        cJSON_Delete(ra);
                else if (!obj_add(c, "routes", ra))
                        return -ENOMEM;
        }
        return obj_add(o, "dns", dns ? pick(dns, dns_keys, ELEMENTSOF(dns_keys)) : cJSON_CreateObject()) ? 0 : -ENOMEM;
}

char *cni_result_format(const cJSON *result, enum cni_version v, struct cni_error *err) {
        cJSON *o = cJSON_CreateObject();
        const cJSON *ips = result ? cJSON_GetObjectItemCaseSensitive(result, "ips") : NULL;
        const cJSON *routes = result ? cJSON_GetObjectItemCaseSensitive(result, "routes") : NULL;
        const cJSON *ifs = result ? cJSON_GetObjectItemCaseSensitive(result, "interfaces") : NULL;
        const cJSON *dns = result ? cJSON_GetObjectItemCaseSensitive(result, "dns") : NULL;
        char *s = NULL;
        int r;

        if (!obj_add_str(o, "cniVersion", cni_version_to_string(v)))
                goto oom;
        if (v >= CNI_V100)
                r = format_v1(o, result) ? 0 : -ENOMEM;
        else if (v >= CNI_V030)
                r = format_v04(o, ifs, ips, routes, dns) ? 0 : -ENOMEM;
        else
                r = format_v02(o, ips, routes, dns, v, err);
        if (r == -ENOMEM)
                goto oom;
        if (r < 0)
                goto fail;
        s = cni_json_print(o, 4);
        if (!s)
                goto oom;
        cJSON_Delete(o);
        return s;
oom:
        cni_error_set(err, CNI_ERR_INTERNAL, NULL, "out of memory");
fail:
        cJSON_Delete(o);
        return NULL;
}

/* ---- stdin config ---- */

void cni_conf_done(struct cni_conf *c) {
        free(c->cni_version);
        free(c->name);
        free(c->type);
        free(c->plugin_log_level);
        free(c->cni_agent_run_dir);
        free(c->kubeconfig);
        free(c->log_uds_address);
        free(c->pod_namespace);
        free(c->intercept_type);
        strv_free(c->exclude_namespaces);
        cJSON_Delete(c->prev_result);
        *c = (struct cni_conf){ 0 };
}

/* Optional string field: absent/null → 0 with *ret untouched; wrong type → -EINVAL. */
static int get_str(const cJSON *o, const char *key, char **ret) {
        const cJSON *v = cJSON_GetObjectItem(o, key);
        if (!v || cJSON_IsNull(v))
                return 0;
        if (!cJSON_IsString(v))
                return -EINVAL;
        free(*ret);
        *ret = strdup(v->valuestring);
        return *ret ? 0 : -ENOMEM;
}

static int get_bool(const cJSON *o, const char *key, bool *ret) {
        const cJSON *v = cJSON_GetObjectItem(o, key);
        if (!v || cJSON_IsNull(v))
                return 0;
        if (!cJSON_IsBool(v))
                return -EINVAL;
        *ret = cJSON_IsTrue(v);
        return 0;
}

static int get_uint(const cJSON *o, const char *key, unsigned *ret) {
        const cJSON *v = cJSON_GetObjectItem(o, key);
        if (!v || cJSON_IsNull(v))
                return 0;
        if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 3600000 || v->valuedouble != floor(v->valuedouble))
                return -EINVAL;
        *ret = (unsigned)v->valuedouble;
        return 0;
}

static int get_strv(const cJSON *o, const char *key, char ***ret) {
        const cJSON *v = cJSON_GetObjectItem(o, key), *e;
        size_t n = 0;
        char **l;

        if (!v || cJSON_IsNull(v))
                return 0;
        if (!cJSON_IsArray(v))
                return -EINVAL;
        cJSON_ArrayForEach(e, v) if (!cJSON_IsString(e)) return -EINVAL;
        l = calloc((size_t)cJSON_GetArraySize(v) + 1, sizeof *l);
        if (!l)
                return -ENOMEM;
        cJSON_ArrayForEach(e, v) {
                if (!(l[n++] = strdup(e->valuestring))) {
                        strv_free(l); /* calloc'ed: l[n - 1] is the NULL terminator */
                        return -ENOMEM;
                }
        }
        *ret = l;
        return 0;
}

/* cni_conf_parse, part 1: what libcni's skel checks (name, cniVersion, the command against the
 * version). Fills ret->name, type, cni_version and version. */
static int conf_header(const cJSON *root, enum cni_command cmd, struct cni_conf *ret, struct cni_error *err) {
        const char *ver;

        /* skel's own decode: name and cniVersion must be strings when present. */
        if (get_str(root, "name", &ret->name) < 0 || get_str(root, "cniVersion", &ret->cni_version) < 0 ||
            get_str(root, "type", &ret->type) < 0) {
                cni_error_set(err, CNI_ERR_DECODE, NULL, "error unmarshall network config: name, type and cniVersion must be strings");
                return -EINVAL;
        }
        if (!ret->name || !*ret->name) {
                cni_error_set(err, CNI_ERR_INVALID_CONFIG, NULL, "missing network name");
                return -EINVAL;
        }
        if (!id_valid(ret->name)) {
                cni_error_set(err, CNI_ERR_INVALID_CONFIG, ret->name, "invalid characters found in network name");
                return -EINVAL;
        }
        ver = ret->cni_version ? ret->cni_version : "0.1.0";
        if (cni_version_parse(ver, &ret->version) < 0) {
                char d[160];
                snprintf(d, sizeof d, "config is \"%.64s\", plugin supports %s", ver, CNI_SUPPORTED_GO);
                cni_error_set(err, CNI_ERR_INCOMPATIBLE, d, "incompatible CNI versions");
                return -EINVAL;
        }
        if (cmd == CNI_CMD_CHECK && ret->version < CNI_V040) {
                cni_error_set(err, CNI_ERR_INCOMPATIBLE, NULL, "config version does not allow CHECK");
                return -EINVAL;
        }
        if ((cmd == CNI_CMD_GC || cmd == CNI_CMD_STATUS) && ret->version < CNI_V110) {
                cni_error_set(err, CNI_ERR_INCOMPATIBLE, NULL, "config version does not allow %s",
                              cmd == CNI_CMD_GC ? "GC" : "STATUS");
                return -EINVAL;
        }
        if (!ret->cni_version && !(ret->cni_version = strdup(ver))) {
                cni_error_set(err, CNI_ERR_INTERNAL, NULL, "out of memory");
                return -ENOMEM;
        }
        return 0;
}

/* cni_conf_parse, part 2: istio-cni's own fields, each with its JSON type checked. */
static int conf_fields(const cJSON *root, struct cni_conf *ret, struct cni_error *err) {
        const cJSON *k8s;
        const char *bad = NULL;

#define TRY(expr, key) do { int _r = (expr); if (_r == -ENOMEM) goto oom; if (_r < 0) { bad = (key); goto badfield; } } while (0)
        TRY(get_str(root, "log_level", &ret->plugin_log_level), "log_level");
        TRY(get_str(root, "plugin_log_level", &ret->plugin_log_level), "plugin_log_level");
        if (ret->plugin_log_level && !*ret->plugin_log_level) {
                free(ret->plugin_log_level);
                ret->plugin_log_level = NULL;
        }
        TRY(get_str(root, "cni_agent_run_dir", &ret->cni_agent_run_dir), "cni_agent_run_dir");
        TRY(get_str(root, "log_uds_address", &ret->log_uds_address), "log_uds_address");
        TRY(get_bool(root, "ambient_enabled", &ret->ambient_enabled), "ambient_enabled");
        TRY(get_bool(root, "native_nftables", &ret->native_nftables), "native_nftables");
        TRY(get_str(root, "pod_namespace", &ret->pod_namespace), "pod_namespace");
        k8s = cJSON_GetObjectItem(root, "kubernetes");
        if (k8s && !cJSON_IsNull(k8s)) {
                if (!cJSON_IsObject(k8s)) {
                        bad = "kubernetes";
                        goto badfield;
                }
                TRY(get_str(k8s, "kubeconfig", &ret->kubeconfig), "kubernetes.kubeconfig");
                TRY(get_str(k8s, "intercept_type", &ret->intercept_type), "kubernetes.intercept_type");
                TRY(get_strv(k8s, "exclude_namespaces", &ret->exclude_namespaces), "kubernetes.exclude_namespaces");
        }
        /* The current top-level name wins over the legacy kubernetes.* one. */
        {
                char **l = NULL; /* get_strv leaves it NULL when the field is absent or null */
                TRY(get_strv(root, "exclude_namespaces", &l), "exclude_namespaces");
                if (l) {
                        strv_free(ret->exclude_namespaces);
                        ret->exclude_namespaces = l;
                }
        }
        TRY(get_uint(root, "k8s_max_attempts", &ret->k8s_max_attempts), "k8s_max_attempts");
        TRY(get_uint(root, "k8s_timeout_ms", &ret->k8s_timeout_ms), "k8s_timeout_ms");
        TRY(get_uint(root, "k8s_retry_interval_ms", &ret->k8s_retry_interval_ms), "k8s_retry_interval_ms");
        TRY(get_uint(root, "add_timeout_ms", &ret->add_timeout_ms), "add_timeout_ms");
#undef TRY
        return 0;
badfield:
        cni_error_set(err, CNI_ERR_INTERNAL, NULL, "failed to parse network configuration: field \"%s\" has the wrong type", bad);
        return -EINVAL;
oom:
        cni_error_set(err, CNI_ERR_INTERNAL, NULL, "out of memory");
        return -ENOMEM;
}

int cni_conf_parse(const char *data, size_t len, enum cni_command cmd, struct cni_conf *ret, struct cni_error *err) {
        cJSON *root = NULL;
        const cJSON *pr;
        int r = -EINVAL;

        *ret = (struct cni_conf){ 0 };
        root = cJSON_ParseWithLength(data, len);
        if (!cJSON_IsObject(root)) {
                cni_error_set(err, CNI_ERR_DECODE, NULL, "error unmarshall network config: %s",
                              root ? "not a JSON object" : "invalid JSON");
                goto out;
        }
        if ((r = conf_header(root, cmd, ret, err)) < 0 || (r = conf_fields(root, ret, err)) < 0)
                goto out;
        r = -EINVAL;
        pr = cJSON_GetObjectItem(root, "prevResult");
        if (pr && !cJSON_IsNull(pr) && (cmd == CNI_CMD_ADD || cmd == CNI_CMD_CHECK)) {
                ret->prev_result = cni_result_parse(pr, ret->version, err);
                if (!ret->prev_result)
                        goto out;
        }
        r = 0;
out:
        cJSON_Delete(root);
        if (r < 0)
                cni_conf_done(ret);
        return r;
}
