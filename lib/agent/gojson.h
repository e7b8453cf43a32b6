/* SPDX-License-Identifier: Apache-2.0 */
/* gojson.h: a JSON value tree that reads and writes like Go's encoding/json with map[string]any,
 * so the files install-cni rewrites are byte-identical to Istio's (spec istio-cni.md §4.5, §4.7).
 *
 * Reading (json.Unmarshal into any): strict RFC 8259 syntax; numbers become float64 (a value that
 * overflows float64 is an error, as in Go); invalid UTF-8 and lone surrogates become U+FFFD;
 * duplicate keys are kept in document order and looked up last-wins (a Go map keeps the last).
 * Nesting is bounded (an error, never a stack overflow).
 *
 * Writing (json.Marshal / MarshalIndent(v, "", "  ")): GOJSON_SORT gives Go's map order (keys
 * byte-wise sorted, one member per key: the last); without it members are written in document
 * order (Go's struct order for the values we build). Strings are escaped like Go's encoder with
 * HTML escaping on: \u003c \u003e \u0026, \u2028 \u2029, \b \f \n \r \t, other control bytes as
 * \u00XX, invalid UTF-8 as \ufffd. Numbers are Go's float64 format: shortest round-trip digits,
 * plain decimal for 1e-6 <= |x| < 1e21, else exponent form ("1e+21", "1e-7"). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define GOJSON_MAX_DEPTH 1000

enum gojson_type { GOJSON_NULL, GOJSON_BOOL, GOJSON_NUMBER, GOJSON_STRING, GOJSON_ARRAY, GOJSON_OBJECT };

typedef struct gojson gojson;
struct gojson_member {
        char *key;                      /* NUL-terminated; may contain NUL bytes (see key_len) */
        size_t key_len;
        gojson *value;
};
struct gojson {
        enum gojson_type type;
        bool boolean;                   /* GOJSON_BOOL */
        double number;                  /* GOJSON_NUMBER */
        char *str;                      /* GOJSON_STRING: NUL-terminated; may contain NUL bytes */
        size_t len;
        gojson **items;                 /* GOJSON_ARRAY */
        size_t n_items;
        struct gojson_member *members;  /* GOJSON_OBJECT, document order, duplicates kept */
        size_t n_members;
        size_t cap;
};

/* Parses text[0..len). max_depth 0 means GOJSON_MAX_DEPTH. -EINVAL with a message in err (offset
 * and what was wrong), -ENOMEM. */
int gojson_parse(const char *text, size_t len, unsigned max_depth, gojson **ret, char *err, size_t errsz);
gojson *gojson_free(gojson *v);
static inline void gojson_freep(gojson **v) { gojson_free(*v); }
#define _cleanup_gojson_ __attribute__((cleanup(gojson_freep)))

gojson *gojson_new(enum gojson_type type);
gojson *gojson_new_string(const char *s, size_t len);
gojson *gojson_new_bool(bool b);

/* The value of the last member named key (exact bytes), or NULL; NULL-safe, NULL for non-objects. */
gojson *gojson_get(const gojson *obj, const char *key);
/* true when v is a string equal to s. */
bool gojson_is_str(const gojson *v, const char *s);

/* These take ownership of v, also on failure (v is freed then). */
int gojson_array_append(gojson *arr, gojson *v);
/* Removes every member named key, then appends key: v. */
int gojson_object_set(gojson *obj, const char *key, gojson *v);
/* Removes (and frees) every member named key; returns how many. */
size_t gojson_object_del(gojson *obj, const char *key);
/* Removes and frees arr->items[i]. */
void gojson_array_remove(gojson *arr, size_t i);

/* Deepest nesting (a scalar is 0, [] and {} are 1). */
unsigned gojson_depth(const gojson *v);

enum {
        GOJSON_SORT = 1 << 0,           /* Go map order: sorted keys, last duplicate wins */
        GOJSON_INDENT = 1 << 1,         /* MarshalIndent(v, "", "  ") */
        GOJSON_NEWLINE = 1 << 2,        /* append "\n" */
};
/* Serialises v; -EINVAL for a number that is not finite (Go's UnsupportedValueError). */
int gojson_format(const gojson *v, unsigned flags, char **ret, size_t *ret_len);
/* Writes s as a Go JSON string literal (quotes included) to f. */
void gojson_write_string(FILE *f, const char *s, size_t len);
/* Go's float64 text for x (finite), into buf (>= 32 bytes). */
void gojson_format_number(double x, char *buf, size_t size);
