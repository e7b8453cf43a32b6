/* SPDX-License-Identifier: Apache-2.0 */
/* bench.c: time to parse a typical kubeconfig, the current parser against an older one linked in
 * with renamed symbols (old_kubeconfig_*; bench/kubeconfig/run.sh builds both into this program).
 * The text is what install-cni writes for the plugin (§4.4): a 1.5 KB CA as base64, the server,
 * a 900-byte service-account token. Rounds alternate between the parsers, so both see the same
 * machine load. Prints the median and the best round, in µs per parse. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kube/kubeconfig.h"

int old_kubeconfig_parse(const char *text, size_t len, const char *base_dir, struct kubeconfig *ret, char *err,
                         size_t errsz);
void old_kubeconfig_done(struct kubeconfig *k);

typedef int (*parse_fn)(const char *, size_t, const char *, struct kubeconfig *, char *, size_t);

static double now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b) {
        double x = *(const double *)a, y = *(const double *)b;
        return x < y ? -1 : x > y;
}

static void fill(char *p, size_t n, unsigned seed) {
        static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        for (size_t i = 0; i < n; i++) {
                seed = seed * 1103515245u + 12345u;
                p[i] = b64[(seed >> 16) & 63];
        }
        p[n] = 0;
}

int main(int argc, char **argv) {
        int n = argc > 1 ? atoi(argv[1]) : 10000, rounds = 20;
        char ca[2049], tok[901], *y = NULL, err[256];

        fill(ca, 2048, 1);
        fill(tok, 900, 2);
        for (size_t i = 0; i < 900; i += 300)
                tok[i] = '.';
        if (asprintf(&y,
                     "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: %s\n"
                     "    server: https://10.96.0.1:443\n  name: local\ncontexts:\n- context:\n    cluster: local\n"
                     "    user: istio-cni\n  name: istio-cni-context\ncurrent-context: istio-cni-context\n"
                     "kind: Config\npreferences: {}\nusers:\n- name: istio-cni\n  user:\n    token: %s\n",
                     ca, tok) < 0)
                return 1;
        size_t len = strlen(y);
        parse_fn fns[2] = { old_kubeconfig_parse, kubeconfig_parse };
        void (*done[2])(struct kubeconfig *) = { old_kubeconfig_done, kubeconfig_done };
        const char *names[2] = { "old (YAML subset)", "new (libyaml)" };
        double *t[2] = { calloc((size_t)rounds, sizeof(double)), calloc((size_t)rounds, sizeof(double)) };

        for (int p = 0; p < 2; p++) { /* both must parse it, to the same result */
                struct kubeconfig k = {};
                if (fns[p](y, len, "/x", &k, err, sizeof err) < 0 || strcmp(k.token, tok) != 0) {
                        fprintf(stderr, "%s: %s\n", names[p], err);
                        return 1;
                }
                done[p](&k);
        }
        for (int r = 0; r < rounds; r++)
                for (int p = 0; p < 2; p++) {
                        int per = n / rounds > 0 ? n / rounds : 1;
                        double t0 = now();
                        for (int i = 0; i < per; i++) {
                                struct kubeconfig k = {};
                                if (fns[p](y, len, "/x", &k, err, sizeof err) < 0)
                                        return 1;
                                done[p](&k);
                        }
                        t[p][r] = (now() - t0) / per * 1e6;
                }
        printf("kubeconfig of %zu bytes, %d parses per parser in %d alternating rounds (µs per parse)\n", len, n,
               rounds);
        for (int p = 0; p < 2; p++) {
                qsort(t[p], (size_t)rounds, sizeof(double), cmp);
                printf("  %-18s median %7.2f  best %7.2f\n", names[p], t[p][rounds / 2], t[p][0]);
        }
        free(t[0]);
        free(t[1]);
        free(y);
        return 0;
}
