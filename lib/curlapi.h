/* SPDX-License-Identifier: Apache-2.0 */
/* curlapi.h: libcurl loaded with dlopen("libcurl.so.4") on first use, never linked.
 * Why: linking libcurl pulls in dozens of shared objects (OpenSSL, nghttp2, ldap, …) and costs
 * ≈6 ms at every process start (istio-cni.md, apply issue); only the applets that talk to the
 * Kubernetes API should pay that. Types and constants come from <curl/curl.h> (headers only). */
#pragma once

#include <curl/curl.h>

struct curlapi {
        CURL *(*easy_init)(void);
        CURLcode (*easy_setopt)(CURL *curl, CURLoption option, ...);
        CURLcode (*easy_perform)(CURL *curl);
        CURLcode (*easy_getinfo)(CURL *curl, CURLINFO info, ...);
        void (*easy_cleanup)(CURL *curl);
        void (*easy_reset)(CURL *curl);
        const char *(*easy_strerror)(CURLcode code);
        struct curl_slist *(*slist_append)(struct curl_slist *list, const char *s);
        void (*slist_free_all)(struct curl_slist *list);
        curl_version_info_data *(*version_info)(CURLversion v);
};

/* Loads libcurl and runs curl_global_init once per process (thread-safe). Returns 0 and a
 * pointer to the process-wide table, or -ELIBACC (library or a symbol missing, or too old:
 * we need 7.85 for CURLOPT_CAINFO_BLOB and CURLOPT_PROTOCOLS_STR) / -EIO (curl_global_init failed). The failure is
 * remembered: later calls return it again without retrying. err gets dlerror()'s text. */
int curlapi_load(const struct curlapi **ret, char *err, size_t errsz);
