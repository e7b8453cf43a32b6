/* SPDX-License-Identifier: Apache-2.0 */
/* selector.h: Kubernetes label and field selectors, parsed into typed requirements and matched
 * against a Pod, as the API server would filter a LIST/WATCH. For the repair controller hosted by
 * install-cni, whose one node-wide watch (the plugin's pod cache needs every pod) cannot carry
 * REPAIR_LABEL_SELECTORS / REPAIR_FIELD_SELECTORS, so they are applied to each event instead.
 * Grammar: k8s.io/apimachinery labels.Parse (=, ==, !=, in, notin, exists, !key, >, <) and
 * fields.ParseSelector (=, ==, !=; `\` escapes `,` `=` `\`), with the Pod field labels the API
 * server supports. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

struct selector;

/* Parses a label selector ("" selects everything). 0, or -EINVAL with a message naming the bad
 * part in err; -ENOMEM. */
int selector_parse_labels(const char *s, struct selector **ret, char *err, size_t errsz);

/* Parses a field selector for Pods ("" selects everything); a field the API server does not
 * support for Pods is refused, as the server would (400). */
int selector_parse_fields(const char *s, struct selector **ret, char *err, size_t errsz);

/* Does the Pod object match every requirement? (labels: metadata.labels; fields: the Pod's
 * fields, a missing one as ""; spec.hostNetwork as "true"/"false"). NULL matches everything. */
bool selector_matches(const struct selector *sel, const cJSON *pod);

struct selector *selector_free(struct selector *sel);
