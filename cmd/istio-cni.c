/* SPDX-License-Identifier: Apache-2.0 */
/* istio-cni.c: the chained CNI plugin (sidecar mode): ADD programs the redirect rules in the pod
 * netns, CHECK verifies them, DEL/GC succeed, STATUS probes the API server, VERSION.
 * Spec: istio-cni.md §2.1–§2.14, §7, §8. stdout carries protocol output only; logs go to stderr. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cni/annotations.h"
#include "cni/redirect.h"
#include "applets.h"
#include "cni/cni.h"
#include "rules/config.h"
#include "kernel/capture.h"
#include "rules/rules-nft.h"
#include "kube/httpc.h"
#include "kube/k8s.h"
#include "kube/kubeconfig.h"
#include "base/fileio.h"
#include "base/log.h"
#include "base/macro.h"
#include "base/netns.h"
#include "agent/podcache.h"
#include "agent/podnetns.h"

#define STDIN_MAX (4u << 20)

/* How a runtime drives the plugin: it is never run by hand, so --help says what the runtime sends. */
static const char help_text[] =
        "Usage: istio-cni            (run by a container runtime, not by hand)\n"
        "The Istio CNI plugin (sidecar mode), chained after the pod's network plugin in a .conflist.\n"
        "A CNI runtime (kubelet via containerd or CRI-O, podman) executes it with:\n"
        "  env CNI_COMMAND      ADD programs the sidecar redirect in the pod's netns; CHECK verifies it;\n"
        "                       DEL and GC succeed (the rules go with the netns); STATUS checks the API\n"
        "                       server; VERSION prints the supported versions\n"
        "  env CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME, CNI_PATH, CNI_ARGS (K8S_POD_NAMESPACE, K8S_POD_NAME)\n"
        "  stdin                its entry of the conflist plus cniVersion, name and prevResult, e.g.\n"
        "                       {\"type\":\"istio-cni\",\"cni_agent_run_dir\":\"/var/run/istio-cni\",\n"
        "                        \"plugin_log_level\":\"info\",\"exclude_namespaces\":[\"kube-system\"],\n"
        "                        \"add_timeout_ms\":60000}\n"
        "  env ISTIO_CNI_ADD_TIMEOUT_MS  overrides add_timeout_ms: one deadline for a whole ADD or CHECK\n"
        "It prints the result (prevResult passed through) or a CNI error JSON on stdout, logs JSON\n"
        "lines on stderr and to <cni_agent_run_dir>/istio-cni.log, and sends them to the node agent's\n"
        "<cni_agent_run_dir>/log.sock when it listens. The node agent (install-cni) installs the binary,\n"
        "the kubeconfig and the conflist entry. Exit status: 0 success, 1 error (details on stdout).\n"
        "With no CNI_COMMAND it prints its name and the supported CNI versions on stderr.\n"
        "Reference: docs/istio-cni.md.\n";

/* One deadline for a whole ADD or CHECK (issue 11 A6): the stages' own bounds (agent 3 s, API
 * GETs with retries, xtables lock 30 s, name resolution) add up past the kubelet's 2 min runtime
 * request timeout, after which the runtime tears the sandbox down while we still work on it. */
#define ADD_TIMEOUT_MS_DEFAULT 60000u
#define ADD_TIMEOUT_ENV "ISTIO_CNI_ADD_TIMEOUT_MS"

struct plugin {
        struct cni_env env;
        uint64_t t_start; /* CLOCK_MONOTONIC µs at main(); stage times are logged with the result */
        uint64_t deadline; /* t_start + timeout_ms: every stage gets what remains of it */
        unsigned timeout_ms;
        struct cni_conf conf;
        struct cni_args args;
        struct cni_error err;
};

/* Prints the CNI error JSON on stdout (the only place errors go for the runtime) and logs it. */
static int fail(struct plugin *p) {
        _cleanup_free_ char *s = cni_error_format(&p->err, p->conf.cni_version); /* NULL until the config is parsed */
        log_error("%s: code %d: %s%s%s", p->env.command_str ? p->env.command_str : "?", p->err.code, p->err.msg,
                  p->err.details[0] ? ": " : "", p->err.details);
        if (s)
                fputs(s, stdout);
        fflush(stdout);
        return 1;
}

static uint64_t remaining_usec(const struct plugin *p) {
        uint64_t now = now_usec();
        return now >= p->deadline ? 0 : p->deadline - now;
}

/* The CNI error for an expired deadline, naming the stage that was running (or about to run). */
static int fail_deadline(struct plugin *p, const char *stage, const char *detail) {
        cni_error_set(&p->err, CNI_ERR_INTERNAL, NULL, "timed out after %u ms (add_timeout_ms) while %s%s%.400s", p->timeout_ms,
                      stage, detail && *detail ? ": " : "", detail ? detail : "");
        return fail(p);
}

/* add_timeout_ms from the config; ISTIO_CNI_ADD_TIMEOUT_MS in the runtime's environment wins, so an
 * operator can shorten it node-wide without touching the conflist the agent writes. */
static int deadline_setup(struct plugin *p) {
        const char *env = getenv(ADD_TIMEOUT_ENV);
        unsigned ms = p->conf.add_timeout_ms ? p->conf.add_timeout_ms : ADD_TIMEOUT_MS_DEFAULT;

        if (env && *env) {
                char *end;
                errno = 0;
                unsigned long v = strtoul(env, &end, 10);
                if (errno || *end || end == env || v == 0 || v > 3600000 || env[0] == '-')
                        return cni_error_set(&p->err, CNI_ERR_INVALID_ENV, NULL,
                                             "invalid %s \"%.64s\": must be milliseconds from 1 to 3600000", ADD_TIMEOUT_ENV, env);
                ms = (unsigned)v;
        }
        p->timeout_ms = ms;
        p->deadline = p->t_start + ms * 1000ULL;
        return 0;
}

/* Prints prevResult (or an empty result) in the config's version (§2.11). */
static int pass(struct plugin *p) {
        _cleanup_free_ char *s = cni_result_format(p->conf.prev_result, p->conf.version, &p->err);
        if (!s)
                return fail(p);
        fputs(s, stdout);
        fflush(stdout);
        return 0;
}

static const char *kubeconfig_path(const struct cni_conf *c, char *buf, size_t size) {
        if (c->cni_agent_run_dir && *c->cni_agent_run_dir) {
                snprintf(buf, size, "%s/istio-cni-kubeconfig", c->cni_agent_run_dir);
                return buf;
        }
        /* DECISION: an old (≤1.22) conflist names the kubeconfig explicitly; honour it. */
        if (c->kubeconfig && *c->kubeconfig)
                return c->kubeconfig;
        return "istio-cni-kubeconfig"; /* relative, like Istio with an empty run dir */
}

/* Step 4 (§2.4): the kubeconfig must be usable, for every pod, even when the node agent answers,
 * so that a broken install fails the same way with or without the agent. */
static int load_kubeconfig(struct plugin *p, struct kubeconfig *kc) {
        char path[4096], e[512] = "";
        const char *kp = kubeconfig_path(&p->conf, path, sizeof path);
        int r = kubeconfig_load(kp, kc, e, sizeof e);
        if (r < 0)
                cni_error_set(&p->err, CNI_ERR_INTERNAL, NULL, "failed to createNewK8sClient: kubeconfig %s: %s", kp,
                              e[0] ? e : strerror(-r));
        return r;
}

/* The API client (loads libssl and builds the TLS context: ≈4 ms, so only when needed). */
static int k8s_connect(struct plugin *p, const struct kubeconfig *kc, unsigned attempts, struct k8s_client **ret) {
        char e[512] = "";
        struct k8s_options o = {
                .timeout_usec = (p->conf.k8s_timeout_ms ? p->conf.k8s_timeout_ms : 5000) * 1000ULL,
                .max_attempts = p->conf.k8s_max_attempts ? p->conf.k8s_max_attempts : attempts,
                .backoff_usec = (p->conf.k8s_retry_interval_ms ? p->conf.k8s_retry_interval_ms : 1000) * 1000ULL,
                /* Below kubelet's 2 min runtime request timeout (§2.5 DECISION). */
                .total_timeout_usec = 100ULL * 1000 * 1000,
                .deadline_usec = p->deadline,
                .retry = K8S_RETRY_ALL,
                .user_agent = "istio-cni/" CNIBOX_VERSION,
        };
        int r = k8s_client_new(kc, &o, ret, e, sizeof e);
        if (r < 0)
                cni_error_set(&p->err, CNI_ERR_INTERNAL, NULL, "failed to createNewK8sClient: %s", e[0] ? e : strerror(-r));
        return r;
}

/* The node agent's pod cache (cni-podcache, lib/agent/podcache.h): the pod without a TLS session of our
 * own. Returns 0 with *ret_pod, or < 0 after logging why the direct GET has to be used. */
static int pod_from_agent(struct plugin *p, const char *podref, cJSON **ret_pod, const char **ret_source,
                          const char **ret_label) {
        char path[4096], e[512] = "";
        bool cached = false;
        struct stat st;
        int r;

        if (!p->conf.cni_agent_run_dir || !*p->conf.cni_agent_run_dir ||
            snprintf(path, sizeof path, "%s/" PODCACHE_SOCKET_NAME, p->conf.cni_agent_run_dir) >= (int)sizeof path)
                return -ENOENT;
        if (lstat(path, &st) < 0)
                return -ENOENT; /* no agent on this node: the direct GET is the normal path */
        uint64_t left = remaining_usec(p);
        r = podcache_client_get(path, p->args.pod_namespace, p->args.pod_name, p->args.pod_uid,
                                left < PODCACHE_CLIENT_TIMEOUT_USEC ? left : PODCACHE_CLIENT_TIMEOUT_USEC, ret_pod, &cached,
                                e, sizeof e);
        if (r < 0) {
                /* Degraded, never fail-open: the direct GET with Istio's retries decides. */
                log_warn("pod %s: node agent pod cache %s could not be used (%s); using a direct API GET", podref, path,
                         e[0] ? e : strerror(-r));
                return r;
        }
        *ret_source = cached ? "node agent cache" : "node agent (live GET)";
        *ret_label = cached ? "cache" : "agent";
        return 0;
}

/* ADD and CHECK share everything up to the rules (§2.4); check=true compares instead. */
/* The pod, from the node agent's cache or the API server (§2.4 steps 10–11). Returns true with
 * *ret_pod, or false with the exit code in *ret (the CNI error already written). */
static bool resolve_pod(struct plugin *p, const char *podref, const struct kubeconfig *kconf, cJSON **ret_pod,
                        const char **source, const char **source_label, int *ret) {
        const char *ns = p->args.pod_namespace, *name = p->args.pod_name;
        struct k8s_client *kc = NULL;
        char e[512] = "";
        int r = 0;

        if (remaining_usec(p) == 0)
                return *ret = fail_deadline(p, "setting up (before the pod lookup)", NULL), false;
        if (pod_from_agent(p, podref, ret_pod, source, source_label) >= 0)
                return true;
        if (remaining_usec(p) == 0)
                return *ret = fail_deadline(p, "asking the node agent for the pod", NULL), false;
        if (k8s_connect(p, kconf, 30, &kc) < 0)
                return *ret = fail(p), false;
        r = k8s_get_pod(kc, ns, name, ret_pod, e, sizeof e);
        k8s_client_free(kc);
        if (r >= 0)
                return true;
        /* Never fail open: the pod may need capture; the runtime retries the sandbox. */
        log_error("pod %s: cannot get the pod from the API server, failing ADD: %s", podref, e);
        if (remaining_usec(p) == 0)
                return *ret = fail_deadline(p, "getting the pod from the API server", e[0] ? e : strerror(-r)), false;
        cni_error_set(&p->err, CNI_ERR_INTERNAL, NULL, "%s", e[0] ? e : strerror(-r));
        return *ret = fail(p), false;
}

/* Capture or not, and the redirect config from the pod (§2.6–§2.7; lib/cni/redirect, shared with
 * the repair controller). Returns true with cfg filled to apply, or false with the exit code in
 * *ret (a skipped pod passes, a bad one fails). */
static bool decide_and_build(struct plugin *p, const char *podref, const cJSON *pod, bool check,
                             struct capture_config *cfg, int *ret) {
        struct annotations_warnings warn = { 0 };
        struct redirect_options o = { .native_nftables = p->conf.native_nftables, .netns_path = p->env.netns,
                                      .lock_wait_usec = remaining_usec(p) };
        const char *reason;
        char e[1024] = "";
        int r;

        r = redirect_from_pod(pod, &o, cfg, &reason, &warn, e, sizeof e);
        if (r == -EBADMSG) {
                cni_error_set(&p->err, CNI_ERR_INTERNAL, NULL, "pod %s: unexpected Pod object from the API server", podref);
                return *ret = fail(p), false;
        }
        log_info("pod %s: %s", podref, reason);
        for (unsigned i = 0; i < warn.n; i++)
                log_warn("pod %s: %s", podref, warn.msg[i]);
        if (r == 0)
                return *ret = check ? 0 : pass(p), false;
        if (r < 0) {
                cni_error_set(&p->err, CNI_ERR_INTERNAL, NULL, "%s", e);
                return *ret = fail(p), false;
        }
        if (cfg->lock_wait_usec == 0)
                return *ret = fail_deadline(p, "programming the rules (before the xtables lock)", NULL), false;
        return true;
}

/* Enter the pod's netns and apply (or, for CHECK, compare) the rules: lib/agent/podnetns, the
 * same code the repair controller uses. 0, or the exit code. */
static int apply_in_netns(struct plugin *p, const char *podref, struct capture_config *cfg, bool check) {
        struct capture_report rep;
        char e[1100] = "";
        int r;

        r = podnetns_apply(p->env.netns, cfg, check, &rep, e, sizeof e);
        for (unsigned i = 0; i < rep.n_notes; i++) {
                const char *cmd = podnetns_inspect_command(rep.notes[i]);
                if (cmd)
                        log_info("pod %s: %s (inspect: nsenter --net=%s %s)", podref, rep.notes[i], p->env.netns, cmd);
                else
                        log_info("pod %s: %s", podref, rep.notes[i]);
        }
        if (r == NETNS_ERR_RESTORE) {
                cni_error_set(&p->err, CNI_ERR_INTERNAL, NULL, "could not return to the runtime's network namespace");
                fail(p);
                _exit(1); /* the process is in the wrong netns: do nothing else */
        }
        if (r < 0 && remaining_usec(p) == 0)
                return fail_deadline(p, "programming the rules", e[0] ? e : strerror(-r));
        if (r < 0) {
                cni_error_set(&p->err, CNI_ERR_INTERNAL, NULL, "%s%s", check ? "CHECK: " : "", e[0] ? e : strerror(-r));
                return fail(p);
        }
        return 0;
}

/* ADD and CHECK share everything up to the rules (§2.4); check=true compares instead. The
 * stages: resolve the pod | decide and build | apply in the netns. */
static int add_or_check(struct plugin *p, bool check) {
        struct kubeconfig kconf = { 0 };
        const char *source = "API server", *source_label = "api";
        cJSON *pod = NULL;
        struct capture_config cfg;
        const char *ns, *name, *own_ns;
        char podref[300];
        uint64_t t_client, t_pod, t_rules;
        int ret = 1;

        config_init(&cfg);
        if (cni_args_parse(p->env.args, &p->args, &p->err) < 0)
                return fail(p);
        ns = p->args.pod_namespace ? p->args.pod_namespace : "";
        name = p->args.pod_name ? p->args.pod_name : "";
        own_ns = p->conf.pod_namespace ? p->conf.pod_namespace : "";
        snprintf(podref, sizeof podref, "%.140s/%.140s", ns, name);

        /* §2.4 step 3: before any client, so a node reboot cannot deadlock the agent's own pod. */
        if (strncmp(name, "istio-cni-node-", 15) == 0 && streq(ns, own_ns)) {
                log_info("pod %s: skipped: the istio-cni node agent's own pod", podref);
                return check ? 0 : pass(p);
        }
        /* Step 4: fail closed when the kubeconfig is unusable, for every pod (deliberate). */
        if (load_kubeconfig(p, &kconf) < 0)
                return fail(p);
        t_client = now_usec();
        if (!*ns || !*name) {
                log_info("pod %s: skipped: not a kubernetes pod (no K8S_POD_NAMESPACE/K8S_POD_NAME)", podref);
                ret = check ? 0 : pass(p);
                goto out;
        }
        for (char **x = p->conf.exclude_namespaces; x && *x; x++)
                if (streq(*x, ns)) {
                        log_info("pod %s: skipped: namespace %s is in exclude_namespaces", podref, ns);
                        ret = check ? 0 : pass(p);
                        goto out;
                }
        if (p->conf.ambient_enabled)
                /* DECISION: no ambient support; a sidecar pod still gets sidecar rules (§2.15 step 5). */
                log_warn("pod %s: ambient_enabled is set but ambient mode is not supported; using the sidecar path", podref);
        if (!k8s_name_is_valid(ns) || !k8s_name_is_valid(name)) {
                cni_error_set(&p->err, CNI_ERR_INTERNAL, NULL, "invalid pod name or namespace in CNI_ARGS: %.200s", podref);
                ret = fail(p);
                goto out;
        }
        if (!resolve_pod(p, podref, &kconf, &pod, &source, &source_label, &ret))
                goto out;
        t_pod = now_usec();
        if (!decide_and_build(p, podref, pod, check, &cfg, &ret))
                goto out;
        ret = apply_in_netns(p, podref, &cfg, check);
        if (ret != 0)
                goto out;
        t_rules = now_usec();
        /* Per-stage times (idea: latency accounting) let an operator see whether the API server,
         * the TLS set-up or the rules dominate a slow ADD. The labels are the contract with the
         * node agent's log socket (§2.14): it turns them into its ADD latency histograms. */
        {
                const struct log_field f[] = {
                        LOG_FIELD_STR("pod", podref),
                        LOG_FIELD_STR("pod_source", source_label),
                        LOG_FIELD_NUM("latency_setup_ms", (double)(t_client - p->t_start) / 1000.0),
                        LOG_FIELD_NUM("latency_pod_lookup_ms", (double)(t_pod - t_client) / 1000.0),
                        LOG_FIELD_NUM("latency_rules_ms", (double)(t_rules - t_pod) / 1000.0),
                        LOG_FIELD_NUM("latency_total_ms", (double)(t_rules - p->t_start) / 1000.0),
                };
                log_msg_fields(LOG_LEVEL_INFO, f, ELEMENTSOF(f), "pod %s: %s in %.2f ms (set-up %.2f, pod from %s %.2f, rules %.2f)",
                               podref, check ? "redirect rules verified" : "redirect rules programmed",
                               (t_rules - p->t_start) / 1000.0, (t_client - p->t_start) / 1000.0, source,
                               (t_pod - t_client) / 1000.0, (t_rules - t_pod) / 1000.0);
        }
        ret = check ? 0 : pass(p);
out:
        config_done(&cfg);
        cJSON_Delete(pod);
        kubeconfig_done(&kconf);
        return ret;
}

/* STATUS: beyond Istio, report 50 when the kubeconfig or API server is unusable (§2.13). */
static int status(struct plugin *p) {
        struct k8s_client *kc = NULL;
        struct k8s_response resp = { 0 };
        char e[512] = "";
        int r;

        p->conf.k8s_max_attempts = 1;
        if (!p->conf.k8s_timeout_ms)
                p->conf.k8s_timeout_ms = 3000;
        struct kubeconfig kconf = { 0 };
        r = load_kubeconfig(p, &kconf);
        if (r >= 0)
                r = k8s_connect(p, &kconf, 1, &kc);
        kubeconfig_done(&kconf);
        if (r < 0) {
                p->err.code = CNI_ERR_NOT_AVAILABLE;
                return fail(p);
        }
        r = k8s_request(kc, "GET", "/api/v1/namespaces/default/pods?limit=1", NULL, NULL, &resp, e, sizeof e);
        k8s_response_done(&resp);
        k8s_client_free(kc);
        /* Any answer other than an auth failure or a transport error means ADD can work. */
        if (r < 0 && r != -ENOENT && r != -EINVAL) {
                cni_error_set(&p->err, CNI_ERR_NOT_AVAILABLE, NULL, "API server not usable: %s", e[0] ? e : strerror(-r));
                return fail(p);
        }
        return 0;
}

/* Spec §2.14: always tee to <run_dir>/istio-cni.log (JSON lines, info+), rolled at 10 MB with
 * one backup, the backup dropped after 2 days. Best effort: logging never fails a CNI command.
 * Concurrent ADDs rotate under flock() on the log itself, re-checking under the lock that the
 * name still holds the inode they locked and that it is still over the limit: without that, a
 * second rotation renames the fresh file over the backup and the backup is lost (issue 11 A8). */
#define ROLLING_LOG_MAX (10u << 20)
#define ROLLING_LOG_MAX_AGE (2 * 24 * 3600)
static int open_rolling_log(const char *run_dir) {
        char path[4096], backup[4200];
        struct stat st, fst;

        if (!run_dir || !*run_dir)
                return -1;
        if (snprintf(path, sizeof path, "%s/istio-cni.log", run_dir) >= (int)sizeof path)
                return -1;
        snprintf(backup, sizeof backup, "%s.1", path);
        for (int tries = 0; tries < 4; tries++) {
                _cleanup_close_ int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
                if (fd < 0)
                        return -1;
                if (fstat(fd, &fst) < 0 || fst.st_size < (off_t)ROLLING_LOG_MAX)
                        return TAKE_FD(fd); /* the common case: no lock taken */
                /* A bounded wait: a rotation is two renames; never hang an ADD on a stuck holder. */
                for (int i = 0; flock(fd, LOCK_EX | LOCK_NB) < 0; i++) {
                        if (errno != EWOULDBLOCK && errno != EINTR)
                                return TAKE_FD(fd);
                        if (i >= 200)
                                return TAKE_FD(fd);
                        usleep(1000);
                }
                /* Re-stat under the lock: another process may have rotated meanwhile. */
                if (stat(path, &st) < 0 || st.st_ino != fst.st_ino || st.st_dev != fst.st_dev)
                        continue; /* our fd is the backup now: open the new file */
                if (fstat(fd, &fst) < 0 || fst.st_size < (off_t)ROLLING_LOG_MAX) {
                        (void)flock(fd, LOCK_UN);
                        return TAKE_FD(fd);
                }
                (void)rename(path, backup);
                (void)flock(fd, LOCK_UN);
        }
        if (stat(backup, &st) == 0 && time(NULL) - st.st_mtime > ROLLING_LOG_MAX_AGE)
                (void)unlink(backup);
        return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
}

/* Spec §2.14: when <run_dir>/log.sock exists, the lines are kept in memory and sent to the node
 * agent in one POST at process end. The agent re-emits them in its own stream and takes the ADD
 * latency labels for its metrics. Best effort within LOG_SOCKET_TIMEOUT: a dead or slow agent
 * costs at most that, and never changes the command's result. */
#define LOG_SOCKET_NAME "log.sock"
#define LOG_SOCKET_TIMEOUT_USEC (1000ULL * 1000)
static bool log_socket_path(const struct cni_conf *c, char *buf, size_t size) {
        struct stat st;
        return c->cni_agent_run_dir && *c->cni_agent_run_dir &&
               snprintf(buf, size, "%s/" LOG_SOCKET_NAME, c->cni_agent_run_dir) < (int)size && lstat(buf, &st) == 0 &&
               S_ISSOCK(st.st_mode);
}

static void log_socket_flush(const char *path) {
        static const char *const headers[] = { "Content-Type: application/json", NULL };
        struct httpc_config hc = { .server = "http://unix", .unix_socket = path };
        _cleanup_free_ char *body = NULL;
        struct httpc *h = NULL;
        size_t len = 0;
        int status = 0;
        char e[256] = "";

        if (log_memory_take_json(&body, &len) < 0)
                return;
        log_set_memory(false, LOG_LEVEL_INFO);
        if (httpc_new(&hc, &h, e, sizeof e) >= 0) {
                struct httpc_request rq = { .method = "POST", .path = "/log", .headers = headers, .body = body,
                                            .body_len = len, .timeout_usec = LOG_SOCKET_TIMEOUT_USEC };
                int r = httpc_request(h, &rq, NULL, NULL, &status, e, sizeof e);
                /* stderr only: the file already has these lines, and the socket is what failed. */
                if (r < 0 || status != 200)
                        log_debug("log socket %s: not delivered (%s)", path, r < 0 ? e : "non-200 answer");
        }
        httpc_free(h);
}

int istio_cni_main(int argc, char **argv) {
        struct plugin p = { 0 };
        _cleanup_close_ int log_fd = -1;
        _cleanup_free_ char *in = NULL;
        size_t len = 0;
        enum log_level lvl;
        char sock[4096];
        bool have_sock = false;
        int r, ret;

        p.t_start = now_usec();
        if (argc > 1 && (streq(argv[1], "--help") || streq(argv[1], "-h") || streq(argv[1], "help"))) {
                fputs(help_text, stdout);
                return 0;
        }
        log_setup("istio-cni", STDERR_FILENO, LOG_LEVEL_INFO, true);
        if (cni_env_load(NULL, &p.env, &p.err) < 0)
                return fail(&p);
        if (p.env.command == CNI_CMD_NONE) {
                fputs(cni_about(), stderr);
                return 0;
        }
        if (p.env.command == CNI_CMD_VERSION) {
                fputs(cni_version_reply(), stdout);
                fflush(stdout);
                return 0;
        }
        r = fileio_read_all(STDIN_FILENO, STDIN_MAX, &in, &len);
        if (r < 0) {
                cni_error_set(&p.err, CNI_ERR_IO, NULL, "error reading from stdin: %s", strerror(-r));
                return fail(&p);
        }
        if (cni_conf_parse(in, len, p.env.command, &p.conf, &p.err) < 0)
                return fail(&p);
        /* Only ADD and CHECK have a deadline: DEL must succeed whatever the environment says. */
        if ((p.env.command == CNI_CMD_ADD || p.env.command == CNI_CMD_CHECK) && deadline_setup(&p) < 0)
                return fail(&p);
        if (p.conf.plugin_log_level && log_parse_level(p.conf.plugin_log_level, &lvl) == 0)
                log_setup("istio-cni", STDERR_FILENO, lvl, true);
        log_fd = open_rolling_log(p.conf.cni_agent_run_dir);
        if (log_fd >= 0)
                log_set_tee(log_fd, LOG_LEVEL_INFO);
        /* The agent gets info and above whatever plugin_log_level says (its latency metrics come
         * from the summary line), and debug lines too when they are on. */
        have_sock = log_socket_path(&p.conf, sock, sizeof sock);
        if (have_sock)
                log_set_memory(true, log_get_level() < LOG_LEVEL_INFO ? log_get_level() : LOG_LEVEL_INFO);
        log_debug("%s container=%s netns=%s ifname=%s args=%s", p.env.command_str, p.env.containerid ? p.env.containerid : "",
                  p.env.netns ? p.env.netns : "", p.env.ifname ? p.env.ifname : "", p.env.args ? p.env.args : "");

        /* DECISION: libcni checks "CNI_NETNS is our own netns" after ADD ran (and printed); we check
         * first, so rules never land in the runtime's netns and stdout holds one document. */
        if ((p.env.command == CNI_CMD_ADD || p.env.command == CNI_CMD_DEL) && !p.env.netns_override && p.env.netns &&
            *p.env.netns) {
                _cleanup_close_ int fd = netns_open(p.env.netns);
                if (fd >= 0 && netns_is_current(fd) == 1) {
                        cni_error_set(&p.err, CNI_ERR_INVALID_NETNS, NULL,
                                      "plugin's netns and netns from CNI_NETNS should not be the same");
                        ret = fail(&p);
                        goto out;
                }
        }
        switch (p.env.command) {
        case CNI_CMD_ADD:
                ret = add_or_check(&p, false);
                break;
        case CNI_CMD_CHECK:
                ret = add_or_check(&p, true);
                break;
        case CNI_CMD_STATUS:
                ret = status(&p);
                break;
        case CNI_CMD_DEL:
                /* The rules live in the pod netns and vanish with it (§2.13); nothing to undo. */
                log_info("container %s: DEL: nothing to remove (the rules go with the pod's network namespace)",
                         p.env.containerid ? p.env.containerid : "?");
                ret = 0;
                break;
        case CNI_CMD_GC: /* no state kept */
        default:
                ret = 0;
                break;
        }
out:
        if (have_sock)
                log_socket_flush(sock);
        cni_args_done(&p.args);
        cni_conf_done(&p.conf);
        log_set_tee(-1, LOG_LEVEL_INFO);
        return ret;
}
