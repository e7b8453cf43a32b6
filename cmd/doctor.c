/* SPDX-License-Identifier: Apache-2.0 */
/* doctor: why capture does or would fail on this node or in one pod, with the exact fix for
 * each problem. Checks: lib/agent/doctor; docs: docs/doctor.md. Needs no shell and no iptables
 * binary, so it runs from the scratch image with the host's / mounted (--root). */

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/doctor.h"
#include "agent/podnetns.h"
#include "applets.h"
#include "base/exitcode.h"
#include "base/macro.h"
#include "cni/redirect.h"
#include "kube/k8s.h"
#include "kube/kubeconfig.h"
#include "rules/config.h"

extern char **environ;

static const char help_text[] =
        "Usage: doctor [options] [-- istio-iptables flags]\n"
        "Check this node (and optionally one pod) for what breaks traffic capture: kernel backends and\n"
        "modules, the host's rules, the runtime's CNI dirs, the CNI config, the plugin binary and its\n"
        "kubeconfig, inotify limits, SELinux/AppArmor; each warn and fail names its fix.\n\n"
        "  --pod-netns PATH       also check the pod whose netns file is PATH (rules, drift, probe)\n"
        "  --pid PID              the same, with /proc/PID/ns/net\n"
        "  --pod NS/NAME          the same, for a pod of this node looked up in the API server: its\n"
        "                         config from its annotations (as the plugin builds it), its netns\n"
        "                         found by its IP under --host-proc\n"
        "  --kubeconfig PATH      for --pod (default: in-cluster credentials, else the plugin's\n"
        "                         kubeconfig under --root and --run-dir)\n"
        "  --host-proc DIR        the host's /proc, for --pod (default /proc)\n"
        "  --json                 JSON output (schema: docs/doctor.md)\n"
        "  --root DIR             the host's / as mounted here (default /, env CNIBOX_DOCTOR_ROOT)\n"
        "  --only LIST            comma list of sections: kernel,node,cni,limits,pod (default all)\n"
        "  --cni-conf-dir DIR     install-cni's cniConfDir on the host (default /etc/cni/net.d)\n"
        "  --cni-bin-dir DIR      install-cni's cniBinDir on the host (default /opt/cni/bin)\n"
        "  --cni-netns-dir DIR    cniNetnsDir (default /var/run/netns)\n"
        "  --run-dir DIR          CNI_AGENT_RUN_DIR on the host (default /var/run/istio-cni)\n"
        "  --metrics-url URL      install-cni's metrics (default http://127.0.0.1:15014; \"\" = do not ask)\n"
        "  --rival-minutes N      a config changed this recently after the install is suspect (default 10)\n"
        "  --no-probe             skip the pod's live redirect probe\n"
        "  -h, --help             this text\n\n"
        "After --, istio-iptables flags (and its env vars) give the pod's capture config; default: the\n"
        "sidecar defaults (-u 1337 -g 1337 ...), as the injector writes them.\n\n"
        "Exit status: 0 all ok; 1 a check failed; 2 warnings only; 255 bad command line.\n";

enum { OPT_JSON = 0x100, OPT_ROOT, OPT_POD_NETNS, OPT_PID, OPT_ONLY, OPT_CONF, OPT_BIN, OPT_NETNS, OPT_RUN,
       OPT_METRICS, OPT_RIVAL, OPT_NO_PROBE, OPT_POD, OPT_KUBECONFIG, OPT_HOST_PROC };

/* --pod NS/NAME: the pod from the API server, its netns by its IP, and the CNI-mode config the
 * plugin would build from it (cni/redirect, the path the plugin and the repair controller share).
 * Fills o->pod_netns/pod_cfg, or o->pod_skip / o->pod_error (reported as the pod check). */
static int pod_from_api(struct doctor_opts *o, const char *ref, const char *kcpath, const char *host_proc,
                        char *netns, size_t netnssz, struct capture_config *cfg, char *msg, size_t msgsz,
                        char *src, size_t srcsz) {
        struct kubeconfig kc = {};
        struct k8s_client *cl = NULL;
        cJSON *pod = NULL;
        char ns[254] = "default", e[1024] = "", path[4096];
        const char *name = ref, *slash = strchr(ref, '/'), *reason = NULL;
        int r;

        if (slash) {
                snprintf(ns, sizeof ns, "%.*s", (int)(slash - ref), ref);
                name = slash + 1;
        }
        if (kcpath)
                r = kubeconfig_load(kcpath, &kc, e, sizeof e);
        else if (getenv("KUBERNETES_SERVICE_HOST"))
                r = kubeconfig_in_cluster(NULL, &kc, e, sizeof e), kcpath = "in-cluster";
        else {
                snprintf(path, sizeof path, "%s%s/istio-cni-kubeconfig", streq(o->root, "/") ? "" : o->root, o->run_dir);
                kcpath = path;
                r = kubeconfig_load(kcpath, &kc, e, sizeof e);
        }
        if (r >= 0)
                r = k8s_client_new(&kc, &(struct k8s_options){ .timeout_usec = 5000000, .max_attempts = 1 }, &cl, e, sizeof e);
        if (r >= 0)
                r = k8s_get_pod(cl, ns, name, &pod, e, sizeof e);
        k8s_client_free(cl);
        kubeconfig_done(&kc);
        if (r < 0) {
                snprintf(msg, msgsz, "pod %.253s/%.253s (kubeconfig %.300s): %.700s", ns, name, kcpath, e[0] ? e : strerror(-r));
                o->pod_error = msg;
                return 0;
        }
        const cJSON *ipj = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(pod, "status"), "podIP");
        char ip[64] = "";
        if (cJSON_IsString(ipj))
                snprintf(ip, sizeof ip, "%s", ipj->valuestring);
        if (!o->pod_netns) {
                if (!ip[0]) {
                        snprintf(msg, msgsz, "pod %.253s/%.253s has no IP yet (status.podIP)", ns, name);
                        o->pod_error = msg;
                        cJSON_Delete(pod);
                        return 0;
                }
                r = podnetns_find(host_proc, ip, netns, netnssz, NULL, e, sizeof e);
                if (r < 0) {
                        snprintf(msg, msgsz, "pod %.253s/%.253s: no netns under %.300s holds %.64s: %.700s", ns, name, host_proc,
                                 ip, e[0] ? e : strerror(-r));
                        o->pod_error = msg;
                        cJSON_Delete(pod);
                        return 0;
                }
                o->pod_netns = netns;
        }
        struct annotations_warnings warn = {};
        r = redirect_from_pod(pod, &(struct redirect_options){ .netns_path = o->pod_netns }, cfg, &reason, &warn, e, sizeof e);
        cJSON_Delete(pod);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                snprintf(msg, msgsz, "pod %.253s/%.253s: %.1000s", ns, name, e);
                o->pod_error = msg;
        } else if (r == 0) {
                snprintf(msg, msgsz, "%.1000s", reason ? reason : "skipped");
                o->pod_skip = msg;
        } else {
                snprintf(src, srcsz, "pod %.100s/%.150s from the API server (IP %.64s): the config the plugin builds from its "
                         "annotations", ns, name, ip[0] ? ip : "?");
                o->pod_source = src;
                o->pod_cfg = cfg;
        }
        return 0;
}

static int parse_sections(const char *s, unsigned *ret) {
        static const struct {
                const char *name;
                unsigned bit;
        } t[] = { { "kernel", DOCTOR_KERNEL }, { "node", DOCTOR_NODE }, { "cni", DOCTOR_CNI },
                  { "limits", DOCTOR_LIMITS }, { "pod", DOCTOR_POD } };
        unsigned bits = 0;
        while (*s) {
                size_t l = strcspn(s, ",");
                bool found = false;
                for (size_t i = 0; i < ELEMENTSOF(t); i++)
                        if (strlen(t[i].name) == l && strncmp(t[i].name, s, l) == 0)
                                bits |= t[i].bit, found = true;
                if (!found) {
                        fprintf(stderr, "doctor: --only: unknown section \"%.*s\" (kernel, node, cni, limits, pod)\n", (int)l, s);
                        return -EINVAL;
                }
                s += l + (s[l] == ',');
        }
        *ret = bits;
        return 0;
}

/* A decimal in [min, max]; a message naming the flag and the value otherwise. */
static int parse_number(const char *flag, const char *what, const char *s, unsigned long min, unsigned long max,
                        unsigned long *ret) {
        char *e;
        errno = 0;
        unsigned long v = strtoul(s, &e, 10);
        if (*e || e == s || s[0] == '-' || errno || v < min || v > max) {
                fprintf(stderr, "doctor: %s: \"%s\" is not %s\n", flag, s, what);
                return -EINVAL;
        }
        *ret = v;
        return 0;
}

int doctor_main(int argc, char **argv) {
        static const struct option opts[] = {
                { "json", no_argument, NULL, OPT_JSON },
                { "root", required_argument, NULL, OPT_ROOT },
                { "pod-netns", required_argument, NULL, OPT_POD_NETNS },
                { "pid", required_argument, NULL, OPT_PID },
                { "only", required_argument, NULL, OPT_ONLY },
                { "cni-conf-dir", required_argument, NULL, OPT_CONF },
                { "cni-bin-dir", required_argument, NULL, OPT_BIN },
                { "cni-netns-dir", required_argument, NULL, OPT_NETNS },
                { "run-dir", required_argument, NULL, OPT_RUN },
                { "metrics-url", required_argument, NULL, OPT_METRICS },
                { "rival-minutes", required_argument, NULL, OPT_RIVAL },
                { "no-probe", no_argument, NULL, OPT_NO_PROBE },
                { "pod", required_argument, NULL, OPT_POD },
                { "kubeconfig", required_argument, NULL, OPT_KUBECONFIG },
                { "host-proc", required_argument, NULL, OPT_HOST_PROC },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        struct doctor_opts o;
        struct doctor_report rep = {};
        struct capture_config cfg;
        struct config_error cerr = {};
        _cleanup_free_ char *out = NULL;
        char pidpath[64], netns[4200], msg[2048], src[512];
        const char *pod_ref = NULL, *kcpath = NULL, *host_proc = "/proc";
        bool json = false, only = false, help = false;
        int c, r;

        doctor_opts_init(&o);
        if (getenv("CNIBOX_DOCTOR_ROOT") && getenv("CNIBOX_DOCTOR_ROOT")[0])
                o.root = getenv("CNIBOX_DOCTOR_ROOT");
        /* "+": stop at the first non-option, so the pod's istio-iptables flags after "--" stay ours to pass on. */
        while ((c = getopt_long(argc, argv, "+h", opts, NULL)) >= 0) {
                switch (c) {
                case OPT_JSON: json = true; break;
                case OPT_ROOT: o.root = optarg; break;
                case OPT_POD_NETNS: o.pod_netns = optarg; break;
                case OPT_PID: {
                        unsigned long pid;
                        if (parse_number("--pid", "a process id", optarg, 1, 4194304, &pid) < 0)
                                return EXIT_BAD_CMDLINE;
                        snprintf(pidpath, sizeof pidpath, "/proc/%lu/ns/net", pid);
                        o.pod_netns = pidpath;
                        break;
                }
                case OPT_ONLY:
                        if (parse_sections(optarg, &o.sections) < 0)
                                return EXIT_BAD_CMDLINE;
                        only = true;
                        break;
                case OPT_CONF: o.cni_conf_dir = optarg; break;
                case OPT_BIN: o.cni_bin_dir = optarg; break;
                case OPT_NETNS: o.cni_netns_dir = optarg; break;
                case OPT_RUN: o.run_dir = optarg; break;
                case OPT_METRICS: o.metrics_url = optarg; break;
                case OPT_RIVAL: {
                        unsigned long v;
                        if (parse_number("--rival-minutes", "a number of minutes", optarg, 0, 100000, &v) < 0)
                                return EXIT_BAD_CMDLINE;
                        o.rival_minutes = (unsigned)v;
                        break;
                }
                case OPT_NO_PROBE: o.pod_probe = false; break;
                case OPT_POD: pod_ref = optarg; break;
                case OPT_KUBECONFIG: kcpath = optarg; break;
                case OPT_HOST_PROC: host_proc = optarg; break;
                case 'h':
                        fputs(help_text, stdout);
                        return EXIT_OK;
                default:
                        fprintf(stderr, "Try 'doctor --help'.\n");
                        return EXIT_BAD_CMDLINE;
                }
        }
        if (o.root[0] != '/') {
                fprintf(stderr, "doctor: --root: \"%s\" is not an absolute path\n", o.root);
                return EXIT_BAD_CMDLINE;
        }
        if ((o.pod_netns || pod_ref) && !only)
                o.sections |= DOCTOR_POD;
        if ((o.sections & DOCTOR_POD) && !o.pod_netns && !pod_ref) {
                fprintf(stderr, "doctor: the pod checks need --pod-netns PATH, --pid PID or --pod NS/NAME\n");
                return EXIT_BAD_CMDLINE;
        }
        if (pod_ref && optind < argc) {
                fprintf(stderr, "doctor: --pod takes the pod's config from its annotations: no istio-iptables flags\n");
                return EXIT_BAD_CMDLINE;
        }

        /* The pod's capture config: istio-iptables' own parser over the flags after "--". */
        config_init(&cfg);
        if (pod_ref) {
                if (pod_from_api(&o, pod_ref, kcpath, host_proc, netns, sizeof netns, &cfg, msg, sizeof msg, src,
                                 sizeof src) < 0) {
                        config_done(&cfg);
                        fprintf(stderr, "doctor: %s\n", strerror(ENOMEM));
                        return EXIT_RUNTIME;
                }
        } else if (o.pod_netns) {
                int n = argc - optind + 1;
                char **av = calloc((size_t)n + 1, sizeof *av);
                if (!av)
                        return EXIT_RUNTIME;
                av[0] = (char *)"istio-iptables";
                for (int i = 1; i < n; i++)
                        av[i] = argv[optind + i - 1];
                r = config_parse(&cfg, n, av, environ, &help, &cerr);
                free(av);
                if (r < 0) {
                        fprintf(stderr, "doctor: the pod's istio-iptables flags: %s\n", cerr.msg);
                        config_done(&cfg);
                        return EXIT_BAD_CMDLINE;
                }
                o.pod_cfg = &cfg;
        } else if (optind < argc) {
                fprintf(stderr, "doctor: unexpected argument \"%s\" (istio-iptables flags need --pod-netns)\n", argv[optind]);
                return EXIT_BAD_CMDLINE;
        }

        r = doctor_run(&o, &rep);
        if (r >= 0)
                r = json ? doctor_render_json(&rep, &out) : doctor_render_text(&rep, &out);
        config_done(&cfg);
        if (r < 0) {
                fprintf(stderr, "doctor: %s\n", strerror(-r));
                doctor_report_done(&rep);
                return EXIT_RUNTIME;
        }
        fputs(out, stdout);
        if (json)
                fputc('\n', stdout);
        enum doctor_status w = doctor_worst(&rep);
        doctor_report_done(&rep);
        return w == DOCTOR_FAIL ? EXIT_RUNTIME : w == DOCTOR_WARN ? EXIT_DOCTOR_WARN : EXIT_OK;
}
