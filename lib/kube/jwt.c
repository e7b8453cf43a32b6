/* SPDX-License-Identifier: Apache-2.0 */
/* jwt.c: a token's "exp" claim. Untrusted input (a file on the host): lengths are bounded and
 * the payload is parsed by cJSON into a typed number. Spec: RFC 7515 §2, §7.1; RFC 7519 §4.1.4. */
#include "kube/jwt.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/errbuf.h"
#include "base/macro.h"
#include "kube/kubeconfig.h"

#define JWT_MAX (64u << 10) /* a projected token is ~1 KiB */

int jwt_exp(const char *token, size_t len, int64_t *ret_exp, char *err, size_t errsz) {
        const char *dot1, *dot2, *end = token + len;
        _cleanup_free_ char *b64 = NULL;
        _cleanup_free_ void *json = NULL;
        size_t plen, jlen;
        cJSON *root, *exp;
        int r;

        if (len > JWT_MAX)
                return errbuf_set(err, errsz, -EINVAL, "token longer than %u bytes", JWT_MAX);
        dot1 = memchr(token, '.', len);
        dot2 = dot1 ? memchr(dot1 + 1, '.', (size_t)(end - dot1 - 1)) : NULL;
        if (!dot1 || !dot2 || memchr(dot2 + 1, '.', (size_t)(end - dot2 - 1)))
                return errbuf_set(err, errsz, -EINVAL, "not a JWT (three dot-separated parts)");
        plen = (size_t)(dot2 - dot1 - 1);
        if (plen == 0)
                return errbuf_set(err, errsz, -EINVAL, "empty JWT payload");
        /* base64url → base64: the two alphabet differences; padding is optional for the decoder. */
        b64 = malloc(plen + 1);
        if (!b64)
                return -ENOMEM;
        for (size_t i = 0; i < plen; i++) {
                char c = dot1[1 + i];
                if (c == '+' || c == '/' || c == '=' || c == ' ' || c == '\n' || c == '\t' || c == '\r')
                        return errbuf_set(err, errsz, -EINVAL, "JWT payload is not base64url (byte %zu)", i);
                b64[i] = c == '-' ? '+' : c == '_' ? '/' : c;
        }
        b64[plen] = 0;
        r = kubeconfig_base64_decode(b64, plen, &json, &jlen);
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return errbuf_set(err, errsz, -EINVAL, "JWT payload is not base64url");
        root = cJSON_ParseWithLength(json, jlen);
        if (!root || !cJSON_IsObject(root)) {
                cJSON_Delete(root);
                return errbuf_set(err, errsz, -EINVAL, "JWT payload is not a JSON object");
        }
        exp = cJSON_GetObjectItemCaseSensitive(root, "exp");
        if (!exp) {
                cJSON_Delete(root);
                return errbuf_set(err, errsz, -ENOENT, "JWT has no \"exp\" claim");
        }
        if (!cJSON_IsNumber(exp) || !isfinite(exp->valuedouble) || exp->valuedouble < 0 || exp->valuedouble > 9.2e18) {
                cJSON_Delete(root);
                return errbuf_set(err, errsz, -EINVAL, "JWT \"exp\" is not a NumericDate");
        }
        *ret_exp = (int64_t)exp->valuedouble;
        cJSON_Delete(root);
        return 0;
}
