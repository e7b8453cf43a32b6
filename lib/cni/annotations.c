/* SPDX-License-Identifier: Apache-2.0 */
/* annotations.c: Pod → decisions and capture_config for the istio-cni plugin.
 * Spec: istio-cni.md §2.4 step 12, §2.6, §2.7. Values are validated with Istio's rules first
 * (so the error names the annotation), then parsed by the shared typed parsers of config.h. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cni/annotations.h"
#include "base/env.h"
#include "base/macro.h"

extern char **environ;

static const cJSON *obj_get(const cJSON *o, const char *key) {
        return cJSON_IsObject(o) ? cJSON_GetObjectItemCaseSensitive(o, key) : NULL;
}

static const char *map_get(const cJSON *map, const char *key) {
        const cJSON *v = obj_get(map, key);
        return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int get_int(const cJSON *o, const char *key, bool *has, int64_t *ret) {
        const cJSON *v = obj_get(o, key);
        *has = false;
        if (!v || cJSON_IsNull(v))
                return 0;
        if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || fabs(v->valuedouble) > 9.2e18)
                return -EBADMSG;
        *has = true;
        *ret = (int64_t)v->valuedouble;
        return 0;
}

static int scan_containers(const cJSON *list, struct annotations_pod *p) {
        const cJSON *c;
        if (!list || cJSON_IsNull(list))
                return 0;
        if (!cJSON_IsArray(list))
                return -EBADMSG;
        cJSON_ArrayForEach(c, list) {
                const cJSON *name = obj_get(c, "name");
                if (!cJSON_IsString(name))
                        continue;
                if (streq(name->valuestring, "istio-init"))
                        p->has_istio_init = true;
                if (streq(name->valuestring, "istio-proxy")) {
                        p->has_istio_proxy = true;
                        p->proxy = c; /* the last one wins, as in Istio */
                }
        }
        return 0;
}

int annotations_pod_info(const cJSON *pod, struct annotations_pod *p) {
        const cJSON *meta = obj_get(pod, "metadata"), *spec = obj_get(pod, "spec"), *args, *sc;
        int r;

        *p = (struct annotations_pod){ .proxy_type = "" };
        if (!cJSON_IsObject(pod))
                return -EBADMSG;
        p->labels = obj_get(meta, "labels");
        p->annotations = obj_get(meta, "annotations");
        if ((p->labels && !cJSON_IsObject(p->labels) && !cJSON_IsNull(p->labels)) ||
            (p->annotations && !cJSON_IsObject(p->annotations) && !cJSON_IsNull(p->annotations)))
                return -EBADMSG;
        if ((r = scan_containers(obj_get(spec, "initContainers"), p)) < 0 ||
            (r = scan_containers(obj_get(spec, "containers"), p)) < 0)
                return r;
        if (!p->proxy)
                return 0;
        args = obj_get(p->proxy, "args");
        if (cJSON_IsArray(args) && cJSON_GetArraySize(args) >= 2 && cJSON_IsString(cJSON_GetArrayItem(args, 0)) &&
            streq(cJSON_GetArrayItem(args, 0)->valuestring, "proxy") && cJSON_IsString(cJSON_GetArrayItem(args, 1)))
                p->proxy_type = cJSON_GetArrayItem(args, 1)->valuestring;
        /* Container-level securityContext only; the pod-level one is not consulted (§2.6). */
        sc = obj_get(p->proxy, "securityContext");
        if ((r = get_int(sc, "runAsUser", &p->has_uid, &p->uid)) < 0 ||
            (r = get_int(sc, "runAsGroup", &p->has_gid, &p->gid)) < 0)
                return r;
        return 0;
}

const char *annotations_proxy_env(const struct annotations_pod *p, const char *name) {
        const cJSON *env = obj_get(p->proxy, "env"), *e;
        const char *found = NULL;
        if (!cJSON_IsArray(env))
                return NULL;
        cJSON_ArrayForEach(e, env) {
                const cJSON *n = obj_get(e, "name"), *v = obj_get(e, "value");
                if (cJSON_IsString(n) && streq(n->valuestring, name))
                        found = cJSON_IsString(v) ? v->valuestring : ""; /* later entries win, like a Go map */
        }
        return found;
}

enum annotations_decision annotations_decide(const struct annotations_pod *p, const char **reason) {
        const char *v;
        bool b;

        if (p->has_istio_init) {
                *reason = "pod already injected with istio-init container";
                return ANNOTATIONS_SKIP_ISTIO_INIT;
        }
        v = p->proxy ? annotations_proxy_env(p, "DISABLE_ENVOY") : NULL;
        if (v && config_parse_bool(v, &b) == 0 && b) {
                *reason = "pod has no Envoy (DISABLE_ENVOY=true, proxyless)";
                return ANNOTATIONS_SKIP_DISABLE_ENVOY;
        }
        if (!p->has_istio_proxy) {
                *reason = "pod excluded due to lacking istio-proxy container";
                return ANNOTATIONS_SKIP_NO_PROXY;
        }
        if (p->proxy_type[0] && !streq(p->proxy_type, "sidecar")) {
                *reason = "pod excluded: istio-proxy is not a sidecar (proxy type from args[1])";
                return ANNOTATIONS_SKIP_PROXY_TYPE;
        }
        /* The label overrides the annotation, even when empty. */
        v = map_get(p->annotations, "sidecar.istio.io/inject");
        if (obj_get(p->labels, "sidecar.istio.io/inject"))
                v = map_get(p->labels, "sidecar.istio.io/inject");
        if (v && *v && config_parse_bool(v, &b) == 0 && !b) {
                *reason = "pod excluded due to sidecar.istio.io/inject=false";
                return ANNOTATIONS_SKIP_INJECT_FALSE;
        }
        if (!obj_get(p->annotations, "sidecar.istio.io/status")) {
                *reason = "pod excluded due to not containing sidecar annotation (sidecar.istio.io/status)";
                return ANNOTATIONS_SKIP_NO_STATUS;
        }
        *reason = "pod has an injected sidecar: setting up redirection";
        return ANNOTATIONS_CAPTURE;
}

static int bad(struct annotations_error *err, const char *annotation, const char *value, const char *fmt, ...)
        _printf_(4, 5);
static int bad(struct annotations_error *err, const char *annotation, const char *value, const char *fmt, ...) {
        char detail[256];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(detail, sizeof detail, fmt, ap);
        va_end(ap);
        if (err) {
                snprintf(err->annotation, sizeof err->annotation, "%s", annotation);
                snprintf(err->value, sizeof err->value, "%s", value);
                /* Istio's wording, plus the annotation name and the value so users know what to fix. */
                snprintf(err->msg, sizeof err->msg,
                         "annotation value error for value %.90s; annotationFound = true: annotation %.90s=\"%.200s\": %.200s",
                         annotation, annotation, value, detail);
        }
        return -EINVAL;
}

/* Trims ASCII whitespace around every comma element into a new string; -EINVAL if an element is
 * empty (Istio's port and interface validators reject "80,,81" and "80,"). */
static int trim_elements(const char *s, char **ret) {
        size_t n = strlen(s);
        char *out = malloc(n + 1), *o = out;
        const char *p = s;

        if (!out)
                return -ENOMEM;
        for (;;) {
                const char *end = strchr(p, ',');
                const char *a = p, *b = end ? end : p + strlen(p);
                while (a < b && isspace((unsigned char)*a))
                        a++;
                while (b > a && isspace((unsigned char)b[-1]))
                        b--;
                if (a == b) {
                        free(out);
                        return -EINVAL;
                }
                memcpy(o, a, (size_t)(b - a));
                o += b - a;
                if (!end)
                        break;
                *o++ = ',';
                p = end + 1;
        }
        *o = 0;
        *ret = out;
        return 0;
}

/* Port list annotation: "" = none; "*" only where allow_star; else ports 0–65535. */
static int port_annotation(const char *name, const char *v, bool allow_star, bool *ret_all, struct config_ports *ret,
                           struct annotations_error *err) {
        _cleanup_free_ char *t = NULL;
        int r;

        if (ret_all)
                *ret_all = false;
        config_ports_free(ret);
        if (!*v)
                return 0;
        if (streq(v, "*")) {
                if (!allow_star)
                        /* DECISION: Istio validates '*' here, then emits it as a port token and iptables
                         * rejects it (§8.11); we fail ADD at the same point with a clear message. */
                        return bad(err, name, v, "\"*\" is not supported here; list ports instead");
                *ret_all = true;
                return 0;
        }
        r = trim_elements(v, &t);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return bad(err, name, v, "empty element in port list");
        r = config_parse_port_list(t, ret);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return bad(err, name, v, "each element must be a port number 0-65535");
        return 0;
}

static bool iface_name_valid(const char *s, size_t n) {
        if (n == 0 || n > 15 || !isalpha((unsigned char)s[0]))
                return false;
        for (size_t i = 1; i < n; i++)
                if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-')
                        return false;
        return true;
}

static int iface_annotation(const char *name, const char *v, struct config_ifaces *ret, struct annotations_error *err) {
        _cleanup_free_ char *t = NULL;
        int r;

        if (!*v)
                return 0;
        r = trim_elements(v, &t);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return bad(err, name, v, "empty interface name");
        /* Istio's rule (#58785) is stricter than config_parse_iface: a letter first, no '+'. */
        for (const char *p = t;;) {
                size_t n = strcspn(p, ",");
                if (!iface_name_valid(p, n))
                        return bad(err, name, v, "interface names must match ^[a-zA-Z][a-zA-Z0-9_.\\-]*$ and be at most 15 characters");
                if (!p[n])
                        break;
                p += n + 1;
        }
        r = config_parse_iface_list(t, ret);
        if (r == -ENOMEM)
                return r;
        return r < 0 ? bad(err, name, v, "invalid interface name") : 0;
}

static int cidr_annotation(const char *name, const char *v, bool allow_star, bool *ret_all, struct config_cidrs ret[2],
                           struct annotations_error *err) {
        const char *where = NULL;
        int r;

        /* "" empties both lists and clears *ret_all, as the parser does for any list. */
        r = config_parse_cidr_list(v, allow_star, ret_all, ret, &where);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                char elem[64];
                size_t n = where ? strcspn(where, ",") : 0;
                snprintf(elem, sizeof elem, "%.*s", (int)(n > 60 ? 60 : n), where ? where : "");
                if (streq(v, "*"))
                        return bad(err, name, v, "\"*\" is not allowed here");
                return bad(err, name, v, "\"%s\" is not a CIDR (address/prefix-length)", elem);
        }
        return 0;
}

static void warn_add(struct annotations_warnings *w, const char *fmt, ...) _printf_(2, 3);
static void warn_add(struct annotations_warnings *w, const char *fmt, ...) {
        va_list ap;
        if (!w || w->n >= ANNOTATIONS_MAX_WARNINGS)
                return;
        va_start(ap, fmt);
        vsnprintf(w->msg[w->n++], sizeof w->msg[0], fmt, ap);
        va_end(ap);
}

static bool env_bool(const struct annotations_pod *p, const char *name, struct annotations_warnings *w) {
        const char *v = annotations_proxy_env(p, name);
        bool b = false;
        if (v && config_parse_bool(v, &b) < 0) {
                warn_add(w, "istio-proxy env %s=\"%.100s\" is not a boolean; using false", name, v);
                b = false;
        }
        return b;
}

static int owner_set(struct config_owners *o, uint32_t id) {
        config_owners_free(o);
        o->v = calloc(1, sizeof *o->v);
        if (!o->v)
                return -ENOMEM;
        o->v[0] = (struct config_owner){ .id = id };
        o->n = 1;
        return 0;
}

/* The defaults and the runtime-environment inputs §2.7 names, through the same parser as
 * istio-iptables (nothing else from the host env). */
static int host_config(char *const *envp, struct capture_config *c, struct annotations_error *err) {
        static const char *const host_env[] = { "ISTIO_OUTBOUND_OWNER_GROUPS", "ISTIO_OUTBOUND_OWNER_GROUPS_EXCLUDE",
                                                "ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR" };
        char *filtered[ELEMENTSOF(host_env) + 1] = { NULL };
        char *argv[] = { (char *)"istio-cni", NULL };
        struct config_error cerr = { 0 };
        bool help;
        size_t nf = 0;
        int r;

        for (size_t i = 0; i < ELEMENTSOF(host_env); i++) {
                const char *val = env_get(envp ? envp : environ, host_env[i]);
                if (val) /* the whole "NAME=value" entry that val points into */
                        filtered[nf++] = (char *)val - strlen(host_env[i]) - 1;
        }
        r = config_parse(c, 1, argv, filtered, &help, &cerr);
        if (r < 0) {
                if (err) {
                        snprintf(err->annotation, sizeof err->annotation, "environment");
                        err->value[0] = 0;
                        snprintf(err->msg, sizeof err->msg, "%s", cerr.msg);
                }
                return r;
        }
        return 0;
}

/* excludeInboundPorts always holds 15020, 15021 and 15090 after the annotation's own; duplicates go. */
static int exclude_ports_add_fixed(struct config_ports *x) {
        static const uint16_t fixed[] = { 15020, 15021, 15090 };
        uint16_t *nv = realloc(x->v, (x->n + ELEMENTSOF(fixed)) * sizeof *nv);
        if (!nv)
                return -ENOMEM;
        x->v = nv;
        for (size_t i = 0; i < ELEMENTSOF(fixed); i++)
                x->v[x->n++] = fixed[i];
        size_t out = 0;
        for (size_t i = 0; i < x->n; i++) {
                bool dup = false;
                for (size_t j = 0; j < out && !dup; j++)
                        dup = x->v[j] == x->v[i];
                if (!dup)
                        x->v[out++] = x->v[i];
        }
        x->n = out;
        return 0;
}

int annotations_to_config(const struct annotations_pod *p, char *const *envp, struct capture_config *c,
                          struct annotations_error *err, struct annotations_warnings *warn) {
        const cJSON *an = p->annotations;
        const char *v;
        int r;

        r = host_config(envp, c, err);
        if (r < 0)
                return r;

        /* Validation order of §2.7: the first failure wins. */
        v = map_get(an, "sidecar.istio.io/interceptionMode");
        if (v) {
                if (streq(v, "TPROXY"))
                        c->tproxy = true;
                else if (streq(v, "REDIRECT"))
                        c->tproxy = false;
                else
                        /* DECISION: strict like Istio: NONE (or anything else) fails ADD (§2.4 step 13). */
                        return bad(err, "sidecar.istio.io/interceptionMode", v, "must be REDIRECT or TPROXY");
        }
        c->include_all = true;
        v = map_get(an, "traffic.sidecar.istio.io/includeOutboundIPRanges");
        if (v && (r = cidr_annotation("traffic.sidecar.istio.io/includeOutboundIPRanges", v, true, &c->include_all,
                                      c->include, err)) < 0)
                return r;
        v = map_get(an, "traffic.sidecar.istio.io/excludeOutboundIPRanges");
        if (v && (r = cidr_annotation("traffic.sidecar.istio.io/excludeOutboundIPRanges", v, false, NULL, c->exclude, err)) < 0)
                return r;
        /* excludeInboundPorts: annotation (default 15020) + 15020,15021,15090, deduplicated. */
        v = map_get(an, "traffic.sidecar.istio.io/excludeInboundPorts");
        if (v) {
                if ((r = port_annotation("traffic.sidecar.istio.io/excludeInboundPorts", v, false, NULL,
                                         &c->inbound_exclude_ports, err)) < 0)
                        return r;
        }
        if ((r = exclude_ports_add_fixed(&c->inbound_exclude_ports)) < 0)
                return r;
        c->inbound_all = true;
        v = map_get(an, "traffic.sidecar.istio.io/includeInboundPorts");
        if (v && (r = port_annotation("traffic.sidecar.istio.io/includeInboundPorts", v, true, &c->inbound_all,
                                      &c->inbound_ports, err)) < 0)
                return r;
        v = map_get(an, "traffic.sidecar.istio.io/excludeOutboundPorts");
        if (v) {
                if ((r = port_annotation("traffic.sidecar.istio.io/excludeOutboundPorts", v, false, NULL,
                                         &c->outbound_exclude_ports, err)) < 0)
                        return r;
        } else if ((r = config_parse_port_list("15020", &c->outbound_exclude_ports)) < 0)
                return r;
        v = map_get(an, "traffic.sidecar.istio.io/includeOutboundPorts");
        if (v && (r = port_annotation("traffic.sidecar.istio.io/includeOutboundPorts", v, false, NULL,
                                      &c->outbound_ports, err)) < 0)
                return r;
        v = map_get(an, "traffic.sidecar.istio.io/excludeInterfaces");
        if (v && (r = iface_annotation("traffic.sidecar.istio.io/excludeInterfaces", v, &c->exclude_ifaces, err)) < 0)
                return r;
        v = map_get(an, "istio.io/reroute-virtual-interfaces");
        if (v) {
                if ((r = iface_annotation("istio.io/reroute-virtual-interfaces", v, &c->virt_ifaces, err)) < 0)
                        return r;
        } else if ((v = map_get(an, "traffic.sidecar.istio.io/kubevirtInterfaces")) &&
                   (r = iface_annotation("traffic.sidecar.istio.io/kubevirtInterfaces", v, &c->virt_ifaces, err)) < 0)
                return r;

        config_update_derived(c);

        /* runAsUser/runAsGroup 0 or unset → 1337 (§2.7). */
        if ((r = owner_set(&c->proxy_uid, p->has_uid && p->uid > 0 && p->uid <= UINT32_MAX ? (uint32_t)p->uid : 1337)) < 0 ||
            (r = owner_set(&c->proxy_gid, p->has_gid && p->gid > 0 && p->gid <= UINT32_MAX ? (uint32_t)p->gid : 1337)) < 0)
                return r;

        c->redirect_dns = c->capture_all_dns = env_bool(p, "ISTIO_META_DNS_CAPTURE", warn);
        c->dual_stack = env_bool(p, "ISTIO_DUAL_STACK", warn);
        c->drop_invalid = env_bool(p, "INVALID_DROP", warn);
        return 0;
}
