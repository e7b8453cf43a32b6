/* SPDX-License-Identifier: Apache-2.0 */
/* toml.c: a strict TOML subset for the runtime configs doctor reads (see toml.h). Untrusted
 * input: every read is bounded by the text's end, recursion by a depth limit, and values are
 * kept only when typed as we need them. Spec: TOML v1.0.0. */
#include "agent/toml.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/errbuf.h"
#include "base/macro.h"

#define KEY_SEP '\x1f' /* joins key components; control characters are refused in keys */
#define MAX_DEPTH 32

enum vtype { V_SKIPPED, V_STRING, V_STRV, V_INT };

struct entry {
        char *key;
        enum vtype type;
        char *s;
        char **v;
        int64_t i;
};

struct toml_doc {
        struct entry *e;
        size_t n, cap;
};

struct value {
        enum vtype type;
        char *s;
        char **v;
        size_t nv;
        int64_t i;
};

struct parser {
        const char *p, *end;
        unsigned line;
        char *err;
        size_t errsz;
};

static void value_done(struct value *v) {
        free(v->s);
        strv_free(v->v);
        *v = (struct value){};
}

#define FAIL(ps, fmt, ...) errbuf_set((ps)->err, (ps)->errsz, -EINVAL, "line %u: " fmt, (ps)->line, ##__VA_ARGS__)

static bool at_end(const struct parser *ps) { return ps->p >= ps->end; }
static int peek(const struct parser *ps, size_t off) {
        return ps->p + off < ps->end ? (unsigned char)ps->p[off] : -1;
}

static void skip_ws(struct parser *ps) {
        while (!at_end(ps) && (*ps->p == ' ' || *ps->p == '\t'))
                ps->p++;
}

/* A comment runs to the end of the line; control characters other than tab are refused. */
static int skip_comment(struct parser *ps) {
        if (peek(ps, 0) != '#')
                return 0;
        for (; !at_end(ps) && *ps->p != '\n'; ps->p++) {
                unsigned char c = (unsigned char)*ps->p;
                if ((c < 0x20 && c != '\t' && !(c == '\r' && peek(ps, 1) == '\n')) || c == 0x7f)
                        return FAIL(ps, "control character 0x%02x in a comment", c);
        }
        return 0;
}

/* After a value or header: only blanks and a comment before the end of the line. */
static int expect_eol(struct parser *ps) {
        int r;

        skip_ws(ps);
        r = skip_comment(ps);
        if (r < 0)
                return r;
        if (at_end(ps))
                return 0;
        if (*ps->p == '\r' && peek(ps, 1) == '\n')
                ps->p++;
        if (*ps->p != '\n')
                return FAIL(ps, "unexpected '%c' after the value", *ps->p);
        ps->p++;
        ps->line++;
        return 0;
}

/* Blanks, comments and newlines (inside arrays). */
static int skip_space_nl(struct parser *ps) {
        for (;;) {
                int r;
                skip_ws(ps);
                r = skip_comment(ps);
                if (r < 0)
                        return r;
                if (peek(ps, 0) == '\r' && peek(ps, 1) == '\n')
                        ps->p++;
                if (peek(ps, 0) != '\n')
                        return 0;
                ps->p++;
                ps->line++;
        }
}

static int buf_put(char **b, size_t *n, size_t *cap, const char *s, size_t len) {
        if (*n + len + 1 > *cap) {
                size_t c = (*cap ? *cap * 2 : 32);
                while (c < *n + len + 1)
                        c *= 2;
                char *nb = realloc(*b, c);
                if (!nb)
                        return -ENOMEM;
                *b = nb;
                *cap = c;
        }
        memcpy(*b + *n, s, len);
        *n += len;
        (*b)[*n] = 0;
        return 0;
}

static int put_utf8(char **b, size_t *n, size_t *cap, uint32_t cp) {
        char u[4];
        size_t k;

        if (cp < 0x80)
                u[0] = (char)cp, k = 1;
        else if (cp < 0x800)
                u[0] = (char)(0xc0 | cp >> 6), u[1] = (char)(0x80 | (cp & 0x3f)), k = 2;
        else if (cp < 0x10000)
                u[0] = (char)(0xe0 | cp >> 12), u[1] = (char)(0x80 | ((cp >> 6) & 0x3f)),
                u[2] = (char)(0x80 | (cp & 0x3f)), k = 3;
        else
                u[0] = (char)(0xf0 | cp >> 18), u[1] = (char)(0x80 | ((cp >> 12) & 0x3f)),
                u[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), u[3] = (char)(0x80 | (cp & 0x3f)), k = 4;
        return buf_put(b, n, cap, u, k);
}

/* A one-line basic ("...") or literal ('...') string; ps->p at the opening quote. */
static int parse_string(struct parser *ps, char **ret) {
        _cleanup_free_ char *b = NULL;
        size_t n = 0, cap = 0;
        char q = *ps->p++;
        int r;

        r = buf_put(&b, &n, &cap, "", 0);
        if (r < 0)
                return r;
        for (;;) {
                if (at_end(ps) || *ps->p == '\n')
                        return FAIL(ps, "unterminated string");
                unsigned char c = (unsigned char)*ps->p;
                if (c == (unsigned char)q) {
                        ps->p++;
                        break;
                }
                if ((c < 0x20 && c != '\t') || c == 0x7f)
                        return FAIL(ps, "control character 0x%02x in a string", c);
                if (q == '"' && c == '\\') {
                        int e = peek(ps, 1);
                        const char *rep = NULL;
                        ps->p += 2;
                        switch (e) {
                        case 'b': rep = "\b"; break;
                        case 't': rep = "\t"; break;
                        case 'n': rep = "\n"; break;
                        case 'f': rep = "\f"; break;
                        case 'r': rep = "\r"; break;
                        case '"': rep = "\""; break;
                        case '\\': rep = "\\"; break;
                        case 'u':
                        case 'U': {
                                unsigned k = e == 'u' ? 4 : 8;
                                uint32_t cp = 0;
                                for (unsigned j = 0; j < k; j++) {
                                        int h = peek(ps, j);
                                        if (h >= '0' && h <= '9')
                                                cp = cp * 16 + (uint32_t)(h - '0');
                                        else if ((h | 0x20) >= 'a' && (h | 0x20) <= 'f')
                                                cp = cp * 16 + (uint32_t)((h | 0x20) - 'a' + 10);
                                        else
                                                return FAIL(ps, "bad \\%c escape", e);
                                }
                                if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                                        return FAIL(ps, "escape \\%c names no Unicode scalar value", e);
                                ps->p += k;
                                r = put_utf8(&b, &n, &cap, cp);
                                if (r < 0)
                                        return r;
                                continue;
                        }
                        default:
                                return FAIL(ps, "bad escape '\\%c'", e < 0x20 || e > 0x7e ? '?' : e);
                        }
                        r = buf_put(&b, &n, &cap, rep, 1);
                } else {
                        r = buf_put(&b, &n, &cap, ps->p++, 1);
                }
                if (r < 0)
                        return r;
        }
        if (strlen(b) != n)
                return FAIL(ps, "NUL in a string");
        *ret = TAKE_PTR(b);
        return 0;
}

/* A multi-line string (""" or '''), skipped: no key we read is one. */
static int skip_multiline(struct parser *ps) {
        char q = *ps->p;
        ps->p += 3;
        while (!at_end(ps)) {
                if (*ps->p == '\n')
                        ps->line++;
                if (q == '"' && *ps->p == '\\' && ps->p + 1 < ps->end) {
                        if (ps->p[1] == '\n')
                                ps->line++;
                        ps->p += 2;
                        continue;
                }
                if (*ps->p == q && peek(ps, 1) == q && peek(ps, 2) == q) {
                        ps->p += 3;
                        /* Up to two more quotes belong to the content. */
                        for (int k = 0; k < 2 && peek(ps, 0) == q; k++)
                                ps->p++;
                        return 0;
                }
                ps->p++;
        }
        return FAIL(ps, "unterminated multi-line string");
}

static bool is_bare(int c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/* A dotted key, appended to *key (components joined by KEY_SEP). */
static int parse_key(struct parser *ps, char **key, size_t *n, size_t *cap) {
        int r;

        for (;;) {
                _cleanup_free_ char *comp = NULL;

                skip_ws(ps);
                if (peek(ps, 0) == '"' || peek(ps, 0) == '\'') {
                        if (peek(ps, 1) == peek(ps, 0) && peek(ps, 2) == peek(ps, 0))
                                return FAIL(ps, "a multi-line string cannot be a key");
                        r = parse_string(ps, &comp);
                        if (r < 0)
                                return r;
                        for (const char *c = comp; *c; c++)
                                if ((unsigned char)*c < 0x20)
                                        return FAIL(ps, "control character in a key");
                } else {
                        const char *s = ps->p;
                        while (!at_end(ps) && is_bare(*ps->p))
                                ps->p++;
                        if (ps->p == s)
                                return at_end(ps) || *ps->p == '\n' ? FAIL(ps, "expected a key")
                                                                     : FAIL(ps, "unexpected '%c' in a key", *ps->p);
                        comp = strndup(s, (size_t)(ps->p - s));
                        if (!comp)
                                return -ENOMEM;
                }
                if (*n > 0) {
                        r = buf_put(key, n, cap, (char[]){ KEY_SEP }, 1);
                        if (r < 0)
                                return r;
                }
                r = buf_put(key, n, cap, comp, strlen(comp));
                if (r < 0)
                        return r;
                skip_ws(ps);
                if (peek(ps, 0) != '.')
                        return 0;
                ps->p++;
        }
}

static int parse_value(struct parser *ps, struct value *ret, unsigned depth);

/* [ values ], kept as a string list when every element is a string. */
static int parse_array(struct parser *ps, struct value *ret, unsigned depth) {
        _cleanup_strv_free_ char **v = NULL;
        size_t nv = 0;
        bool all_strings = true;
        unsigned start = ps->line;
        int r;

        ps->p++;
        v = calloc(1, sizeof *v);
        if (!v)
                return -ENOMEM;
        for (;;) {
                struct value e = {};

                r = skip_space_nl(ps);
                if (r < 0)
                        return r;
                if (at_end(ps))
                        return errbuf_set(ps->err, ps->errsz, -EINVAL, "line %u: unterminated array", start);
                if (*ps->p == ']') {
                        ps->p++;
                        break;
                }
                r = parse_value(ps, &e, depth + 1);
                if (r < 0)
                        return r;
                if (e.type == V_STRING && all_strings) {
                        char **nvv = realloc(v, (nv + 2) * sizeof *v);
                        if (!nvv) {
                                value_done(&e);
                                return -ENOMEM;
                        }
                        v = nvv;
                        v[nv++] = TAKE_PTR(e.s);
                        v[nv] = NULL;
                } else {
                        all_strings = false;
                }
                value_done(&e);
                r = skip_space_nl(ps);
                if (r < 0)
                        return r;
                if (peek(ps, 0) == ',') {
                        ps->p++;
                        continue;
                }
                if (peek(ps, 0) == ']') {
                        ps->p++;
                        break;
                }
                if (at_end(ps))
                        return errbuf_set(ps->err, ps->errsz, -EINVAL, "line %u: unterminated array", start);
                return FAIL(ps, "expected ',' or ']' in an array, got '%c'", *ps->p);
        }
        if (all_strings) {
                ret->type = V_STRV;
                ret->v = TAKE_PTR(v);
                ret->nv = nv;
        } else {
                ret->type = V_SKIPPED;
        }
        return 0;
}

/* { k = v, ... } on one line: parsed for syntax, not kept. */
static int skip_inline_table(struct parser *ps, unsigned depth) {
        int r;

        ps->p++;
        skip_ws(ps);
        if (peek(ps, 0) == '}') {
                ps->p++;
                return 0;
        }
        for (;;) {
                _cleanup_free_ char *k = NULL;
                size_t kn = 0, kc = 0;
                struct value v = {};

                r = parse_key(ps, &k, &kn, &kc);
                if (r < 0)
                        return r;
                if (peek(ps, 0) != '=')
                        return FAIL(ps, "expected '=' after a key");
                ps->p++;
                skip_ws(ps);
                r = parse_value(ps, &v, depth + 1);
                value_done(&v);
                if (r < 0)
                        return r;
                skip_ws(ps);
                if (peek(ps, 0) == ',') {
                        ps->p++;
                        continue;
                }
                if (peek(ps, 0) == '}') {
                        ps->p++;
                        return 0;
                }
                return FAIL(ps, "expected ',' or '}' in an inline table");
        }
}

static bool is_scalar_char(int c) {
        return is_bare(c) || c == '+' || c == '.' || c == ':';
}

/* Integers (decimal, '_' between digits) are kept; booleans, floats, dates, hex/octal/binary
 * integers are skipped after a character-class check. */
static int parse_scalar(struct parser *ps, struct value *ret) {
        const char *s = ps->p;
        size_t n;

        while (!at_end(ps) && is_scalar_char(*ps->p))
                ps->p++;
        /* A date-time with a space before the time: "1979-05-27 07:32:00". */
        if (ps->p - s == 10 && s[4] == '-' && peek(ps, 0) == ' ' && peek(ps, 1) >= '0' && peek(ps, 1) <= '9') {
                ps->p++;
                while (!at_end(ps) && is_scalar_char(*ps->p))
                        ps->p++;
        }
        n = (size_t)(ps->p - s);
        if (n == 0)
                return at_end(ps) || *ps->p == '\n' ? FAIL(ps, "expected a value")
                                                     : FAIL(ps, "unexpected '%c' where a value belongs", *ps->p);
        /* Decimal integer: [+-]?(0|[1-9](_?[0-9])*) */
        size_t i = 0;
        bool neg = false;
        if (s[0] == '+' || s[0] == '-')
                neg = s[0] == '-', i = 1;
        if (i < n && s[i] >= '0' && s[i] <= '9' && !(s[i] == '0' && n - i > 1)) {
                uint64_t v = 0;
                bool ok = true, prev_digit = false;
                for (; i < n && ok; i++) {
                        if (s[i] >= '0' && s[i] <= '9') {
                                if (v > (UINT64_MAX - 9) / 10)
                                        ok = false;
                                v = v * 10 + (uint64_t)(s[i] - '0');
                                prev_digit = true;
                        } else if (s[i] == '_' && prev_digit && i + 1 < n) {
                                prev_digit = false;
                        } else {
                                ok = false;
                        }
                }
                if (ok && prev_digit && v <= (uint64_t)INT64_MAX + neg) {
                        ret->type = V_INT;
                        ret->i = neg ? (int64_t)(0 - v) : (int64_t)v;
                        return 0;
                }
        }
        ret->type = V_SKIPPED;
        return 0;
}

static int parse_value(struct parser *ps, struct value *ret, unsigned depth) {
        int c = peek(ps, 0);

        *ret = (struct value){};
        if (depth > MAX_DEPTH)
                return FAIL(ps, "values nested deeper than %d", MAX_DEPTH);
        if (c == '"' || c == '\'') {
                if (peek(ps, 1) == c && peek(ps, 2) == c) {
                        ret->type = V_SKIPPED;
                        return skip_multiline(ps);
                }
                ret->type = V_STRING;
                return parse_string(ps, &ret->s);
        }
        if (c == '[')
                return parse_array(ps, ret, depth);
        if (c == '{') {
                ret->type = V_SKIPPED;
                return skip_inline_table(ps, depth);
        }
        return parse_scalar(ps, ret);
}

static struct entry *doc_find(const struct toml_doc *d, const char *key) {
        for (size_t i = 0; i < d->n; i++)
                if (strcmp(d->e[i].key, key) == 0)
                        return &d->e[i];
        return NULL;
}

static int doc_add(struct parser *ps, unsigned line, struct toml_doc *d, char *key, struct value *v) {
        if (doc_find(d, key)) {
                for (char *c = key; *c; c++)
                        if (*c == KEY_SEP)
                                *c = '.';
                return errbuf_set(ps->err, ps->errsz, -EINVAL, "line %u: key \"%.200s\" defined twice", line, key);
        }
        if (d->n == d->cap) {
                size_t c = d->cap ? d->cap * 2 : 16;
                struct entry *ne = realloc(d->e, c * sizeof *ne);
                if (!ne)
                        return -ENOMEM;
                d->e = ne;
                d->cap = c;
        }
        d->e[d->n++] = (struct entry){ .key = key, .type = v->type, .s = TAKE_PTR(v->s), .v = TAKE_PTR(v->v), .i = v->i };
        return 0;
}

struct toml_doc *toml_free(struct toml_doc *d) {
        if (!d)
                return NULL;
        for (size_t i = 0; i < d->n; i++) {
                free(d->e[i].key);
                free(d->e[i].s);
                strv_free(d->e[i].v);
        }
        free(d->e);
        free(d);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(struct toml_doc *, toml_free);

int toml_parse(const char *text, size_t len, struct toml_doc **ret, char *err, size_t errsz) {
        _cleanup_(toml_freep) struct toml_doc *d = NULL;
        _cleanup_free_ char *table = NULL; /* the current [table] path, "" for the root */
        size_t tn = 0, tc = 0;
        bool in_array_table = false;
        struct parser ps = { .p = text, .end = text + len, .line = 1, .err = err, .errsz = errsz };
        int r;

        if (len > TOML_MAX_SIZE)
                return errbuf_set(err, errsz, -EFBIG, "larger than %u bytes", TOML_MAX_SIZE);
        /* A UTF-8 byte-order mark is allowed at the start. */
        if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
                ps.p += 3;
        d = calloc(1, sizeof *d);
        if (!d)
                return -ENOMEM;
        r = buf_put(&table, &tn, &tc, "", 0);
        if (r < 0)
                return r;
        while (!at_end(&ps)) {
                r = skip_space_nl(&ps);
                if (r < 0)
                        return r;
                if (at_end(&ps))
                        break;
                if (*ps.p == '[') {
                        bool array = peek(&ps, 1) == '[';
                        ps.p += array ? 2 : 1;
                        tn = 0;
                        table[0] = 0;
                        r = parse_key(&ps, &table, &tn, &tc);
                        if (r < 0)
                                return r;
                        if (peek(&ps, 0) != ']' || (array && peek(&ps, 1) != ']'))
                                return FAIL(&ps, "expected '%s' after a table name", array ? "]]" : "]");
                        ps.p += array ? 2 : 1;
                        in_array_table = array;
                        r = expect_eol(&ps);
                        if (r < 0)
                                return r;
                        continue;
                }
                _cleanup_free_ char *key = NULL;
                size_t kn = 0, kc = 0;
                struct value v = {};
                unsigned kline = ps.line;

                if (tn > 0) {
                        r = buf_put(&key, &kn, &kc, table, tn);
                        if (r < 0)
                                return r;
                }
                r = parse_key(&ps, &key, &kn, &kc);
                if (r < 0)
                        return r;
                if (peek(&ps, 0) != '=')
                        return FAIL(&ps, "expected '=' after a key");
                ps.p++;
                skip_ws(&ps);
                r = parse_value(&ps, &v, 0);
                if (r >= 0)
                        r = expect_eol(&ps);
                if (r >= 0 && !in_array_table)
                        r = doc_add(&ps, kline, d, key, &v);
                if (r >= 0 && !in_array_table)
                        key = NULL; /* owned by d now */
                value_done(&v);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(d);
        return 0;
}

static const struct entry *lookup(const struct toml_doc *d, const char *const *path) {
        char key[1024];
        size_t n = 0;

        for (size_t i = 0; path[i]; i++) {
                size_t l = strlen(path[i]);
                if (n + l + 2 > sizeof key)
                        return NULL;
                if (i > 0)
                        key[n++] = KEY_SEP;
                memcpy(key + n, path[i], l);
                n += l;
        }
        key[n] = 0;
        return doc_find(d, key);
}

/* The entry at path when it holds type t: 0 and *ret, -ENOENT, or -EMEDIUMTYPE. */
static int lookup_typed(const struct toml_doc *d, const char *const *path, enum vtype t, const struct entry **ret) {
        const struct entry *e = lookup(d, path);
        if (!e)
                return -ENOENT;
        if (e->type != t)
                return -EMEDIUMTYPE;
        *ret = e;
        return 0;
}

int toml_get_string(const struct toml_doc *d, const char *const *path, const char **ret) {
        const struct entry *e;
        int r = lookup_typed(d, path, V_STRING, &e);
        if (r >= 0)
                *ret = e->s;
        return r;
}

int toml_get_strv(const struct toml_doc *d, const char *const *path, char *const **ret) {
        const struct entry *e;
        int r = lookup_typed(d, path, V_STRV, &e);
        if (r >= 0)
                *ret = e->v;
        return r;
}

int toml_get_int(const struct toml_doc *d, const char *const *path, int64_t *ret) {
        const struct entry *e;
        int r = lookup_typed(d, path, V_INT, &e);
        if (r >= 0)
                *ret = e->i;
        return r;
}
