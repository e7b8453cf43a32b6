/* SPDX-License-Identifier: Apache-2.0 */
/* pluginkube.h: the kubeconfig install-cni writes for the istio-cni plugin (spec istio-cni.md §4.4),
 * byte-identical to Istio's (clientcmd v1 Config → JSON → sigs.k8s.io/yaml, i.e. go-yaml v2's
 * emitter: keys sorted, 2-space indent, block sequences at the key's column). Pure: no I/O. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* "<proto>://<host>:<port>" with an IPv6 host in brackets (Go net.JoinHostPort); proto NULL or ""
 * means https. -EINVAL for an empty host or port, or one with a character that cannot be in a URL
 * authority (whitespace, '/', '@', '?', '#', control bytes). */
int pluginkube_server_url(const char *proto, const char *host, const char *port, char **ret);

struct pluginkube_input {
        const char *server;
        const void *ca;                 /* CA file bytes, embedded base64 (ignored with skip_tls_verify) */
        size_t ca_len;
        bool skip_tls_verify;
        const char *token;              /* the token file verbatim (no trimming) */
        size_t token_len;
};

/* The YAML text. An empty CA or token is left out (Go's omitempty), as Istio does. */
int pluginkube_render(const struct pluginkube_input *in, char **ret_yaml);
/* The same with the token and the CA data replaced by "REDACTED" (client-go's RedactSecrets word,
 * which Istio logs for the token; the CA is only long, not secret), for logs. */
int pluginkube_render_redacted(const struct pluginkube_input *in, char **ret_yaml);

/* One go-yaml v2 scalar for a block mapping value at column indent (the key's column): plain,
 * 'single', "double" quoted or a literal block, exactly as yaml.Marshal chooses and writes it.
 * column is where the scalar starts (after "key: "); invalid UTF-8 becomes U+FFFD first (the
 * string went through JSON). Exposed for tests. */
int pluginkube_yaml_scalar(const char *s, size_t len, unsigned indent, unsigned column, char **ret);
