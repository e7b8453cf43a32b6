/* SPDX-License-Identifier: Apache-2.0 */
/* pluginkube.c: the plugin's kubeconfig (spec istio-cni.md §4.4; Istio cni/pkg/install/kubeconfig.go;
 * go-yaml v2 encode.go stringv, resolve.go and emitterc.go's scalar analysis and writers). */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/pluginkube.h"
#include "base/macro.h"

#define YAML_BEST_WIDTH 80
#define YAML_BEST_INDENT 2

int pluginkube_server_url(const char *proto, const char *host, const char *port, char **ret) {
        const char *p = proto && *proto ? proto : "https";
        bool bracket;

        if (!host || !*host || !port || !*port || !ret)
                return -EINVAL;
        for (const char *s = host; *s; s++)
                if ((unsigned char)*s <= ' ' || *s == 0x7F || strchr("/@?#", *s))
                        return -EINVAL;
        for (const char *s = port; *s; s++)
                if ((unsigned char)*s <= ' ' || *s == 0x7F || strchr("/@?#[]", *s))
                        return -EINVAL;
        for (const char *s = p; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || strchr("+-.", *s)))
                        return -EINVAL;
        /* net.JoinHostPort brackets any host with a ':'; one already bracketed is kept as is. */
        bracket = strchr(host, ':') && host[0] != '[';
        if (asprintf(ret, "%s://%s%s%s:%s", p, bracket ? "[" : "", host, bracket ? "]" : "", port) < 0)
                return -ENOMEM;
        return 0;
}

/* ---- base64 (std, padded) ---- */

static char *base64(const unsigned char *in, size_t len) {
        static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        char *out = malloc((len + 2) / 3 * 4 + 1), *o = out;

        if (!out)
                return NULL;
        for (size_t i = 0; i < len; i += 3) {
                uint32_t v = (uint32_t)in[i] << 16;
                if (i + 1 < len)
                        v |= (uint32_t)in[i + 1] << 8;
                if (i + 2 < len)
                        v |= in[i + 2];
                *o++ = tbl[(v >> 18) & 63];
                *o++ = tbl[(v >> 12) & 63];
                *o++ = i + 1 < len ? tbl[(v >> 6) & 63] : '=';
                *o++ = i + 2 < len ? tbl[v & 63] : '=';
        }
        *o = '\0';
        return out;
}

/* ---- go-yaml v2: would a plain scalar resolve to something other than a string? ---- */

static bool all_of(const char *s, size_t n, const char *set) {
        if (n == 0)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!strchr(set, s[i]) || s[i] == '\0')
                        return false;
        return true;
}

#define DEC "0123456789"

/* strconv.ParseInt(s, 0, 64) succeeds, or ParseUint(s, 0, 64) does. */
static bool go_parse_int(const char *s, size_t n) {
        bool sign = false;
        const char *digits;
        int base = 10;

        if (n > 0 && (s[0] == '+' || s[0] == '-')) {
                sign = true;
                s++;
                n--;
        }
        if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
                base = 16;
                s += 2;
                n -= 2;
                digits = DEC "abcdefABCDEF";
        } else if (n >= 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'O')) {
                base = 8;
                s += 2;
                n -= 2;
                digits = "01234567";
        } else if (n >= 2 && s[0] == '0' && (s[1] == 'b' || s[1] == 'B')) {
                base = 2;
                s += 2;
                n -= 2;
                digits = "01";
        } else if (n >= 1 && s[0] == '0') {
                base = 8;
                digits = "01234567";
        } else
                digits = DEC;
        if (!all_of(s, n, digits))
                return false;
        /* Range: int64 magnitude (uint64 without a sign is also accepted by ParseUint). */
        char buf[80];
        if (n >= sizeof buf)
                return false;
        memcpy(buf, s, n);
        buf[n] = '\0';
        errno = 0;
        unsigned long long v = strtoull(buf, NULL, base);
        if (errno == ERANGE)
                return false;
        if (sign)
                return v <= (unsigned long long)INT64_MAX + 1;
        return true;
}

/* ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$ and finite. */
static bool yaml_style_float(const char *s, size_t n) {
        size_t i = 0, d = 0;

        if (i < n && (s[i] == '+' || s[i] == '-'))
                i++;
        if (i < n && s[i] == '.') {
                i++;
                while (i < n && s[i] >= '0' && s[i] <= '9')
                        i++, d++;
                if (d == 0)
                        return false;
        } else {
                while (i < n && s[i] >= '0' && s[i] <= '9')
                        i++, d++;
                if (d == 0)
                        return false;
                if (i < n && s[i] == '.') {
                        i++;
                        while (i < n && s[i] >= '0' && s[i] <= '9')
                                i++;
                }
        }
        if (i < n && (s[i] == 'e' || s[i] == 'E')) {
                size_t e = 0;
                i++;
                if (i < n && (s[i] == '+' || s[i] == '-'))
                        i++;
                while (i < n && s[i] >= '0' && s[i] <= '9')
                        i++, e++;
                if (e == 0)
                        return false;
        }
        if (i != n)
                return false;
        _cleanup_free_ char *t = strndup(s, n);
        return t && isfinite(strtod(t, NULL));
}

static bool digits_at(const char *s, size_t n, size_t *i, size_t min, size_t max, int *ret) {
        size_t k = 0;
        int v = 0;
        while (*i < n && k < max && s[*i] >= '0' && s[*i] <= '9') {
                v = v * 10 + (s[*i] - '0');
                (*i)++;
                k++;
        }
        *ret = v;
        return k >= min;
}

/* go-yaml's parseTimestamp: "2006-1-2", "2006-1-2[Tt]15:4:5[.frac](Z|±07:00)", "2006-1-2 15:4:5[.frac]". */
static bool yaml_timestamp(const char *s, size_t n) {
        static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
        size_t i = 0;
        int y, m, d, hh, mm, ss;

        if (!digits_at(s, n, &i, 4, 4, &y) || i >= n || s[i] != '-')
                return false;
        i++;
        if (!digits_at(s, n, &i, 1, 2, &m) || m < 1 || m > 12 || i >= n || s[i] != '-')
                return false;
        i++;
        if (!digits_at(s, n, &i, 1, 2, &d) || d < 1 || d > mdays[m - 1])
                return false;
        if (m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
                return false;
        if (i == n)
                return true;
        char sep = s[i++];
        if (sep != 'T' && sep != 't' && sep != ' ')
                return false;
        if (!digits_at(s, n, &i, 1, 2, &hh) || hh > 23 || i >= n || s[i] != ':')
                return false;
        i++;
        if (!digits_at(s, n, &i, 1, 2, &mm) || mm > 59 || i >= n || s[i] != ':')
                return false;
        i++;
        if (!digits_at(s, n, &i, 1, 2, &ss) || ss > 59)
                return false;
        if (i < n && s[i] == '.') {
                int f;
                i++;
                if (!digits_at(s, n, &i, 1, 9, &f))
                        return false;
        }
        if (sep == ' ')
                return i == n;
        if (i < n && s[i] == 'Z')
                return i + 1 == n;
        if (i < n && (s[i] == '+' || s[i] == '-')) {
                int zh, zm;
                i++;
                if (!digits_at(s, n, &i, 2, 2, &zh) || zh > 23 || i >= n || s[i] != ':')
                        return false;
                i++;
                return digits_at(s, n, &i, 2, 2, &zm) && zm <= 59 && i == n;
        }
        return false;
}

/* ^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$ */
static bool yaml_base60_float(const char *s, size_t n) {
        size_t i = 0;
        int groups = 0;

        if (i < n && (s[i] == '+' || s[i] == '-'))
                i++;
        if (i >= n || s[i] < '0' || s[i] > '9')
                return false;
        while (i < n && ((s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
                i++;
        while (i < n && s[i] == ':') {
                size_t k = 0;
                i++;
                while (i < n && k < 2 && s[i] >= '0' && s[i] <= '9')
                        i++, k++;
                if (k == 0 || (k == 2 && s[i - 2] > '5'))
                        return false;
                groups++;
        }
        if (groups == 0)
                return false;
        if (i < n && s[i] == '.') {
                i++;
                while (i < n && ((s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
                        i++;
        }
        return i == n;
}

static bool yaml_resolves_to_str(const char *s, size_t n) {
        static const char *const special[] = {
                "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON",
                "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF",
                "", "~", "null", "Null", "NULL", ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF",
                "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", "<<",
        };
        char c = n ? s[0] : 'N';
        char hint = 0;

        if (c == '+' || c == '-')
                hint = 'S';
        else if (c >= '0' && c <= '9')
                hint = 'D';
        else if (strchr("yYnNtTfFoO~", c) && c)
                hint = 'M';
        else if (c == '.')
                hint = '.';
        if (n == 0)
                return false;
        if (!hint)
                return true;
        for (size_t i = 0; i < ELEMENTSOF(special); i++)
                if (strlen(special[i]) == n && memcmp(special[i], s, n) == 0)
                        return false;
        if (hint == 'M')
                return true;
        if (hint == '.') {
                /* strconv.ParseFloat(".5", ".5e3", ".5_5"): Go allows '_' between two digits. */
                _cleanup_free_ char *t = malloc(n + 1);
                size_t tn = 0;
                if (!t)
                        return true;
                for (size_t i = 0; i < n; i++) {
                        if (s[i] != '_') {
                                t[tn++] = s[i];
                                continue;
                        }
                        if (i == 0 || i + 1 >= n || !(s[i - 1] >= '0' && s[i - 1] <= '9') || !(s[i + 1] >= '0' && s[i + 1] <= '9'))
                                return true;
                }
                return !yaml_style_float(t, tn);
        }
        if (yaml_timestamp(s, n))
                return false;
        /* The number checks run on the text with every '_' removed. */
        _cleanup_free_ char *plain = malloc(n + 1);
        size_t pn = 0;
        if (!plain)
                return true;
        for (size_t i = 0; i < n; i++)
                if (s[i] != '_')
                        plain[pn++] = s[i];
        plain[pn] = '\0';
        if (go_parse_int(plain, pn) || yaml_style_float(plain, pn))
                return false;
        return true;
}

/* ---- go-yaml v2 emitter, for one block-mapping value ---- */

struct emitter {
        FILE *f;
        unsigned column, indent;
        bool whitespace, indention;
};

static size_t cwidth(unsigned char c) {
        return c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
}

static bool at(const unsigned char *v, size_t n, size_t i, unsigned char c) { return i < n && v[i] == c; }
static bool is_space(const unsigned char *v, size_t n, size_t i) { return at(v, n, i, ' '); }
static bool is_blank(const unsigned char *v, size_t n, size_t i) { return at(v, n, i, ' ') || at(v, n, i, '\t'); }
static bool is_break(const unsigned char *v, size_t n, size_t i) {
        return at(v, n, i, '\r') || at(v, n, i, '\n') || (at(v, n, i, 0xC2) && at(v, n, i + 1, 0x85)) ||
               (at(v, n, i, 0xE2) && at(v, n, i + 1, 0x80) && (at(v, n, i + 2, 0xA8) || at(v, n, i + 2, 0xA9)));
}
static bool is_blankz(const unsigned char *v, size_t n, size_t i) {
        return is_blank(v, n, i) || is_break(v, n, i) || at(v, n, i, 0) || i >= n;
}
static unsigned char byte_at(const unsigned char *v, size_t n, size_t i) { return i < n ? v[i] : 0; }
static bool is_printable(const unsigned char *v, size_t n, size_t i) {
        unsigned char b = v[i], b1 = byte_at(v, n, i + 1), b2 = byte_at(v, n, i + 2);
        return b == 0x0A || (b >= 0x20 && b <= 0x7E) || (b == 0xC2 && b1 >= 0xA0) || (b > 0xC2 && b < 0xED) ||
               (b == 0xED && b1 < 0xA0) || b == 0xEE ||
               (b == 0xEF && !(b1 == 0xBB && b2 == 0xBF) && !(b1 == 0xBF && (b2 == 0xBE || b2 == 0xBF)));
}

static void put(struct emitter *e, char c) {
        fputc(c, e->f);
        e->column++;
}
static void put_break(struct emitter *e) {
        fputc('\n', e->f);
        e->column = 0;
}
/* Copies one character (all its bytes); one column. */
static void write_char(struct emitter *e, const unsigned char *v, size_t n, size_t *i) {
        size_t w = cwidth(v[*i]);
        if (*i + w > n)
                w = n - *i;
        fwrite(v + *i, 1, w, e->f);
        *i += w;
        e->column++;
}
static void write_break(struct emitter *e, const unsigned char *v, size_t n, size_t *i) {
        if (v[*i] == '\n') {
                put_break(e);
                (*i)++;
        } else {
                write_char(e, v, n, i);
                e->column = 0;
        }
}
static void write_indent(struct emitter *e) {
        if (!e->indention || e->column > e->indent || (e->column == e->indent && !e->whitespace))
                put_break(e);
        while (e->column < e->indent)
                put(e, ' ');
        e->whitespace = true;
        e->indention = true;
}

struct analysis {
        bool block_plain_allowed, single_quoted_allowed, block_allowed;
};

static struct analysis analyze(const unsigned char *v, size_t n) {
        bool block_ind = false, line_breaks = false, special = false;
        bool leading_space = false, leading_break = false, trailing_space = false, trailing_break = false;
        bool break_space = false, space_break = false, preceded_ws = true, prev_space = false, prev_break = false;
        struct analysis a = { true, true, true };

        if (n == 0)
                return (struct analysis){ true, true, false };
        if (n >= 3 && ((v[0] == '-' && v[1] == '-' && v[2] == '-') || (v[0] == '.' && v[1] == '.' && v[2] == '.')))
                block_ind = true;
        for (size_t i = 0, w; i < n; i += w) {
                w = cwidth(v[i]);
                bool followed_ws = i + w >= n || is_blank(v, n, i + w);
                if (i == 0) {
                        if (strchr("#,[]{}&*!|>'\"%@`", v[i]) && v[i])
                                block_ind = true;
                        else if ((v[i] == '?' || v[i] == ':' || v[i] == '-') && followed_ws)
                                block_ind = true;
                } else if ((v[i] == ':' && followed_ws) || (v[i] == '#' && preceded_ws))
                        block_ind = true;
                /* The emitter runs with unicode on, so only non-printable characters are special. */
                if (!is_printable(v, n, i))
                        special = true;
                if (is_space(v, n, i)) {
                        if (i == 0)
                                leading_space = true;
                        if (i + w == n)
                                trailing_space = true;
                        if (prev_break)
                                break_space = true;
                        prev_space = true;
                        prev_break = false;
                } else if (is_break(v, n, i)) {
                        line_breaks = true;
                        if (i == 0)
                                leading_break = true;
                        if (i + w == n)
                                trailing_break = true;
                        if (prev_space)
                                space_break = true;
                        prev_space = false;
                        prev_break = true;
                } else {
                        prev_space = false;
                        prev_break = false;
                }
                preceded_ws = is_blankz(v, n, i);
        }
        if (leading_space || leading_break || trailing_space || trailing_break)
                a.block_plain_allowed = false;
        if (trailing_space)
                a.block_allowed = false;
        if (break_space)
                a.block_plain_allowed = a.single_quoted_allowed = false;
        if (space_break || special)
                a.block_plain_allowed = a.single_quoted_allowed = a.block_allowed = false;
        if (line_breaks || block_ind)
                a.block_plain_allowed = false;
        return a;
}

static void write_plain(struct emitter *e, const unsigned char *v, size_t n) {
        bool spaces = false;

        for (size_t i = 0; i < n;) {
                if (is_space(v, n, i)) {
                        if (!spaces && e->column > YAML_BEST_WIDTH && !is_space(v, n, i + 1)) {
                                write_indent(e);
                                i++;
                        } else
                                write_char(e, v, n, &i);
                        spaces = true;
                } else {
                        write_char(e, v, n, &i);
                        e->indention = false;
                        spaces = false;
                }
        }
}

static void write_single(struct emitter *e, const unsigned char *v, size_t n) {
        bool spaces = false, breaks = false;

        put(e, '\'');
        for (size_t i = 0; i < n;) {
                if (is_space(v, n, i)) {
                        if (!spaces && e->column > YAML_BEST_WIDTH && i > 0 && i < n - 1 && !is_space(v, n, i + 1)) {
                                write_indent(e);
                                i++;
                        } else
                                write_char(e, v, n, &i);
                        spaces = true;
                } else if (is_break(v, n, i)) {
                        if (!breaks && v[i] == '\n')
                                put_break(e);
                        write_break(e, v, n, &i);
                        e->indention = true;
                        breaks = true;
                } else {
                        if (breaks)
                                write_indent(e);
                        if (v[i] == '\'')
                                put(e, '\'');
                        write_char(e, v, n, &i);
                        e->indention = false;
                        spaces = breaks = false;
                }
        }
        put(e, '\'');
}

static void write_double(struct emitter *e, const unsigned char *v, size_t n) {
        static const char hex[] = "0123456789ABCDEF";
        bool spaces = false;

        put(e, '"');
        for (size_t i = 0; i < n;) {
                bool bom = at(v, n, i, 0xEF) && at(v, n, i + 1, 0xBB) && at(v, n, i + 2, 0xBF);
                if (!is_printable(v, n, i) || bom || is_break(v, n, i) || v[i] == '"' || v[i] == '\\') {
                        size_t w = cwidth(v[i]);
                        uint32_t r = w == 1 ? v[i] : w == 2 ? (v[i] & 0x1Fu) : w == 3 ? (v[i] & 0x0Fu) : (v[i] & 0x07u);
                        for (size_t k = 1; k < w; k++)
                                r = (r << 6) | (byte_at(v, n, i + k) & 0x3Fu);
                        i += w;
                        put(e, '\\');
                        switch (r) {
                        case 0x00: put(e, '0'); break;
                        case 0x07: put(e, 'a'); break;
                        case 0x08: put(e, 'b'); break;
                        case 0x09: put(e, 't'); break;
                        case 0x0A: put(e, 'n'); break;
                        case 0x0B: put(e, 'v'); break;
                        case 0x0C: put(e, 'f'); break;
                        case 0x0D: put(e, 'r'); break;
                        case 0x1B: put(e, 'e'); break;
                        case 0x22: put(e, '"'); break;
                        case 0x5C: put(e, '\\'); break;
                        case 0x85: put(e, 'N'); break;
                        case 0xA0: put(e, '_'); break;
                        case 0x2028: put(e, 'L'); break;
                        case 0x2029: put(e, 'P'); break;
                        default: {
                                int digits = r <= 0xFF ? 2 : r <= 0xFFFF ? 4 : 8;
                                put(e, r <= 0xFF ? 'x' : r <= 0xFFFF ? 'u' : 'U');
                                for (int k = (digits - 1) * 4; k >= 0; k -= 4)
                                        put(e, hex[(r >> k) & 0xF]);
                        }
                        }
                        spaces = false;
                } else if (is_space(v, n, i)) {
                        if (!spaces && e->column > YAML_BEST_WIDTH && i != 0 && i != n - 1) {
                                write_indent(e);
                                if (is_space(v, n, i + 1))
                                        put(e, '\\');
                                i++;
                        } else
                                write_char(e, v, n, &i);
                        spaces = true;
                } else {
                        write_char(e, v, n, &i);
                        spaces = false;
                }
        }
        put(e, '"');
}

/* Returns true when the chomping indicator is '+' (the stream then ends with "..."). */
static bool write_literal(struct emitter *e, const unsigned char *v, size_t n) {
        bool breaks = true, keep = false;

        put(e, '|');
        if (is_space(v, n, 0) || is_break(v, n, 0))
                put(e, (char)('0' + YAML_BEST_INDENT));
        if (n == 0)
                put(e, '-');
        else {
                size_t i = n - 1;
                while (i > 0 && (v[i] & 0xC0) == 0x80)
                        i--;
                if (!is_break(v, n, i))
                        put(e, '-');
                else if (i == 0) {
                        put(e, '+');
                        keep = true;
                } else {
                        i--;
                        while (i > 0 && (v[i] & 0xC0) == 0x80)
                                i--;
                        if (is_break(v, n, i)) {
                                put(e, '+');
                                keep = true;
                        }
                }
        }
        put_break(e);
        e->indention = true;
        e->whitespace = true;
        for (size_t i = 0; i < n;) {
                if (is_break(v, n, i)) {
                        write_break(e, v, n, &i);
                        e->indention = true;
                        breaks = true;
                } else {
                        if (breaks) {
                                write_indent(e);
                                e->indention = true;
                        }
                        write_char(e, v, n, &i);
                        e->indention = false;
                        breaks = false;
                }
        }
        return keep;
}

/* Replaces invalid UTF-8 with U+FFFD, as the JSON step before the YAML one does. */
static char *utf8_sanitize(const char *s, size_t len, size_t *ret_len) {
        char *out = malloc(len * 3 + 1);
        const unsigned char *u = (const unsigned char *)s;
        size_t o = 0;

        if (!out)
                return NULL;
        for (size_t i = 0; i < len;) {
                unsigned char c = u[i];
                size_t w = c < 0x80 ? 1 : (c >= 0xC2 && c <= 0xDF) ? 2 : (c >= 0xE0 && c <= 0xEF) ? 3 : (c >= 0xF0 && c <= 0xF4) ? 4 : 0;
                bool ok = w > 0 && i + w <= len;
                uint32_t r = w == 1 ? c : w == 2 ? (c & 0x1Fu) : w == 3 ? (c & 0x0Fu) : (c & 0x07u);
                for (size_t k = 1; ok && k < w; k++) {
                        if ((u[i + k] & 0xC0) != 0x80)
                                ok = false;
                        r = (r << 6) | (u[i + k] & 0x3Fu);
                }
                if (ok && ((w == 3 && r < 0x800) || (w == 4 && (r < 0x10000 || r > 0x10FFFF)) || (r >= 0xD800 && r <= 0xDFFF)))
                        ok = false;
                if (!ok) {
                        memcpy(out + o, "\xEF\xBF\xBD", 3);
                        o += 3;
                        i++;
                        continue;
                }
                memcpy(out + o, u + i, w);
                o += w;
                i += w;
        }
        out[o] = '\0';
        *ret_len = o;
        return out;
}

/* Emits the scalar to f; returns true when the stream must end with "...". */
static int emit_scalar(FILE *f, const char *s, size_t len, unsigned indent, unsigned column, bool *ret_open_ended) {
        _cleanup_free_ char *clean = NULL;
        size_t n;
        struct emitter e = { .f = f, .column = column, .indent = indent + YAML_BEST_INDENT, .whitespace = true };
        enum { PLAIN, SINGLE, DOUBLE, LITERAL } style;

        clean = utf8_sanitize(s ? s : "", s ? len : 0, &n);
        if (!clean)
                return -ENOMEM;
        const unsigned char *v = (const unsigned char *)clean;
        struct analysis a = analyze(v, n);

        /* encode.go stringv: a newline asks for a literal block; a plain scalar that would read back
         * as something else (a bool, a number, null, a timestamp, a base-60 float) is quoted. */
        if (memchr(v, '\n', n))
                style = LITERAL;
        else if (yaml_resolves_to_str(clean, n) && !yaml_base60_float(clean, n))
                style = PLAIN;
        else
                style = DOUBLE;
        /* emitterc.go select_scalar_style (block context, not a key). */
        if (style == PLAIN && !a.block_plain_allowed)
                style = SINGLE;
        if (style == SINGLE && !a.single_quoted_allowed)
                style = DOUBLE;
        if (style == LITERAL && !a.block_allowed)
                style = DOUBLE;

        *ret_open_ended = false;
        switch (style) {
        case PLAIN: write_plain(&e, v, n); break;
        case SINGLE: write_single(&e, v, n); break;
        case DOUBLE: write_double(&e, v, n); break;
        case LITERAL: *ret_open_ended = write_literal(&e, v, n); break;
        }
        /* The next line starts with the document's next key (write_indent at a lower indent). */
        if (e.column > 0)
                fputc('\n', f);
        return 0;
}

int pluginkube_yaml_scalar(const char *s, size_t len, unsigned indent, unsigned column, char **ret) {
        char *buf = NULL;
        size_t sz = 0;
        bool open_ended;
        FILE *f = open_memstream(&buf, &sz);
        int r;

        if (!f)
                return -ENOMEM;
        r = emit_scalar(f, s, len, indent, column, &open_ended);
        return memstream_finish(f, &buf, r, ret);
}

/* Writes "<indent>key: <scalar>\n". */
static int kv(FILE *f, unsigned indent, const char *key, const char *val, size_t len, bool *open_ended) {
        fprintf(f, "%*s%s: ", (int)indent, "", key);
        return emit_scalar(f, val, len, indent, indent + (unsigned)strlen(key) + 2, open_ended);
}

static int render(const struct pluginkube_input *in, bool redact, char **ret) {
        _cleanup_free_ char *ca64 = NULL;
        char *buf = NULL;
        size_t sz = 0;
        bool open_ended = false, oe;
        FILE *f;
        int r = 0;

        if (!in || !ret || (!in->ca && in->ca_len) || (!in->token && in->token_len))
                return -EINVAL;
        if (!in->skip_tls_verify && in->ca_len > 0) {
                ca64 = redact ? strdup("REDACTED") : base64(in->ca, in->ca_len);
                if (!ca64)
                        return -ENOMEM;
        }
        f = open_memstream(&buf, &sz);
        if (!f)
                return -ENOMEM;
        fputs("apiVersion: v1\nclusters:\n- cluster:\n", f);
        if (ca64)
                r = kv(f, 4, "certificate-authority-data", ca64, strlen(ca64), &oe);
        if (in->skip_tls_verify)
                fputs("    insecure-skip-tls-verify: true\n", f);
        if (r >= 0)
                r = kv(f, 4, "server", in->server ? in->server : "", in->server ? strlen(in->server) : 0, &oe);
        fputs("  name: local\n"
              "contexts:\n"
              "- context:\n"
              "    cluster: local\n"
              "    user: istio-cni\n"
              "  name: istio-cni-context\n"
              "current-context: istio-cni-context\n"
              "kind: Config\n"
              "users:\n"
              "- name: istio-cni\n",
              f);
        /* clientcmd's AuthInfo.Token is omitempty: no token, an empty user map. */
        if (in->token_len == 0)
                fputs("  user: {}\n", f);
        else {
                fputs("  user:\n", f);
                if (r >= 0 && redact)
                        r = kv(f, 4, "token", "REDACTED", 8, &oe);
                else if (r >= 0)
                        r = kv(f, 4, "token", in->token, in->token_len, &open_ended);
        }
        /* A literal block kept with '+' leaves the document open-ended; go-yaml closes the stream
         * with "...". */
        if (open_ended)
                fputs("...\n", f);
        if (r >= 0 && ferror(f))
                r = -ENOMEM;
        return memstream_finish(f, &buf, r, ret);
}

int pluginkube_render(const struct pluginkube_input *in, char **ret_yaml) {
        return render(in, false, ret_yaml);
}

int pluginkube_render_redacted(const struct pluginkube_input *in, char **ret_yaml) {
        return render(in, true, ret_yaml);
}
