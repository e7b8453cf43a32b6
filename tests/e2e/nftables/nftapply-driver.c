/* SPDX-License-Identifier: Apache-2.0 */
/* nftapply-driver.c: a thin command-line driver over lib/nftapply for the nftables e2e tests and
 * bench/apply-nft, until `cnibox istio-iptables --native-nftables` is wired. Not installed.
 *   apply|check|state FILE   cleanup   probe   present   list [FLAGS]
 *   bench FILE N             apply FILE in N fresh netns (unshare per apply); prints mean µs */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/macro.h"
#include "kernel/nftapply.h"

static char *slurp(const char *path) {
        FILE *f = streq(path, "-") ? stdin : fopen(path, "re");
        char *buf = NULL, chunk[4096];
        size_t len = 0, k;
        FILE *m;

        if (!f)
                return NULL;
        m = open_memstream(&buf, &len);
        if (!m)
                return NULL;
        while ((k = fread(chunk, 1, sizeof(chunk), f)) > 0)
                fwrite(chunk, 1, k, m);
        if (f != stdin)
                fclose(f);
        fclose(m);
        return buf;
}

static double now_us(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

int main(int argc, char **argv) {
        char *err = NULL, *out = NULL, *text = NULL;
        const char *cmd = argc > 1 ? argv[1] : "";
        int r = 0;

        if ((streq(cmd, "apply") || streq(cmd, "check") || streq(cmd, "state") || streq(cmd, "bench")) &&
            (argc < 3 || !(text = slurp(argv[2])))) {
                fprintf(stderr, "nftapply-driver: %s needs a readable FILE\n", cmd);
                return 2;
        }

        if (streq(cmd, "apply"))
                r = nftapply_apply(text, &err);
        else if (streq(cmd, "check"))
                r = nftapply_check(text, &err);
        else if (streq(cmd, "cleanup"))
                r = nftapply_cleanup(&err);
        else if (streq(cmd, "probe"))
                r = nftapply_probe(&err);
        else if (streq(cmd, "list"))
                r = nftapply_list(argc > 2 ? (unsigned)atoi(argv[2]) : 0, &out);
        else if (streq(cmd, "present")) {
                unsigned mask = 0;
                r = nftapply_tables_present(&mask);
                if (r >= 0)
                        printf("%u\n", mask);
        } else if (streq(cmd, "state")) {
                bool in_sync = false;
                r = nftapply_state(text, &in_sync, &err);
                if (r >= 0)
                        printf("%s\n", in_sync ? "in-sync" : "differs");
        } else if (streq(cmd, "bench")) {
                int n = argc > 3 ? atoi(argv[3]) : 10;
                double total = 0, total_reapply = 0;

                r = nftapply_load(&err);
                for (int i = 0; r >= 0 && i < n; i++) {
                        double t0, t1, t2;

                        if (unshare(CLONE_NEWNET) < 0) {
                                r = -errno;
                                break;
                        }
                        t0 = now_us();
                        r = nftapply_apply(text, &err);
                        t1 = now_us();
                        if (r >= 0)
                                r = nftapply_apply(text, &err); /* idempotent re-run */
                        t2 = now_us();
                        total += t1 - t0;
                        total_reapply += t2 - t1;
                }
                if (r >= 0)
                        printf("%.1f %.1f\n", total / n, total_reapply / n);
        } else {
                fprintf(stderr, "usage: nftapply-driver apply|check|state FILE | bench FILE N | cleanup | probe | present | list [FLAGS]\n");
                return 2;
        }

        if (out)
                fputs(out, stdout);
        if (r < 0)
                fprintf(stderr, "nftapply-driver: %s: %s%s%s\n", cmd, strerror(-r), err ? ": " : "", err ?: "");
        free(out);
        free(err);
        free(text);
        return r < 0 ? 1 : 0;
}
