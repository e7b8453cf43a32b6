/* SPDX-License-Identifier: Apache-2.0 */
/* metrics.h: the node agent's metrics registry, rendered as Prometheus text.
 * Spec: istio-cni.md §4.10 (names exported as-is, no suffixing: istio_cni_installs_total is a
 * counter whose name already ends in _total); Prometheus text exposition format 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/).
 *
 * A family is declared once (name, type, help, histogram buckets); its series are created on first
 * use, one per label set. Label sets are given without braces, e.g. "result=\"SUCCESS\"": names
 * [a-zA-Z_][a-zA-Z0-9_]* (not "__…", not "le" on a histogram), values double-quoted with only \\,
 * \" and \n escapes, valid UTF-8, pairs separated by a single ',' and no spaces. The order of the
 * pairs does not matter: "a=\"1\",b=\"2\"" and "b=\"2\",a=\"1\"" are one series.
 *
 * Rendering: families in declaration order, series sorted by label set; values in the shortest
 * form that reads back to the same double ("3", "0.25", "+Inf", "NaN").
 *
 * Errors: -EINVAL (bad name, label set, value, or wrong type for the call), -ENOENT (family not
 * declared; series never touched, for metrics_get), -EEXIST (family, or a histogram's _bucket/_sum/
 * _count name, declared already), -E2BIG (more than METRICS_MAX_SERIES series in a family: a
 * label value that should not have been a label), -ENOMEM.
 *
 * Threads: every function may be called from any thread (one mutex per registry). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum metrics_type { METRICS_COUNTER, METRICS_GAUGE, METRICS_HISTOGRAM };

/* Cardinality guard: a registry in a weeks-long agent must not grow without bound. */
#define METRICS_MAX_SERIES 1024
#define METRICS_MAX_BUCKETS 64

struct metrics;

int metrics_new(struct metrics **ret);
/* Accepts NULL; returns NULL. */
struct metrics *metrics_free(struct metrics *m);

/* Declares a family once (HELP/TYPE lines). buckets (finite, strictly ascending; +Inf implicit)
 * only for histograms; NULL/0 for the others. help may be NULL (no HELP line). */
int metrics_declare(struct metrics *m, const char *name, enum metrics_type type, const char *help,
                    const double *buckets, size_t n_buckets);

/* labels: NULL/"" or a label set without braces (see above). */
int metrics_counter_add(struct metrics *m, const char *name, const char *labels, double v);   /* v >= 0, finite */
int metrics_gauge_set(struct metrics *m, const char *name, const char *labels, double v);     /* any double */
int metrics_histogram_observe(struct metrics *m, const char *name, const char *labels, double v); /* finite */

/* The value of a counter or gauge series (for tests and the readiness probe). */
int metrics_get(struct metrics *m, const char *name, const char *labels, double *ret);
/* The count and sum of a histogram series (for tests). */
int metrics_histogram_get(struct metrics *m, const char *name, const char *labels, uint64_t *ret_count,
                          double *ret_sum);

/* Renders the whole registry; *ret is malloc'ed and NUL-terminated, *ret_len its length. */
int metrics_render(struct metrics *m, char **ret, size_t *ret_len);

/* Escapes a label value for use between the quotes of a label set: \ → \\, " → \", newline → \n.
 * -EINVAL if v is not valid UTF-8 (Prometheus requires it). *ret is malloc'ed. */
int metrics_label_escape(const char *v, char **ret);
