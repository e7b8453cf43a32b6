/* SPDX-License-Identifier: Apache-2.0 */
/* curlapi.c: dlopen()ed libcurl function table (see curlapi.h for why). */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "curlapi.h"

static struct curlapi api;
static int load_result;
static char load_error[256];
static pthread_once_t load_once = PTHREAD_ONCE_INIT;

static void load(void) {
        CURLcode (*global_init)(long flags);
        void *h;

        /* RTLD_LOCAL: libcurl's OpenSSL must not interpose on anything else in the process.
         * The handle is kept for the process lifetime (curl_global_cleanup is not thread-safe and
         * unloading OpenSSL at exit only risks crashes in atexit handlers). */
        h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
        if (!h) {
                snprintf(load_error, sizeof load_error, "cannot load libcurl.so.4: %s", dlerror());
                load_result = -ELIBACC;
                return;
        }

#define SYM(field, name)                                                                    \
        do {                                                                                \
                *(void **)&api.field = dlsym(h, name);                                     \
                if (!api.field) {                                                           \
                        snprintf(load_error, sizeof load_error, "libcurl.so.4 lacks %s", name); \
                        load_result = -ELIBACC;                                             \
                        return;                                                             \
                }                                                                           \
        } while (0)
        SYM(easy_init, "curl_easy_init");
        SYM(easy_setopt, "curl_easy_setopt");
        SYM(easy_perform, "curl_easy_perform");
        SYM(easy_getinfo, "curl_easy_getinfo");
        SYM(easy_cleanup, "curl_easy_cleanup");
        SYM(easy_reset, "curl_easy_reset");
        SYM(easy_strerror, "curl_easy_strerror");
        SYM(slist_append, "curl_slist_append");
        SYM(slist_free_all, "curl_slist_free_all");
        SYM(version_info, "curl_version_info");
#undef SYM
        *(void **)&global_init = dlsym(h, "curl_global_init");
        if (!global_init) {
                snprintf(load_error, sizeof load_error, "libcurl.so.4 lacks curl_global_init");
                load_result = -ELIBACC;
                return;
        }
        /* Blob options (CA/cert/key data in memory) appeared in 7.71/7.77, PROTOCOLS_STR in 7.85. */
        curl_version_info_data *v = api.version_info(CURLVERSION_NOW);
        if (!v || v->version_num < 0x075500) {
                snprintf(load_error, sizeof load_error, "libcurl %s is too old (need 7.85)",
                         v ? v->version : "?");
                load_result = -ELIBACC;
                return;
        }
        if (global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
                snprintf(load_error, sizeof load_error, "curl_global_init failed");
                load_result = -EIO;
                return;
        }
        load_result = 0;
}

int curlapi_load(const struct curlapi **ret, char *err, size_t errsz) {
        pthread_once(&load_once, load);
        if (load_result < 0) {
                if (err && errsz)
                        snprintf(err, errsz, "%s", load_error);
                return load_result;
        }
        *ret = &api;
        return 0;
}
