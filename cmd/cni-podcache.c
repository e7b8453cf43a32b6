/* SPDX-License-Identifier: Apache-2.0 */
/* cni-podcache.c: the node agent's pod cache (lib/agent/podcache.h) as a process of its own: a
 * node-scoped LIST + WATCH of the pods, answered to the istio-cni plugin over
 * <run dir>/cnibox-pods.sock so that an ADD needs no TLS session to the API server.
 * It runs next to install-cni in the istio-cni-node pod (same /var/run/istio-cni hostPath); the
 * plugin falls back to its direct GET whenever the socket is absent or does not answer. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "applets.h"
#include "base/exitcode.h"
#include "kube/k8s.h"
#include "kube/kubeconfig.h"
#include "base/log.h"
#include "base/macro.h"
#include "agent/podcache.h"

static void log_cb(void *userdata, int level, const char *msg) {
        (void)userdata;
        log_msg((enum log_level)level, "%s", msg);
}

static void usage(FILE *f) {
        fprintf(f,
                "Usage: cni-podcache [OPTIONS]\n"
                "Keeps a cache of this node's pods (LIST + WATCH, fieldSelector spec.nodeName) and answers\n"
                "the istio-cni plugin over a Unix socket, so that a CNI ADD needs no API server round trip.\n"
                "install-cni runs the same cache in-process; this applet runs it alone.\n\n"
                "  --kubeconfig PATH   API server credentials (env KUBECONFIG); default: in-cluster\n"
                "                      service account (KUBERNETES_SERVICE_HOST/PORT, " KUBECONFIG_SA_DIR ")\n"
                "  --node-name NAME    this node (env KUBERNETES_NODE_NAME; default: the host name)\n"
                "  --socket PATH       default: $CNI_AGENT_RUN_DIR/cnibox-pods.sock, run dir /var/run/istio-cni\n"
                "                      (refuses to start while another agent answers there)\n"
                "  --log-level LEVEL   debug, info (default), warn, error\n"
                "  --log-as-json       JSON log lines\n"
                "  -h, --help\n");
}

static int client(const struct kubeconfig *kc, uint64_t timeout_usec, struct k8s_client **ret, char *e, size_t esz) {
        struct k8s_options o = {
                .timeout_usec = timeout_usec,
                .max_attempts = 1,
                .user_agent = "cni-podcache/" CNIBOX_VERSION,
        };
        return k8s_client_new(kc, &o, ret, e, esz);
}

int cni_podcache_main(int argc, char **argv) {
        static const struct option opts[] = {
                { "kubeconfig", required_argument, NULL, 'k' }, { "node-name", required_argument, NULL, 'n' },
                { "socket", required_argument, NULL, 's' },     { "log-level", required_argument, NULL, 'l' },
                { "log-as-json", no_argument, NULL, 'j' },      { "help", no_argument, NULL, 'h' },
                {},
        };
        const char *kcpath = getenv("KUBECONFIG"), *node = getenv("KUBERNETES_NODE_NAME"), *sock = NULL;
        const char *run_dir = getenv("CNI_AGENT_RUN_DIR");
        enum log_level lvl = LOG_LEVEL_INFO;
        bool json = false;
        char hostname[256], sockbuf[4096], e[512] = "";
        struct kubeconfig kc = { 0 };
        struct k8s_client *watch_c = NULL, *live_c = NULL;
        struct podcache *pc = NULL;
        struct podcache_agent *agent = NULL;
        int c, r, ret = EXIT_RUNTIME;

        log_setup("cni-podcache", STDERR_FILENO, lvl, json);
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0)
                switch (c) {
                case 'k': kcpath = optarg; break;
                case 'n': node = optarg; break;
                case 's': sock = optarg; break;
                case 'j': json = true; break;
                case 'l':
                        if (log_parse_level(optarg, &lvl) < 0) {
                                fprintf(stderr, "cni-podcache: invalid --log-level '%s'\n", optarg);
                                return EXIT_USAGE;
                        }
                        break;
                case 'h': usage(stdout); return EXIT_OK;
                default: usage(stderr); return EXIT_USAGE;
                }
        if (optind < argc) {
                fprintf(stderr, "cni-podcache: unexpected argument '%s'\n", argv[optind]);
                return EXIT_USAGE;
        }
        log_setup("cni-podcache", STDERR_FILENO, lvl, json);
        if (!node || !*node) {
                if (gethostname(hostname, sizeof hostname) < 0) {
                        log_error("no --node-name and gethostname failed: %s", strerror(errno));
                        return EXIT_RUNTIME;
                }
                hostname[sizeof hostname - 1] = 0;
                node = hostname;
        }
        if (!k8s_name_is_valid(node)) {
                log_error("invalid node name '%s'", node);
                return EXIT_USAGE;
        }
        if (!sock) {
                snprintf(sockbuf, sizeof sockbuf, "%s/" PODCACHE_SOCKET_NAME, run_dir && *run_dir ? run_dir : "/var/run/istio-cni");
                sock = sockbuf;
        }
        r = kcpath && *kcpath ? kubeconfig_load(kcpath, &kc, e, sizeof e) : kubeconfig_in_cluster(NULL, &kc, e, sizeof e);
        if (r < 0) {
                if (kcpath && *kcpath)
                        log_error("kubeconfig %s: %s", kcpath, e[0] ? e : strerror(-r));
                else
                        log_error("no --kubeconfig and %s", e[0] ? e : strerror(-r));
                return EXIT_RUNTIME;
        }
        /* Two clients: the watch stream holds one connection, live GETs use the other. */
        r = client(&kc, 5ULL * 1000 * 1000, &watch_c, e, sizeof e);
        if (r >= 0) /* below the plugin's 3 s wait for us, so it gets our 502 and falls back */
                r = client(&kc, PODCACHE_LIVE_TIMEOUT_USEC, &live_c, e, sizeof e);
        kubeconfig_done(&kc);
        if (r < 0) {
                log_error("cannot build the API client: %s", e[0] ? e : strerror(-r));
                goto out;
        }
        if (podcache_new(&pc) < 0) {
                log_error("out of memory");
                goto out;
        }
        /* Signals are taken by sigwait() below, never by a handler in some thread. */
        sigset_t ss;
        sigemptyset(&ss);
        sigaddset(&ss, SIGTERM);
        sigaddset(&ss, SIGINT);
        pthread_sigmask(SIG_BLOCK, &ss, NULL);
        signal(SIGPIPE, SIG_IGN);

        struct podcache_agent_options o = { .node_name = node, .socket_path = sock, .watch_client = watch_c,
                                            .live_client = live_c, .log = log_cb };
        r = podcache_agent_start(pc, &o, &agent);
        if (r == -EADDRINUSE) {
                log_error("another pod cache agent is serving %s; refusing to take its socket (stop it first)", sock);
                goto out;
        }
        if (r < 0) {
                log_error("cannot serve on %s: %s", sock, r == -EEXIST ? "exists and is not a socket" : strerror(-r));
                goto out;
        }
        int sig = 0;
        while (sigwait(&ss, &sig) != 0)
                ;
        log_info("%s: stopping", strsignal(sig));
        ret = EXIT_OK;
out:
        /* Every path frees: the agent joins its threads before the clients and cache go. */
        podcache_agent_stop(agent);
        podcache_free(pc);
        k8s_client_free(watch_c);
        k8s_client_free(live_c);
        if (ret == EXIT_OK)
                log_info("stopped");
        return ret;
}
