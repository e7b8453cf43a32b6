/* SPDX-License-Identifier: Apache-2.0 */
/* selector.c: Kubernetes label and field selectors (see selector.h). */
#include "kube/selector.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/errbuf.h"
#include "base/macro.h"
#include "kube/k8s.h"

enum op { OP_EQ, OP_NEQ, OP_IN, OP_NOTIN, OP_EXISTS, OP_NOT_EXISTS, OP_GT, OP_LT };

struct req {
        char *key;
        enum op op;
        char **values;
        size_t n_values;
        long long num; /* OP_GT, OP_LT */
};

struct selector {
        bool fields;
        struct req *r;
        size_t n;
};

struct selector *selector_free(struct selector *sel) {
        if (!sel)
                return NULL;
        for (size_t i = 0; i < sel->n; i++) {
                free(sel->r[i].key);
                for (size_t j = 0; j < sel->r[i].n_values; j++)
                        free(sel->r[i].values[j]);
                free(sel->r[i].values);
        }
        free(sel->r);
        free(sel);
        return NULL;
}

static struct req *req_add(struct selector *sel) {
        struct req *n = realloc(sel->r, (sel->n + 1) * sizeof *n);

        if (!n)
                return NULL;
        sel->r = n;
        n[sel->n] = (struct req){ 0 };
        return &n[sel->n++];
}

static int value_add(struct req *r, const char *v, size_t len) {
        char **n = realloc(r->values, (r->n_values + 1) * sizeof *n);

        if (!n)
                return -ENOMEM;
        r->values = n;
        if (!(n[r->n_values] = strndup(v, len)))
                return -ENOMEM;
        r->n_values++;
        return 0;
}

/* --- labels ---------------------------------------------------------------------------------- */

/* A label value: empty, or ≤ 63 of [A-Za-z0-9._-], starting and ending alphanumeric. */
static bool label_value_ok(const char *v, size_t n) {
        if (n == 0)
                return true;
        if (n > 63 || !isalnum((unsigned char)v[0]) || !isalnum((unsigned char)v[n - 1]))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char)v[i]) && !strchr("-_.", v[i]))
                        return false;
        return true;
}

/* A label key: [prefix/]name, prefix a DNS subdomain (≤ 253), name a non-empty label value. */
static bool label_key_ok(const char *k, size_t n) {
        const char *slash = memchr(k, '/', n);

        if (slash) {
                size_t pl = (size_t)(slash - k);
                if (pl == 0 || pl > 253)
                        return false;
                for (size_t i = 0; i < pl; i++)
                        if (!islower((unsigned char)k[i]) && !isdigit((unsigned char)k[i]) && !strchr("-.", k[i]))
                                return false;
                if (!isalnum((unsigned char)k[0]) || !isalnum((unsigned char)k[pl - 1]))
                        return false;
                k = slash + 1;
                n -= pl + 1;
        }
        return n > 0 && label_value_ok(k, n);
}

/* Characters that end a label selector word. */
static bool is_delim(char c) {
        return c == '\0' || isspace((unsigned char)c) || strchr("!=(),<>", c);
}

static const char *skip_ws(const char *p) {
        while (isspace((unsigned char)*p))
                p++;
        return p;
}

/* A word at *p: sets *len, advances *p past it. */
static const char *word(const char **p, size_t *len) {
        const char *s = *p = skip_ws(*p);

        while (!is_delim(**p))
                (*p)++;
        *len = (size_t)(*p - s);
        return s;
}

static int label_req(const char **pp, struct selector *sel, char *err, size_t errsz) {
        const char *p = skip_ws(*pp), *k, *v;
        size_t kl, vl;
        struct req *r;
        bool neg = false;

        if (*p == '!') {
                neg = true;
                p++;
        }
        k = word(&p, &kl);
        if (!label_key_ok(k, kl))
                return errbuf_set(err, errsz, -EINVAL, "invalid label selector: bad key '%.*s'", (int)(kl ? kl : 1), kl ? k : p);
        if (!(r = req_add(sel)) || !(r->key = strndup(k, kl)))
                return -ENOMEM;
        p = skip_ws(p);
        if (neg || *p == ',' || *p == '\0') {
                r->op = neg ? OP_NOT_EXISTS : OP_EXISTS;
                if (neg && *p != ',' && *p != '\0')
                        return errbuf_set(err, errsz, -EINVAL, "invalid label selector: unexpected '%s' after '!%s'", p, r->key);
                *pp = p;
                return 0;
        }
        if (p[0] == '!' && p[1] == '=') {
                r->op = OP_NEQ;
                p += 2;
        } else if (p[0] == '=' && p[1] == '=') {
                r->op = OP_EQ;
                p += 2;
        } else if (p[0] == '=') {
                r->op = OP_EQ;
                p += 1;
        } else if (p[0] == '>' || p[0] == '<') {
                char *end;
                r->op = p[0] == '>' ? OP_GT : OP_LT;
                p++;
                v = word(&p, &vl);
                errno = 0;
                r->num = vl ? strtoll(v, &end, 10) : 0;
                if (!vl || errno || end != v + vl)
                        return errbuf_set(err, errsz, -EINVAL, "invalid label selector: '%s' needs an integer, not '%.*s'",
                                          r->key, (int)vl, v);
                *pp = p;
                return 0;
        } else {
                const char *opw = word(&p, &vl);
                if (vl == 2 && strncmp(opw, "in", 2) == 0)
                        r->op = OP_IN;
                else if (vl == 5 && strncmp(opw, "notin", 5) == 0)
                        r->op = OP_NOTIN;
                else
                        return errbuf_set(err, errsz, -EINVAL, "invalid label selector: unknown operator '%.*s' after '%s'",
                                          (int)(vl ? vl : 1), vl ? opw : p, r->key);
                p = skip_ws(p);
                if (*p != '(')
                        return errbuf_set(err, errsz, -EINVAL, "invalid label selector: '%s %.*s' needs '(' values ')'",
                                          r->key, (int)vl, opw);
                p++;
                for (;;) {
                        v = word(&p, &vl);
                        if (!label_value_ok(v, vl))
                                return errbuf_set(err, errsz, -EINVAL, "invalid label selector: bad value '%.*s'", (int)vl, v);
                        if (value_add(r, v, vl) < 0)
                                return -ENOMEM;
                        p = skip_ws(p);
                        if (*p == ',') {
                                p++;
                                continue;
                        }
                        if (*p == ')') {
                                p++;
                                break;
                        }
                        return errbuf_set(err, errsz, -EINVAL, "invalid label selector: expected ',' or ')' in the values of '%s'",
                                          r->key);
                }
                if (r->n_values == 1 && !r->values[0][0])
                        return errbuf_set(err, errsz, -EINVAL, "invalid label selector: '%s' has an empty value set", r->key);
                *pp = p;
                return 0;
        }
        v = word(&p, &vl);
        if (!label_value_ok(v, vl))
                return errbuf_set(err, errsz, -EINVAL, "invalid label selector: bad value '%.*s' for '%s'", (int)vl, v, r->key);
        if (value_add(r, v, vl) < 0)
                return -ENOMEM;
        *pp = p;
        return 0;
}

int selector_parse_labels(const char *s, struct selector **ret, char *err, size_t errsz) {
        struct selector *sel = calloc(1, sizeof *sel);
        const char *p = s ? s : "";
        int r;

        if (!sel)
                return -ENOMEM;
        p = skip_ws(p);
        while (*p) {
                r = label_req(&p, sel, err, errsz);
                if (r < 0) {
                        selector_free(sel);
                        return r;
                }
                p = skip_ws(p);
                if (*p == ',')
                        p = skip_ws(p + 1);
                else if (*p) {
                        selector_free(sel);
                        return errbuf_set(err, errsz, -EINVAL, "invalid label selector: unexpected '%s'", p);
                }
        }
        *ret = sel;
        return 0;
}

/* --- fields ---------------------------------------------------------------------------------- */

/* The Pod field labels the API server accepts in a field selector (pkg/registry/core/pod). */
static const char *const pod_fields[] = {
        "metadata.name", "metadata.namespace", "spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
        "spec.serviceAccountName", "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName",
};

/* Unescapes s[0..n) (`\x` → x) into a new string. */
static char *unescape(const char *s, size_t n) {
        char *o = malloc(n + 1), *q = o;

        if (!o)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                if (s[i] == '\\' && i + 1 < n)
                        i++;
                *q++ = s[i];
        }
        *q = '\0';
        return o;
}

static int field_term(const char *t, size_t n, struct selector *sel, char *err, size_t errsz) {
        size_t opos = n, olen = 0;
        struct req *r;
        bool known = false;

        for (size_t i = 0; i < n; i++) {
                if (t[i] == '\\') {
                        i++;
                        continue;
                }
                if (t[i] == '!' && i + 1 < n && t[i + 1] == '=') {
                        opos = i, olen = 2;
                        break;
                }
                if (t[i] == '=') {
                        opos = i, olen = i + 1 < n && t[i + 1] == '=' ? 2 : 1;
                        break;
                }
        }
        if (opos == n)
                return errbuf_set(err, errsz, -EINVAL, "invalid field selector: '%.*s' is not key=value", (int)n, t);
        if (!(r = req_add(sel)) || !(r->key = strndup(t, opos)))
                return -ENOMEM;
        r->op = t[opos] == '!' ? OP_NEQ : OP_EQ;
        for (size_t i = 0; i < ELEMENTSOF(pod_fields); i++)
                known = known || streq(r->key, pod_fields[i]);
        if (!known)
                return errbuf_set(err, errsz, -EINVAL, "invalid field selector: field label not supported for pods: '%s'",
                                  r->key);
        if (!(r->values = calloc(1, sizeof *r->values)) || !(r->values[0] = unescape(t + opos + olen, n - opos - olen)))
                return -ENOMEM;
        r->n_values = 1;
        return 0;
}

int selector_parse_fields(const char *s, struct selector **ret, char *err, size_t errsz) {
        struct selector *sel = calloc(1, sizeof *sel);
        const char *p = s ? s : "";
        int r;

        if (!sel)
                return -ENOMEM;
        sel->fields = true;
        while (*p) {
                const char *t = p;
                size_t n = 0;

                while (t[n] && t[n] != ',') {
                        if (t[n] == '\\' && t[n + 1])
                                n++;
                        n++;
                }
                if (n > 0 && (r = field_term(t, n, sel, err, errsz)) < 0) {
                        selector_free(sel);
                        return r;
                }
                p = t[n] ? t + n + 1 : t + n;
        }
        *ret = sel;
        return 0;
}

/* --- matching -------------------------------------------------------------------------------- */

static bool in_values(const struct req *r, const char *v) {
        for (size_t i = 0; i < r->n_values; i++)
                if (streq(r->values[i], v))
                        return true;
        return false;
}

/* A Pod field's value as the API server compares it: missing → "", hostNetwork as a bool. */
static const char *pod_field(const cJSON *pod, const char *key) {
        if (streq(key, "spec.hostNetwork")) {
                const cJSON *v = k8s_obj_path(pod, key);
                return cJSON_IsTrue(v) ? "true" : "false";
        }
        const char *v = k8s_obj_string(pod, key);
        return v ? v : "";
}

static bool req_matches(const struct req *r, bool fields, const cJSON *pod) {
        const char *v;

        if (fields)
                v = pod_field(pod, r->key);
        else {
                const cJSON *l = k8s_obj_child(k8s_obj_object(pod, "metadata.labels"), r->key);
                v = cJSON_IsString(l) ? l->valuestring : NULL;
        }
        switch (r->op) {
        case OP_EQ:
        case OP_IN:
                return v && in_values(r, v);
        case OP_NEQ:
        case OP_NOTIN:
                return !v || !in_values(r, v);
        case OP_EXISTS:
                return v;
        case OP_NOT_EXISTS:
                return !v;
        case OP_GT:
        case OP_LT: {
                char *end;
                long long n;
                if (!v || !*v)
                        return false;
                errno = 0;
                n = strtoll(v, &end, 10);
                if (errno || *end)
                        return false;
                return r->op == OP_GT ? n > r->num : n < r->num;
        }
        }
        return false;
}

bool selector_matches(const struct selector *sel, const cJSON *pod) {
        if (!sel)
                return true;
        for (size_t i = 0; i < sel->n; i++)
                if (!req_matches(&sel->r[i], sel->fields, pod))
                        return false;
        return true;
}
