/* SPDX-License-Identifier: Apache-2.0 */
/* main.c: the cnibox dispatcher. Runs the applet named by basename(argv[0]) (symlinks), or
 * "cnibox APPLET args…", or Istio's "pilot-agent istio-iptables args…" (any binary name whose
 * first argument names an applet). Unknown applet: exit 127 (toybox, BusyBox). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "applets.h"
#include "base/exitcode.h"
#include "base/macro.h"

struct applet {
        const char *name;
        int (*main)(int argc, char **argv);
        const char *summary;
};

/* Hand-written, sorted by name. Only applets that exist are listed. */
static const struct applet applets[] = {
        { "cni-podcache", cni_podcache_main, "node agent pod cache: answers istio-cni over a Unix socket" },
        { "cni-repair", cni_repair_main, "repair controller: repair, delete, label or report pods that lost the start-up race" },
        { "doctor", doctor_main, "diagnose why capture does or would fail on this node or pod, with the fix" },
        { "install-cni", install_cni_main, "node agent: install the istio-cni plugin on this node and keep it installed" },
        { "istio-cni", istio_cni_main, "chained CNI plugin: sidecar redirect rules in the pod netns" },
        { "istio-clean-iptables", istio_clean_iptables_main, "remove the sidecar redirect rules (istio-iptables --cleanup-only)" },
        { "istio-iptables", istio_iptables_main, "program the sidecar redirect rules into this network namespace" },
        { "istio-validation", istio_validation_main, "prove the redirect works (exit 126 if not)" },
};

static const struct applet *applet_find(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(applets); i++)
                if (streq(applets[i].name, name))
                        return &applets[i];
        return NULL;
}

static void usage(FILE *f) {
        fprintf(f,
                "cnibox " CNIBOX_VERSION ": Istio's sidecar traffic capture as one binary.\n\n"
                "Usage: cnibox APPLET [ARGS…]     run an applet (also: symlink named APPLET)\n"
                "       pilot-agent APPLET [ARGS…] Istio-style invocation\n"
                "       cnibox --list             list the applets\n"
                "       cnibox --install DIR      create a symlink per applet in DIR\n"
                "       cnibox --version\n\n"
                "Run 'cnibox APPLET --help' for an applet's options.\n");
}

static int install_links(const char *dir) {
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        int failed = 0;

        if (n < 0) {
                fprintf(stderr, "cnibox: cannot resolve /proc/self/exe: %s\n", strerror(errno));
                return EXIT_RUNTIME;
        }
        self[n] = 0;
        for (size_t i = 0; i < ELEMENTSOF(applets); i++) {
                char path[PATH_MAX];
                if (snprintf(path, sizeof path, "%s/%s", dir, applets[i].name) >= (int)sizeof path) {
                        fprintf(stderr, "cnibox: --install: path too long: %s\n", dir);
                        return EXIT_RUNTIME;
                }
                /* Replace an existing link atomically-enough: remove a stale symlink only. */
                struct stat st;
                if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
                        (void)unlink(path);
                if (symlink(self, path) < 0) {
                        fprintf(stderr, "cnibox: --install: cannot create %s: %s\n", path, strerror(errno));
                        failed = 1;
                }
        }
        return failed ? EXIT_RUNTIME : EXIT_OK;
}

int main(int argc, char **argv) {
        const char *base = argc > 0 && argv[0] ? strrchr(argv[0], '/') : NULL;
        const struct applet *a;

        base = base ? base + 1 : (argc > 0 && argv[0] ? argv[0] : "cnibox");
        a = applet_find(base);
        if (a)
                return a->main(argc, argv);

        /* Not invoked through an applet name: the first argument selects the applet. */
        if (argc < 2) {
                usage(stderr);
                return EXIT_USAGE;
        }
        a = applet_find(argv[1]);
        if (a)
                return a->main(argc - 1, argv + 1);
        if (streq(argv[1], "--list")) {
                for (size_t i = 0; i < ELEMENTSOF(applets); i++)
                        printf("%-20s %s\n", applets[i].name, applets[i].summary);
                return EXIT_OK;
        }
        if (streq(argv[1], "--version")) {
                printf("cnibox %s\n", CNIBOX_VERSION);
                return EXIT_OK;
        }
        if (streq(argv[1], "--help") || streq(argv[1], "-h")) {
                usage(stdout);
                return EXIT_OK;
        }
        if (streq(argv[1], "--install")) {
                if (argc != 3) {
                        fprintf(stderr, "cnibox: --install needs exactly one directory\n");
                        return EXIT_USAGE;
                }
                return install_links(argv[2]);
        }
        fprintf(stderr, "%s: unknown applet '%s' (try '%s --list')\n", base, argv[1], base);
        return EXIT_UNKNOWN_APPLET;
}
