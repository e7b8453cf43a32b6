/* SPDX-License-Identifier: Apache-2.0 */
/* gojson.c: JSON read/write with Go encoding/json semantics (spec istio-cni.md §4.5, §4.7; Go's
 * encoding/json decode.go, encode.go, and strconv.FormatFloat 'f'/'e' with precision -1). */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/gojson.h"
#include "base/jsonesc.h"
#include "base/macro.h"

/* ---- tree ---- */

gojson *gojson_new(enum gojson_type type) {
        gojson *v = calloc(1, sizeof *v);
        if (v)
                v->type = type;
        return v;
}

gojson *gojson_new_string(const char *s, size_t len) {
        gojson *v = gojson_new(GOJSON_STRING);
        if (!v)
                return NULL;
        v->str = malloc(len + 1);
        if (!v->str) {
                free(v);
                return NULL;
        }
        if (len)
                memcpy(v->str, s, len);
        v->str[len] = '\0';
        v->len = len;
        return v;
}

gojson *gojson_new_bool(bool b) {
        gojson *v = gojson_new(GOJSON_BOOL);
        if (v)
                v->boolean = b;
        return v;
}

gojson *gojson_free(gojson *v) {
        if (!v)
                return NULL;
        free(v->str);
        for (size_t i = 0; i < v->n_items; i++)
                gojson_free(v->items[i]);
        free(v->items);
        for (size_t i = 0; i < v->n_members; i++) {
                free(v->members[i].key);
                gojson_free(v->members[i].value);
        }
        free(v->members);
        free(v);
        return NULL;
}

static bool key_eq(const struct gojson_member *m, const char *key) {
        size_t n = strlen(key);
        return m->key_len == n && memcmp(m->key, key, n) == 0;
}

gojson *gojson_get(const gojson *obj, const char *key) {
        if (!obj || obj->type != GOJSON_OBJECT)
                return NULL;
        for (size_t i = obj->n_members; i > 0; i--)
                if (key_eq(&obj->members[i - 1], key))
                        return obj->members[i - 1].value;
        return NULL;
}

bool gojson_is_str(const gojson *v, const char *s) {
        size_t n = strlen(s);
        return v && v->type == GOJSON_STRING && v->len == n && memcmp(v->str, s, n) == 0;
}

static int grow(void **p, size_t *cap, size_t n, size_t size) {
        if (n < *cap)
                return 0;
        size_t ncap = *cap ? *cap * 2 : 4;
        void *q = reallocarray(*p, ncap, size);
        if (!q)
                return -ENOMEM;
        *p = q;
        *cap = ncap;
        return 0;
}

int gojson_array_append(gojson *arr, gojson *v) {
        if (!arr || arr->type != GOJSON_ARRAY || !v) {
                gojson_free(v);
                return -EINVAL;
        }
        if (grow((void **)&arr->items, &arr->cap, arr->n_items, sizeof *arr->items) < 0) {
                gojson_free(v);
                return -ENOMEM;
        }
        arr->items[arr->n_items++] = v;
        return 0;
}

static int object_append(gojson *obj, char *key, size_t key_len, gojson *v) {
        if (grow((void **)&obj->members, &obj->cap, obj->n_members, sizeof *obj->members) < 0)
                return -ENOMEM;
        obj->members[obj->n_members++] = (struct gojson_member){ .key = key, .key_len = key_len, .value = v };
        return 0;
}

size_t gojson_object_del(gojson *obj, const char *key) {
        size_t j = 0, removed = 0;

        if (!obj || obj->type != GOJSON_OBJECT)
                return 0;
        for (size_t i = 0; i < obj->n_members; i++) {
                if (key_eq(&obj->members[i], key)) {
                        free(obj->members[i].key);
                        gojson_free(obj->members[i].value);
                        removed++;
                } else
                        obj->members[j++] = obj->members[i];
        }
        obj->n_members = j;
        return removed;
}

int gojson_object_set(gojson *obj, const char *key, gojson *v) {
        char *k;

        if (!obj || obj->type != GOJSON_OBJECT || !v) {
                gojson_free(v);
                return -EINVAL;
        }
        gojson_object_del(obj, key);
        k = strdup(key);
        if (!k || object_append(obj, k, strlen(key), v) < 0) {
                free(k);
                gojson_free(v);
                return -ENOMEM;
        }
        return 0;
}

void gojson_array_remove(gojson *arr, size_t i) {
        if (!arr || arr->type != GOJSON_ARRAY || i >= arr->n_items)
                return;
        gojson_free(arr->items[i]);
        memmove(arr->items + i, arr->items + i + 1, (arr->n_items - i - 1) * sizeof *arr->items);
        arr->n_items--;
}

unsigned gojson_depth(const gojson *v) {
        unsigned d = 0;

        if (!v)
                return 0;
        for (size_t i = 0; i < v->n_items; i++) {
                unsigned k = gojson_depth(v->items[i]);
                if (k > d)
                        d = k;
        }
        for (size_t i = 0; i < v->n_members; i++) {
                unsigned k = gojson_depth(v->members[i].value);
                if (k > d)
                        d = k;
        }
        return v->type == GOJSON_ARRAY || v->type == GOJSON_OBJECT ? d + 1 : 0;
}

/* ---- UTF-8 (Go's utf8.DecodeRune rules) ---- */

/* Decodes one rune at s[0..n); returns its length, or 0 for an invalid sequence (Go: RuneError, 1). */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *ret) {
        unsigned char c = s[0];
        uint32_t r;
        size_t len;

        if (c < 0x80) {
                *ret = c;
                return 1;
        }
        if (c >= 0xC2 && c <= 0xDF) {
                len = 2;
                r = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
                len = 3;
                r = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
                len = 4;
                r = c & 0x07;
        } else
                return 0;
        if (n < len)
                return 0;
        for (size_t i = 1; i < len; i++) {
                if ((s[i] & 0xC0) != 0x80)
                        return 0;
                r = (r << 6) | (s[i] & 0x3F);
        }
        /* Overlong forms, UTF-16 surrogates and values past U+10FFFF are invalid. */
        if ((len == 3 && r < 0x800) || (len == 4 && (r < 0x10000 || r > 0x10FFFF)) || (r >= 0xD800 && r <= 0xDFFF))
                return 0;
        *ret = r;
        return len;
}

static size_t utf8_encode(uint32_t r, char *out) {
        if (r < 0x80) {
                out[0] = (char)r;
                return 1;
        }
        if (r < 0x800) {
                out[0] = (char)(0xC0 | (r >> 6));
                out[1] = (char)(0x80 | (r & 0x3F));
                return 2;
        }
        if (r < 0x10000) {
                out[0] = (char)(0xE0 | (r >> 12));
                out[1] = (char)(0x80 | ((r >> 6) & 0x3F));
                out[2] = (char)(0x80 | (r & 0x3F));
                return 3;
        }
        out[0] = (char)(0xF0 | (r >> 18));
        out[1] = (char)(0x80 | ((r >> 12) & 0x3F));
        out[2] = (char)(0x80 | ((r >> 6) & 0x3F));
        out[3] = (char)(0x80 | (r & 0x3F));
        return 4;
}

/* ---- parser ---- */

struct parser {
        const char *s;
        size_t len, pos;
        unsigned depth, max_depth;
        char *err;
        size_t errsz;
};

_printf_(2, 3) static int perr(struct parser *p, const char *fmt, ...) {
        va_list ap;
        int n;

        if (!p->err || p->errsz == 0)
                return -EINVAL;
        n = snprintf(p->err, p->errsz, "offset %zu: ", p->pos);
        if (n >= 0 && (size_t)n < p->errsz) {
                va_start(ap, fmt);
                vsnprintf(p->err + n, p->errsz - (size_t)n, fmt, ap);
                va_end(ap);
        }
        return -EINVAL;
}

/* The character at pos for an error message, Go style ('x' or the byte in hex). */
static const char *pchar(struct parser *p, char buf[16]) {
        unsigned char c = (unsigned char)p->s[p->pos];
        if (c >= 0x20 && c < 0x7F)
                snprintf(buf, 16, "'%c'", c);
        else
                snprintf(buf, 16, "byte 0x%02x", c);
        return buf;
}

static void skip_ws(struct parser *p) {
        while (p->pos < p->len) {
                char c = p->s[p->pos];
                if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
                        break;
                p->pos++;
        }
}

static int hex4(const char *s, size_t avail, uint32_t *ret) {
        uint32_t r = 0;
        if (avail < 4)
                return -1;
        for (int i = 0; i < 4; i++) {
                char c = s[i];
                r <<= 4;
                if (c >= '0' && c <= '9')
                        r |= (uint32_t)(c - '0');
                else if (c >= 'a' && c <= 'f')
                        r |= (uint32_t)(c - 'a' + 10);
                else if (c >= 'A' && c <= 'F')
                        r |= (uint32_t)(c - 'A' + 10);
                else
                        return -1;
        }
        *ret = r;
        return 0;
}

/* Parses a string at pos (on the opening quote) into a fresh buffer. */
static int parse_string(struct parser *p, char **ret, size_t *ret_len) {
        _cleanup_free_ char *out = NULL;
        size_t start = ++p->pos, n = 0, cap;
        char cb[16];

        /* Decoded text is never longer than the source (\uXXXX → at most 3 bytes; a replaced
         * invalid byte → 3 bytes, so allow for that). */
        size_t end = start;
        while (end < p->len && p->s[end] != '"') {
                if (p->s[end] == '\\')
                        end++;
                end++;
        }
        cap = (end - start) * 3 + 1;
        out = malloc(cap);
        if (!out)
                return -ENOMEM;

        for (;;) {
                if (p->pos >= p->len)
                        return perr(p, "unexpected end of JSON input in string");
                unsigned char c = (unsigned char)p->s[p->pos];
                if (c == '"') {
                        p->pos++;
                        break;
                }
                if (c < 0x20)
                        return perr(p, "invalid character %s in string literal", pchar(p, cb));
                if (c == '\\') {
                        if (p->pos + 1 >= p->len)
                                return perr(p, "unexpected end of JSON input in string escape");
                        char e = p->s[p->pos + 1];
                        uint32_t r;
                        switch (e) {
                        case '"': case '\\': case '/':
                                out[n++] = e;
                                p->pos += 2;
                                continue;
                        case 'b': out[n++] = '\b'; p->pos += 2; continue;
                        case 'f': out[n++] = '\f'; p->pos += 2; continue;
                        case 'n': out[n++] = '\n'; p->pos += 2; continue;
                        case 'r': out[n++] = '\r'; p->pos += 2; continue;
                        case 't': out[n++] = '\t'; p->pos += 2; continue;
                        case 'u':
                                if (hex4(p->s + p->pos + 2, p->len - p->pos - 2, &r) < 0) {
                                        p->pos += 2;
                                        return perr(p, "invalid \\u escape in string literal");
                                }
                                p->pos += 6;
                                if (r >= 0xD800 && r <= 0xDFFF) {
                                        /* Go: a high surrogate followed by a low one is a pair;
                                         * anything else is U+FFFD and the next escape stands alone. */
                                        uint32_t r2;
                                        if (r < 0xDC00 && p->pos + 1 < p->len && p->s[p->pos] == '\\' &&
                                            p->s[p->pos + 1] == 'u' &&
                                            hex4(p->s + p->pos + 2, p->len - p->pos - 2, &r2) == 0 &&
                                            r2 >= 0xDC00 && r2 <= 0xDFFF) {
                                                r = 0x10000 + ((r - 0xD800) << 10) + (r2 - 0xDC00);
                                                p->pos += 6;
                                        } else
                                                r = 0xFFFD;
                                }
                                n += utf8_encode(r, out + n);
                                continue;
                        default:
                                p->pos++;
                                return perr(p, "invalid character %s in string escape code", pchar(p, cb));
                        }
                }
                if (c < 0x80) {
                        out[n++] = (char)c;
                        p->pos++;
                        continue;
                }
                uint32_t r;
                size_t k = utf8_decode((const unsigned char *)p->s + p->pos, p->len - p->pos, &r);
                if (k == 0) {
                        /* Go's Unmarshal replaces invalid UTF-8 with U+FFFD, one byte at a time. */
                        n += utf8_encode(0xFFFD, out + n);
                        p->pos++;
                } else {
                        memcpy(out + n, p->s + p->pos, k);
                        n += k;
                        p->pos += k;
                }
        }
        out[n] = '\0';
        *ret = TAKE_PTR(out);
        *ret_len = n;
        return 0;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static int parse_number(struct parser *p, gojson **ret) {
        size_t start = p->pos, i = p->pos;
        char cb[16];

        if (i < p->len && p->s[i] == '-')
                i++;
        if (i >= p->len) {
                p->pos = i;
                return perr(p, "unexpected end of JSON input in number");
        }
        if (p->s[i] == '0')
                i++;
        else if (is_digit(p->s[i]))
                while (i < p->len && is_digit(p->s[i]))
                        i++;
        else {
                p->pos = i;
                return perr(p, "invalid character %s in numeric literal", pchar(p, cb));
        }
        if (i < p->len && p->s[i] == '.') {
                i++;
                if (i >= p->len || !is_digit(p->s[i])) {
                        p->pos = i;
                        return i >= p->len ? perr(p, "unexpected end of JSON input in number")
                                           : perr(p, "invalid character %s after decimal point in numeric literal", pchar(p, cb));
                }
                while (i < p->len && is_digit(p->s[i]))
                        i++;
        }
        if (i < p->len && (p->s[i] == 'e' || p->s[i] == 'E')) {
                i++;
                if (i < p->len && (p->s[i] == '+' || p->s[i] == '-'))
                        i++;
                if (i >= p->len || !is_digit(p->s[i])) {
                        p->pos = i;
                        return i >= p->len ? perr(p, "unexpected end of JSON input in number")
                                           : perr(p, "invalid character %s in exponent of numeric literal", pchar(p, cb));
                }
                while (i < p->len && is_digit(p->s[i]))
                        i++;
        }
        _cleanup_free_ char *txt = strndup(p->s + start, i - start);
        if (!txt)
                return -ENOMEM;
        double d = strtod(txt, NULL);
        if (!isfinite(d)) {
                p->pos = start;
                return perr(p, "cannot unmarshal number %.40s%s into a float64 (out of range)", txt,
                            strlen(txt) > 40 ? "..." : "");
        }
        gojson *v = gojson_new(GOJSON_NUMBER);
        if (!v)
                return -ENOMEM;
        v->number = d;
        p->pos = i;
        *ret = v;
        return 0;
}

static int parse_value(struct parser *p, gojson **ret);

static int parse_container(struct parser *p, bool object, gojson **ret) {
        _cleanup_gojson_ gojson *v = gojson_new(object ? GOJSON_OBJECT : GOJSON_ARRAY);
        char close = object ? '}' : ']';
        char cb[16];
        int r;

        if (!v)
                return -ENOMEM;
        if (++p->depth > p->max_depth)
                return perr(p, "JSON nested deeper than %u levels", p->max_depth);
        p->pos++;
        skip_ws(p);
        if (p->pos < p->len && p->s[p->pos] == close) {
                p->pos++;
                p->depth--;
                *ret = TAKE_PTR(v);
                return 0;
        }
        for (;;) {
                _cleanup_free_ char *key = NULL;
                size_t key_len = 0;
                gojson *item = NULL;

                skip_ws(p);
                if (object) {
                        if (p->pos >= p->len)
                                return perr(p, "unexpected end of JSON input in object");
                        if (p->s[p->pos] != '"')
                                return perr(p, "invalid character %s looking for beginning of object key string",
                                            pchar(p, cb));
                        r = parse_string(p, &key, &key_len);
                        if (r < 0)
                                return r;
                        skip_ws(p);
                        if (p->pos >= p->len)
                                return perr(p, "unexpected end of JSON input in object");
                        if (p->s[p->pos] != ':')
                                return perr(p, "invalid character %s after object key", pchar(p, cb));
                        p->pos++;
                }
                r = parse_value(p, &item);
                if (r < 0)
                        return r;
                if (object) {
                        r = object_append(v, key, key_len, item);
                        if (r < 0) {
                                gojson_free(item);
                                return r;
                        }
                        key = NULL;
                } else {
                        r = gojson_array_append(v, item);
                        if (r < 0)
                                return r;
                }
                skip_ws(p);
                if (p->pos >= p->len)
                        return perr(p, "unexpected end of JSON input in %s", object ? "object" : "array");
                if (p->s[p->pos] == ',') {
                        p->pos++;
                        continue;
                }
                if (p->s[p->pos] == close) {
                        p->pos++;
                        break;
                }
                return perr(p, "invalid character %s after %s", pchar(p, cb),
                            object ? "object key:value pair" : "array element");
        }
        p->depth--;
        *ret = TAKE_PTR(v);
        return 0;
}

static int parse_literal(struct parser *p, const char *word, gojson *v, gojson **ret) {
        size_t n = strlen(word);
        char cb[16];

        for (size_t i = 0; i < n; i++, p->pos++) {
                if (p->pos >= p->len) {
                        gojson_free(v);
                        return perr(p, "unexpected end of JSON input in literal %s", word);
                }
                if (p->s[p->pos] != word[i]) {
                        gojson_free(v);
                        return perr(p, "invalid character %s in literal %s", pchar(p, cb), word);
                }
        }
        if (!v)
                return -ENOMEM;
        *ret = v;
        return 0;
}

static int parse_value(struct parser *p, gojson **ret) {
        char cb[16];

        skip_ws(p);
        if (p->pos >= p->len)
                return perr(p, "unexpected end of JSON input");
        switch (p->s[p->pos]) {
        case '{':
                return parse_container(p, true, ret);
        case '[':
                return parse_container(p, false, ret);
        case '"': {
                gojson *v = gojson_new(GOJSON_STRING);
                if (!v)
                        return -ENOMEM;
                int r = parse_string(p, &v->str, &v->len);
                if (r < 0) {
                        gojson_free(v);
                        return r;
                }
                *ret = v;
                return 0;
        }
        case 't':
                return parse_literal(p, "true", gojson_new_bool(true), ret);
        case 'f':
                return parse_literal(p, "false", gojson_new_bool(false), ret);
        case 'n':
                return parse_literal(p, "null", gojson_new(GOJSON_NULL), ret);
        default:
                if (p->s[p->pos] == '-' || is_digit(p->s[p->pos]))
                        return parse_number(p, ret);
                return perr(p, "invalid character %s looking for beginning of value", pchar(p, cb));
        }
}

int gojson_parse(const char *text, size_t len, unsigned max_depth, gojson **ret, char *err, size_t errsz) {
        struct parser p = { .s = text, .len = len, .max_depth = max_depth ? max_depth : GOJSON_MAX_DEPTH,
                            .err = err, .errsz = errsz };
        _cleanup_gojson_ gojson *v = NULL;
        char cb[16];
        int r;

        if (err && errsz)
                err[0] = '\0';
        if (!text && len > 0)
                return -EINVAL;
        r = parse_value(&p, &v);
        if (r < 0)
                return r;
        skip_ws(&p);
        if (p.pos < p.len)
                return perr(&p, "invalid character %s after top-level value", pchar(&p, cb));
        *ret = TAKE_PTR(v);
        return 0;
}

/* ---- writer ---- */

void gojson_write_string(FILE *f, const char *s, size_t len) {
        static const char hex[] = "0123456789abcdef";
        const unsigned char *u = (const unsigned char *)s;

        fputc('"', f);
        for (size_t i = 0; i < len;) {
                unsigned char c = u[i];
                if (c < 0x80) {
                        char e[7];
                        i++;
                        if (jsonesc_byte(c, JSONESC_GO, e))
                                fputs(e, f);
                        else
                                fputc(c, f);
                        continue;
                }
                uint32_t r;
                size_t k = utf8_decode(u + i, len - i, &r);
                if (k == 0) {
                        fputs("\\ufffd", f);
                        i++;
                        continue;
                }
                /* U+2028/U+2029 are valid JSON but end a JavaScript line; Go escapes them. */
                if (r == 0x2028 || r == 0x2029)
                        fprintf(f, "\\u202%c", hex[r & 0xF]);
                else
                        fwrite(u + i, 1, k, f);
                i += k;
        }
        fputc('"', f);
}

void gojson_format_number(double x, char *buf, size_t size) {
        char tmp[64], digits[32];
        int exp10 = 0, nd = 0;
        bool neg = signbit(x);
        double ax = fabs(x);

        if (ax == 0) {
                snprintf(buf, size, neg ? "-0" : "0");
                return;
        }
        /* Shortest digits that read back as x (Go's strconv precision -1). */
        for (int prec = 1; prec <= 17; prec++) {
                snprintf(tmp, sizeof tmp, "%.*e", prec - 1, ax);
                if (strtod(tmp, NULL) == ax)
                        break;
        }
        /* tmp = d[.ddd]e±XX */
        char *e = strchr(tmp, 'e');
        exp10 = atoi(e + 1);
        for (char *q = tmp; q < e; q++)
                if (is_digit(*q))
                        digits[nd++] = *q;
        while (nd > 1 && digits[nd - 1] == '0')
                nd--;
        digits[nd] = '\0';

        char out[400];
        size_t o = 0;
        if (neg)
                out[o++] = '-';
        if (ax < 1e-6 || ax >= 1e21) {
                /* 'e' format: d[.ddd]e±dd, then Go's encoder turns "e-0d" into "e-d". */
                out[o++] = digits[0];
                if (nd > 1) {
                        out[o++] = '.';
                        memcpy(out + o, digits + 1, (size_t)nd - 1);
                        o += (size_t)nd - 1;
                }
                int ae = exp10 < 0 ? -exp10 : exp10;
                if (exp10 < 0 && ae < 10)
                        o += (size_t)snprintf(out + o, sizeof out - o, "e-%d", ae);
                else
                        o += (size_t)snprintf(out + o, sizeof out - o, "e%c%02d", exp10 < 0 ? '-' : '+', ae);
        } else if (exp10 >= 0) {
                /* 'f' format, integer part then the remaining digits as the fraction. */
                for (int i = 0; i <= exp10; i++)
                        out[o++] = i < nd ? digits[i] : '0';
                if (nd > exp10 + 1) {
                        out[o++] = '.';
                        for (int i = exp10 + 1; i < nd; i++)
                                out[o++] = digits[i];
                }
        } else {
                out[o++] = '0';
                out[o++] = '.';
                for (int i = 0; i < -exp10 - 1; i++)
                        out[o++] = '0';
                memcpy(out + o, digits, (size_t)nd);
                o += (size_t)nd;
        }
        out[o] = '\0';
        snprintf(buf, size, "%s", out);
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
        /* Equal keys keep document order, so the last of a run is the last duplicate. */
        return x < y ? -1 : x > y;
}

static void newline_indent(FILE *f, unsigned flags, unsigned level) {
        if (!(flags & GOJSON_INDENT))
                return;
        fputc('\n', f);
        for (unsigned i = 0; i < level; i++)
                fputs("  ", f);
}

static int write_value(FILE *f, const gojson *v, unsigned flags, unsigned level) {
        char num[400];
        int r;

        switch (v->type) {
        case GOJSON_NULL:
                fputs("null", f);
                return 0;
        case GOJSON_BOOL:
                fputs(v->boolean ? "true" : "false", f);
                return 0;
        case GOJSON_NUMBER:
                if (!isfinite(v->number))
                        return -EINVAL;
                gojson_format_number(v->number, num, sizeof num);
                fputs(num, f);
                return 0;
        case GOJSON_STRING:
                gojson_write_string(f, v->str, v->len);
                return 0;
        case GOJSON_ARRAY:
                if (v->n_items == 0) {
                        fputs("[]", f);
                        return 0;
                }
                fputc('[', f);
                for (size_t i = 0; i < v->n_items; i++) {
                        if (i > 0)
                                fputc(',', f);
                        newline_indent(f, flags, level + 1);
                        r = write_value(f, v->items[i], flags, level + 1);
                        if (r < 0)
                                return r;
                }
                newline_indent(f, flags, level);
                fputc(']', f);
                return 0;
        case GOJSON_OBJECT: {
                _cleanup_free_ const struct gojson_member **order = NULL;
                size_t n = 0;

                if (v->n_members == 0) {
                        fputs("{}", f);
                        return 0;
                }
                order = calloc(v->n_members, sizeof *order);
                if (!order)
                        return -ENOMEM;
                for (size_t i = 0; i < v->n_members; i++)
                        order[i] = &v->members[i];
                if (flags & GOJSON_SORT) {
                        qsort(order, v->n_members, sizeof *order, member_cmp);
                        /* Keep only the last member of each run of equal keys (Go map semantics). */
                        for (size_t i = 0; i < v->n_members; i++) {
                                if (i + 1 < v->n_members && order[i]->key_len == order[i + 1]->key_len &&
                                    memcmp(order[i]->key, order[i + 1]->key, order[i]->key_len) == 0)
                                        continue;
                                order[n++] = order[i];
                        }
                } else
                        n = v->n_members;
                fputc('{', f);
                for (size_t i = 0; i < n; i++) {
                        if (i > 0)
                                fputc(',', f);
                        newline_indent(f, flags, level + 1);
                        gojson_write_string(f, order[i]->key, order[i]->key_len);
                        fputs(flags & GOJSON_INDENT ? ": " : ":", f);
                        r = write_value(f, order[i]->value, flags, level + 1);
                        if (r < 0)
                                return r;
                }
                newline_indent(f, flags, level);
                fputc('}', f);
                return 0;
        }
        }
        return -EINVAL;
}

int gojson_format(const gojson *v, unsigned flags, char **ret, size_t *ret_len) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f;
        int r;

        if (!v)
                return -EINVAL;
        f = open_memstream(&buf, &len);
        if (!f)
                return -ENOMEM;
        r = write_value(f, v, flags, 0);
        if (r >= 0 && (flags & GOJSON_NEWLINE))
                fputc('\n', f);
        if (r >= 0 && ferror(f))
                r = -ENOMEM;
        r = memstream_finish(f, &buf, r, ret);
        if (r >= 0 && ret_len)
                *ret_len = len;
        return r;
}
