/* SPDX-License-Identifier: Apache-2.0 */
/* metrics.c: Prometheus text format 0.0.4 from a small registry (see metrics.h). A handful of
 * families with a few series each: linear search is the simplest correct structure. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/metrics.h"
#include "base/macro.h"

struct series {
        char *labels;           /* "" or a validated label set */
        double value;           /* counter, gauge; histogram: the sum */
        unsigned long long count;
        unsigned long long *buckets; /* histogram: per-bucket (non-cumulative) counts */
};

struct family {
        char *name, *help;
        enum metrics_type type;
        double *bounds;
        size_t n_bounds;
        struct series *series;
        size_t n_series;
};

struct metrics {
        pthread_mutex_t lock;
        struct family *fam;
        size_t n_fam;
};

static bool name_ok(const char *s) {
        if (!s || !*s || !(*s == '_' || *s == ':' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
                return false;
        for (s++; *s; s++)
                if (!(*s == '_' || *s == ':' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
                      (*s >= '0' && *s <= '9')))
                        return false;
        return true;
}

/* name="value"(,name="value")*, values with \\ \" \n escapes only. */
static bool labels_ok(const char *s) {
        if (!s || !*s)
                return true;
        for (;;) {
                const char *n = s;
                if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_'))
                        return false;
                while ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_')
                        s++;
                if (s - n >= 2 && n[0] == '_' && n[1] == '_')
                        return false; /* reserved */
                if (*s++ != '=' || *s++ != '"')
                        return false;
                for (; *s != '"'; s++) {
                        if (!*s || *s == '\n')
                                return false;
                        if (*s == '\\' && (s[1] != '\\' && s[1] != '"' && s[1] != 'n'))
                                return false;
                        if (*s == '\\')
                                s++;
                }
                s++;
                if (!*s)
                        return true;
                if (*s++ != ',')
                        return false;
        }
}

int metrics_label_escape(const char *v, char **ret) {
        size_t n = 0;
        char *o, *p;
        for (const char *s = v; *s; s++)
                n += (*s == '\\' || *s == '"' || *s == '\n') ? 2 : 1;
        o = p = malloc(n + 1);
        if (!o)
                return -ENOMEM;
        for (const char *s = v; *s; s++) {
                if (*s == '\\' || *s == '"')
                        *p++ = '\\', *p++ = *s;
                else if (*s == '\n')
                        *p++ = '\\', *p++ = 'n';
                else
                        *p++ = *s;
        }
        *p = 0;
        *ret = o;
        return 0;
}

int metrics_new(struct metrics **ret) {
        struct metrics *m = calloc(1, sizeof *m);
        if (!m)
                return -ENOMEM;
        pthread_mutex_init(&m->lock, NULL);
        *ret = m;
        return 0;
}

struct metrics *metrics_free(struct metrics *m) {
        if (!m)
                return NULL;
        for (size_t i = 0; i < m->n_fam; i++) {
                struct family *f = &m->fam[i];
                for (size_t j = 0; j < f->n_series; j++) {
                        free(f->series[j].labels);
                        free(f->series[j].buckets);
                }
                free(f->series);
                free(f->name);
                free(f->help);
                free(f->bounds);
        }
        free(m->fam);
        pthread_mutex_destroy(&m->lock);
        free(m);
        return NULL;
}

static struct family *find_family(struct metrics *m, const char *name) {
        for (size_t i = 0; i < m->n_fam; i++)
                if (streq(m->fam[i].name, name))
                        return &m->fam[i];
        return NULL;
}

int metrics_declare(struct metrics *m, const char *name, enum metrics_type type, const char *help,
                    const double *buckets, size_t n_buckets) {
        struct family *nf, f = { .type = type };
        int r = 0;

        if (!name_ok(name) || (type == METRICS_HISTOGRAM) != (n_buckets > 0))
                return -EINVAL;
        for (size_t i = 0; i < n_buckets; i++)
                if (!isfinite(buckets[i]) || (i && buckets[i] <= buckets[i - 1]))
                        return -EINVAL;
        pthread_mutex_lock(&m->lock);
        if (find_family(m, name)) {
                r = -EEXIST;
                goto out;
        }
        f.name = strdup(name);
        f.help = strdup(help ? help : "");
        f.bounds = n_buckets ? malloc(n_buckets * sizeof(double)) : NULL;
        nf = realloc(m->fam, (m->n_fam + 1) * sizeof *nf);
        if (!f.name || !f.help || (n_buckets && !f.bounds) || !nf) {
                free(f.name), free(f.help), free(f.bounds);
                if (nf)
                        m->fam = nf;
                r = -ENOMEM;
                goto out;
        }
        if (n_buckets)
                memcpy(f.bounds, buckets, n_buckets * sizeof(double));
        f.n_bounds = n_buckets;
        m->fam = nf;
        m->fam[m->n_fam++] = f;
out:
        pthread_mutex_unlock(&m->lock);
        return r;
}

/* The series of name{labels}, created when create is true. Caller holds the lock. */
static int find_series(struct metrics *m, const char *name, enum metrics_type type, const char *labels, bool create,
                       struct family **ret_f, struct series **ret) {
        struct family *f = find_family(m, name);
        struct series *ns;

        if (!labels)
                labels = "";
        if (!f)
                return -ENOENT;
        if (f->type != type)
                return -EMEDIUMTYPE;
        for (size_t i = 0; i < f->n_series; i++)
                if (streq(f->series[i].labels, labels)) {
                        *ret_f = f;
                        *ret = &f->series[i];
                        return 0;
                }
        if (!create)
                return -ENOENT;
        if (!labels_ok(labels))
                return -EINVAL;
        ns = realloc(f->series, (f->n_series + 1) * sizeof *ns);
        if (!ns)
                return -ENOMEM;
        f->series = ns;
        ns = &f->series[f->n_series];
        *ns = (struct series){ .labels = strdup(labels) };
        if (f->n_bounds)
                ns->buckets = calloc(f->n_bounds, sizeof *ns->buckets);
        if (!ns->labels || (f->n_bounds && !ns->buckets)) {
                free(ns->labels);
                free(ns->buckets);
                return -ENOMEM;
        }
        f->n_series++;
        *ret_f = f;
        *ret = ns;
        return 0;
}

static int update(struct metrics *m, const char *name, enum metrics_type type, const char *labels, double v) {
        struct family *f;
        struct series *s;
        int r;

        if (isnan(v) || (type == METRICS_COUNTER && v < 0))
                return -EINVAL;
        pthread_mutex_lock(&m->lock);
        r = find_series(m, name, type, labels, true, &f, &s);
        if (r >= 0) {
                if (type == METRICS_COUNTER)
                        s->value += v;
                else if (type == METRICS_GAUGE)
                        s->value = v;
                else {
                        size_t i = 0;
                        while (i < f->n_bounds && v > f->bounds[i])
                                i++;
                        if (i < f->n_bounds)
                                s->buckets[i]++;
                        s->value += v;
                        s->count++;
                }
        }
        pthread_mutex_unlock(&m->lock);
        return r;
}

int metrics_counter_add(struct metrics *m, const char *name, const char *labels, double v) {
        return update(m, name, METRICS_COUNTER, labels, v);
}

int metrics_gauge_set(struct metrics *m, const char *name, const char *labels, double v) {
        return update(m, name, METRICS_GAUGE, labels, v);
}

int metrics_histogram_observe(struct metrics *m, const char *name, const char *labels, double v) {
        return update(m, name, METRICS_HISTOGRAM, labels, v);
}

int metrics_get(struct metrics *m, const char *name, const char *labels, double *ret) {
        struct family *f = NULL;
        struct series *s;
        int r;

        pthread_mutex_lock(&m->lock);
        f = find_family(m, name);
        r = !f ? -ENOENT : find_series(m, name, f->type, labels, false, &f, &s);
        if (r >= 0)
                *ret = s->value;
        pthread_mutex_unlock(&m->lock);
        return r;
}

/* Go's strconv 'g' with the shortest round-trip precision, as client_golang prints values. */
static void fmt_value(FILE *o, double v) {
        char buf[64];
        if (isinf(v)) {
                fputs(v > 0 ? "+Inf" : "-Inf", o);
                return;
        }
        for (int prec = 1; prec <= 17; prec++) {
                snprintf(buf, sizeof buf, "%.*g", prec, v);
                if (strtod(buf, NULL) == v)
                        break;
        }
        fputs(buf, o);
}

static void fmt_labels(FILE *o, const char *labels, const char *extra) {
        bool l = labels && *labels, e = extra && *extra;
        if (!l && !e)
                return;
        fprintf(o, "{%s%s%s}", l ? labels : "", l && e ? "," : "", e ? extra : "");
}

int metrics_render(struct metrics *m, char **ret, size_t *ret_len) {
        char *buf = NULL;
        size_t len = 0;
        FILE *o = open_memstream(&buf, &len);
        static const char *const types[] = { "counter", "gauge", "histogram" };

        if (!o)
                return -ENOMEM;
        pthread_mutex_lock(&m->lock);
        for (size_t i = 0; i < m->n_fam; i++) {
                const struct family *f = &m->fam[i];
                fprintf(o, "# HELP %s ", f->name);
                for (const char *h = f->help; *h; h++)
                        fputs(*h == '\\' ? "\\\\" : *h == '\n' ? "\\n" : (char[]){ *h, 0 }, o);
                fprintf(o, "\n# TYPE %s %s\n", f->name, types[f->type]);
                for (size_t j = 0; j < f->n_series; j++) {
                        const struct series *s = &f->series[j];
                        if (f->type != METRICS_HISTOGRAM) {
                                fputs(f->name, o);
                                fmt_labels(o, s->labels, NULL);
                                fputc(' ', o);
                                fmt_value(o, s->value);
                                fputc('\n', o);
                                continue;
                        }
                        unsigned long long cum = 0;
                        for (size_t b = 0; b <= f->n_bounds; b++) {
                                char le[80];
                                FILE *lf = fmemopen(le, sizeof le, "w");
                                cum += b < f->n_bounds ? s->buckets[b] : 0;
                                if (!lf)
                                        continue;
                                fputs("le=\"", lf);
                                fmt_value(lf, b < f->n_bounds ? f->bounds[b] : INFINITY);
                                fputc('"', lf);
                                fputc(0, lf);
                                fclose(lf);
                                fprintf(o, "%s_bucket", f->name);
                                fmt_labels(o, s->labels, le);
                                fprintf(o, " %llu\n", b < f->n_bounds ? cum : s->count);
                        }
                        fprintf(o, "%s_sum", f->name);
                        fmt_labels(o, s->labels, NULL);
                        fputc(' ', o);
                        fmt_value(o, s->value);
                        fprintf(o, "\n%s_count", f->name);
                        fmt_labels(o, s->labels, NULL);
                        fprintf(o, " %llu\n", s->count);
                }
        }
        pthread_mutex_unlock(&m->lock);
        if (fclose(o) != 0) {
                free(buf);
                return -ENOMEM;
        }
        *ret = buf;
        *ret_len = len;
        return 0;
}
