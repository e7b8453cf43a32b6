/* SPDX-License-Identifier: Apache-2.0 */
/* jwt.h: the expiry of a service-account token (a JWS compact serialisation), read without
 * verifying the signature: doctor only asks "has the token in the plugin's kubeconfig expired?".
 * Spec: RFC 7515 §7.1 (compact form, base64url without padding), RFC 7519 §4.1.4 ("exp"). */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Decodes the payload (second part) of token and reads its "exp" (NumericDate, seconds since the
 * epoch; a fraction is dropped). 0; -ENOENT when the payload has no "exp" (a legacy, non-expiring
 * token); -EINVAL with err naming what is wrong (not three parts, bad base64url, not a JSON
 * object, exp not a number); -ENOMEM. */
int jwt_exp(const char *token, size_t len, int64_t *ret_exp, char *err, size_t errsz);
