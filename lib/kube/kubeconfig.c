/* SPDX-License-Identifier: Apache-2.0 */
/* kubeconfig.c: YAML / JSON kubeconfig parser (spec istio-cni.md §2.5, §4.4; Kubernetes
 * clientcmd v1 Config). YAML is read with libyaml and turned into the same cJSON tree as the JSON
 * form, so one resolver serves both. */
#include <errno.h>
#include <fcntl.h>
#include <search.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>
#include <yaml.h>

#include "kube/kubeconfig.h"
#include "base/errbuf.h"
#include "base/fileio.h"
#include "base/macro.h"

#define KUBECONFIG_MAX_SIZE (4u << 20)

DEFINE_TRIVIAL_CLEANUP_FUNC(cJSON *, cJSON_Delete);

/* ---- base64 ---- */

static int b64val(unsigned char c) {
        if (c >= 'A' && c <= 'Z')
                return c - 'A';
        if (c >= 'a' && c <= 'z')
                return c - 'a' + 26;
        if (c >= '0' && c <= '9')
                return c - '0' + 52;
        if (c == '+')
                return 62;
        if (c == '/')
                return 63;
        return -1;
}

int kubeconfig_base64_decode(const char *s, size_t len, void **ret, size_t *ret_len) {
        _cleanup_free_ unsigned char *out = malloc(len / 4 * 3 + 4);
        size_t n = 0, pad = 0;
        uint32_t acc = 0;
        unsigned bits = 0, chars = 0;

        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < len; i++) {
                unsigned char c = s[i];
                if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
                        continue;
                if (c == '=') {
                        pad++;
                        continue;
                }
                int v = b64val(c);
                if (v < 0 || pad > 0) /* garbage, or data after padding */
                        return -EINVAL;
                acc = (acc << 6) | (uint32_t)v;
                bits += 6;
                chars++;
                if (bits >= 8) {
                        bits -= 8;
                        out[n++] = (unsigned char)(acc >> bits);
                }
        }
        /* A trailing group of one character cannot encode a byte; padding must complete the
         * last quantum when present, and the unused low bits must be zero (canonical form). */
        if (chars % 4 == 1 || pad > 2 || (pad > 0 && (chars + pad) % 4 != 0) ||
            (acc & ((1u << bits) - 1)) != 0)
                return -EINVAL;
        out[n] = 0;
        *ret = TAKE_PTR(out);
        *ret_len = n;
        return 0;
}

/* ---- YAML → cJSON (libyaml's event parser) ----
 *
 * The tree is the one client-go decodes a kubeconfig from: sigs.k8s.io/yaml turns the YAML into
 * JSON with go-yaml v2, so one resolver serves both forms.
 *  - A plain untagged scalar resolves as go-yaml v2 (YAML 1.1) resolves it: "", ~, null, Null,
 *    NULL are null; y/yes/true/on and n/no/false/off (lower, Title or UPPER case) are booleans,
 *    which keep their text (ybool) so that a name or token written "yes" still reads as one.
 *    Everything else is a string: no kubeconfig field is a number, and a token 0123 must stay
 *    "0123" (go-yaml would read octal 83).
 *  - Quoted and block scalars, and !!str, are strings.
 *  - An alias is a copy of its anchor's node; a merge key "<<" works as in go-yaml v2: keys are
 *    set in document order and a later one wins (whether explicit or merged), and of a list of
 *    merged mappings the first wins. A key written twice is an error (go-yaml lets the last win;
 *    two "token:" lines are a mistake worth naming).
 *  - Bounds: YAML_MAX_DEPTH levels of nesting (the cJSON tree is freed and copied recursively),
 *    YAML_MAX_COPY for what aliases and merges may copy (a "billion laughs" document doubles it
 *    at each level), and one document per stream. */

/* Deep nesting is never needed by a kubeconfig; the bound keeps cJSON's recursion safe. */
#define YAML_MAX_DEPTH 32
/* Bytes of string plus YAML_VALUE_COST per value that aliases and merges may copy: as much as a
 * whole kubeconfig file may hold. */
#define YAML_MAX_COPY ((size_t)KUBECONFIG_MAX_SIZE)
#define YAML_VALUE_COST 64u

#define YAML_TAG_MERGE "tag:yaml.org,2002:merge"

struct yanchor {
        char *name;
        const cJSON *node;      /* borrowed: no node is freed before the parse ends (ydoc.keep) */
};

/* A key of an open mapping, for the duplicate check and merges. */
struct ykey {
        const char *name;       /* the item's own ->string */
        cJSON *item;
        bool merged;            /* set by a merge key, so a later key may replace it */
};

struct yframe {
        cJSON *node;            /* the open mapping or sequence */
        void *keys;             /* mapping: tsearch() tree of struct ykey */
        char *key;              /* mapping: the key whose value comes next; NULL: a key comes next */
        bool key_merge;         /* that key is "<<" */
        yaml_mark_t key_mark;
        bool merge_value;       /* the value of a "<<": merged into the parent when it ends */
        yaml_mark_t merge_mark; /* where that "<<" is */
        char *anchor;           /* registered when the node ends (an alias cannot name its own parent) */
        unsigned height;        /* 1 + the height of the highest child; a scalar has height 0 */
};

struct ydoc {
        struct yframe stack[YAML_MAX_DEPTH];
        unsigned depth;
        cJSON *root;
        unsigned docs;
        cJSON *keep;            /* nodes out of the tree (merge values, replaced values, anchored keys) */
        void *anchors;          /* tsearch() tree of struct yanchor */
        size_t copied;          /* against YAML_MAX_COPY */
        char *err;
        size_t errsz;
};

static int yerr(struct ydoc *d, yaml_mark_t m, const char *fmt, ...) _printf_(3, 4);
static int yerr(struct ydoc *d, yaml_mark_t m, const char *fmt, ...) {
        char msg[200];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        return errbuf_set(d->err, d->errsz, -EINVAL, "line %zu, column %zu: %s", m.line + 1, m.column + 1, msg);
}

static int ykey_cmp(const void *a, const void *b) {
        return strcmp(((const struct ykey *)a)->name, ((const struct ykey *)b)->name);
}

static int yanchor_cmp(const void *a, const void *b) {
        return strcmp(((const struct yanchor *)a)->name, ((const struct yanchor *)b)->name);
}

static void yanchor_free(void *p) {
        struct yanchor *a = p;
        free(a->name);
        free(a);
}

/* Hands a node that left the tree (or never entered it) to d->keep: an anchor may still name it. */
static void ykeep(struct ydoc *d, cJSON *n) {
        if (n && !cJSON_AddItemToArray(d->keep, n))
                cJSON_Delete(n); /* cannot happen: both are valid nodes */
}

/* The text of a string, or of a boolean read from a plain scalar (ybool); NULL otherwise. */
static const char *ytext(const cJSON *v) {
        return cJSON_IsString(v) || cJSON_IsBool(v) ? v->valuestring : NULL;
}

/* A boolean that keeps the text it was written as in valuestring (cJSON_Delete and
 * cJSON_Duplicate handle a valuestring on any type; printing a boolean ignores it). */
static cJSON *ybool(bool b, const char *text) {
        cJSON *j = cJSON_CreateBool(b);
        if (j && !(j->valuestring = strdup(text))) {
                cJSON_Delete(j);
                return NULL;
        }
        return j;
}

enum yplain { YPLAIN_STR, YPLAIN_NULL, YPLAIN_TRUE, YPLAIN_FALSE };

/* go-yaml v2's resolve() for the values that are not strings (numbers stay strings, see above). */
static enum yplain yresolve(const char *s) {
        static const char *const words[][11] = {
                [YPLAIN_NULL] = { "", "~", "null", "Null", "NULL" },
                [YPLAIN_TRUE] = { "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON" },
                [YPLAIN_FALSE] = { "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF" },
        };
        if (strlen(s) > 5)
                return YPLAIN_STR;
        for (size_t t = YPLAIN_NULL; t < ELEMENTSOF(words); t++)
                for (size_t i = 0; i < ELEMENTSOF(words[t]) && words[t][i]; i++)
                        if (streq(s, words[t][i]))
                                return (enum yplain)t;
        return YPLAIN_STR;
}

/* Adds to *cost what copying n costs and returns n's height; stops early past YAML_MAX_COPY. */
static unsigned ycost(const cJSON *n, size_t *cost) {
        unsigned h = 0;

        *cost += YAML_VALUE_COST + (n->string ? strlen(n->string) : 0) + (n->valuestring ? strlen(n->valuestring) : 0);
        for (const cJSON *c = n->child; c && *cost <= YAML_MAX_COPY; c = c->next) {
                unsigned ch = ycost(c, cost);
                if (ch > h)
                        h = ch;
        }
        return cJSON_IsArray(n) || cJSON_IsObject(n) ? h + 1 : 0;
}

/* Copies src (an anchored node, or a merged value) for a place at nesting level `level`. */
static int ycopy(struct ydoc *d, const cJSON *src, unsigned level, yaml_mark_t m, cJSON **ret, unsigned *ret_height) {
        size_t cost = d->copied;
        unsigned h = ycost(src, &cost);

        if (cost > YAML_MAX_COPY)
                return yerr(d, m, "aliases and merge keys expand to more than %zu bytes", YAML_MAX_COPY);
        if (level + h > YAML_MAX_DEPTH)
                return yerr(d, m, "nesting deeper than %d levels", YAML_MAX_DEPTH);
        d->copied = cost;
        *ret_height = h;
        *ret = cJSON_Duplicate(src, true);
        return *ret ? 0 : -ENOMEM;
}

static int yanchor_add(struct ydoc *d, const char *name, const cJSON *node) {
        struct yanchor probe = { .name = (char *)name }, **found = tfind(&probe, &d->anchors, yanchor_cmp);

        if (found) { /* a redefined anchor names the new node from here on (YAML 1.1 §3.2.2.2) */
                (*found)->node = node;
                return 0;
        }
        struct yanchor *a = malloc(sizeof *a);
        if (!a || !(a->name = strdup(name))) {
                free(a);
                return -ENOMEM;
        }
        a->node = node;
        if (!tsearch(a, &d->anchors, yanchor_cmp)) {
                yanchor_free(a);
                return -ENOMEM;
        }
        return 0;
}

static const cJSON *yanchor_find(struct ydoc *d, const char *name) {
        struct yanchor probe = { .name = (char *)name }, **found = tfind(&probe, &d->anchors, yanchor_cmp);
        return found ? (*found)->node : NULL;
}

/* Sets key to v in the mapping of frame f (v is owned by the tree or d->keep afterwards). An
 * explicit key may not repeat an explicit key; any other pair replaces the older value. */
static int yset(struct ydoc *d, struct yframe *f, const char *key, cJSON *v, bool merged, yaml_mark_t m) {
        struct ykey probe = { .name = key }, **found = tfind(&probe, &f->keys, ykey_cmp), *k;

        if (found) {
                k = *found;
                if (!merged && !k->merged) {
                        ykeep(d, v);
                        return yerr(d, m, "duplicate key '%s'", key);
                }
                ykeep(d, cJSON_DetachItemViaPointer(f->node, k->item));
        } else {
                k = calloc(1, sizeof *k);
                if (!k) {
                        ykeep(d, v);
                        return -ENOMEM;
                }
        }
        if (!cJSON_AddItemToObject(f->node, key, v)) {
                ykeep(d, v);
                if (!found)
                        free(k);
                return -ENOMEM;
        }
        k->name = v->string;    /* same text as before: the tree stays ordered */
        k->item = v;
        k->merged = merged;
        if (!found && !tsearch(k, &f->keys, ykey_cmp)) {
                free(k);
                return -ENOMEM;
        }
        return 0;
}

/* Merges src (the value of "<<") into the mapping of the top frame, as go-yaml v2 does. */
static int ymerge(struct ydoc *d, const cJSON *src, yaml_mark_t m) {
        struct yframe *f = &d->stack[d->depth - 1];
        _cleanup_free_ const cJSON **maps = NULL;
        size_t n = 0;
        int r;

        if (cJSON_IsObject(src)) {
                maps = malloc(sizeof *maps);
                if (!maps)
                        return -ENOMEM;
                maps[n++] = src;
        } else if (cJSON_IsArray(src)) {
                maps = calloc((size_t)cJSON_GetArraySize(src) + 1, sizeof *maps);
                if (!maps)
                        return -ENOMEM;
                for (const cJSON *c = src->child; c; c = c->next) {
                        if (!cJSON_IsObject(c))
                                break;
                        maps[n++] = c;
                }
                if (n != (size_t)cJSON_GetArraySize(src))
                        n = 0, src = NULL;
        } else
                src = NULL;
        if (!src)
                return yerr(d, m, "a merge key ('<<') needs a mapping or a list of mappings");
        /* The first mapping of a list wins: merge them from the last. */
        while (n-- > 0)
                for (const cJSON *c = maps[n]->child; c; c = c->next) {
                        cJSON *copy = NULL;
                        unsigned h = 0;
                        if ((r = ycopy(d, c, d->depth, m, &copy, &h)) < 0 ||
                            (r = yset(d, f, c->string, copy, true, m)) < 0)
                                return r;
                }
        return 0;
}

/* The value of a scalar event. */
static int yscalar(struct ydoc *d, const yaml_event_t *e, cJSON **ret) {
        const char *v = (const char *)e->data.scalar.value, *tag = (const char *)e->data.scalar.tag;
        enum yplain t = YPLAIN_STR;

        if (strlen(v) != e->data.scalar.length)
                return yerr(d, e->start_mark, "NUL character in a scalar");
        if (!tag)
                t = e->data.scalar.style == YAML_PLAIN_SCALAR_STYLE ? yresolve(v) : YPLAIN_STR;
        else if (streq(tag, "tag:yaml.org,2002:null") || streq(tag, "tag:yaml.org,2002:bool")) {
                t = yresolve(v);
                if ((t == YPLAIN_NULL) != (tag[18] == 'n') || t == YPLAIN_STR)
                        return yerr(d, e->start_mark, "'%s' is not a valid %s", v, tag + 18);
        } else if (!streq(tag, "!") && !streq(tag, "tag:yaml.org,2002:str") && !streq(tag, "tag:yaml.org,2002:int") &&
                   !streq(tag, "tag:yaml.org,2002:float") && !streq(tag, YAML_TAG_MERGE))
                return yerr(d, e->start_mark, "tag '%s' is not supported", tag);

        switch (t) {
        case YPLAIN_NULL:
                *ret = cJSON_CreateNull();
                break;
        case YPLAIN_TRUE:
        case YPLAIN_FALSE:
                *ret = ybool(t == YPLAIN_TRUE, v);
                break;
        default:
                *ret = cJSON_CreateString(v);
        }
        return *ret ? 0 : -ENOMEM;
}

/* A scalar or an alias where the top mapping expects a key. */
static int ykey(struct ydoc *d, struct yframe *f, const yaml_event_t *e) {
        const char *text;
        cJSON *node = NULL;
        int r;

        if (e->type == YAML_ALIAS_EVENT) {
                const cJSON *a = yanchor_find(d, (const char *)e->data.alias.anchor);
                if (!a)
                        return yerr(d, e->start_mark, "unknown anchor '%s'", (const char *)e->data.alias.anchor);
                text = ytext(a);
                if (!text)
                        return yerr(d, e->start_mark, "a mapping key must be a string");
                f->key_merge = false;
        } else {
                r = yscalar(d, e, &node);
                if (r < 0)
                        return r;
                text = ytext(node);
                if (!text) {
                        cJSON_Delete(node);
                        return yerr(d, e->start_mark, "a mapping key must not be null");
                }
                f->key_merge = e->data.scalar.tag
                                       ? streq((const char *)e->data.scalar.tag, YAML_TAG_MERGE)
                                       : e->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && streq(text, "<<");
                if (e->data.scalar.anchor) {
                        ykeep(d, node); /* the anchor names it */
                        if ((r = yanchor_add(d, (const char *)e->data.scalar.anchor, node)) < 0)
                                return r;
                        node = NULL;
                }
        }
        f->key = strdup(text);
        f->key_mark = e->start_mark;
        cJSON_Delete(node);
        return f->key ? 0 : -ENOMEM;
}

/* Places a new value (a scalar, a copied alias, or a mapping or sequence that just started) into
 * the document: as its root, as a sequence item, or under the pending key of a mapping. */
static int yplace(struct ydoc *d, cJSON *v, unsigned height) {
        if (d->depth == 0) {
                d->root = v;
                return 0;
        }
        struct yframe *f = &d->stack[d->depth - 1];
        if (f->height < height + 1)
                f->height = height + 1;
        if (cJSON_IsArray(f->node)) {
                if (cJSON_AddItemToArray(f->node, v))
                        return 0;
                ykeep(d, v);
                return -ENOMEM;
        }
        _cleanup_free_ char *key = TAKE_PTR(f->key);
        return yset(d, f, key, v, false, f->key_mark);
}

static void ykey_clear(struct yframe *f) {
        free(f->key);
        f->key = NULL;
        f->key_merge = false;
}

static void yframe_done(struct yframe *f) {
        tdestroy(f->keys, free);
        free(f->key);
        free(f->anchor);
        *f = (struct yframe){};
}

/* One parser event. */
static int yevent(struct ydoc *d, const yaml_event_t *e) {
        struct yframe *top = d->depth ? &d->stack[d->depth - 1] : NULL;
        bool want_key = top && cJSON_IsObject(top->node) && !top->key;
        cJSON *v = NULL;
        int r;

        switch (e->type) {
        case YAML_DOCUMENT_START_EVENT:
                if (d->docs++)
                        return yerr(d, e->start_mark, "a second document ('---') is not supported");
                return 0;

        case YAML_ALIAS_EVENT: {
                if (want_key)
                        return ykey(d, top, e);
                const cJSON *a = yanchor_find(d, (const char *)e->data.alias.anchor);
                if (!a)
                        return yerr(d, e->start_mark, "unknown anchor '%s'", (const char *)e->data.alias.anchor);
                if (top && cJSON_IsObject(top->node) && top->key_merge) {
                        r = ymerge(d, a, top->key_mark);
                        ykey_clear(top);
                        return r;
                }
                unsigned h = 0;
                if ((r = ycopy(d, a, d->depth, e->start_mark, &v, &h)) < 0)
                        return r;
                return yplace(d, v, h);
        }

        case YAML_SCALAR_EVENT:
                if (want_key)
                        return ykey(d, top, e);
                if (top && cJSON_IsObject(top->node) && top->key_merge)
                        return yerr(d, top->key_mark, "a merge key ('<<') needs a mapping or a list of mappings");
                if ((r = yscalar(d, e, &v)) < 0)
                        return r;
                if (e->data.scalar.anchor && (r = yanchor_add(d, (const char *)e->data.scalar.anchor, v)) < 0) {
                        cJSON_Delete(v);
                        return r;
                }
                return yplace(d, v, 0);

        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT: {
                bool map = e->type == YAML_MAPPING_START_EVENT;
                const char *tag = (const char *)(map ? e->data.mapping_start.tag : e->data.sequence_start.tag);
                const char *anchor = (const char *)(map ? e->data.mapping_start.anchor : e->data.sequence_start.anchor);
                if (want_key)
                        return yerr(d, e->start_mark, "a mapping key must be a scalar");
                if (tag && !streq(tag, "!") && !streq(tag, map ? "tag:yaml.org,2002:map" : "tag:yaml.org,2002:seq"))
                        return yerr(d, e->start_mark, "tag '%s' is not supported", tag);
                if (d->depth >= YAML_MAX_DEPTH)
                        return yerr(d, e->start_mark, "nesting deeper than %d levels", YAML_MAX_DEPTH);
                v = map ? cJSON_CreateObject() : cJSON_CreateArray();
                if (!v)
                        return -ENOMEM;
                struct yframe nf = { .node = v };
                if (anchor && !(nf.anchor = strdup(anchor))) {
                        cJSON_Delete(v);
                        return -ENOMEM;
                }
                if (top && cJSON_IsObject(top->node) && top->key_merge) {
                        /* Built aside, merged into the parent at its end. */
                        nf.merge_value = true;
                        nf.merge_mark = top->key_mark;
                        ykey_clear(top);
                        ykeep(d, v);
                } else if ((r = yplace(d, v, 1)) < 0) {
                        free(nf.anchor);
                        return r;
                }
                d->stack[d->depth++] = nf;
                return 0;
        }

        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT: {
                struct yframe f = *top;
                *top = (struct yframe){};
                d->depth--;
                if (f.anchor)
                        r = yanchor_add(d, f.anchor, f.node);
                else
                        r = 0;
                if (r >= 0 && d->depth > 0) {
                        struct yframe *parent = &d->stack[d->depth - 1];
                        unsigned h = f.height ? f.height : 1;
                        if (parent->height < h + 1)
                                parent->height = h + 1;
                        if (f.merge_value)
                                r = ymerge(d, f.node, f.merge_mark);
                }
                yframe_done(&f);
                return r;
        }

        default: /* stream start and end, document end */
                return 0;
        }
}

/* libyaml's error, with the line and column it names. */
static int yparser_err(struct ydoc *d, const yaml_parser_t *p, const char *text, size_t len) {
        if (p->error == YAML_MEMORY_ERROR)
                return -ENOMEM;
        const char *problem = p->problem ? p->problem : "invalid YAML";
        if (p->error == YAML_READER_ERROR) {
                /* The reader names a byte offset: count the lines up to it. */
                yaml_mark_t m = {};
                for (size_t i = 0; i < p->problem_offset && i < len; i++, m.column++)
                        if (text[i] == '\n')
                                m.line++, m.column = (size_t)-1;
                return yerr(d, m, "%s (byte 0x%02x)", problem, (unsigned)p->problem_value & 0xff);
        }
        if (p->context)
                return yerr(d, p->problem_mark, "%s (%s at line %zu, column %zu)", problem, p->context,
                            p->context_mark.line + 1, p->context_mark.column + 1);
        return yerr(d, p->problem_mark, "%s", problem);
}

/* Parses YAML text into *ret (NULL for a stream without a document). */
static int yaml_to_json(const char *text, size_t len, cJSON **ret, char *err, size_t errsz) {
        struct ydoc d = { .err = err, .errsz = errsz };
        yaml_parser_t p;
        int r = 0;

        const char *nul = memchr(text, '\0', len);
        if (nul) {
                size_t line = 1;
                for (const char *c = text; c < nul; c++)
                        line += *c == '\n';
                return errbuf_set(err, errsz, -EINVAL, "line %zu: NUL byte", line);
        }
        if (!(d.keep = cJSON_CreateArray()))
                return -ENOMEM;
        if (!yaml_parser_initialize(&p)) {
                cJSON_Delete(d.keep);
                return -ENOMEM;
        }
        yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
        for (bool end = false; !end && r >= 0;) {
                yaml_event_t e;
                if (!yaml_parser_parse(&p, &e)) {
                        r = yparser_err(&d, &p, text, len);
                        break;
                }
                end = e.type == YAML_STREAM_END_EVENT;
                r = yevent(&d, &e);
                yaml_event_delete(&e);
        }
        yaml_parser_delete(&p);
        while (d.depth > 0)
                yframe_done(&d.stack[--d.depth]);
        tdestroy(d.anchors, yanchor_free);
        cJSON_Delete(d.keep);
        if (r < 0) {
                cJSON_Delete(d.root);
                return r;
        }
        *ret = d.root;
        return 0;
}

/* ---- kubeconfig resolution ---- */

static const cJSON *find_named(const cJSON *root, const char *list, const char *member, const char *name,
                               char *err, size_t errsz, int *r) {
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, list), *it;

        if (arr && !cJSON_IsArray(arr) && !cJSON_IsNull(arr)) {
                *r = errbuf_set(err, errsz, -EINVAL, "'%s' is not a list", list);
                return NULL;
        }
        cJSON_ArrayForEach(it, arr) {
                const char *n = ytext(cJSON_GetObjectItemCaseSensitive(it, "name"));
                if (!cJSON_IsObject(it) || !n) {
                        *r = errbuf_set(err, errsz, -EINVAL, "an entry of '%s' has no name", list);
                        return NULL;
                }
                if (!streq(n, name))
                        continue;
                const cJSON *m = cJSON_GetObjectItemCaseSensitive(it, member);
                if (m && cJSON_IsNull(m))
                        m = NULL;
                if (m && !cJSON_IsObject(m)) {
                        *r = errbuf_set(err, errsz, -EINVAL, "%s '%s': '%s' is not a mapping", list, name, member);
                        return NULL;
                }
                if (!m) {
                        *r = errbuf_set(err, errsz, -EINVAL, "%s '%s' has no '%s'", list, name, member);
                        return NULL;
                }
                *r = 0;
                return m;
        }
        *r = errbuf_set(err, errsz, -EINVAL, "%s '%s' not found", list, name);
        return NULL;
}

/* Optional string field: absent/null → NULL; any other non-string is an error, except a YAML
 * plain scalar read as a boolean (a namespace "true", a token "yes"), which gives its text. */
static int get_str(const cJSON *o, const char *key, const char *where, const char **ret, char *err, size_t errsz) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
        const char *s = ytext(v);

        *ret = NULL;
        if (!v || cJSON_IsNull(v))
                return 0;
        if (!s)
                return errbuf_set(err, errsz, -EINVAL, "%s: '%s' must be a string", where, key);
        *ret = s[0] ? s : NULL;
        return 0;
}

static int dup_path(const char *base_dir, const char *path, char **ret) {
        if (!path) {
                *ret = NULL;
                return 0;
        }
        if (path[0] == '/' || !base_dir || !base_dir[0])
                *ret = strdup(path);
        else if (asprintf(ret, "%s%s%s", base_dir,
                          base_dir[strlen(base_dir) - 1] == '/' ? "" : "/", path) < 0)
                *ret = NULL;
        return *ret ? 0 : -ENOMEM;
}

static int dup_b64(const char *s, const char *where, const char *key, void **ret, size_t *ret_len,
                   char *err, size_t errsz) {
        if (!s)
                return 0;
        int r = kubeconfig_base64_decode(s, strlen(s), ret, ret_len);
        if (r == -EINVAL)
                return errbuf_set(err, errsz, -EINVAL, "%s: '%s' is not valid base64", where, key);
        return r;
}

/* The cluster half of resolve(): server, CA, TLS name, insecure flag. Fills k; the caller frees
 * it on error. */
static int resolve_cluster(const cJSON *cl, const char *cluster, const char *base_dir, struct kubeconfig *k, char *err,
                           size_t errsz) {
        const char *s;
        char where[300];
        int r;

        snprintf(where, sizeof where, "cluster '%s'", cluster);
        if ((r = get_str(cl, "proxy-url", where, &s, err, errsz)) < 0)
                return r;
        if (s)
                return errbuf_set(err, errsz, -EOPNOTSUPP, "%s: proxy-url is not supported", where);
        if ((r = get_str(cl, "server", where, &s, err, errsz)) < 0)
                return r;
        if (!s)
                return errbuf_set(err, errsz, -EINVAL, "%s has no server", where);
        if (strncmp(s, "https://", 8) != 0 && strncmp(s, "http://", 7) != 0)
                return errbuf_set(err, errsz, -EINVAL, "%s: server '%s' is not an http(s) URL", where, s);
        if (strpbrk(s, " \r\n?#"))
                return errbuf_set(err, errsz, -EINVAL, "%s: server URL must not contain spaces, '?' or '#'", where);
        if (!(k->server = strdup(s)))
                return -ENOMEM;
        for (size_t l = strlen(k->server); l > 0 && k->server[l - 1] == '/'; l--)
                k->server[l - 1] = 0;

        if ((r = get_str(cl, "certificate-authority", where, &s, err, errsz)) < 0 ||
            (r = dup_path(base_dir, s, &k->ca_file)) < 0)
                return r;
        if ((r = get_str(cl, "certificate-authority-data", where, &s, err, errsz)) < 0 ||
            (r = dup_b64(s, where, "certificate-authority-data", &k->ca_data, &k->ca_data_len, err, errsz)) < 0)
                return r;
        if ((r = get_str(cl, "tls-server-name", where, &s, err, errsz)) < 0)
                return r;
        if (s && !(k->tls_server_name = strdup(s)))
                return -ENOMEM;
        const cJSON *ins = cJSON_GetObjectItemCaseSensitive(cl, "insecure-skip-tls-verify");
        if (ins && !cJSON_IsNull(ins) && !cJSON_IsBool(ins))
                return errbuf_set(err, errsz, -EINVAL, "%s: 'insecure-skip-tls-verify' must be a boolean", where);
        k->insecure_skip_tls_verify = cJSON_IsTrue(ins);
        /* clientcmd refuses a CA together with the insecure flag; so do we, because it usually
         * means someone meant to verify. */
        if (k->insecure_skip_tls_verify && (k->ca_file || k->ca_data))
                return errbuf_set(err, errsz, -EINVAL, "%s: a certificate authority and insecure-skip-tls-verify are mutually exclusive", where);
        return 0;
}

/* The user half of resolve(): token, token file, client certificate and key. Fills k; the caller
 * frees it on error. */
static int resolve_user(const cJSON *us, const char *user, const char *base_dir, struct kubeconfig *k, char *err,
                        size_t errsz) {
        const char *s;
        char where[300];
        int r;

        snprintf(where, sizeof where, "user '%s'", user);
        static const char *const unsupported[] = { "auth-provider", "exec", "username", "password", "as",
                                                   "as-groups", "as-uid", "as-user-extra" };
        for (size_t i = 0; i < ELEMENTSOF(unsupported); i++) {
                const cJSON *v = cJSON_GetObjectItemCaseSensitive(us, unsupported[i]);
                if (v && !cJSON_IsNull(v))
                        return errbuf_set(err, errsz, -EOPNOTSUPP, "%s: '%s' is not supported", where, unsupported[i]);
        }
        if ((r = get_str(us, "token", where, &s, err, errsz)) < 0)
                return r;
        if (s && !(k->token = strdup(s)))
                return -ENOMEM;
        if ((r = get_str(us, "tokenFile", where, &s, err, errsz)) < 0 ||
            (r = dup_path(base_dir, s, &k->token_file)) < 0 ||
            (r = get_str(us, "client-certificate", where, &s, err, errsz)) < 0 ||
            (r = dup_path(base_dir, s, &k->client_cert_file)) < 0 ||
            (r = get_str(us, "client-key", where, &s, err, errsz)) < 0 ||
            (r = dup_path(base_dir, s, &k->client_key_file)) < 0 ||
            (r = get_str(us, "client-certificate-data", where, &s, err, errsz)) < 0 ||
            (r = dup_b64(s, where, "client-certificate-data", &k->client_cert_data, &k->client_cert_data_len, err, errsz)) < 0 ||
            (r = get_str(us, "client-key-data", where, &s, err, errsz)) < 0 ||
            (r = dup_b64(s, where, "client-key-data", &k->client_key_data, &k->client_key_data_len, err, errsz)) < 0)
                return r;
        bool have_cert = k->client_cert_file || k->client_cert_data;
        bool have_key = k->client_key_file || k->client_key_data;
        if (have_cert != have_key)
                return errbuf_set(err, errsz, -EINVAL, "%s: client certificate and client key must be given together", where);
        return 0;
}

static int resolve(const cJSON *root, const char *base_dir, struct kubeconfig *ret, char *err, size_t errsz) {
        struct kubeconfig k = {};
        const char *ctx, *cluster, *user;
        const cJSON *cobj, *cl, *us = NULL;
        int r;

        if (!cJSON_IsObject(root))
                return errbuf_set(err, errsz, -EINVAL, "kubeconfig is not a mapping");
        r = get_str(root, "current-context", "kubeconfig", &ctx, err, errsz);
        if (r < 0)
                return r;
        if (!ctx)
                return errbuf_set(err, errsz, -EINVAL, "no current-context");
        cobj = find_named(root, "contexts", "context", ctx, err, errsz, &r);
        if (!cobj)
                return r;
        if ((r = get_str(cobj, "cluster", "context", &cluster, err, errsz)) < 0 ||
            (r = get_str(cobj, "user", "context", &user, err, errsz)) < 0)
                return r;
        if (!cluster)
                return errbuf_set(err, errsz, -EINVAL, "context '%s' names no cluster", ctx);
        cl = find_named(root, "clusters", "cluster", cluster, err, errsz, &r);
        if (!cl)
                return r;
        if (user) {
                us = find_named(root, "users", "user", user, err, errsz, &r);
                if (!us)
                        return r;
        }

        /* Allocation failures below leave k partially filled; free it on every error path. */
        r = -ENOMEM;
        if (!(k.context = strdup(ctx)) || !(k.cluster_name = strdup(cluster)) ||
            (user && !(k.user_name = strdup(user))))
                goto fail;

        r = resolve_cluster(cl, cluster, base_dir, &k, err, errsz);
        if (r >= 0 && us)
                r = resolve_user(us, user, base_dir, &k, err, errsz);
        if (r < 0)
                goto fail;
        *ret = k;
        return 0;
fail:
        kubeconfig_done(&k);
        return r;
}

/* JSON is YAML, but a text that starts like JSON is read with cJSON first: JSON's own types, and
 * faster. What cJSON refuses goes to libyaml, which reads flow-style YAML ("{a: b}") too and
 * names the line and column of an error. *ret is NULL for a text without a document. */
static int yaml_or_json(const char *text, size_t len, cJSON **ret, char *err, size_t errsz) {
        size_t i = 0;

        while (i < len && (text[i] == ' ' || text[i] == '\n' || text[i] == '\r' || text[i] == '\t'))
                i++;
        if (i < len && (text[i] == '{' || text[i] == '[') && !memchr(text, '\0', len)) {
                const char *end = NULL;
                cJSON *j = cJSON_ParseWithLengthOpts(text, len, &end, false);
                if (j) {
                        size_t e = (size_t)(end - text);
                        while (e < len && (text[e] == ' ' || text[e] == '\n' || text[e] == '\r' || text[e] == '\t'))
                                e++;
                        if (e == len) {
                                *ret = j;
                                return 0;
                        }
                        cJSON_Delete(j);
                }
        }
        *ret = NULL;
        return yaml_to_json(text, len, ret, err, errsz);
}

int kubeconfig_yaml_parse(const char *text, size_t len, cJSON **ret, char *err, size_t errsz) {
        cJSON *j = NULL;

        if (err && errsz)
                err[0] = 0;
        int r = yaml_or_json(text, len, &j, err, errsz);
        if (r < 0)
                return r;
        if (!j && !(j = cJSON_CreateNull()))
                return -ENOMEM;
        *ret = j;
        return 0;
}

int kubeconfig_parse(const char *text, size_t len, const char *base_dir, struct kubeconfig *ret,
                     char *err, size_t errsz) {
        _cleanup_(cJSON_Deletep) cJSON *root = NULL;
        int r;

        if (err && errsz)
                err[0] = 0;
        if (!text)
                return errbuf_set(err, errsz, -EINVAL, "no kubeconfig text");
        if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
                text += 3;
                len -= 3;
        }
        r = yaml_or_json(text, len, &root, err, errsz);
        if (r < 0)
                return r;
        if (!root)
                return errbuf_set(err, errsz, -EINVAL, "empty kubeconfig");
        return resolve(root, base_dir, ret, err, errsz);
}

int kubeconfig_load(const char *path, struct kubeconfig *ret, char *err, size_t errsz) {
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *buf = NULL, *dir = NULL;
        size_t n = 0;
        struct stat st;
        int r;

        if (err && errsz)
                err[0] = 0;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return errbuf_set(err, errsz, -errno, "cannot open kubeconfig '%s': %s", path, strerror(errno));
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode) || st.st_size > KUBECONFIG_MAX_SIZE)
                return errbuf_set(err, errsz, -EINVAL, "kubeconfig '%s' is not a regular file of at most 4 MiB", path);
        r = fileio_read_all(fd, KUBECONFIG_MAX_SIZE, &buf, &n);
        if (r == -EFBIG)
                return errbuf_set(err, errsz, -EINVAL, "kubeconfig '%s' is not a regular file of at most 4 MiB", path);
        if (r < 0)
                return errbuf_set(err, errsz, r, "cannot read kubeconfig '%s': %s", path, strerror(-r));

        const char *slash = strrchr(path, '/');
        dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
        if (!dir)
                return -ENOMEM;

        char sub[512] = "";
        r = kubeconfig_parse(buf, n, dir, ret, sub, sizeof sub);
        if (r < 0 && err && errsz)
                snprintf(err, errsz, "kubeconfig '%s': %s", path, sub);
        return r;
}

void kubeconfig_done(struct kubeconfig *k) {
        if (!k)
                return;
        free(k->context);
        free(k->cluster_name);
        free(k->user_name);
        free(k->server);
        free(k->ca_file);
        free(k->ca_data);
        free(k->tls_server_name);
        /* Credentials: wipe before freeing so they do not linger in freed heap memory. */
        if (k->token)
                explicit_bzero(k->token, strlen(k->token));
        free(k->token);
        free(k->token_file);
        free(k->client_cert_file);
        free(k->client_key_file);
        free(k->client_cert_data);
        if (k->client_key_data)
                explicit_bzero(k->client_key_data, k->client_key_data_len);
        free(k->client_key_data);
        *k = (struct kubeconfig){};
}

int kubeconfig_in_cluster(const char *sa_dir, struct kubeconfig *ret, char *err, size_t errsz) {
        const char *host = getenv("KUBERNETES_SERVICE_HOST"), *port = getenv("KUBERNETES_SERVICE_PORT");
        struct kubeconfig kc = {};

        if (!sa_dir)
                sa_dir = KUBECONFIG_SA_DIR;
        if (!host || !*host || !port || !*port) {
                if (err && errsz)
                        snprintf(err, errsz, "not in a cluster (KUBERNETES_SERVICE_HOST/PORT unset)");
                return -ENOENT;
        }
        if (strpbrk(host, "/@?#[] \t\r\n") || strspn(port, "0123456789") != strlen(port) || strlen(port) > 5) {
                if (err && errsz)
                        snprintf(err, errsz, "bad KUBERNETES_SERVICE_HOST/PORT '%s' '%s'", host, port);
                return -EINVAL;
        }
        if (asprintf(&kc.server, strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host, port) < 0) {
                kc.server = NULL;
                return -ENOMEM;
        }
        if (asprintf(&kc.token_file, "%s/token", sa_dir) < 0)
                kc.token_file = NULL;
        if (asprintf(&kc.ca_file, "%s/ca.crt", sa_dir) < 0)
                kc.ca_file = NULL;
        if (!kc.token_file || !kc.ca_file) {
                kubeconfig_done(&kc);
                return -ENOMEM;
        }
        *ret = kc;
        return 0;
}
