/* SPDX-License-Identifier: Apache-2.0 */
/* kubeconfig.h: parse the kubeconfig the CNI plugin and the node agent need.
 * Spec: istio-cni.md §2.5 (explicit path, no fallback) and §4.4 (the file install-cni writes);
 * format: Kubernetes clientcmd v1 Config (YAML or JSON).
 *
 * Syntax: YAML 1.1 read with libyaml (one document; block and flow style, every scalar style,
 * anchors, aliases and "<<" merge keys), or JSON (cJSON, tried first when the text starts with
 * '{' or '['). The YAML becomes the cJSON tree sigs.k8s.io/yaml (go-yaml v2) gives client-go:
 * plain scalars resolve to null, booleans (true/yes/on/y, false/no/off/n) or strings (numbers
 * keep their text); merge keys apply in document order, a later key winning. A boolean read from
 * a plain scalar keeps its text in valuestring, so a field that wants a string ("namespace: true",
 * "token: yes") gets the text. Refused, with "line L, column C: ...": libyaml's syntax errors in
 * its words, a key written twice, unknown anchors, a second document, non-scalar or null keys,
 * non-standard tags, more than 32 levels of nesting, aliases and merges that would copy more than
 * 4 MiB (billion laughs). docs/k8s-client.md has the details.
 *
 * Resolution: current-context → contexts[name].context.{cluster,user} → clusters[] and users[]
 * (a context without a user is allowed: no credentials). Unknown keys are ignored, as clientcmd
 * does; auth-provider / exec plugins are rejected (-EOPNOTSUPP) rather than silently ignored. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct kubeconfig {
        char *context;                  /* the resolved current-context name */
        char *cluster_name;
        char *user_name;                /* NULL when the context names no user */

        /* clusters[].cluster */
        char *server;                   /* "https://host:port[/prefix]", trailing '/' stripped */
        char *ca_file;                  /* certificate-authority, made absolute (see below) */
        void *ca_data;                  /* certificate-authority-data, base64-decoded (PEM bytes) */
        size_t ca_data_len;
        bool insecure_skip_tls_verify;  /* insecure-skip-tls-verify */
        char *tls_server_name;          /* tls-server-name: name checked in the server cert */

        /* users[].user */
        char *token;                    /* literal bearer token */
        char *token_file;               /* tokenFile, made absolute; re-read on every request */
        char *client_cert_file;         /* client-certificate */
        char *client_key_file;          /* client-key */
        void *client_cert_data;         /* client-certificate-data, base64-decoded */
        size_t client_cert_data_len;
        void *client_key_data;          /* client-key-data, base64-decoded */
        size_t client_key_data_len;
};

/* Parses text (YAML or JSON, not necessarily NUL-terminated). Relative file paths
 * (certificate-authority, tokenFile, client-certificate, client-key) are resolved against base_dir
 * when it is non-NULL (kubeconfig_load passes the file's directory), else kept as written.
 * On failure *ret is untouched and err (if non-NULL) holds a message such as "line 7, column 1:
 * found a tab character that violates indentation (while scanning a plain scalar at line 6,
 * column 18)".
 * Returns 0, or:
 *   -EINVAL     invalid YAML or JSON, wrong types, missing/unknown current-context, context,
 *               cluster or user, missing server, bad base64, a server URL that is not http(s)
 *   -EOPNOTSUPP auth-provider or exec credential plugins
 *   -ENOMEM */
int kubeconfig_parse(const char *text, size_t len, const char *base_dir, struct kubeconfig *ret,
                     char *err, size_t errsz);

/* The same YAML (or JSON) as a generic cJSON value, for other settings that Istio reads as YAML
 * (install-cni's AMBIENT_ENABLEMENT_SELECTOR). Scalars resolve as above; a text without a document
 * (empty, or only comments) is null. */
struct cJSON;
int kubeconfig_yaml_parse(const char *text, size_t len, struct cJSON **ret, char *err, size_t errsz);

/* Reads path (at most 4 MiB) and parses it; relative paths inside resolve against dirname(path).
 * Returns the errors of kubeconfig_parse, or -errno of open/read (-ENOENT for a missing file:
 * §2.5 says a missing kubeconfig is an error, there is no fallback). */
int kubeconfig_load(const char *path, struct kubeconfig *ret, char *err, size_t errsz);

/* In-cluster credentials, as client-go's rest.InClusterConfig builds them: server
 * https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT (an IPv6 host bracketed), token file
 * <sa_dir>/token (re-read on every request), CA <sa_dir>/ca.crt. sa_dir NULL =>
 * /var/run/secrets/kubernetes.io/serviceaccount. The files are not read here. Returns 0, -ENOENT
 * (with err) when the variables are unset, -EINVAL for a host or port that cannot be in a URL,
 * -ENOMEM. */
#define KUBECONFIG_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"
int kubeconfig_in_cluster(const char *sa_dir, struct kubeconfig *ret, char *err, size_t errsz);

/* Frees all members (safe on a zeroed or already-done struct) and zeroes it. */
void kubeconfig_done(struct kubeconfig *k);

/* Decodes standard base64 (RFC 4648, '=' padding optional, ASCII whitespace ignored).
 * Returns 0 and a malloc'ed buffer (NUL-terminated for convenience, not counted in *ret_len),
 * -EINVAL on bad input, -ENOMEM. Exposed for the tests and the node agent. */
int kubeconfig_base64_decode(const char *s, size_t len, void **ret, size_t *ret_len);
