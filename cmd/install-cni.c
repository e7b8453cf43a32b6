/* SPDX-License-Identifier: Apache-2.0 */
/* install-cni.c: the node agent of the istio-cni-node DaemonSet (spec istio-cni.md §4, §2.14).
 * Copies the plugin onto the host, writes its kubeconfig, inserts it into the primary CNI config,
 * keeps all of that in place (inotify watch loop, throttle, rival detection, periodic resync),
 * serves /healthz + /readyz (:8000), Prometheus /metrics (:MONITORING_PORT), the plugin's log
 * socket (<run dir>/log.sock) and the pod cache (<run dir>/cnibox-pods.sock), and on SIGTERM
 * removes the plugin again unless its DaemonSet says this is only a restart.
 * Decisions (docs/install-cni.md): the install never waits for the API server; a failing pass is
 * retried with back-off while the agent stays up and not ready (Istio exits and restarts, which
 * runs its cleanup on every crash loop); an auto-detected primary config follows the first file. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/param.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "agent/httpd.h"
#include "agent/install.h"
#include "agent/logsink.h"
#include "agent/metrics.h"
#include "agent/podcache.h"
#include "agent/repair.h"
#include "agent/upgrade.h"
#include "agent/watch.h"
#include "applets.h"
#include "base/exitcode.h"
#include "base/fileio.h"
#include "base/log.h"
#include "base/macro.h"
#include "kube/k8s.h"
#include "kube/kubeconfig.h"

#define HEALTH_PORT 8000
#define LOG_SOCKET_NAME "log.sock"
#define RESYNC_USEC (60ULL * 1000 * 1000)       /* safety-net check even when inotify is quiet */
#define RETRY_MAX_USEC (30ULL * 1000 * 1000)    /* back-off cap for a failing pass */
#define RIVAL_THRESHOLD 5                       /* rewrites by someone else ... */
#define RIVAL_WINDOW_USEC (60ULL * 1000 * 1000) /* ... within this window are a fight */
#define THROTTLE_MAX_SLEEP_USEC (100ULL * 1000) /* Istio: 1 s (see throttle()) */
#define STOP_DECIDE_USEC (5ULL * 1000 * 1000)   /* the DaemonSet GET at SIGTERM */

/* ---- options (spec §4.2): flag beats env beats default ------------------------------------ */

enum opt_type { T_STR, T_BOOL, T_INT };

struct opt {
        const char *flag;       /* without "--" */
        const char *env;        /* NULL: flag only */
        enum opt_type type;
        const char *def;
        const char *help;       /* NULL: accepted for compatibility, not listed */
        const char *value;      /* resolved (borrowed from argv, environ or def) */
        const char *from;       /* "--flag", "$ENV" or "default", for error messages */
};

enum {
        O_NET_DIR, O_CONF_NAME, O_CHAINED, O_RUN_DIR, O_KC_MODE, O_GROUP_READ, O_CA_FILE, O_SKIP_TLS, O_MON_PORT,
        O_OWNED, O_OWNED_NAME, O_ZTUNNEL, O_AMBIENT, O_AMBIENT_RETRY, O_REPAIR, O_REPAIR_DELETE, O_REPAIR_LABEL,
        O_REPAIR_KEY, O_REPAIR_VALUE, O_REPAIR_NODE, O_REPAIR_ANNOT, O_REPAIR_INIT, O_REPAIR_MSG, O_REPAIR_CODE,
        O_REPAIR_LSEL, O_REPAIR_FSEL, O_NET_CONFIG, O_NET_CONFIG_FILE, O_LOG_LEVEL, O_LOG_OUTPUT, O_LOG_JSON,
        O_LOG_CALLER, O_LOG_STACK, O_LOG_TARGET, O_LOG_ROTATE, O_LOG_ROT_AGE, O_LOG_ROT_BACKUPS, O_LOG_ROT_SIZE,
        O_BIN_SRC, O_POLL, _O_MAX,
};

/* Designated fields: the resolved value and its source start out NULL. */
#define OPT(f, e, t, d, h) { .flag = (f), .env = (e), .type = (t), .def = (d), .help = (h) }

static struct opt opts[_O_MAX] = {
        [O_NET_DIR] = OPT("mounted-cni-net-dir", "MOUNTED_CNI_NET_DIR", T_STR, "/host/etc/cni/net.d", "container path of the host's CNI conf dir"),
        [O_CONF_NAME] = OPT("cni-conf-name", "CNI_CONF_NAME", T_STR, "", "primary CNI config to modify (chained) or the standalone file; empty: the first valid file"),
        [O_CHAINED] = OPT("chained-cni-plugin", "CHAINED_CNI_PLUGIN", T_BOOL, "true", "insert into the primary config (false: write a standalone file)"),
        [O_RUN_DIR] = OPT("cni-agent-run-dir", "CNI_AGENT_RUN_DIR", T_STR, "/var/run/istio-cni", "kubeconfig, log socket and pod cache socket dir"),
        [O_KC_MODE] = OPT("kubeconfig-mode", "KUBECONFIG_MODE", T_INT, "0600", "file mode of the plugin's kubeconfig"),
        [O_GROUP_READ] = OPT("cni-conf-group-read", "CNI_CONF_GROUP_READ", T_BOOL, "false", "0640 instead of 0600 for config files the agent creates"),
        [O_CA_FILE] = OPT("kube-ca-file", "KUBE_CA_FILE", T_STR, "", "CA for the plugin's kubeconfig (default: the service account's ca.crt)"),
        [O_SKIP_TLS] = OPT("skip-tls-verify", "SKIP_TLS_VERIFY", T_BOOL, "false", "write insecure-skip-tls-verify instead of a CA"),
        [O_MON_PORT] = OPT("monitoring-port", "MONITORING_PORT", T_INT, "15014", "Prometheus /metrics port (<= 0: off)"),
        [O_OWNED] = OPT("istio-owned-cni-config", "ISTIO_OWNED_CNI_CONFIG", T_BOOL, "false", "ambient only (ignored)"),
        [O_OWNED_NAME] = OPT("istio-owned-cni-config-filename", "ISTIO_OWNED_CNI_CONFIG_FILENAME", T_STR, "", "ambient only (ignored; ISTIO_OWNED_CNI_CONF_FILENAME also accepted)"),
        [O_ZTUNNEL] = OPT("ztunnel-uds-address", "ZTUNNEL_UDS_ADDRESS", T_STR, "/var/run/ztunnel/ztunnel.sock", "ambient only (ignored)"),
        [O_AMBIENT] = OPT("ambient-enabled", "AMBIENT_ENABLED", T_BOOL, "false", "ambient mode: not supported by cnibox (refused)"),
        [O_AMBIENT_RETRY] = OPT("enable-ambient-detection-retry", "ENABLE_AMBIENT_DETECTION_RETRY", T_BOOL, "false", "written into the plugin entry"),
        [O_REPAIR] = OPT("repair-enabled", "REPAIR_ENABLED", T_BOOL, "true", "run the repair controller (docs/cni-repair.md) on the pod cache's watch"),
        [O_REPAIR_DELETE] = OPT("repair-delete-pods", "REPAIR_DELETE_PODS", T_BOOL, "false", "repair: delete broken pods"),
        [O_REPAIR_LABEL] = OPT("repair-label-pods", "REPAIR_LABEL_PODS", T_BOOL, "false", "repair: label broken pods"),
        [O_REPAIR_KEY] = OPT("repair-broken-pod-label-key", "REPAIR_BROKEN_POD_LABEL_KEY", T_STR, "cni.istio.io/uninitialized", "repair"),
        [O_REPAIR_VALUE] = OPT("repair-broken-pod-label-value", "REPAIR_BROKEN_POD_LABEL_VALUE", T_STR, "true", "repair"),
        [O_REPAIR_NODE] = OPT("repair-node-name", "REPAIR_NODE_NAME", T_STR, "", "repair: this node (downward API)"),
        [O_REPAIR_ANNOT] = OPT("repair-sidecar-annotation", "REPAIR_SIDECAR_ANNOTATION", T_STR, "sidecar.istio.io/status", "repair"),
        [O_REPAIR_INIT] = OPT("repair-init-container-name", "REPAIR_INIT_CONTAINER_NAME", T_STR, "istio-validation", "repair"),
        [O_REPAIR_MSG] = OPT("repair-init-container-termination-message", "REPAIR_INIT_CONTAINER_TERMINATION_MESSAGE", T_STR, "", "repair"),
        [O_REPAIR_CODE] = OPT("repair-init-container-exit-code", "REPAIR_INIT_CONTAINER_EXIT_CODE", T_INT, "126", "repair"),
        [O_REPAIR_LSEL] = OPT("repair-label-selectors", "REPAIR_LABEL_SELECTORS", T_STR, "", "repair"),
        [O_REPAIR_FSEL] = OPT("repair-field-selectors", "REPAIR_FIELD_SELECTORS", T_STR, "", "repair"),
        [O_NET_CONFIG] = OPT("cni-network-config", "CNI_NETWORK_CONFIG", T_STR, "", NULL),
        [O_NET_CONFIG_FILE] = OPT("cni-network-config-file", "CNI_NETWORK_CONFIG_FILE", T_STR, "", NULL),
        [O_LOG_LEVEL] = OPT("log-level", "LOG_LEVEL", T_STR, "warn", NULL),
        [O_LOG_OUTPUT] = OPT("log_output_level", NULL, T_STR, "default:info", "scope levels: LEVEL or scope:LEVEL,… (scope cni-plugin sets the plugin's level)"),
        [O_LOG_JSON] = OPT("log_as_json", NULL, T_BOOL, "false", "JSON log lines"),
        [O_LOG_CALLER] = OPT("log_caller", NULL, T_STR, "", NULL),
        [O_LOG_STACK] = OPT("log_stacktrace_level", NULL, T_STR, "default:none", NULL),
        [O_LOG_TARGET] = OPT("log_target", NULL, T_STR, "stdout", NULL),
        [O_LOG_ROTATE] = OPT("log_rotate", NULL, T_STR, "", NULL),
        [O_LOG_ROT_AGE] = OPT("log_rotate_max_age", NULL, T_INT, "30", NULL),
        [O_LOG_ROT_BACKUPS] = OPT("log_rotate_max_backups", NULL, T_INT, "1000", NULL),
        [O_LOG_ROT_SIZE] = OPT("log_rotate_max_size", NULL, T_INT, "104857600", NULL),
        [O_BIN_SRC] = OPT("bin-source-dir", "CNIBOX_BIN_SOURCE_DIR", T_STR, INSTALL_BIN_SOURCE_DIR, "cnibox: where the plugin binary comes from (Istio: fixed " INSTALL_BIN_SOURCE_DIR "; for use outside the image)"),
        [O_POLL] = OPT("force-poll", "CNIBOX_FORCE_POLL", T_BOOL, "false", "cnibox: poll instead of inotify"),
};

/* Legacy (≤1.22) env names: accepted, and said to be unused (HEAD does not read them either). */
static const char *const legacy_env[] = { "CNI_NET_DIR", "KUBECFG_FILE_NAME", "LOG_UDS_ADDRESS", "CNI_EVENT_ADDRESS" };

static void usage(FILE *f) {
        fprintf(f, "Usage: install-cni [--FLAG=VALUE]…\n"
                   "The istio-cni node agent: installs the istio-cni plugin on this node (binary, kubeconfig,\n"
                   "CNI config entry), keeps it installed, and removes it on uninstall. Every flag can also be\n"
                   "set by its environment variable; a flag beats the environment, which beats the default.\n"
                   "Booleans take Go's forms (1, t, true, TRUE, 0, f, false, …).\n\n");
        for (size_t i = 0; i < _O_MAX; i++) {
                if (!opts[i].help)
                        continue;
                fprintf(f, "  --%s%s", opts[i].flag, opts[i].type == T_BOOL ? "[=BOOL]" : "=VALUE");
                if (opts[i].env)
                        fprintf(f, "  (env %s)", opts[i].env);
                fprintf(f, "\n      %s [default \"%s\"]\n", opts[i].help, opts[i].def);
        }
        fprintf(f, "\nRead from the environment only: REPAIR_REPAIR_PODS, EXCLUDE_NAMESPACES, POD_NAMESPACE,\n"
                   "NATIVE_NFTABLES, AMBIENT_ENABLEMENT_SELECTOR, NODE_NAME, POD_NAME, KUBERNETES_SERVICE_HOST,\n"
                   "KUBERNETES_SERVICE_PORT, KUBERNETES_SERVICE_PROTOCOL.\n"
                   "Endpoints: :%d /healthz /readyz; :MONITORING_PORT /metrics; <run dir>/" LOG_SOCKET_NAME
                   " (plugin logs); <run dir>/" PODCACHE_SOCKET_NAME " (pod cache, when NODE_NAME is set).\n"
                   "See docs/install-cni.md.\n",
                HEALTH_PORT);
}

/* strconv.ParseBool */
static int parse_bool(const char *s, bool *ret) {
        static const char *const t[] = { "1", "t", "T", "TRUE", "true", "True" };
        static const char *const f[] = { "0", "f", "F", "FALSE", "false", "False" };
        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                if (streq(s, t[i]))
                        return *ret = true, 0;
                if (streq(s, f[i]))
                        return *ret = false, 0;
        }
        return -EINVAL;
}

/* strconv.ParseInt(s, 0, 64) as viper/cast does: 0x, 0o, 0b and a leading 0 (octal) prefixes. */
static int parse_int(const char *s, long long *ret) {
        const char *p = s;
        int base = 10, neg = 0;
        char *end;
        if (*p == '+' || *p == '-')
                neg = *p++ == '-';
        if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
                base = 16, p += 2;
        else if (p[0] == '0' && (p[1] == 'o' || p[1] == 'O'))
                base = 8, p += 2;
        else if (p[0] == '0' && (p[1] == 'b' || p[1] == 'B'))
                base = 2, p += 2;
        else if (p[0] == '0' && p[1])
                base = 8, p += 1;
        if (!*p || *p == '+' || *p == '-' || isspace((unsigned char)*p))
                return -EINVAL;
        errno = 0;
        long long v = strtoll(p, &end, base);
        if (errno || *end)
                return -EINVAL;
        *ret = neg ? -v : v;
        return 0;
}

static struct opt *opt_find(const char *name, size_t n) {
        for (size_t i = 0; i < _O_MAX; i++)
                if (strlen(opts[i].flag) == n && strncmp(opts[i].flag, name, n) == 0)
                        return &opts[i];
        return NULL;
}

/* pflag syntax: --name=value, --name value, --name (booleans), -name is not a flag. Returns 1
 * to run, 0 after --help, < 0 on a bad command line (message printed). */
static int parse_argv(int argc, char **argv) {
        for (size_t i = 0; i < _O_MAX; i++) {
                const char *e = opts[i].env ? getenv(opts[i].env) : NULL;
                if (i == O_OWNED_NAME && (!e || !*e))
                        e = getenv("ISTIO_OWNED_CNI_CONF_FILENAME"); /* the chart's name (§4.2 quirk) */
                opts[i].value = e ? e : opts[i].def;
                opts[i].from = e ? opts[i].env : "default";
        }
        for (int i = 1; i < argc; i++) {
                const char *a = argv[i], *eq;
                struct opt *o;
                if (streq(a, "-h") || streq(a, "--help")) {
                        usage(stdout);
                        return 0;
                }
                if (strncmp(a, "--", 2) != 0 || !a[2]) {
                        fprintf(stderr, "install-cni: unexpected argument '%s' (flags are --name=value)\n", a);
                        return -EINVAL;
                }
                eq = strchr(a + 2, '=');
                o = opt_find(a + 2, eq ? (size_t)(eq - a - 2) : strlen(a + 2));
                if (!o) {
                        fprintf(stderr, "install-cni: unknown flag '%s' (see --help)\n", a);
                        return -EINVAL;
                }
                o->from = a;
                if (eq)
                        o->value = eq + 1;
                else if (o->type == T_BOOL)
                        o->value = "true";
                else if (i + 1 < argc)
                        o->value = argv[++i];
                else {
                        fprintf(stderr, "install-cni: flag '%s' needs a value\n", a);
                        return -EINVAL;
                }
        }
        return 1;
}

static int opt_bool(int i, bool *ret) {
        if (parse_bool(opts[i].value, ret) < 0) {
                log_error("invalid boolean \"%s\" for %s (want true or false)", opts[i].value, opts[i].from);
                return -EINVAL;
        }
        return 0;
}

static int opt_int(int i, long long min, long long max, long long *ret) {
        if (parse_int(opts[i].value, ret) < 0 || *ret < min || *ret > max) {
                log_error("invalid integer \"%s\" for %s (want %lld…%lld)", opts[i].value, opts[i].from, min, max);
                return -EINVAL;
        }
        return 0;
}

static int env_bool(const char *name, bool *ret) {
        const char *v = getenv(name);
        *ret = false;
        if (!v || !*v)
                return 0;
        if (parse_bool(v, ret) < 0) {
                log_error("invalid boolean \"%s\" for %s (want true or false)", v, name);
                return -EINVAL;
        }
        return 0;
}

/* ---- logging --------------------------------------------------------------------------- */

static const char *const level_names[] = { "debug", "info", "warn", "error", "none" };

/* Istio's --log_output_level: "LEVEL" (the default scope, which scopes not named inherit),
 * "scope:LEVEL" pairs, "all:LEVEL" for every scope. Returns the agent's and the plugin's level. */
static int parse_scopes(const char *spec, enum log_level *ret_agent, enum log_level *ret_plugin) {
        enum log_level def = LOG_LEVEL_INFO, all = LOG_LEVEL_NONE, plugin = LOG_LEVEL_NONE;
        bool have_all = false, have_plugin = false;
        _cleanup_free_ char *copy = strdup(spec);
        char *save = NULL;

        if (!copy)
                return -ENOMEM;
        for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                char *colon = strrchr(tok, ':');
                const char *scope = colon ? tok : "default", *lvl = colon ? colon + 1 : tok;
                enum log_level l;
                if (colon)
                        *colon = 0;
                if (streq(lvl, "fatal"))
                        l = LOG_LEVEL_ERROR;
                else if (log_parse_level(lvl, &l) < 0) {
                        log_error("invalid level \"%s\" in --log_output_level=%s (want debug, info, warn, error or none)",
                                  lvl, spec);
                        return -EINVAL;
                }
                if (!*scope) {
                        log_error("empty scope in --log_output_level=%s", spec);
                        return -EINVAL;
                }
                if (streq(scope, "all"))
                        have_all = true, all = l;
                else if (streq(scope, "default"))
                        def = l;
                else if (streq(scope, "cni-plugin"))
                        have_plugin = true, plugin = l;
        }
        *ret_agent = have_all ? all : def;
        *ret_plugin = have_all ? all : have_plugin ? plugin : def;
        return 0;
}

/* ---- the agent ------------------------------------------------------------------------- */

struct agent {
        struct installer *inst;
        struct metrics *m;
        struct httpd *health, *mon, *logsrv;
        int log_sock_fd_peek;           /* the log socket's listening fd (owned by logsrv) */
        char *log_sock_path;
        struct podcache *pc;
        struct podcache_agent *pca;
        struct k8s_client *cache_watch, *cache_live;
        /* issue 13: the repair controller, fed by the pod cache's one watch */
        bool repair_wanted;
        struct repair_config rcfg;
        struct repair_controller *repair;
        struct k8s_client *repair_client;
        struct kubeconfig kc;           /* in-cluster credentials; server == NULL without */
        bool have_kc;
        atomic_bool ready;
        pthread_mutex_t emit_lock;      /* one plugin batch at a time (no interleaving) */
        bool json;
        const char *node, *pod_name, *pod_ns;
        bool events_forbidden;
        uint64_t rival_ts[RIVAL_THRESHOLD];
        unsigned rival_n;
        bool fighting;
        double tokens;                  /* throttle bucket (§4.9): 0.2/s, burst 1 */
        uint64_t tokens_at;
        unsigned hits;
        bool force_poll;
};

static int stop_fd = -1;
static volatile sig_atomic_t stopping;

static void on_signal(int sig) {
        uint64_t one = 1;
        (void)sig;
        stopping = 1;
        (void)!write(stop_fd, &one, sizeof one);
}

static void on_alarm(int sig) {
        (void)sig;
        _exit(EXIT_OK);
}

static void lib_log(void *userdata, int level, const char *msg) {
        (void)userdata;
        log_msg((enum log_level)level, "%s", msg);
}

static void set_ready(struct agent *a, bool ready) {
        atomic_store(&a->ready, ready);
        metrics_gauge_set(a->m, "istio_cni_install_ready", NULL, ready ? 1 : 0);
}

static void health_handler(const struct httpd_request *rq, struct httpd_response *rs, void *userdata) {
        struct agent *a = userdata;
        bool ok = false;
        if (streq(rq->path, "/healthz"))
                ok = true;
        else if (streq(rq->path, "/readyz"))
                ok = atomic_load(&a->ready);
        else {
                rs->status = 404;
                rs->body = strdup("404 page not found\n");
                rs->body_len = rs->body ? strlen(rs->body) : 0;
                return;
        }
        rs->status = ok ? 200 : 503;
        rs->body = strdup(ok ? "ok" : "Service Unavailable");
        rs->body_len = rs->body ? strlen(rs->body) : 0;
}

static void metrics_handler(const struct httpd_request *rq, struct httpd_response *rs, void *userdata) {
        struct agent *a = userdata;
        if (!streq(rq->path, "/metrics")) {
                rs->status = 404;
                return;
        }
        if (a->pc) {
                struct podcache_stats st;
                podcache_get_stats(a->pc, &st);
                metrics_gauge_set(a->m, "cnibox_podcache_synced", NULL, st.synced);
                metrics_gauge_set(a->m, "cnibox_podcache_pods", NULL, st.pods);
                metrics_gauge_set(a->m, "cnibox_podcache_hits", NULL, (double)st.hits);
                metrics_gauge_set(a->m, "cnibox_podcache_live_gets", NULL, (double)st.live);
                metrics_gauge_set(a->m, "cnibox_podcache_relists", NULL, (double)st.relists);
        }
        if (metrics_render(a->m, &rs->body, &rs->body_len) < 0) {
                rs->status = 500;
                return;
        }
        rs->status = 200;
        rs->content_type = "text/plain; version=0.0.4; charset=utf-8";
}

/* Re-emits one plugin log entry under the agent's cni-plugin scope, labels kept (§2.14). */
static void emit_plugin_line(const struct logsink_entry *e, void *userdata) {
        struct agent *a = userdata;
        struct logsink_latency lat;
        _cleanup_free_ char *line = NULL;
        size_t len;

        if (logsink_latency(e, &lat)) {
                static const char *const stage[] = { "setup", "pod_lookup", "rules", "total" };
                double v[] = { lat.setup, lat.pod_lookup, lat.rules, lat.total };
                for (size_t i = 0; i < ELEMENTSOF(v); i++) {
                        char labels[64];
                        if (isnan(v[i]))
                                continue;
                        snprintf(labels, sizeof labels, "stage=\"%s\"", stage[i]);
                        metrics_histogram_observe(a->m, "cnibox_plugin_add_stage_seconds", labels, v[i]);
                }
        }
        if (a->json) {
                cJSON *o = cJSON_CreateObject(), *l;
                if (!o)
                        return;
                cJSON_AddStringToObject(o, "time", e->time);
                cJSON_AddStringToObject(o, "level", e->level);
                cJSON_AddStringToObject(o, "msg", e->msg);
                cJSON_AddStringToObject(o, "scope", "cni-plugin");
                cJSON_ArrayForEach(l, e->labels)
                        if (!cJSON_GetObjectItemCaseSensitive(o, l->string))
                                cJSON_AddItemToObject(o, l->string, cJSON_Duplicate(l, true));
                line = cJSON_PrintUnformatted(o);
                cJSON_Delete(o);
                if (!line)
                        return;
        } else {
                _cleanup_free_ char *labels = NULL;
                size_t n = 0;
                FILE *f = open_memstream(&labels, &n);
                const cJSON *l;
                if (!f)
                        return;
                cJSON_ArrayForEach(l, e->labels) {
                        _cleanup_free_ char *v = cJSON_IsString(l) ? NULL : cJSON_PrintUnformatted(l);
                        fprintf(f, "\t%s=%s", l->string, cJSON_IsString(l) ? l->valuestring : v ? v : "?");
                }
                fclose(f);
                if (asprintf(&line, "%s\t%s\tcni-plugin\t%s%s", e->time, e->level, e->msg, labels ? labels : "") < 0)
                        return;
        }
        len = strlen(line);
        line[len] = '\n';
        (void)!write(STDOUT_FILENO, line, len + 1);
        line[len] = 0;
}

static void log_handler(const struct httpd_request *rq, struct httpd_response *rs, void *userdata) {
        struct agent *a = userdata;
        size_t ok = 0, dropped = 0;

        if (!streq(rq->path, "/log") || !streq(rq->method, "POST")) {
                rs->status = 404;
                return;
        }
        /* Istio answers 200 whatever the body: the plugin has nothing to do with an error. */
        rs->status = 200;
        pthread_mutex_lock(&a->emit_lock);
        if (logsink_parse(rq->body, rq->body_len, emit_plugin_line, a, &ok, &dropped) < 0)
                dropped++;
        pthread_mutex_unlock(&a->emit_lock);
        if (ok)
                metrics_counter_add(a->m, "cnibox_plugin_log_entries_total", "result=\"accepted\"", (double)ok);
        if (dropped)
                metrics_counter_add(a->m, "cnibox_plugin_log_entries_total", "result=\"dropped\"", (double)dropped);
}

static int declare_metrics(struct metrics *m) {
        static const double pass_buckets[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1 };
        static const double add_buckets[] = { 0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5 };
        int r = 0;
        r = r < 0 ? r : metrics_declare(m, "istio_cni_install_ready", METRICS_GAUGE, "Whether the CNI plugin installation is ready or not", NULL, 0);
        r = r < 0 ? r : metrics_declare(m, "istio_cni_installs_total", METRICS_COUNTER, "Total number of CNI plugin install passes, by result", NULL, 0);
        r = r < 0 ? r : metrics_declare(m, "cnibox_install_pass_duration_seconds", METRICS_HISTOGRAM, "Duration of one install pass (binary, kubeconfig, CNI config)", pass_buckets, ELEMENTSOF(pass_buckets));
        r = r < 0 ? r : metrics_declare(m, "cnibox_install_rival_rewrites_total", METRICS_COUNTER, "Rewrites of the CNI config holding istio-cni by another writer", NULL, 0);
        r = r < 0 ? r : metrics_declare(m, "cnibox_install_config_fights_total", METRICS_COUNTER, "Fights over the CNI config detected (rewrites past the threshold)", NULL, 0);
        r = r < 0 ? r : metrics_declare(m, "cnibox_install_inotify_available", METRICS_GAUGE, "1 if the watch uses inotify, 0 if it polls", NULL, 0);
        r = r < 0 ? r : metrics_declare(m, "cnibox_plugin_add_stage_seconds", METRICS_HISTOGRAM, "istio-cni ADD latency per stage, reported by the plugin over the log socket", add_buckets, ELEMENTSOF(add_buckets));
        r = r < 0 ? r : metrics_declare(m, "cnibox_plugin_log_entries_total", METRICS_COUNTER, "Plugin log entries received over the log socket", NULL, 0);
        r = r < 0 ? r : metrics_declare(m, "cnibox_podcache_synced", METRICS_GAUGE, "1 while the pod cache's watch is live", NULL, 0);
        r = r < 0 ? r : metrics_declare(m, "cnibox_podcache_pods", METRICS_GAUGE, "Pods of this node in the cache", NULL, 0);
        r = r < 0 ? r : metrics_declare(m, "cnibox_podcache_hits", METRICS_GAUGE, "Plugin lookups answered from the cache", NULL, 0);
        r = r < 0 ? r : metrics_declare(m, "cnibox_podcache_live_gets", METRICS_GAUGE, "Plugin lookups answered by a live GET", NULL, 0);
        r = r < 0 ? r : metrics_declare(m, "cnibox_podcache_relists", METRICS_GAUGE, "Pod cache relists", NULL, 0);
        for (int i = 0; r >= 0 && i < _INSTALL_RESULT_MAX; i++) {
                char labels[64];
                snprintf(labels, sizeof labels, "result=\"%s\"", install_result_name(i));
                r = metrics_counter_add(m, "istio_cni_installs_total", labels, 0);
        }
        if (r >= 0)
                r = metrics_gauge_set(m, "istio_cni_install_ready", NULL, 0);
        return r;
}

static int start_tcp(uint16_t port, httpd_handler h, struct agent *a, struct httpd **ret) {
        int fd, r = httpd_listen_tcp(NULL, port, &fd);
        if (r < 0)
                return r;
        return httpd_start(fd, &(struct httpd_options){ .max_conns = 64 }, h, a, ret);
}

/* §2.14: the plugin's log sink. Not fatal (the plugin keeps its own file); retried every pass. */
static void start_log_socket(struct agent *a, const char *run_dir) {
        int fd, r;
        if (a->logsrv)
                return;
        if (!a->log_sock_path && asprintf(&a->log_sock_path, "%s/" LOG_SOCKET_NAME, run_dir) < 0) {
                a->log_sock_path = NULL;
                return;
        }
        (void)mkdir(run_dir, 0750);
        r = httpd_listen_unix(a->log_sock_path, 0666, &fd);
        if (r >= 0) {
                a->log_sock_fd_peek = fd;
                r = httpd_start(fd, &(struct httpd_options){ .max_conns = 128, .max_body = LOGSINK_MAX_BODY }, log_handler, a,
                                &a->logsrv);
        }
        if (r < 0) {
                static int last_err;
                if (r != last_err)
                        log_warn("cannot serve the plugin log socket %s: %s (the plugin keeps logging to its file), "
                                 "retrying on the next pass",
                                 a->log_sock_path, r == -EADDRINUSE ? "another agent serves it" : strerror(-r));
                last_err = r;
        } else
                log_info("serving plugin logs on %s", a->log_sock_path);
}

static int new_client(const struct kubeconfig *kc, uint64_t timeout, uint64_t total, struct k8s_client **ret) {
        char e[512] = "";
        struct k8s_options o = { .timeout_usec = timeout, .total_timeout_usec = total, .max_attempts = 1,
                                 .user_agent = "install-cni/" CNIBOX_VERSION };
        int r = k8s_client_new(kc, &o, ret, e, sizeof e);
        if (r < 0)
                log_warn("cannot build an API client: %s", e[0] ? e : strerror(-r));
        return r;
}

/* Issue 13: REPAIR_* as resolved by the option table (flag > env > default), plus the variables
 * only the environment sets, into the controller's configuration. A bad value is one error line
 * and repair off; the install goes on. */
static void repair_configure(struct agent *a) {
        static const int ids[] = { O_REPAIR, O_REPAIR_DELETE, O_REPAIR_LABEL, O_REPAIR_KEY, O_REPAIR_VALUE, O_REPAIR_NODE,
                                   O_REPAIR_ANNOT, O_REPAIR_INIT, O_REPAIR_MSG, O_REPAIR_CODE, O_REPAIR_LSEL, O_REPAIR_FSEL };
        static const char *const env_only[] = { "REPAIR_REPAIR_PODS", "REPAIR_DETECT_ONLY", "REPAIR_ACTION_RATE",
                                                "REPAIR_ACTION_BURST", "REPAIR_HOST_PROC", "NATIVE_NFTABLES" };
        char *envp[ELEMENTSOF(ids) + ELEMENTSOF(env_only) + 1] = {};
        size_t n = 0;
        char e[512] = "";
        int r = 0;

        for (size_t i = 0; i < ELEMENTSOF(ids) && r >= 0; i++)
                if (asprintf(&envp[n++], "%s=%s", opts[ids[i]].env, opts[ids[i]].value ? opts[ids[i]].value : "") < 0)
                        envp[--n] = NULL, r = -ENOMEM;
        for (size_t i = 0; i < ELEMENTSOF(env_only) && r >= 0; i++) {
                const char *v = getenv(env_only[i]);
                if (v && asprintf(&envp[n++], "%s=%s", env_only[i], v) < 0)
                        envp[--n] = NULL, r = -ENOMEM;
        }
        if (r >= 0)
                r = repair_config_from_env(envp, &a->rcfg, e, sizeof e);
        for (size_t i = 0; i < n; i++)
                free(envp[i]);
        if (r < 0) {
                log_error("repair: %s; repair is off (the install goes on)", e[0] ? e : strerror(-r));
                repair_config_done(&a->rcfg);
                return;
        }
        if (!a->rcfg.enabled) {
                repair_config_done(&a->rcfg);
                return;
        }
        /* One watch for the node: the pod cache's. REPAIR_NODE_NAME falls back to NODE_NAME. */
        if (!*a->rcfg.node_name && a->node && *a->node) {
                free(a->rcfg.node_name);
                a->rcfg.node_name = strdup(a->node);
        }
        if (!a->rcfg.node_name || repair_config_check(&a->rcfg, e, sizeof e) < 0) {
                log_error("repair: %s; repair is off (the install goes on)", a->rcfg.node_name ? e : "out of memory");
                repair_config_done(&a->rcfg);
                return;
        }
        if (a->node && *a->node && !streq(a->node, a->rcfg.node_name)) {
                log_error("repair: REPAIR_NODE_NAME \"%s\" is not NODE_NAME \"%s\" (the node whose pods are watched); "
                          "repair is off (the install goes on)", a->rcfg.node_name, a->node);
                repair_config_done(&a->rcfg);
                return;
        }
        /* The one watch serves the plugin's cache, which must see every pod of the node: the
         * selectors cannot narrow it, so the controller applies them to each event. */
        if (*a->rcfg.label_selectors || *a->rcfg.field_selectors)
                log_info("repair: selectors applied to the node's pod events: labels \"%s\", fields \"%s\"",
                         a->rcfg.label_selectors, a->rcfg.field_selectors);
        a->repair_wanted = true;
}

/* Issue 13: the controller, started before the watch that feeds it; its rights are checked in
 * its own thread (the install never waits for the API server). */
static void start_repair(struct agent *a) {
        int r;

        if (!a->repair_wanted)
                return;
        if (new_client(&a->kc, 5ULL * 1000 * 1000, 0, &a->repair_client) < 0) {
                log_error("repair: cannot build its API client; repair is off (the install goes on)");
                return;
        }
        struct repair_controller_options o = { .cfg = &a->rcfg, .pc = a->pc, .client = a->repair_client,
                                               .metrics = a->m, .log = lib_log, .check_rights_in_worker = true };
        r = repair_controller_start(&o, &a->repair);
        if (r < 0)
                log_error("repair: cannot start the controller: %s; repair is off (the install goes on)", strerror(-r));
        else
                log_info("repair: controller on node %s in mode %s", a->rcfg.node_name, repair_mode_name(a->rcfg.mode));
}

/* Issue 12 item 8: the pod cache runs in the agent, never blocking the install. */
static void start_podcache(struct agent *a, const char *run_dir) {
        _cleanup_free_ char *sock = NULL;
        int r;

        if (!a->node || !*a->node) {
                if (a->repair_wanted)
                        log_error("repair: no node name (NODE_NAME / REPAIR_NODE_NAME): repair is off (the install goes on)");
                else
                        log_warn("NODE_NAME is not set: running without the pod cache (the install goes on)");
                return;
        }
        if (!k8s_name_is_valid(a->node)) {
                log_warn("NODE_NAME \"%s\" is not a valid node name: running without the pod cache", a->node);
                return;
        }
        if (!a->have_kc) {
                log_warn("no API server credentials (in-cluster config unavailable): running without the pod cache%s",
                         a->repair_wanted ? " and without repair" : "");
                return;
        }
        if (asprintf(&sock, "%s/" PODCACHE_SOCKET_NAME, run_dir) < 0)
                return;
        if (new_client(&a->kc, 5ULL * 1000 * 1000, 0, &a->cache_watch) < 0 ||
            new_client(&a->kc, PODCACHE_LIVE_TIMEOUT_USEC, 0, &a->cache_live) < 0 || podcache_new(&a->pc) < 0)
                return;
        start_repair(a);
        r = podcache_agent_start(a->pc, &(struct podcache_agent_options){ .node_name = a->node, .socket_path = sock,
                                                                          .watch_client = a->cache_watch,
                                                                          .live_client = a->cache_live, .log = lib_log,
                                                                          .on_event = a->repair ? repair_controller_on_event : NULL,
                                                                          .event_userdata = a->repair },
                                 &a->pca);
        if (r < 0) {
                log_warn("cannot start the pod cache on %s: %s (the plugin uses its direct API path)", sock,
                         r == -EADDRINUSE ? "another agent serves it" : strerror(-r));
                if (a->repair) {
                        log_error("repair: no pod watch without the pod cache; repair is off (the install goes on)");
                        a->repair = repair_controller_stop(a->repair);
                }
        }
        else
                log_info("pod cache for node %s on %s", a->node, sock);
}

/* Sleeps usec, or until SIGTERM. */
static void sleep_stop(uint64_t usec) {
        struct pollfd p = { .fd = stop_fd, .events = POLLIN };
        if (!stopping)
                (void)poll(&p, 1, (int)(usec / 1000));
}

/* The throttle's sleep still watches the service-account dir: kubelet swaps the token in several
 * steps (a new ..timestamp dir, then the ..data symlink), and the first step alone may have woken
 * us; a rotated token must reach the plugin within a second, throttle or not. */
static void throttle_sleep(struct agent *a, uint64_t usec) {
        char *paths[] = { (char *)INSTALL_SA_DIR, NULL };
        uint64_t end = now_usec() + usec;
        struct watch *w = NULL;
        bool polling;
        char err[512];

        if (watch_new(paths, a->force_poll, &w, &polling, NULL, 0) < 0) {
                sleep_stop(usec);
                return;
        }
        while (!stopping) {
                uint64_t now = now_usec();
                int r = now < end ? watch_wait(w, stop_fd, end - now) : 0;
                if (r <= 0)
                        break;
                if (install_kubeconfig(a->inst, err, sizeof err) < 0)
                        log_warn("cannot refresh the kubeconfig: %s (retrying in the next pass)", err);
        }
        watch_free(w);
}

/* §4.9 throttle: a token bucket of 0.2/s with burst 1 (a reservation may go into debt, as Go's
 * rate.Limiter does); warn past 5 hits in a row. DECISION: Istio sleeps up to 1 s per hit, which
 * under a rival rewriting every 200 ms leaves the entry missing most of the time (measured: 17 of
 * 100 rewrites restored before the next). A pass costs about a millisecond, so the sleep is
 * capped at THROTTLE_MAX_SLEEP_USEC: at most 10 passes a second even in a ping-pong with another
 * agent, and the warning is logged at the 6th hit and then every 100th, not on every pass. */
static void throttle(struct agent *a) {
        uint64_t now = now_usec();
        double delay;

        a->tokens = a->tokens_at ? MIN(1.0, a->tokens + (double)(now - a->tokens_at) / 1e6 * 0.2) : 1.0;
        a->tokens_at = now;
        a->tokens -= 1.0;
        if (a->tokens >= 0) {
                a->hits = 0;
                return;
        }
        delay = -a->tokens / 0.2;
        throttle_sleep(a, MIN(THROTTLE_MAX_SLEEP_USEC, (uint64_t)(delay * 1e6)));
        if (++a->hits == 6 || (a->hits > 6 && a->hits % 100 == 0)) {
                const char *path = install_conf_path(a->inst);
                log_warn("Configuration has been reconciled multiple times in a short period (%u times); another "
                         "component may be modifying %s%s",
                         a->hits, path,
                         strstr(path, "cilium") ? " (with Cilium, set cni.exclusive=false so that it leaves other "
                                                  "plugins in its config)"
                                                : "");
        }
}

/* A Kubernetes Event on the agent's own pod. Best effort: the chart grants events only where
 * repair is on, so a 403 is logged once and never retried. */
static void post_event(struct agent *a, const char *reason, const char *message) {
        _cleanup_free_ char *path = NULL, *body = NULL, *ens = NULL;
        struct k8s_client *c = NULL;
        struct k8s_response resp = { 0 };
        char err[512] = "", ts[32];
        time_t now = time(NULL);
        struct tm tm;
        cJSON *ev = NULL, *o;
        int r;

        if (a->events_forbidden)
                return;
        if (!a->have_kc || !a->pod_name || !*a->pod_name || !a->pod_ns || !*a->pod_ns) {
                log_info("no Kubernetes Event for %s: POD_NAME, POD_NAMESPACE or API credentials missing", reason);
                a->events_forbidden = true;
                return;
        }
        gmtime_r(&now, &tm);
        strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
        ev = cJSON_CreateObject();
        if (!ev)
                return;
        cJSON_AddStringToObject(ev, "apiVersion", "v1");
        cJSON_AddStringToObject(ev, "kind", "Event");
        o = cJSON_AddObjectToObject(ev, "metadata");
        cJSON_AddStringToObject(o, "generateName", "istio-cni-node.");
        cJSON_AddStringToObject(o, "namespace", a->pod_ns);
        o = cJSON_AddObjectToObject(ev, "involvedObject");
        cJSON_AddStringToObject(o, "apiVersion", "v1");
        cJSON_AddStringToObject(o, "kind", "Pod");
        cJSON_AddStringToObject(o, "name", a->pod_name);
        cJSON_AddStringToObject(o, "namespace", a->pod_ns);
        cJSON_AddStringToObject(ev, "reason", reason);
        cJSON_AddStringToObject(ev, "message", message);
        cJSON_AddStringToObject(ev, "type", "Warning");
        o = cJSON_AddObjectToObject(ev, "source");
        cJSON_AddStringToObject(o, "component", "install-cni");
        if (a->node && *a->node)
                cJSON_AddStringToObject(o, "host", a->node);
        cJSON_AddStringToObject(ev, "firstTimestamp", ts);
        cJSON_AddStringToObject(ev, "lastTimestamp", ts);
        cJSON_AddNumberToObject(ev, "count", 1);
        cJSON_AddStringToObject(ev, "reportingComponent", "install-cni");
        body = cJSON_PrintUnformatted(ev);
        cJSON_Delete(ev);
        ens = k8s_escape(a->pod_ns);
        if (!body || !ens || asprintf(&path, "/api/v1/namespaces/%s/events", ens) < 0) {
                path = NULL;
                return;
        }
        if (new_client(&a->kc, 2ULL * 1000 * 1000, 2ULL * 1000 * 1000, &c) < 0)
                return;
        r = k8s_request(c, "POST", path, NULL, body, &resp, err, sizeof err);
        if (r == -EACCES) {
                log_warn("cannot create Kubernetes Events (%s): the chart grants events only where repair is on; "
                         "not trying again",
                         err);
                a->events_forbidden = true;
        } else if (r < 0)
                log_warn("cannot create the Kubernetes Event %s: %s", reason, err[0] ? err : strerror(-r));
        else
                log_info("Kubernetes Event %s posted on pod %s/%s", reason, a->pod_ns, a->pod_name);
        k8s_response_done(&resp);
        k8s_client_free(c);
}

/* Issue 12 item 5: count rewrites of our config by someone else; past RIVAL_THRESHOLD within
 * RIVAL_WINDOW_USEC, say once that there is a fight, and over which file. */
static void note_rival(struct agent *a) {
        uint64_t now = now_usec();
        unsigned n = 0;
        const char *path = install_conf_path(a->inst);

        metrics_counter_add(a->m, "cnibox_install_rival_rewrites_total", NULL, 1);
        log_info("%s was rewritten by another writer", path);
        memmove(a->rival_ts, a->rival_ts + 1, sizeof a->rival_ts - sizeof a->rival_ts[0]);
        a->rival_ts[RIVAL_THRESHOLD - 1] = now;
        for (unsigned i = 0; i < RIVAL_THRESHOLD; i++)
                n += a->rival_ts[i] && now - a->rival_ts[i] <= RIVAL_WINDOW_USEC;
        if (n < RIVAL_THRESHOLD || a->fighting)
                return;
        a->fighting = true;
        metrics_counter_add(a->m, "cnibox_install_config_fights_total", NULL, 1);
        {
                char msg[1024];
                snprintf(msg, sizeof msg,
                         "another component rewrote %s %u times within %llu s; istio-cni restores its entry each time, "
                         "but pods started in between run without it%s",
                         path, n, RIVAL_WINDOW_USEC / 1000000,
                         strstr(path, "cilium") ? ". With Cilium, set cni.exclusive=false" : "");
                log_warn("CNI config fight: %s", msg);
                post_event(a, "CNIConfigConflict", msg);
        }
}

static void fight_over_check(struct agent *a) {
        uint64_t last = a->rival_ts[RIVAL_THRESHOLD - 1];
        if (a->fighting && now_usec() - last > RIVAL_WINDOW_USEC) {
                a->fighting = false;
                log_info("no rewrite of %s by another writer for %llu s: the fight is over", install_conf_path(a->inst),
                         RIVAL_WINDOW_USEC / 1000000);
        }
}

/* Waits on a fresh watch until something changes (§4.9 sleepWatchInstall). Ready while it waits.
 * Unlike Istio, a change that leaves our install valid (another CNI touching its own file, a
 * rewrite that kept our entry) does not drop readiness: only a broken install does. Returns 0 to
 * run another pass, -ECANCELED on SIGTERM. */
static int sleep_watch(struct agent *a, bool force_poll, bool *said_polling) {
        _cleanup_strv_free_ char **paths = NULL;
        struct watch *w = NULL;
        bool polling = false, valid = false, rival = false;
        char why[512] = "";
        int r;

        r = install_watch_paths(a->inst, &paths);
        if (r < 0)
                return r;
        r = watch_new(paths, force_poll, &w, &polling, why, sizeof why);
        if (r < 0)
                return r;
        metrics_gauge_set(a->m, "cnibox_install_inotify_available", NULL, polling ? 0 : 1);
        if (polling && !*said_polling)
                log_warn("inotify unavailable (%s; check fs.inotify.max_user_instances and max_user_watches): "
                         "polling the CNI config every %llu ms instead",
                         why, WATCH_POLL_USEC / 1000);
        else if (!polling && *said_polling)
                log_info("inotify available again");
        *said_polling = polling;
        /* Re-check after the watch exists, so nothing between the pass and the watch is missed. */
        r = install_check(a->inst, &valid, &rival, why, sizeof why);
        if (rival)
                note_rival(a);
        if (r < 0 || !valid) {
                set_ready(a, false);
                watch_free(w);
                return r < 0 ? r : 0;
        }
        if (!atomic_load(&a->ready)) {
                log_info("ready: istio-cni is installed in %s; watching %zu paths%s", install_conf_path(a->inst),
                         strv_length(paths), polling ? " (polling)" : "");
                set_ready(a, true);
                metrics_counter_add(a->m, "istio_cni_installs_total", "result=\"SUCCESS\"", 1);
        }
        for (;;) {
                r = watch_wait(w, stop_fd, RESYNC_USEC);
                fight_over_check(a);
                if (r != 0)
                        break;
                /* Periodic resync: the safety net for a missed event. */
                r = install_check(a->inst, &valid, &rival, why, sizeof why);
                if (r < 0 || !valid || rival)
                        break;
        }
        watch_free(w);
        if (r == -ECANCELED)
                return r;
        /* Something changed: if it broke the install, say so and stop being ready until repaired. */
        if (install_check(a->inst, &valid, &rival, why, sizeof why) >= 0) {
                if (rival)
                        note_rival(a);
                if (!valid) {
                        set_ready(a, false);
                        log_info("reinstalling: %s", why);
                }
        }
        return r < 0 ? r : 0;
}

static int run(struct agent *a, const char *run_dir, bool force_poll) {
        uint64_t backoff = 0;
        bool said_polling = false;
        char last_err[1024] = "";

        while (!stopping) {
                enum install_result res;
                char err[1024] = "";
                uint64_t t0 = now_usec();
                int r;

                throttle(a);
                if (stopping)
                        break;
                start_log_socket(a, run_dir);
                r = install_all(a->inst, &res, err, sizeof err);
                metrics_histogram_observe(a->m, "cnibox_install_pass_duration_seconds", NULL,
                                          (double)(now_usec() - t0) / 1e6);
                if (r < 0)
                        set_ready(a, false);
                if (r == -EAGAIN) {
                        /* Waiting for a primary config (§4.5): any conf dir event, or a resync. */
                        _cleanup_strv_free_ char **paths = NULL;
                        struct watch *w = NULL;
                        bool polling;
                        if (!streq(err, last_err))
                                log_info("%s", err);
                        snprintf(last_err, sizeof last_err, "%s", err);
                        if (install_watch_paths(a->inst, &paths) < 0 ||
                            watch_new(paths, force_poll, &w, &polling, NULL, 0) < 0) {
                                sleep_stop(WATCH_POLL_USEC);
                                continue;
                        }
                        r = watch_wait(w, stop_fd, RESYNC_USEC);
                        watch_free(w);
                        continue;
                }
                if (r < 0) {
                        char labels[64];
                        snprintf(labels, sizeof labels, "result=\"%s\"", install_result_name(res));
                        metrics_counter_add(a->m, "istio_cni_installs_total", labels, 1);
                        backoff = MIN(RETRY_MAX_USEC, MAX(1000000ULL, backoff * 2));
                        if (!streq(err, last_err))
                                log_error("install failed (%s): %s; retrying in %llu s, not ready meanwhile",
                                          install_result_name(res), err, (unsigned long long)(backoff / 1000000));
                        snprintf(last_err, sizeof last_err, "%s", err);
                        sleep_stop(backoff);
                        continue;
                }
                if (last_err[0])
                        log_info("install succeeded after earlier failures");
                last_err[0] = 0;
                backoff = 0;
                r = sleep_watch(a, force_poll, &said_polling);
                if (r == -ECANCELED)
                        break;
                /* A rotated token must reach the plugin within a second: not behind the throttle. */
                if (r == 0 && install_kubeconfig(a->inst, err, sizeof err) < 0)
                        log_warn("cannot refresh the kubeconfig: %s (retrying in the next pass)", err);
                if (r < 0) {
                        log_error("watch failed: %s", strerror(-r));
                        sleep_stop(WATCH_POLL_USEC);
                }
        }
        return 0;
}

/* SIGTERM: uninstall or restart? Then clean up as Istio does, or leave everything in place. */
static void stop_and_clean(struct agent *a) {
        enum upgrade_verdict v = UPGRADE_REMOVE;
        char why[1024] = "no in-cluster API credentials: cannot ask the DaemonSet, removing the plugin as Istio does";
        _cleanup_free_ char *ns_file = NULL;
        const char *ns = a->pod_ns;
        char err[1024] = "";

        set_ready(a, false);
        if ((!ns || !*ns) && asprintf(&ns_file, "%s/namespace", INSTALL_SA_DIR) >= 0) {
                char *content = NULL;
                size_t len = 0;
                if (fileio_read_file(ns_file, 4096, &content, &len) == 0) {
                        content[strcspn(content, "\r\n")] = 0;
                        free(ns_file);
                        ns_file = content;
                        ns = content;
                }
        }
        if (a->have_kc) {
                struct k8s_client *c = NULL;
                if (new_client(&a->kc, STOP_DECIDE_USEC / 2, STOP_DECIDE_USEC, &c) < 0)
                        snprintf(why, sizeof why, "cannot build an API client: keeping the plugin");
                v = c ? upgrade_decide(c, ns, a->node, why, sizeof why) : UPGRADE_KEEP;
                k8s_client_free(c);
        }
        log_info("terminating: %s", why);
        if (v == UPGRADE_KEEP)
                return;
        if (install_cleanup(a->inst, err, sizeof err) < 0)
                log_error("cleanup failed: %s", err);
        else
                log_info("cleanup done");
}

static int split_namespaces(const char *s, char ***ret, size_t *ret_n) {
        _cleanup_free_ char *copy = strdup(s ? s : "");
        char **l = calloc(1, sizeof(char *)), *save = NULL;
        size_t n = 0;

        if (!copy || !l)
                return free(l), -ENOMEM;
        for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                char *e = tok + strlen(tok), **nl;
                while (isspace((unsigned char)*tok))
                        tok++;
                while (e > tok && isspace((unsigned char)e[-1]))
                        *--e = 0;
                if (!*tok)
                        continue;
                nl = realloc(l, (n + 2) * sizeof(char *));
                if (!nl)
                        return strv_free(l), -ENOMEM;
                l = nl;
                if (!(l[n] = strdup(tok)))
                        return strv_free(l), -ENOMEM;
                l[++n] = NULL;
        }
        *ret = l;
        *ret_n = n;
        return 0;
}

/* AMBIENT_ENABLEMENT_SELECTOR (YAML, as the chart renders it) → the JSON array of §4.6. */
static int enablement_selectors(char **ret) {
        const char *v = getenv("AMBIENT_ENABLEMENT_SELECTOR");
        cJSON *j = NULL;
        char e[256] = "";
        int r;

        *ret = NULL;
        if (!v || !*v)
                return 0;
        r = kubeconfig_yaml_parse(v, strlen(v), &j, e, sizeof e);
        if (r < 0 || (!cJSON_IsArray(j) && !cJSON_IsNull(j))) {
                log_error("invalid AMBIENT_ENABLEMENT_SELECTOR: %s", r < 0 ? e : "not a list of selectors");
                cJSON_Delete(j);
                return -EINVAL;
        }
        *ret = cJSON_IsNull(j) ? NULL : cJSON_PrintUnformatted(j);
        cJSON_Delete(j);
        return 0;
}

int install_cni_main(int argc, char **argv) {
        struct agent a = { .log_sock_fd_peek = -1, .emit_lock = PTHREAD_MUTEX_INITIALIZER };
        struct install_config cfg = { 0 };
        enum log_level agent_lvl, plugin_lvl;
        bool chained, group_read, skip_tls, ambient, ambient_retry, repair, native_nft, force_poll, b;
        long long kc_mode, mon_port, ll;
        _cleanup_strv_free_ char **excl = NULL;
        _cleanup_free_ char *selectors = NULL;
        size_t n_excl = 0;
        char e[512] = "";
        int r;

        log_setup("install-cni", STDOUT_FILENO, LOG_LEVEL_INFO, false);
        /* First of all: a SIGTERM from here on is a clean stop, never a kill mid-write. */
        stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (stop_fd < 0)
                return log_errno(-errno, "eventfd"), EXIT_RUNTIME;
        struct sigaction sa = { .sa_handler = on_signal };
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);
        r = parse_argv(argc, argv);
        if (r <= 0)
                return r == 0 ? EXIT_OK : EXIT_RUNTIME;
        if (opt_bool(O_LOG_JSON, &a.json) < 0 || parse_scopes(opts[O_LOG_OUTPUT].value, &agent_lvl, &plugin_lvl) < 0)
                return EXIT_RUNTIME;
        log_setup("install-cni", STDOUT_FILENO, agent_lvl, a.json);
        if (opt_bool(O_CHAINED, &chained) < 0 || opt_bool(O_GROUP_READ, &group_read) < 0 ||
            opt_bool(O_SKIP_TLS, &skip_tls) < 0 || opt_bool(O_AMBIENT, &ambient) < 0 ||
            opt_bool(O_AMBIENT_RETRY, &ambient_retry) < 0 || opt_bool(O_REPAIR, &repair) < 0 ||
            opt_bool(O_REPAIR_DELETE, &b) < 0 || opt_bool(O_REPAIR_LABEL, &b) < 0 || opt_bool(O_OWNED, &b) < 0 ||
            opt_bool(O_POLL, &force_poll) < 0 || env_bool("NATIVE_NFTABLES", &native_nft) < 0 ||
            env_bool("REPAIR_REPAIR_PODS", &b) < 0 || opt_int(O_KC_MODE, 0, 07777, &kc_mode) < 0 ||
            opt_int(O_MON_PORT, INT_MIN, 65535, &mon_port) < 0 || opt_int(O_REPAIR_CODE, 0, 255, &ll) < 0 ||
            opt_int(O_LOG_ROT_AGE, 0, INT_MAX, &ll) < 0 || opt_int(O_LOG_ROT_BACKUPS, 0, INT_MAX, &ll) < 0 ||
            opt_int(O_LOG_ROT_SIZE, 0, LLONG_MAX, &ll) < 0)
                return EXIT_RUNTIME;
        if (ambient) {
                log_error("AMBIENT_ENABLED=true (%s): ambient mode is not supported by cnibox; use Istio's "
                          "install-cni for ambient",
                          opts[O_AMBIENT].from);
                return EXIT_RUNTIME;
        }
        if (!*opts[O_NET_DIR].value || !*opts[O_RUN_DIR].value) {
                log_error("%s must not be empty", !*opts[O_NET_DIR].value ? opts[O_NET_DIR].from : opts[O_RUN_DIR].from);
                return EXIT_RUNTIME;
        }
        if (strchr(opts[O_CONF_NAME].value, '/')) {
                log_error("invalid CNI config name \"%s\" for %s: a file name, not a path", opts[O_CONF_NAME].value,
                          opts[O_CONF_NAME].from);
                return EXIT_RUNTIME;
        }
        if (!streq(opts[O_LOG_TARGET].value, "stdout") && !streq(opts[O_LOG_TARGET].value, "stderr"))
                log_warn("--log_target=%s is not supported: logging to stdout", opts[O_LOG_TARGET].value);
        for (size_t i = 0; i < ELEMENTSOF(legacy_env); i++)
                if (getenv(legacy_env[i]))
                        log_info("%s is a pre-1.23 setting that Istio no longer reads: ignored", legacy_env[i]);
        if (*opts[O_NET_CONFIG].value || *opts[O_NET_CONFIG_FILE].value)
                log_info("CNI_NETWORK_CONFIG / CNI_NETWORK_CONFIG_FILE are registered but unused since Istio 1.23: "
                         "the plugin entry is built from the settings");
        if (split_namespaces(getenv("EXCLUDE_NAMESPACES"), &excl, &n_excl) < 0 || enablement_selectors(&selectors) < 0)
                return EXIT_RUNTIME;

        a.node = getenv("NODE_NAME");
        if (!a.node || !*a.node)
                a.node = *opts[O_REPAIR_NODE].value ? opts[O_REPAIR_NODE].value : NULL;
        a.pod_name = getenv("POD_NAME");
        a.pod_ns = getenv("POD_NAMESPACE");
        cfg = (struct install_config){
                .net_dir = opts[O_NET_DIR].value,
                .conf_name = opts[O_CONF_NAME].value,
                .chained = chained,
                .run_dir = opts[O_RUN_DIR].value,
                .kubeconfig_mode = (mode_t)kc_mode,
                .conf_group_read = group_read,
                .kube_ca_file = opts[O_CA_FILE].value,
                .skip_tls_verify = skip_tls,
                .bin_source_dir = opts[O_BIN_SRC].value,
                .bin_target_dir = INSTALL_BIN_TARGET_DIR,
                .sa_dir = INSTALL_SA_DIR,
                .k8s_host = getenv("KUBERNETES_SERVICE_HOST"),
                .k8s_port = getenv("KUBERNETES_SERVICE_PORT"),
                .k8s_protocol = getenv("KUBERNETES_SERVICE_PROTOCOL"),
                .entry = {
                        .plugin_log_level = level_names[plugin_lvl],
                        .cni_agent_run_dir = opts[O_RUN_DIR].value,
                        .ambient_enabled = false,
                        .enablement_selectors_json = selectors,
                        .exclude_namespaces = excl,
                        .n_exclude_namespaces = n_excl,
                        .pod_namespace = a.pod_ns ? a.pod_ns : "",
                        .native_nftables = native_nft,
                        .enable_ambient_detection_retry = ambient_retry,
                },
        };
        if (cfg.k8s_host && *cfg.k8s_host) {
                r = kubeconfig_in_cluster(INSTALL_SA_DIR, &a.kc, e, sizeof e);
                if (r < 0)
                        log_warn("in-cluster API credentials unusable: %s (no pod cache, no upgrade check)",
                                 e[0] ? e : strerror(-r));
                a.have_kc = r >= 0;
        }


        if (metrics_new(&a.m) < 0 || declare_metrics(a.m) < 0 ||
            install_new(&cfg, lib_log, NULL, &a.inst) < 0) {
                log_error("out of memory");
                r = -ENOMEM;
                goto out;
        }
        /* Listeners first: a port conflict fails before anything on the node is touched. */
        r = start_tcp(HEALTH_PORT, health_handler, &a, &a.health);
        if (r < 0) {
                log_error("cannot serve /readyz on :%d: %s", HEALTH_PORT, strerror(-r));
                goto out;
        }
        if (mon_port > 0) {
                r = start_tcp((uint16_t)mon_port, metrics_handler, &a, &a.mon);
                if (r < 0) {
                        log_error("cannot serve /metrics on :%lld: %s", mon_port, strerror(-r));
                        goto out;
                }
        }
        log_info("install-cni " CNIBOX_VERSION ": conf dir %s (%s%s), run dir %s, plugin log level %s",
                 cfg.net_dir, chained ? "chained" : "standalone",
                 *cfg.conf_name ? ", CNI_CONF_NAME set" : ", primary auto-detected", cfg.run_dir,
                 level_names[plugin_lvl]);
        repair_configure(&a);
        start_podcache(&a, cfg.run_dir);
        a.force_poll = force_poll;
        r = run(&a, cfg.run_dir, force_poll);
        /* The chart's grace period is 30 s: whatever hangs after the cleanup must not hold it. */
        stop_and_clean(&a);
        signal(SIGALRM, on_alarm);
        alarm(10);
out:
        a.health = httpd_stop(a.health);
        a.mon = httpd_stop(a.mon);
        if (a.logsrv) {
                (void)httpd_unlink_unix(a.log_sock_path, a.log_sock_fd_peek);
                a.logsrv = httpd_stop(a.logsrv);
        }
        a.pca = podcache_agent_stop(a.pca); /* first: its watch feeds the repair controller */
        a.repair = repair_controller_stop(a.repair);
        k8s_client_free(a.repair_client);
        repair_config_done(&a.rcfg);
        podcache_free(a.pc);
        k8s_client_free(a.cache_watch);
        k8s_client_free(a.cache_live);
        if (a.have_kc)
                kubeconfig_done(&a.kc);
        install_free(a.inst);
        metrics_free(a.m);
        free(a.log_sock_path);
        if (stop_fd >= 0)
                close(stop_fd);
        log_info("stopped");
        return r < 0 ? EXIT_RUNTIME : EXIT_OK;
}
