/* SPDX-License-Identifier: Apache-2.0 */
/* metrics.h: a thread-safe registry of counters, gauges and histograms, rendered as Prometheus
 * text exposition format 0.0.4 (https://prometheus.io/docs/instrumenting/exposition_formats/).
 * Names are exported as given (Istio's istio_cni_installs_total already ends in _total). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

enum metrics_type { METRICS_COUNTER, METRICS_GAUGE, METRICS_HISTOGRAM };

struct metrics;

int metrics_new(struct metrics **ret);
struct metrics *metrics_free(struct metrics *m);

/* Declares a family once (its HELP and TYPE lines). buckets (ascending upper bounds; +Inf is
 * implicit) only for histograms. -EEXIST if declared, -EINVAL for a bad name or buckets. */
int metrics_declare(struct metrics *m, const char *name, enum metrics_type type, const char *help,
                    const double *buckets, size_t n_buckets);

/* labels: NULL or "" or a label set without braces, e.g. "result=\"SUCCESS\"" (validated:
 * -EINVAL). -ENOENT for an undeclared family, -EMEDIUMTYPE for the wrong type. */
int metrics_counter_add(struct metrics *m, const char *name, const char *labels, double v); /* v >= 0 */
int metrics_gauge_set(struct metrics *m, const char *name, const char *labels, double v);
int metrics_histogram_observe(struct metrics *m, const char *name, const char *labels, double v);
/* A counter's or gauge's value; -ENOENT if that series does not exist. */
int metrics_get(struct metrics *m, const char *name, const char *labels, double *ret);

/* The whole registry, families in declaration order, series in creation order. */
int metrics_render(struct metrics *m, char **ret, size_t *ret_len);

/* Escapes a label value (\\, \", \n) for use inside labels="…". */
int metrics_label_escape(const char *v, char **ret);
