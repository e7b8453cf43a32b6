/* SPDX-License-Identifier: Apache-2.0 */
/* metrics.c: a thread-safe metrics registry rendered as Prometheus text format 0.0.4.
 * Spec: istio-cni.md §4.10; https://prometheus.io/docs/instrumenting/exposition_formats/ */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/metrics.h"
#include "base/macro.h"

struct series {
        char *labels;           /* canonical label set (pairs sorted by name), "" for none */
        double value;           /* counter, gauge */
        uint64_t *counts;       /* histogram: per bucket (not cumulative), n_buckets + 1 (+Inf) */
        uint64_t count;
        double sum;
};

struct family {
        char *name;
        char *help;
        enum metrics_type type;
        double *buckets;
        size_t n_buckets;
        struct series *series;  /* sorted by labels */
        size_t n_series, cap_series;
};

struct metrics {
        pthread_mutex_t lock;
        struct family **families;       /* declaration order */
        size_t n_families;
};

int metrics_new(struct metrics **ret) {
        struct metrics *m = calloc(1, sizeof *m);
        if (!m)
                return -ENOMEM;
        pthread_mutex_init(&m->lock, NULL);
        *ret = m;
        return 0;
}

static void family_free(struct family *f) {
        if (!f)
                return;
        for (size_t i = 0; i < f->n_series; i++) {
                free(f->series[i].labels);
                free(f->series[i].counts);
        }
        free(f->series);
        free(f->buckets);
        free(f->help);
        free(f->name);
        free(f);
}

struct metrics *metrics_free(struct metrics *m) {
        if (!m)
                return NULL;
        for (size_t i = 0; i < m->n_families; i++)
                family_free(m->families[i]);
        free(m->families);
        pthread_mutex_destroy(&m->lock);
        free(m);
        return NULL;
}

static bool is_alpha_(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

/* Metric names: [a-zA-Z_:][a-zA-Z0-9_:]* */
static bool metric_name_valid(const char *s) {
        if (!s || !(is_alpha_(s[0]) || s[0] == ':'))
                return false;
        for (const char *p = s + 1; *p; p++)
                if (!(is_alpha_(*p) || is_digit(*p) || *p == ':'))
                        return false;
        return true;
}

/* RFC 3629 UTF-8: no overlong forms, no surrogates, nothing past U+10FFFF. */
static bool utf8_valid(const unsigned char *s, size_t n) {
        size_t i = 0;
        while (i < n) {
                unsigned char c = s[i];
                size_t k;
                uint32_t cp;
                if (c < 0x80) {
                        i++;
                        continue;
                } else if (c >= 0xc2 && c <= 0xdf) {
                        k = 1, cp = c & 0x1f;
                } else if (c >= 0xe0 && c <= 0xef) {
                        k = 2, cp = c & 0x0f;
                } else if (c >= 0xf0 && c <= 0xf4) {
                        k = 3, cp = c & 0x07;
                } else {
                        return false;
                }
                if (n - i <= k)
                        return false;
                for (size_t j = 1; j <= k; j++) {
                        if ((s[i + j] & 0xc0) != 0x80)
                                return false;
                        cp = (cp << 6) | (s[i + j] & 0x3f);
                }
                if ((k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
                    (cp >= 0xd800 && cp <= 0xdfff))
                        return false;
                i += k + 1;
        }
        return true;
}

int metrics_label_escape(const char *v, char **ret) {
        if (!v || !ret)
                return -EINVAL;
        size_t n = strlen(v);
        if (!utf8_valid((const unsigned char *)v, n))
                return -EINVAL;
        char *out = malloc(2 * n + 1), *o = out;
        if (!out)
                return -ENOMEM;
        for (const char *p = v; *p; p++) {
                if (*p == '\\' || *p == '"') {
                        *o++ = '\\';
                        *o++ = *p;
                } else if (*p == '\n') {
                        *o++ = '\\';
                        *o++ = 'n';
                } else {
                        *o++ = *p;
                }
        }
        *o = '\0';
        *ret = out;
        return 0;
}

struct label_pair {
        const char *name, *value;       /* value: the escaped text between the quotes */
        size_t name_len, value_len;
};

static int pair_cmp(const void *a, const void *b) {
        const struct label_pair *x = a, *y = b;
        size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
        int c = memcmp(x->name, y->name, n);
        if (c)
                return c;
        return x->name_len < y->name_len ? -1 : x->name_len > y->name_len;
}

/* Validates a label set and returns its canonical form (pairs sorted by name) in *ret. */
static int labels_canonical(const char *labels, bool histogram, char **ret) {
        if (!labels || !*labels) {
                *ret = strdup("");
                return *ret ? 0 : -ENOMEM;
        }
        size_t n = 0, cap = 0;
        _cleanup_free_ struct label_pair *pairs = NULL;
        const char *p = labels;
        for (;;) {
                struct label_pair lp = { .name = p };
                if (!is_alpha_(*p))
                        return -EINVAL;
                while (is_alpha_(*p) || is_digit(*p))
                        p++;
                lp.name_len = (size_t)(p - lp.name);
                if (lp.name_len >= 2 && lp.name[0] == '_' && lp.name[1] == '_')
                        return -EINVAL;         /* reserved for Prometheus itself */
                if (histogram && lp.name_len == 2 && memcmp(lp.name, "le", 2) == 0)
                        return -EINVAL;         /* the bucket label */
                if (*p++ != '=' || *p++ != '"')
                        return -EINVAL;
                lp.value = p;
                for (; *p != '"'; p++) {
                        if (*p == '\0' || *p == '\n')
                                return -EINVAL;
                        if (*p == '\\') {
                                p++;
                                if (*p != '\\' && *p != '"' && *p != 'n')
                                        return -EINVAL;
                        }
                }
                lp.value_len = (size_t)(p - lp.value);
                if (!utf8_valid((const unsigned char *)lp.value, lp.value_len))
                        return -EINVAL;
                p++;
                if (n == cap) {
                        cap = cap ? 2 * cap : 4;
                        struct label_pair *np = realloc(pairs, cap * sizeof *np);
                        if (!np)
                                return -ENOMEM;
                        pairs = np;
                }
                pairs[n++] = lp;
                if (*p == '\0')
                        break;
                if (*p++ != ',')
                        return -EINVAL;
        }
        qsort(pairs, n, sizeof *pairs, pair_cmp);
        for (size_t i = 1; i < n; i++)
                if (pair_cmp(&pairs[i - 1], &pairs[i]) == 0)
                        return -EINVAL;         /* duplicate label name */

        char *out = malloc(strlen(labels) + 1), *o = out;
        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                if (i)
                        *o++ = ',';
                memcpy(o, pairs[i].name, pairs[i].name_len);
                o += pairs[i].name_len;
                *o++ = '=';
                *o++ = '"';
                memcpy(o, pairs[i].value, pairs[i].value_len);
                o += pairs[i].value_len;
                *o++ = '"';
        }
        *o = '\0';
        *ret = out;
        return 0;
}

static struct family *family_find(struct metrics *m, const char *name) {
        for (size_t i = 0; i < m->n_families; i++)
                if (streq(m->families[i]->name, name))
                        return m->families[i];
        return NULL;
}

/* Does a histogram named h expose the sample name s (h_bucket, h_sum, h_count)? */
static bool histogram_owns(const char *h, const char *s) {
        size_t n = strlen(h);
        return strncmp(h, s, n) == 0 && (streq(s + n, "_bucket") || streq(s + n, "_sum") || streq(s + n, "_count"));
}

int metrics_declare(struct metrics *m, const char *name, enum metrics_type type, const char *help,
                    const double *buckets, size_t n_buckets) {
        if (!m || !metric_name_valid(name))
                return -EINVAL;
        if (type != METRICS_COUNTER && type != METRICS_GAUGE && type != METRICS_HISTOGRAM)
                return -EINVAL;
        if (type != METRICS_HISTOGRAM && n_buckets > 0)
                return -EINVAL;
        if (n_buckets > METRICS_MAX_BUCKETS || (n_buckets > 0 && !buckets))
                return -EINVAL;
        for (size_t i = 0; i < n_buckets; i++)
                if (!isfinite(buckets[i]) || (i > 0 && !(buckets[i] > buckets[i - 1])))
                        return -EINVAL;
        if (help && !utf8_valid((const unsigned char *)help, strlen(help)))
                return -EINVAL;

        struct family *f = calloc(1, sizeof *f);
        if (!f)
                return -ENOMEM;
        f->type = type;
        f->name = strdup(name);
        f->help = help ? strdup(help) : NULL;
        f->n_buckets = n_buckets;
        f->buckets = n_buckets ? malloc(n_buckets * sizeof(double)) : NULL;
        if (!f->name || (help && !f->help) || (n_buckets && !f->buckets)) {
                family_free(f);
                return -ENOMEM;
        }
        if (n_buckets)
                memcpy(f->buckets, buckets, n_buckets * sizeof(double));

        int r = 0;
        pthread_mutex_lock(&m->lock);
        for (size_t i = 0; i < m->n_families && r == 0; i++) {
                const struct family *o = m->families[i];
                if (streq(o->name, name) || (o->type == METRICS_HISTOGRAM && histogram_owns(o->name, name)) ||
                    (type == METRICS_HISTOGRAM && histogram_owns(name, o->name)))
                        r = -EEXIST;
        }
        if (r == 0) {
                struct family **nf = realloc(m->families, (m->n_families + 1) * sizeof *nf);
                if (!nf)
                        r = -ENOMEM;
                else {
                        m->families = nf;
                        m->families[m->n_families++] = f;
                        f = NULL;
                }
        }
        pthread_mutex_unlock(&m->lock);
        family_free(f);
        return r;
}

/* Binary search for a canonical label set; *ret_pos is where it is or would go. */
static struct series *series_find(struct family *f, const char *labels, size_t *ret_pos) {
        size_t lo = 0, hi = f->n_series;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = strcmp(f->series[mid].labels, labels);
                if (c == 0) {
                        *ret_pos = mid;
                        return &f->series[mid];
                }
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        *ret_pos = lo;
        return NULL;
}

/* Finds or creates the series; takes canon (on success only). Called with the lock held. */
static int series_get(struct family *f, char **canon, struct series **ret) {
        size_t pos;
        struct series *s = series_find(f, *canon, &pos);
        if (s) {
                *ret = s;
                return 0;
        }
        if (f->n_series >= METRICS_MAX_SERIES)
                return -E2BIG;
        if (f->n_series == f->cap_series) {
                size_t cap = f->cap_series ? 2 * f->cap_series : 4;
                struct series *ns = realloc(f->series, cap * sizeof *ns);
                if (!ns)
                        return -ENOMEM;
                f->series = ns;
                f->cap_series = cap;
        }
        uint64_t *counts = NULL;
        if (f->type == METRICS_HISTOGRAM) {
                counts = calloc(f->n_buckets + 1, sizeof *counts);
                if (!counts)
                        return -ENOMEM;
        }
        memmove(&f->series[pos + 1], &f->series[pos], (f->n_series - pos) * sizeof *f->series);
        f->series[pos] = (struct series){ .labels = TAKE_PTR(*canon), .counts = counts };
        f->n_series++;
        *ret = &f->series[pos];
        return 0;
}

enum op { OP_ADD, OP_SET, OP_OBSERVE };

static int update(struct metrics *m, const char *name, const char *labels, enum metrics_type want, enum op op,
                  double v) {
        if (!m || !name)
                return -EINVAL;
        _cleanup_free_ char *canon = NULL;
        int r = labels_canonical(labels, want == METRICS_HISTOGRAM, &canon);
        if (r < 0)
                return r;

        pthread_mutex_lock(&m->lock);
        struct family *f = family_find(m, name);
        struct series *s = NULL;
        if (!f)
                r = -ENOENT;
        else if (f->type != want)
                r = -EINVAL;
        else
                r = series_get(f, &canon, &s);
        if (r == 0) {
                switch (op) {
                case OP_ADD:
                        s->value += v;
                        break;
                case OP_SET:
                        s->value = v;
                        break;
                case OP_OBSERVE: {
                        size_t i = 0;
                        while (i < f->n_buckets && v > f->buckets[i])
                                i++;
                        s->counts[i]++;
                        s->count++;
                        s->sum += v;
                        break;
                }
                }
        }
        pthread_mutex_unlock(&m->lock);
        return r;
}

int metrics_counter_add(struct metrics *m, const char *name, const char *labels, double v) {
        if (!isfinite(v) || v < 0)
                return -EINVAL;
        return update(m, name, labels, METRICS_COUNTER, OP_ADD, v);
}

int metrics_gauge_set(struct metrics *m, const char *name, const char *labels, double v) {
        return update(m, name, labels, METRICS_GAUGE, OP_SET, v);
}

int metrics_histogram_observe(struct metrics *m, const char *name, const char *labels, double v) {
        if (!isfinite(v))
                return -EINVAL;
        return update(m, name, labels, METRICS_HISTOGRAM, OP_OBSERVE, v);
}

/* Looks a series up without creating it; returns it with the lock held, or an error unlocked. */
static int lookup_locked(struct metrics *m, const char *name, const char *labels, bool histogram,
                         struct series **ret) {
        if (!m || !name)
                return -EINVAL;
        _cleanup_free_ char *canon = NULL;
        int r = labels_canonical(labels, histogram, &canon);
        if (r < 0)
                return r;
        pthread_mutex_lock(&m->lock);
        struct family *f = family_find(m, name);
        size_t pos;
        struct series *s = NULL;
        if (!f)
                r = -ENOENT;
        else if ((f->type == METRICS_HISTOGRAM) != histogram)
                r = -EINVAL;
        else if (!(s = series_find(f, canon, &pos)))
                r = -ENOENT;
        if (r < 0) {
                pthread_mutex_unlock(&m->lock);
                return r;
        }
        *ret = s;
        return 0;
}

int metrics_get(struct metrics *m, const char *name, const char *labels, double *ret) {
        struct series *s;
        int r = lookup_locked(m, name, labels, false, &s);
        if (r < 0)
                return r;
        *ret = s->value;
        pthread_mutex_unlock(&m->lock);
        return 0;
}

int metrics_histogram_get(struct metrics *m, const char *name, const char *labels, uint64_t *ret_count,
                          double *ret_sum) {
        struct series *s;
        int r = lookup_locked(m, name, labels, true, &s);
        if (r < 0)
                return r;
        *ret_count = s->count;
        *ret_sum = s->sum;
        pthread_mutex_unlock(&m->lock);
        return 0;
}

/* As Prometheus' Go client prints a value (expfmt: strconv.FormatFloat(v, 'g', -1, 64)): the
 * shortest digits that read back to v; %e form when the exponent is < -4 or >= 6 (strconv's rule
 * for the shortest 'g'), else plain decimals. So 250 is "250", not C's shortest-%g "2.5e+02". */
static void fmt_go_g(double v, char buf[static 32]) {
        char e[40];
        int prec, exp, nd;

        /* Shortest significant digits that read back exactly. */
        for (prec = 1; prec <= 17; prec++) {
                snprintf(e, sizeof e, "%.*e", prec - 1, v);
                if (strtod(e, NULL) == v)
                        break;
        }
        exp = atoi(strchr(e, 'e') + 1);
        /* Trailing zeros of the mantissa are not significant digits (C's %e keeps them). */
        nd = prec;
        {
                char *m = strchr(e, 'e'), *d = m - 1;
                while (nd > 1 && *d == '0')
                        nd--, d--;
        }
        if (exp < -4 || exp >= 6) {
                /* Go: mantissa digits, then e±XX with at least two exponent digits (as C). */
                snprintf(buf, 32, "%.*e", nd - 1, v);
        } else
                snprintf(buf, 32, "%.*f", nd - 1 - exp > 0 ? nd - 1 - exp : 0, v);
}

static void fmt_double(double v, char buf[static 32]) {
        if (isnan(v)) {
                strcpy(buf, "NaN");
                return;
        }
        if (isinf(v)) {
                strcpy(buf, v > 0 ? "+Inf" : "-Inf");
                return;
        }
        fmt_go_g(v, buf);
}

static const char *type_name(enum metrics_type t) {
        switch (t) {
        case METRICS_COUNTER:
                return "counter";
        case METRICS_GAUGE:
                return "gauge";
        default:
                return "histogram";
        }
}

static void render_family(FILE *out, const struct family *f) {
        char num[32], le[32];
        if (f->help) {
                fprintf(out, "# HELP %s ", f->name);
                for (const char *p = f->help; *p; p++) {
                        if (*p == '\\')
                                fputs("\\\\", out);
                        else if (*p == '\n')
                                fputs("\\n", out);
                        else
                                fputc(*p, out);
                }
                fputc('\n', out);
        }
        fprintf(out, "# TYPE %s %s\n", f->name, type_name(f->type));
        for (size_t i = 0; i < f->n_series; i++) {
                const struct series *s = &f->series[i];
                const char *sep = s->labels[0] ? "," : "";
                if (f->type != METRICS_HISTOGRAM) {
                        fmt_double(s->value, num);
                        if (s->labels[0])
                                fprintf(out, "%s{%s} %s\n", f->name, s->labels, num);
                        else
                                fprintf(out, "%s %s\n", f->name, num);
                        continue;
                }
                uint64_t cum = 0;
                for (size_t b = 0; b <= f->n_buckets; b++) {
                        cum += s->counts[b];
                        if (b < f->n_buckets)
                                fmt_double(f->buckets[b], le);
                        else
                                strcpy(le, "+Inf");
                        fprintf(out, "%s_bucket{%s%sle=\"%s\"} %llu\n", f->name, s->labels, sep, le,
                                (unsigned long long)cum);
                }
                fmt_double(s->sum, num);
                if (s->labels[0]) {
                        fprintf(out, "%s_sum{%s} %s\n", f->name, s->labels, num);
                        fprintf(out, "%s_count{%s} %llu\n", f->name, s->labels, (unsigned long long)s->count);
                } else {
                        fprintf(out, "%s_sum %s\n", f->name, num);
                        fprintf(out, "%s_count %llu\n", f->name, (unsigned long long)s->count);
                }
        }
}

int metrics_render(struct metrics *m, char **ret, size_t *ret_len) {
        if (!m || !ret)
                return -EINVAL;
        char *buf = NULL;
        size_t len = 0;
        FILE *out = open_memstream(&buf, &len);
        if (!out)
                return -ENOMEM;
        pthread_mutex_lock(&m->lock);
        for (size_t i = 0; i < m->n_families; i++)
                render_family(out, m->families[i]);
        pthread_mutex_unlock(&m->lock);
        int r = ferror(out) ? -ENOMEM : 0;
        r = memstream_finish(out, &buf, r, ret);
        if (r < 0)
                return r;
        if (ret_len)
                *ret_len = len;
        return 0;
}
