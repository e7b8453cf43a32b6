/* SPDX-License-Identifier: Apache-2.0 */
/* kubeconfig.c: strict YAML-subset / JSON kubeconfig parser (spec istio-cni.md §2.5, §4.4;
 * Kubernetes clientcmd v1 Config). The YAML subset is turned into the same cJSON tree as the
 * JSON form, so one resolver serves both. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "kube/kubeconfig.h"
#include "base/errbuf.h"
#include "base/fileio.h"
#include "base/macro.h"

#define KUBECONFIG_MAX_SIZE (4u << 20)
/* Deep nesting is never needed by a kubeconfig; the bound keeps recursion safe (fuzzing). */
#define YAML_MAX_DEPTH 32

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

/* ---- YAML subset → cJSON ---- */

struct yline {
        unsigned lineno;
        unsigned indent;        /* column of the first content character */
        const char *s;          /* content (after the indentation), not NUL-terminated */
        size_t len;             /* trailing spaces and CR stripped */
};

struct yparser {
        struct yline *lines;
        size_t n;
        size_t pos;
        const char *end;        /* end of the whole text: a block scalar reads raw lines */
        char *err;
        size_t errsz;
};

static int yerr(struct yparser *p, unsigned lineno, const char *what) {
        return errbuf_set(p->err, p->errsz, -EINVAL, "line %u: %s", lineno, what);
}

static bool is_ws(char c) {
        return c == ' ';
}

/* A "double-quoted" scalar on one line, JSON-style escapes (YAML 1.2 §7.3.1, the part a
 * kubeconfig uses). */
static int yscalar_double(struct yparser *p, unsigned lineno, const char *s, size_t len, cJSON **ret, size_t *consumed) {
        size_t i;

        _cleanup_free_ char *buf = malloc(len + 1);
        size_t n = 0;
        if (!buf)
                return -ENOMEM;
        for (i = 1; i < len && s[i] != '"'; i++) {
                char c = s[i];
                if (c != '\\') {
                        buf[n++] = c;
                        continue;
                }
                if (++i >= len)
                        break;
                switch (s[i]) {
                case '\\': buf[n++] = '\\'; break;
                case '"': buf[n++] = '"'; break;
                case '/': buf[n++] = '/'; break;
                case 'n': buf[n++] = '\n'; break;
                case 't': buf[n++] = '\t'; break;
                case 'r': buf[n++] = '\r'; break;
                case 'b': buf[n++] = '\b'; break;
                case 'f': buf[n++] = '\f'; break;
                case 'u': {
                        unsigned v = 0;
                        if (i + 4 >= len)
                                return yerr(p, lineno, "bad \\u escape");
                        for (int k = 1; k <= 4; k++) {
                                char h = s[i + k];
                                v <<= 4;
                                if (h >= '0' && h <= '9')
                                        v |= (unsigned)(h - '0');
                                else if (h >= 'a' && h <= 'f')
                                        v |= (unsigned)(h - 'a' + 10);
                                else if (h >= 'A' && h <= 'F')
                                        v |= (unsigned)(h - 'A' + 10);
                                else
                                        return yerr(p, lineno, "bad \\u escape");
                        }
                        i += 4;
                        /* Surrogates and NUL are not useful in a kubeconfig; refuse
                         * rather than produce invalid UTF-8 or truncated strings. */
                        if (v == 0 || (v >= 0xd800 && v <= 0xdfff))
                                return yerr(p, lineno, "unsupported \\u escape");
                        if (v < 0x80)
                                buf[n++] = (char)v;
                        else if (v < 0x800) {
                                buf[n++] = (char)(0xc0 | (v >> 6));
                                buf[n++] = (char)(0x80 | (v & 0x3f));
                        } else {
                                buf[n++] = (char)(0xe0 | (v >> 12));
                                buf[n++] = (char)(0x80 | ((v >> 6) & 0x3f));
                                buf[n++] = (char)(0x80 | (v & 0x3f));
                        }
                        break;
                }
                default:
                        return yerr(p, lineno, "unsupported escape in double-quoted scalar");
                }
        }
        if (i >= len)
                return yerr(p, lineno, "unterminated double-quoted scalar (multi-line scalars are not supported)");
        buf[n] = 0;
        *consumed = i + 1;
        *ret = cJSON_CreateString(buf);
        return *ret ? 0 : -ENOMEM;
}

/* A 'single-quoted' scalar on one line: '' is a quote (YAML 1.2 §7.3.2). */
static int yscalar_single(struct yparser *p, unsigned lineno, const char *s, size_t len, cJSON **ret, size_t *consumed) {
        size_t i;

        _cleanup_free_ char *buf = malloc(len + 1);
        size_t n = 0;
        if (!buf)
                return -ENOMEM;
        for (i = 1; i < len; i++) {
                if (s[i] == '\'') {
                        if (i + 1 < len && s[i + 1] == '\'') {
                                buf[n++] = '\'';
                                i++;
                                continue;
                        }
                        break;
                }
                buf[n++] = s[i];
        }
        if (i >= len)
                return yerr(p, lineno, "unterminated single-quoted scalar (multi-line scalars are not supported)");
        buf[n] = 0;
        *consumed = i + 1;
        *ret = cJSON_CreateString(buf);
        return *ret ? 0 : -ENOMEM;
}

/* Parses a scalar starting at s[0..len); sets *consumed to the bytes used (the rest may hold
 * only spaces and a comment). stop_at_colon: a plain scalar ends at ": " or a final ':' (keys). */
static int yscalar(struct yparser *p, unsigned lineno, const char *s, size_t len, bool is_key,
                   cJSON **ret, size_t *consumed) {
        size_t i;

        if (len == 0)
                return yerr(p, lineno, "empty scalar");
        if (s[0] == '"')
                return yscalar_double(p, lineno, s, len, ret, consumed);
        if (s[0] == '\'')
                return yscalar_single(p, lineno, s, len, ret, consumed);

        /* Plain scalar. Indicators that would start something outside the subset are refused. */
        switch (s[0]) {
        case '&': case '*':
                return yerr(p, lineno, "anchors and aliases are not supported");
        case '!':
                return yerr(p, lineno, "tags are not supported");
        case '|':
                /* Literal blocks are parsed by yblock() where the subset allows them. */
                return yerr(p, lineno, "block scalars are only supported as a mapping value");
        case '>':
                return yerr(p, lineno, "folded block scalars ('>') are not supported");
        case '{': case '[':
                if (!is_key && ((len >= 2 && memcmp(s, "{}", 2) == 0) || (len >= 2 && memcmp(s, "[]", 2) == 0))) {
                        *consumed = 2;
                        *ret = s[0] == '{' ? cJSON_CreateObject() : cJSON_CreateArray();
                        return *ret ? 0 : -ENOMEM;
                }
                return yerr(p, lineno, "flow collections are not supported");
        case '}': case ']': case ',': case '#': case '%': case '@': case '`': case '?':
                return yerr(p, lineno, "unsupported indicator at start of scalar");
        case ':':
                return yerr(p, lineno, "unexpected ':'");
        case '-':
                if (len == 1 || s[1] == ' ')
                        return yerr(p, lineno, "unexpected sequence item");
                break;
        default:
                break;
        }
        for (i = 0; i < len; i++) {
                if (s[i] == ':' && (i + 1 == len || s[i + 1] == ' ')) {
                        if (is_key)
                                break;
                        return yerr(p, lineno, "unexpected ': ' in plain scalar (quote the value)");
                }
                if (s[i] == '#' && i > 0 && s[i - 1] == ' ')
                        break;
        }
        size_t end = i;
        while (end > 0 && is_ws(s[end - 1]))
                end--;
        *consumed = end;

        _cleanup_free_ char *v = strndup(s, end);
        if (!v)
                return -ENOMEM;
        if (!is_key) {
                /* YAML 1.1/1.2 core schema scalars that matter for a kubeconfig. Numbers stay
                 * strings: no field we read is numeric. */
                if (streq(v, "true") || streq(v, "True") || streq(v, "TRUE"))
                        return (*ret = cJSON_CreateTrue()) ? 0 : -ENOMEM;
                if (streq(v, "false") || streq(v, "False") || streq(v, "FALSE"))
                        return (*ret = cJSON_CreateFalse()) ? 0 : -ENOMEM;
                if (streq(v, "null") || streq(v, "Null") || streq(v, "NULL") || streq(v, "~"))
                        return (*ret = cJSON_CreateNull()) ? 0 : -ENOMEM;
        }
        *ret = cJSON_CreateString(v);
        return *ret ? 0 : -ENOMEM;
}

/* After a scalar: only spaces and an optional " # comment" may follow. */
static int yrest(struct yparser *p, unsigned lineno, const char *s, size_t len) {
        size_t i = 0;
        while (i < len && is_ws(s[i]))
                i++;
        if (i == len)
                return 0;
        if (s[i] == '#' && i > 0)
                return 0;
        return yerr(p, lineno, "unexpected characters after value");
}

static int yparse_node(struct yparser *p, unsigned indent, unsigned depth, cJSON **ret);

/* The header after '|': an optional chomping indicator ('-' strip, '+' keep, none clip) and an
 * optional indentation indicator 1-9, in either order, then only spaces and a comment. */
static int yblock_header(struct yparser *p, unsigned lineno, const char *s, size_t len, char *ret_chomp,
                         unsigned *ret_ind) {
        size_t i = 1;
        *ret_chomp = 0;
        *ret_ind = 0;
        for (int k = 0; k < 2 && i < len; k++) {
                if ((s[i] == '-' || s[i] == '+') && !*ret_chomp)
                        *ret_chomp = s[i++];
                else if (s[i] >= '1' && s[i] <= '9' && !*ret_ind)
                        *ret_ind = (unsigned)(s[i++] - '0');
        }
        if (i < len && !is_ws(s[i]))
                return yerr(p, lineno, "bad block scalar header (expected '|', '|-' or '|+')");
        return yrest(p, lineno, s + i, len - i);
}

/* A literal block scalar ("key: |", "|-", "|+", as go-yaml v2 writes a value with a line break,
 * e.g. a token file ending in a newline). l is the header line, header its "|..." part; parent is
 * the mapping's indentation. Content lines are read from the raw text, since the line table drops
 * blank and comment-looking lines and trailing spaces, which are content here. */
static int yblock(struct yparser *p, unsigned parent, const struct yline *l, const char *header, size_t hlen,
                  cJSON **ret) {
        char chomp;
        unsigned ind, ci;
        int r = yblock_header(p, l->lineno, header, hlen, &chomp, &ind);
        if (r < 0)
                return r;
        ci = ind ? parent + ind : 0;    /* 0: take it from the first non-empty line */

        const char *nl = memchr(l->s + l->len, '\n', (size_t)(p->end - (l->s + l->len)));
        const char *q = nl ? nl + 1 : p->end;
        size_t cap = (size_t)(p->end - q) + 1, n = 0, kept = 0; /* kept: length up to the last content */
        _cleanup_free_ char *buf = malloc(cap);
        if (!buf)
                return -ENOMEM;
        unsigned lineno = l->lineno;
        while (q < p->end) {
                const char *e = memchr(q, '\n', (size_t)(p->end - q));
                size_t ll = e ? (size_t)(e - q) : (size_t)(p->end - q);
                const char *next = e ? e + 1 : p->end;
                size_t sp = 0;
                lineno++;
                if (ll > 0 && q[ll - 1] == '\r')
                        ll--;
                while (sp < ll && q[sp] == ' ')
                        sp++;
                if (sp == ll) {
                        /* An empty line: a line break, plus any spaces beyond the indentation. */
                        if (ci && sp > ci) {
                                memcpy(buf + n, q + ci, sp - ci);
                                n += sp - ci;
                                kept = n;
                        }
                        buf[n++] = '\n';
                        q = next;
                        continue;
                }
                if (!ci) {
                        if (sp <= parent)
                                break;
                        ci = (unsigned)sp;
                }
                if (sp < ci)
                        break;
                memcpy(buf + n, q + ci, ll - ci);
                n += ll - ci;
                kept = n;
                buf[n++] = '\n';
                q = next;
        }
        /* kept ends at the last content byte; buf[kept] is its line break, if there is content. */
        if (chomp == '-')
                n = kept;
        else if (chomp != '+')
                n = kept ? kept + 1 : 0;
        buf[n] = 0;
        if (memchr(buf, '\0', n))
                return yerr(p, lineno, "NUL byte in block scalar");

        /* Skip the table's lines that the block consumed. */
        p->pos++;
        while (p->pos < p->n && p->lines[p->pos].s < q)
                p->pos++;
        *ret = cJSON_CreateString(buf);
        return *ret ? 0 : -ENOMEM;
}

/* A block sequence item: "-" alone or followed by a space. */
static bool yline_is_item(const struct yline *l) { return l->s[0] == '-' && (l->len == 1 || l->s[1] == ' '); }

/* Parses the value of "key:" or "-" whose inline part is empty: a nested block, or null. A
 * sequence may sit at the parent's own indentation (the style kubectl and sigs.k8s.io/yaml use). */
static int yparse_child(struct yparser *p, unsigned parent_indent, bool seq_same_indent_ok,
                        unsigned depth, cJSON **ret) {
        if (p->pos < p->n) {
                struct yline *l = &p->lines[p->pos];
                bool dash = yline_is_item(l);
                if (l->indent > parent_indent || (seq_same_indent_ok && dash && l->indent == parent_indent))
                        return yparse_node(p, l->indent, depth + 1, ret);
        }
        *ret = cJSON_CreateNull();
        return *ret ? 0 : -ENOMEM;
}

static int yparse_seq(struct yparser *p, unsigned indent, unsigned depth, cJSON **ret) {
        _cleanup_(cJSON_Deletep) cJSON *arr = cJSON_CreateArray();
        int r;

        if (!arr)
                return -ENOMEM;
        while (p->pos < p->n) {
                struct yline *l = &p->lines[p->pos];
                if (l->indent < indent)
                        break;
                if (l->indent > indent)
                        return yerr(p, l->lineno, "bad indentation");
                if (!yline_is_item(l))
                        break;  /* a mapping key at the same indent ends the sequence */

                size_t off = 1;
                while (off < l->len && is_ws(l->s[off]))
                        off++;
                cJSON *item = NULL;
                if (off == l->len || l->s[off] == '#') {
                        p->pos++;
                        r = yparse_child(p, indent, false, depth, &item);
                } else {
                        /* "- key: v" or "- scalar": reparse the rest of the line as a node at
                         * the column where it starts. */
                        l->indent += (unsigned)off;
                        l->s += off;
                        l->len -= off;
                        r = yparse_node(p, l->indent, depth + 1, &item);
                }
                if (r < 0)
                        return r;
                cJSON_AddItemToArray(arr, item);
        }
        *ret = TAKE_PTR(arr);
        return 0;
}

static int yparse_map(struct yparser *p, unsigned indent, unsigned depth, cJSON **ret) {
        _cleanup_(cJSON_Deletep) cJSON *obj = cJSON_CreateObject();
        int r;

        if (!obj)
                return -ENOMEM;
        while (p->pos < p->n) {
                struct yline *l = &p->lines[p->pos];
                if (l->indent < indent)
                        break;
                if (l->indent > indent)
                        return yerr(p, l->lineno, "bad indentation");
                if (yline_is_item(l))
                        return yerr(p, l->lineno, "sequence item where a mapping key was expected");

                _cleanup_(cJSON_Deletep) cJSON *key = NULL;
                size_t used = 0;
                r = yscalar(p, l->lineno, l->s, l->len, true, &key, &used);
                if (r < 0)
                        return r;
                size_t i = used;
                while (i < l->len && is_ws(l->s[i]))
                        i++;
                if (i >= l->len || l->s[i] != ':' || (i + 1 < l->len && l->s[i + 1] != ' '))
                        return yerr(p, l->lineno, "expected 'key: value'");
                const char *k = cJSON_GetStringValue(key);
                if (cJSON_GetObjectItemCaseSensitive(obj, k))
                        return yerr(p, l->lineno, "duplicate key");
                i++;
                while (i < l->len && is_ws(l->s[i]))
                        i++;

                cJSON *val = NULL;
                if (i == l->len || l->s[i] == '#') {
                        p->pos++;
                        r = yparse_child(p, indent, true, depth, &val);
                } else if (l->s[i] == '|') {
                        r = yblock(p, indent, l, l->s + i, l->len - i, &val);
                } else {
                        unsigned lineno = l->lineno;
                        r = yscalar(p, lineno, l->s + i, l->len - i, false, &val, &used);
                        if (r >= 0) {
                                r = yrest(p, lineno, l->s + i + used, l->len - i - used);
                                if (r < 0)
                                        cJSON_Delete(val);
                        }
                        p->pos++;
                        /* A more-indented line after an inline value would be a multi-line
                         * plain scalar, outside the subset. */
                        if (r >= 0 && p->pos < p->n && p->lines[p->pos].indent > indent) {
                                cJSON_Delete(val);
                                return yerr(p, p->lines[p->pos].lineno,
                                            "bad indentation (multi-line scalars are not supported)");
                        }
                }
                if (r < 0)
                        return r;
                cJSON_AddItemToObject(obj, k, val);
        }
        *ret = TAKE_PTR(obj);
        return 0;
}

static int yparse_node(struct yparser *p, unsigned indent, unsigned depth, cJSON **ret) {
        struct yline *l = &p->lines[p->pos];

        if (depth > YAML_MAX_DEPTH)
                return yerr(p, l->lineno, "nesting too deep");
        if (yline_is_item(l))
                return yparse_seq(p, indent, depth, ret);

        /* A mapping, unless the line is a lone scalar (a sequence item such as "- foo"). */
        _cleanup_(cJSON_Deletep) cJSON *sc = NULL;
        size_t used = 0;
        char saved_err = p->err && p->errsz ? p->err[0] : 0;
        int r = yscalar(p, l->lineno, l->s, l->len, true, &sc, &used);
        if (r == -ENOMEM)
                return r;
        size_t i = used;
        while (r >= 0 && i < l->len && is_ws(l->s[i]))
                i++;
        if (r >= 0 && i < l->len && l->s[i] == ':')
                return yparse_map(p, indent, depth, ret);
        if (p->err && p->errsz)
                p->err[0] = saved_err;

        unsigned lineno = l->lineno;
        cJSON_Delete(TAKE_PTR(sc));
        r = yscalar(p, lineno, l->s, l->len, false, &sc, &used);
        if (r < 0)
                return r;
        r = yrest(p, lineno, l->s + used, l->len - used);
        if (r < 0)
                return r;
        p->pos++;
        if (p->pos < p->n && p->lines[p->pos].indent > indent)
                return yerr(p, p->lines[p->pos].lineno, "bad indentation (multi-line scalars are not supported)");
        *ret = TAKE_PTR(sc);
        return 0;
}

static int yaml_to_json(const char *text, size_t len, cJSON **ret, char *err, size_t errsz) {
        _cleanup_free_ struct yline *lines = NULL;
        size_t n = 0, cap = 0;
        unsigned lineno = 0;
        bool seen_content = false;
        unsigned ended = 0;     /* the line of a "..." document end marker */

        for (size_t pos = 0; pos < len;) {
                const char *s = text + pos;
                const char *nl = memchr(s, '\n', len - pos);
                size_t ll = nl ? (size_t)(nl - s) : len - pos;
                pos += ll + (nl ? 1 : 0);
                lineno++;

                if (memchr(s, '\0', ll))
                        return errbuf_set(err, errsz, -EINVAL, "line %u: NUL byte", lineno);
                if (ll > 0 && s[ll - 1] == '\r')
                        ll--;
                size_t ind = 0;
                while (ind < ll && s[ind] == ' ')
                        ind++;
                if (ind < ll && s[ind] == '\t')
                        return errbuf_set(err, errsz, -EINVAL, "line %u: tabs are not allowed in indentation", lineno);
                while (ll > ind && s[ll - 1] == ' ')
                        ll--;
                if (ind == ll || s[ind] == '#')
                        continue;
                /* Tabs inside quoted scalars are legal YAML, but nothing in a kubeconfig needs
                 * them; refusing them keeps the subset small. */
                if (memchr(s + ind, '\t', ll - ind))
                        return errbuf_set(err, errsz, -EINVAL, "line %u: tab characters are not supported", lineno);
                if (ind == 0 && ll >= 3 && memcmp(s, "---", 3) == 0 && (ll == 3 || s[3] == ' ')) {
                        if (seen_content)
                                return errbuf_set(err, errsz, -EINVAL, "line %u: multiple documents are not supported", lineno);
                        if (ll > 3) {
                                size_t k = 3;
                                while (k < ll && s[k] == ' ')
                                        k++;
                                if (k < ll && s[k] != '#')
                                        return errbuf_set(err, errsz, -EINVAL, "line %u: content after '---' is not supported", lineno);
                        }
                        seen_content = true;
                        continue;
                }
                /* go-yaml ends the stream with "..." after a '|+' block; only comments may follow. */
                if (ind == 0 && ll >= 3 && memcmp(s, "...", 3) == 0 && (ll == 3 || s[3] == ' ')) {
                        size_t k = 3;
                        while (k < ll && s[k] == ' ')
                                k++;
                        if (k < ll && s[k] != '#')
                                return errbuf_set(err, errsz, -EINVAL, "line %u: content after '...' is not supported", lineno);
                        ended = lineno;
                        continue;
                }
                if (ended)
                        return errbuf_set(err, errsz, -EINVAL, "line %u: content after the document end marker (line %u) is not supported",
                                          lineno, ended);
                if (ind == 0 && s[0] == '%')
                        return errbuf_set(err, errsz, -EINVAL, "line %u: directives are not supported", lineno);
                seen_content = true;
                if (n == cap) {
                        size_t nc = cap ? cap * 2 : 64;
                        struct yline *nl2 = reallocarray(lines, nc, sizeof *lines);
                        if (!nl2)
                                return -ENOMEM;
                        lines = nl2;
                        cap = nc;
                }
                lines[n++] = (struct yline){ .lineno = lineno, .indent = (unsigned)ind, .s = s + ind, .len = ll - ind };
        }
        if (n == 0)
                return errbuf_set(err, errsz, -EINVAL, "empty kubeconfig");

        struct yparser p = { .lines = lines, .n = n, .end = text + len, .err = err, .errsz = errsz };
        if (err && errsz)
                err[0] = 0;
        if (lines[0].indent != 0)
                return errbuf_set(err, errsz, -EINVAL, "line %u: bad indentation", lines[0].lineno);
        _cleanup_(cJSON_Deletep) cJSON *root = NULL;
        int r = yparse_node(&p, 0, 0, &root);
        if (r < 0)
                return r;
        if (p.pos < p.n)
                return errbuf_set(err, errsz, -EINVAL, "line %u: bad indentation", p.lines[p.pos].lineno);
        *ret = TAKE_PTR(root);
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
                const cJSON *n = cJSON_GetObjectItemCaseSensitive(it, "name");
                if (!cJSON_IsObject(it) || !cJSON_IsString(n)) {
                        *r = errbuf_set(err, errsz, -EINVAL, "an entry of '%s' has no name", list);
                        return NULL;
                }
                if (!streq(n->valuestring, name))
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

/* Optional string field: absent/null → NULL; any other non-string is an error. */
static int get_str(const cJSON *o, const char *key, const char *where, const char **ret, char *err, size_t errsz) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

        *ret = NULL;
        if (!v || cJSON_IsNull(v))
                return 0;
        if (!cJSON_IsString(v))
                return errbuf_set(err, errsz, -EINVAL, "%s: '%s' must be a string", where, key);
        *ret = v->valuestring[0] ? v->valuestring : NULL;
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

int kubeconfig_yaml_parse(const char *text, size_t len, cJSON **ret, char *err, size_t errsz) {
        size_t i = 0;

        if (err && errsz)
                err[0] = 0;
        if (memchr(text, '\0', len))
                return errbuf_set(err, errsz, -EINVAL, "NUL byte in YAML");
        while (i < len && (text[i] == ' ' || text[i] == '\n' || text[i] == '\r' || text[i] == '\t'))
                i++;
        /* JSON is YAML: a flow document that starts like JSON is parsed as JSON. */
        if (i < len && (text[i] == '{' || text[i] == '[')) {
                cJSON *j = cJSON_ParseWithLength(text, len);
                if (!j)
                        return errbuf_set(err, errsz, -EINVAL, "not valid JSON");
                *ret = j;
                return 0;
        }
        return yaml_to_json(text, len, ret, err, errsz);
}

int kubeconfig_parse(const char *text, size_t len, const char *base_dir, struct kubeconfig *ret,
                     char *err, size_t errsz) {
        _cleanup_(cJSON_Deletep) cJSON *root = NULL;
        size_t i = 0;
        int r;

        if (err && errsz)
                err[0] = 0;
        if (!text)
                return errbuf_set(err, errsz, -EINVAL, "no kubeconfig text");
        if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
                text += 3;
                len -= 3;
        }
        while (i < len && (text[i] == ' ' || text[i] == '\n' || text[i] == '\r' || text[i] == '\t'))
                i++;
        if (i < len && text[i] == '{') {
                const char *end = NULL;
                if (memchr(text, '\0', len))
                        return errbuf_set(err, errsz, -EINVAL, "NUL byte in JSON kubeconfig");
                root = cJSON_ParseWithLengthOpts(text, len, &end, false);
                if (!root) {
                        size_t off = end ? (size_t)(end - text) : 0;
                        unsigned line = 1;
                        for (size_t k = 0; k < off && k < len; k++)
                                line += text[k] == '\n';
                        return errbuf_set(err, errsz, -EINVAL, "line %u: invalid JSON", line);
                }
                while (end && (size_t)(end - text) < len && strchr(" \t\r\n", *end))
                        end++;
                if (end && (size_t)(end - text) < len)
                        return errbuf_set(err, errsz, -EINVAL, "trailing data after JSON kubeconfig");
        } else {
                r = yaml_to_json(text, len, &root, err, errsz);
                if (r < 0)
                        return r;
        }
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
