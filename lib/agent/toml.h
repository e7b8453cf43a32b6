/* SPDX-License-Identifier: Apache-2.0 */
/* toml.h: the small, strict TOML subset doctor needs to read container-runtime configs
 * (containerd config.toml, CRI-O crio.conf and crio.conf.d files). Spec: TOML v1.0.0 (toml.io).
 *
 * Kept: [tables] and [[arrays of tables]] headers (an array table's keys are not kept: the keys we
 * need never live in one), bare, "basic" and 'literal' keys, dotted keys, basic strings (escapes
 * \b \t \n \f \r \" \\ \uXXXX \UXXXXXXXX), literal strings, decimal integers, arrays of strings
 * (over several lines, trailing comma, comments), comments. Skipped safely, never kept: booleans,
 * floats, dates, other integers, multi-line strings, inline tables, arrays of anything else.
 * Rejected with "line N: ...": anything else (a key without '=', an unterminated string or array,
 * a bad escape, a control character, a key defined twice), and a text over 4 MiB. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct toml_doc;

#define TOML_MAX_SIZE (4u << 20)

/* Parses text (not necessarily NUL-terminated). 0, -EINVAL (err names the line), -EFBIG, -ENOMEM. */
int toml_parse(const char *text, size_t len, struct toml_doc **ret, char *err, size_t errsz);
struct toml_doc *toml_free(struct toml_doc *d);

/* Lookups by the full key path (table path + key), path a NULL-terminated list of components,
 * e.g. { "plugins", "io.containerd.grpc.v1.cri", "cni", "conf_dir", NULL }. The values are
 * borrowed from d. Returns 0, -ENOENT (not set), -EMEDIUMTYPE (set, another type or skipped). */
int toml_get_string(const struct toml_doc *d, const char *const *path, const char **ret);
/* NULL-terminated list of the strings. */
int toml_get_strv(const struct toml_doc *d, const char *const *path, char *const **ret);
int toml_get_int(const struct toml_doc *d, const char *const *path, int64_t *ret);
