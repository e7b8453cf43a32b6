/* SPDX-License-Identifier: Apache-2.0 */
/* cni-repair.c: the repair controller (lib/agent/repair.h) as a process of its own: watches this
 * node's pods and repairs, deletes, labels or reports the ones that lost the start-up race.
 * Spec: istio-cni.md §5. install-cni hosts the same controller when REPAIR_ENABLED; this applet
 * runs it alone. Configuration is the REPAIR_* environment of §5.1 (as the chart sets it). */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/podcache.h"
#include "agent/repair.h"
#include "applets.h"
#include "base/exitcode.h"
#include "base/log.h"
#include "base/macro.h"
#include "kube/k8s.h"
#include "kube/kubeconfig.h"

static void log_cb(void *userdata, int level, const char *msg) {
        (void)userdata;
        log_msg((enum log_level)level, "%s", msg);
}

static void usage(FILE *f) {
        fprintf(f,
                "Usage: cni-repair [OPTIONS]\n"
                "Finds this node's pods whose istio-validation init container failed with exit 126 (they\n"
                "started before the istio-cni plugin was installed) and repairs them in place, deletes them,\n"
                "labels them, or only reports them. install-cni runs the same controller when\n"
                "REPAIR_ENABLED is true; this applet runs it alone.\n\n"
                "  --kubeconfig PATH   API server credentials (env KUBECONFIG); default: in-cluster\n"
                "                      service account (KUBERNETES_SERVICE_HOST/PORT, " KUBECONFIG_SA_DIR ")\n"
                "  --log-level LEVEL   debug, info (default), warn, error\n"
                "  --log-as-json       JSON log lines\n"
                "  -h, --help\n\n"
                "Environment (istio-cni.md §5.1; booleans as Go's strconv.ParseBool):\n"
                "  REPAIR_ENABLED (true)          false: exit at once\n"
                "  REPAIR_REPAIR_PODS (false)     repair in place: rules programmed into the pod's netns,\n"
                "                                 found under REPAIR_HOST_PROC (/host/proc); no API writes\n"
                "  REPAIR_DELETE_PODS (false)     delete broken pods (DELETE with uid/resourceVersion\n"
                "                                 preconditions; Event DeleteBrokenPod)\n"
                "  REPAIR_LABEL_PODS (false)      label broken pods through pods/status (Event LabelBrokenPod)\n"
                "                                 precedence: repair > delete > label; none: detect only\n"
                "  REPAIR_DETECT_ONLY (false)     log and count broken pods, never act (overrides the modes)\n"
                "  REPAIR_NODE_NAME               this node (required: an empty one is an error)\n"
                "  REPAIR_BROKEN_POD_LABEL_KEY (cni.istio.io/uninitialized), REPAIR_BROKEN_POD_LABEL_VALUE (true)\n"
                "  REPAIR_SIDECAR_ANNOTATION (sidecar.istio.io/status; empty: no check)\n"
                "  REPAIR_INIT_CONTAINER_NAME (istio-validation; empty: any init container)\n"
                "  REPAIR_INIT_CONTAINER_TERMINATION_MESSAGE (empty: no filter)\n"
                "  REPAIR_INIT_CONTAINER_EXIT_CODE (126; 0: any)\n"
                "  REPAIR_LABEL_SELECTORS, REPAIR_FIELD_SELECTORS   extra selectors of the pod watch\n"
                "  REPAIR_ACTION_RATE (10), REPAIR_ACTION_BURST (20)   per-node limit on actions per second\n"
                "  NATIVE_NFTABLES (false)        repair programs nftables\n"
                "Exit status: 0 after SIGTERM/SIGINT (or REPAIR_ENABLED=false); 1 on a bad REPAIR_* value, an\n"
                "empty node name, unusable credentials, or a right the mode needs but lacks\n"
                "(SelfSubjectAccessReview); 2 on a bad option.\n"
                "Reference: docs/cni-repair.md.\n");
}

static int client(const struct kubeconfig *kc, struct k8s_client **ret, char *e, size_t esz) {
        struct k8s_options o = { .timeout_usec = 5ULL * 1000 * 1000, .max_attempts = 1,
                                 .user_agent = "cni-repair/" CNIBOX_VERSION };
        return k8s_client_new(kc, &o, ret, e, esz);
}

int cni_repair_main(int argc, char **argv) {
        static const struct option opts[] = {
                { "kubeconfig", required_argument, NULL, 'k' }, { "log-level", required_argument, NULL, 'l' },
                { "log-as-json", no_argument, NULL, 'j' },      { "help", no_argument, NULL, 'h' },
                {},
        };
        const char *kcpath = getenv("KUBECONFIG");
        enum log_level lvl = LOG_LEVEL_INFO;
        bool json = false;
        struct repair_config cfg = {};
        struct kubeconfig kc = {};
        struct k8s_client *watch_c = NULL, *act_c = NULL;
        struct podcache *pc = NULL;
        struct podcache_agent *agent = NULL;
        struct repair_controller *ctl = NULL;
        _cleanup_free_ char *fs = NULL;
        char e[1024] = "";
        int c, r, ret = EXIT_RUNTIME;

        log_setup("cni-repair", STDERR_FILENO, lvl, json);
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0)
                switch (c) {
                case 'k': kcpath = optarg; break;
                case 'j': json = true; break;
                case 'l':
                        if (log_parse_level(optarg, &lvl) < 0) {
                                fprintf(stderr, "cni-repair: invalid --log-level '%s'\n", optarg);
                                return EXIT_USAGE;
                        }
                        break;
                case 'h': usage(stdout); return EXIT_OK;
                default: usage(stderr); return EXIT_USAGE;
                }
        if (optind < argc) {
                fprintf(stderr, "cni-repair: unexpected argument '%s'\n", argv[optind]);
                return EXIT_USAGE;
        }
        log_setup("cni-repair", STDERR_FILENO, lvl, json);
        r = repair_config_from_env(NULL, &cfg, e, sizeof e);
        if (r < 0) {
                log_error("%s", e);
                goto out;
        }
        if (!cfg.enabled) {
                log_info("REPAIR_ENABLED is false: nothing to do");
                ret = EXIT_OK;
                goto out;
        }
        if (repair_config_check(&cfg, e, sizeof e) < 0) {
                log_error("%s", e);
                goto out;
        }
        r = kcpath && *kcpath ? kubeconfig_load(kcpath, &kc, e, sizeof e) : kubeconfig_in_cluster(NULL, &kc, e, sizeof e);
        if (r < 0) {
                if (kcpath && *kcpath)
                        log_error("kubeconfig %s: %s", kcpath, e[0] ? e : strerror(-r));
                else
                        log_error("no --kubeconfig and %s", e[0] ? e : strerror(-r));
                goto out;
        }
        /* Two clients: the watch stream holds one connection, the actions use the other. */
        r = client(&kc, &watch_c, e, sizeof e);
        if (r >= 0)
                r = client(&kc, &act_c, e, sizeof e);
        kubeconfig_done(&kc);
        if (r < 0) {
                log_error("cannot build the API client: %s", e[0] ? e : strerror(-r));
                goto out;
        }
        /* The rights first (§5.6): no pod is touched by a mode that lacks one. When the API cannot
         * answer yet, the worker checks before its first pod. */
        bool check_later = false;
        r = repair_check_rights(&cfg, act_c, e, sizeof e);
        if (r == -EACCES) {
                log_error("%s", e);
                goto out;
        }
        if (r < 0) {
                log_warn("%s; checking again before the first pod", e);
                check_later = true;
        }
        fs = repair_field_selector(&cfg);
        if (!fs || podcache_new(&pc) < 0) {
                log_error("out of memory");
                goto out;
        }
        sigset_t ss;
        sigemptyset(&ss);
        sigaddset(&ss, SIGTERM);
        sigaddset(&ss, SIGINT);
        pthread_sigmask(SIG_BLOCK, &ss, NULL);
        signal(SIGPIPE, SIG_IGN);

        struct repair_controller_options co = { .cfg = &cfg, .pc = pc, .client = act_c, .log = log_cb,
                                                .check_rights_in_worker = check_later };
        r = repair_controller_start(&co, &ctl);
        if (r < 0) {
                log_error("cannot start the repair controller: %s", strerror(-r));
                goto out;
        }
        struct podcache_agent_options o = { .node_name = cfg.node_name, .watch_client = watch_c, .log = log_cb,
                                            .field_selector = cfg.field_selectors, .label_selector = cfg.label_selectors,
                                            .on_event = repair_controller_on_event, .event_userdata = ctl };
        r = podcache_agent_start(pc, &o, &agent);
        if (r < 0) {
                log_error("cannot start the pod watch: %s", strerror(-r));
                goto out;
        }
        log_info("repair controller (mode %s) watching pods with fieldSelector %s%s%s", repair_mode_name(cfg.mode), fs,
                 cfg.label_selectors[0] ? " labelSelector " : "", cfg.label_selectors);
        for (;;) {
                struct timespec ts = { .tv_sec = 1 };
                int sig = sigtimedwait(&ss, NULL, &ts);
                if (sig > 0) {
                        log_info("%s: stopping", strsignal(sig));
                        ret = EXIT_OK;
                        break;
                }
                struct repair_stats st;
                repair_controller_get_stats(ctl, &st);
                if (st.disabled)
                        break; /* the worker named the missing right */
        }
out:
        /* The watch first: it feeds the controller. */
        podcache_agent_stop(agent);
        repair_controller_stop(ctl);
        podcache_free(pc);
        k8s_client_free(watch_c);
        k8s_client_free(act_c);
        repair_config_done(&cfg);
        return ret;
}
