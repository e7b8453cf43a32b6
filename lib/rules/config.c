/* SPDX-License-Identifier: Apache-2.0 */
/* config.c: istio-iptables' flags and env vars → typed struct capture_config.
 * Spec: istio-iptables.md §2.1–§2.5 (flags, env binding, pflag syntax, lists, derived inputs), §1.
 * Parsing happens in two phases: collect the raw strings with Istio's precedence, then convert
 * each into typed values; every rejected value names its flag (or env var) and the value. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/config.h"
#include "base/env.h"
#include "base/fileio.h"
#include "base/idname.h"
#include "base/log.h"
#include "base/macro.h"

enum flag_type { FT_STRING, FT_BOOL, FT_UINT16, FT_DURATION, FT_INT, FT_IGNORED_BOOL, FT_IGNORED_STRING };

enum flag_id {
        F_ENVOY_PORT, F_INBOUND_CAPTURE_PORT, F_INBOUND_TUNNEL_PORT, F_PROXY_UID, F_PROXY_GID, F_MODE,
        F_INBOUND_PORTS, F_LOCAL_EXCLUDE_PORTS, F_EXCLUDE_INTERFACES, F_SERVICE_CIDR, F_SERVICE_EXCLUDE_CIDR,
        F_OUTBOUND_PORTS, F_OUTBOUND_PORTS_EXCLUDE, F_KUBE_VIRT_INTERFACES, F_TPROXY_MARK, F_TPROXY_ROUTE_TABLE,
        F_DRY_RUN, F_PROBE_PORT, F_PROBE_TIMEOUT, F_SKIP_RULE_APPLY, F_RUN_VALIDATION, F_REDIRECT_DNS,
        F_DROP_INVALID, F_DUAL_STACK, F_CAPTURE_ALL_DNS, F_NETWORK_NAMESPACE, F_CNI_MODE, F_RECONCILE,
        F_CLEANUP_ONLY, F_FORCE_APPLY, F_NATIVE_NFTABLES, F_FORCE_IPTABLES_BINARY, F_HELP,
        F_LOG_OUTPUT_LEVEL, F_LOG_AS_JSON, F_LOG_TARGET, F_LOG_STACKTRACE_LEVEL, F_LOG_CALLER, F_VKLOG,
        F_RESTORE_FORMAT, F_TRACE_LOGGING,
        F_MAX,
};

struct flag {
        const char *name;
        char shorthand;
        enum flag_type type;
        const char *env;
        const char *alt_env; /* applied after env, so it wins (§2.3) */
};

/* Istio's flags (§2.1), the inherited pilot-agent logging flags, and the historical ones (§2.2). */
static const struct flag flags[F_MAX] = {
        [F_ENVOY_PORT] = { "envoy-port", 'p', FT_STRING, NULL, NULL }, /* no env binding (quirk 17) */
        [F_INBOUND_CAPTURE_PORT] = { "inbound-capture-port", 'z', FT_STRING, "INBOUND_CAPTURE_PORT", NULL },
        [F_INBOUND_TUNNEL_PORT] = { "inbound-tunnel-port", 'e', FT_STRING, "INBOUND_TUNNEL_PORT", NULL },
        [F_PROXY_UID] = { "proxy-uid", 'u', FT_STRING, "PROXY_UID", NULL },
        [F_PROXY_GID] = { "proxy-gid", 'g', FT_STRING, "PROXY_GID", NULL },
        [F_MODE] = { "istio-inbound-interception-mode", 'm', FT_STRING, "ISTIO_INBOUND_INTERCEPTION_MODE", NULL },
        [F_INBOUND_PORTS] = { "istio-inbound-ports", 'b', FT_STRING, "ISTIO_INBOUND_PORTS", NULL },
        [F_LOCAL_EXCLUDE_PORTS] = { "istio-local-exclude-ports", 'd', FT_STRING, "ISTIO_LOCAL_EXCLUDE_PORTS", NULL },
        [F_EXCLUDE_INTERFACES] = { "istio-exclude-interfaces", 'c', FT_STRING, "ISTIO_EXCLUDE_INTERFACES", NULL },
        [F_SERVICE_CIDR] = { "istio-service-cidr", 'i', FT_STRING, "ISTIO_SERVICE_CIDR", NULL },
        [F_SERVICE_EXCLUDE_CIDR] = { "istio-service-exclude-cidr", 'x', FT_STRING, "ISTIO_SERVICE_EXCLUDE_CIDR", NULL },
        [F_OUTBOUND_PORTS] = { "istio-outbound-ports", 'q', FT_STRING, "ISTIO_OUTBOUND_PORTS", NULL },
        [F_OUTBOUND_PORTS_EXCLUDE] = { "istio-local-outbound-ports-exclude", 'o', FT_STRING,
                                       "ISTIO_LOCAL_OUTBOUND_PORTS_EXCLUDE", NULL },
        [F_KUBE_VIRT_INTERFACES] = { "kube-virt-interfaces", 'k', FT_STRING, "KUBE_VIRT_INTERFACES", NULL },
        [F_TPROXY_MARK] = { "istio-inbound-tproxy-mark", 't', FT_STRING, "ISTIO_INBOUND_TPROXY_MARK", NULL },
        [F_TPROXY_ROUTE_TABLE] = { "istio-inbound-tproxy-route-table", 'r', FT_STRING,
                                   "ISTIO_INBOUND_TPROXY_ROUTE_TABLE", NULL },
        [F_DRY_RUN] = { "dry-run", 'n', FT_BOOL, "DRY_RUN", NULL },
        [F_PROBE_PORT] = { "iptables-probe-port", 0, FT_UINT16, "IPTABLES_PROBE_PORT", NULL },
        [F_PROBE_TIMEOUT] = { "probe-timeout", 0, FT_DURATION, "PROBE_TIMEOUT", NULL },
        [F_SKIP_RULE_APPLY] = { "skip-rule-apply", 0, FT_BOOL, "SKIP_RULE_APPLY", NULL },
        [F_RUN_VALIDATION] = { "run-validation", 0, FT_BOOL, "RUN_VALIDATION", NULL },
        [F_REDIRECT_DNS] = { "redirect-dns", 0, FT_BOOL, "REDIRECT_DNS", "ISTIO_META_DNS_CAPTURE" },
        [F_DROP_INVALID] = { "drop-invalid", 0, FT_BOOL, "DROP_INVALID", "INVALID_DROP" },
        [F_DUAL_STACK] = { "dual-stack", 0, FT_BOOL, "DUAL_STACK", "ISTIO_DUAL_STACK" },
        [F_CAPTURE_ALL_DNS] = { "capture-all-dns", 0, FT_BOOL, "CAPTURE_ALL_DNS", NULL },
        [F_NETWORK_NAMESPACE] = { "network-namespace", 0, FT_STRING, "NETWORK_NAMESPACE", NULL },
        [F_CNI_MODE] = { "cni-mode", 0, FT_BOOL, "CNI_MODE", NULL },
        [F_RECONCILE] = { "reconcile", 0, FT_BOOL, "RECONCILE", NULL },
        [F_CLEANUP_ONLY] = { "cleanup-only", 0, FT_BOOL, "CLEANUP_ONLY", NULL },
        [F_FORCE_APPLY] = { "force-apply", 0, FT_BOOL, "FORCE_APPLY", NULL },
        [F_NATIVE_NFTABLES] = { "native-nftables", 0, FT_BOOL, "NATIVE_NFTABLES", NULL },
        [F_FORCE_IPTABLES_BINARY] = { "force-iptables-binary", 0, FT_STRING, "FORCE_IPTABLES_BINARY", NULL },
        [F_HELP] = { "help", 'h', FT_BOOL, NULL, NULL },
        [F_LOG_OUTPUT_LEVEL] = { "log_output_level", 0, FT_STRING, NULL, NULL },
        [F_LOG_AS_JSON] = { "log_as_json", 0, FT_BOOL, NULL, NULL },
        [F_LOG_TARGET] = { "log_target", 0, FT_IGNORED_STRING, NULL, NULL },
        [F_LOG_STACKTRACE_LEVEL] = { "log_stacktrace_level", 0, FT_IGNORED_STRING, NULL, NULL },
        [F_LOG_CALLER] = { "log_caller", 0, FT_IGNORED_STRING, NULL, NULL },
        [F_VKLOG] = { "vklog", 0, FT_INT, NULL, NULL },
        [F_RESTORE_FORMAT] = { "restore-format", 'f', FT_IGNORED_BOOL, NULL, NULL },
        [F_TRACE_LOGGING] = { "iptables-trace-logging", 0, FT_IGNORED_BOOL, NULL, NULL },
};

static int fail(struct config_error *err, enum config_error_kind kind, const char *fmt, ...) _printf_(3, 4);
static int fail(struct config_error *err, enum config_error_kind kind, const char *fmt, ...) {
        va_list ap;
        if (err) {
                err->kind = kind;
                va_start(ap, fmt);
                vsnprintf(err->msg, sizeof err->msg, fmt, ap);
                va_end(ap);
        }
        return -EINVAL;
}

void config_init(struct capture_config *c) {
        *c = (struct capture_config){
                .proxy_port = 15001,
                .inbound_capture_port = 15006,
                .inbound_tunnel_port = 15008,
                .tproxy_mark = 1337,
                .tproxy_route_table = 133,
                .probe_port = 15002,
                .probe_timeout_usec = 5 * 1000000ULL,
                .owner_groups_all = true,
                .log_level = LOG_LEVEL_INFO,
        };
        (void)netaddr_parse_cidr("127.0.0.1/32", &c->loopback4);
}

void config_ports_free(struct config_ports *p) {
        free(p->v);
        *p = (struct config_ports){};
}

void config_owners_free(struct config_owners *o) {
        free(o->v);
        *o = (struct config_owners){};
}

static void ifaces_free(struct config_ifaces *i) {
        free(i->v);
        *i = (struct config_ifaces){};
}

static void cidrs_free(struct config_cidrs *c) {
        free(c->v);
        *c = (struct config_cidrs){};
}

void config_done(struct capture_config *c) {
        config_owners_free(&c->proxy_uid);
        config_owners_free(&c->proxy_gid);
        config_ports_free(&c->inbound_ports);
        config_ports_free(&c->inbound_exclude_ports);
        ifaces_free(&c->exclude_ifaces);
        ifaces_free(&c->virt_ifaces);
        for (int f = 0; f < 2; f++) {
                cidrs_free(&c->include[f]);
                cidrs_free(&c->exclude[f]);
        }
        config_ports_free(&c->outbound_ports);
        config_ports_free(&c->outbound_exclude_ports);
        config_owners_free(&c->owner_groups_include);
        config_owners_free(&c->owner_groups_exclude);
        free(c->network_namespace);
        free(c->dns4.v);
        free(c->dns6.v);
        config_init(c);
}

/* --- scalar parsers ------------------------------------------------------------------------ */

static int parse_decimal_u64(const char *s, uint64_t max, uint64_t *ret) {
        uint64_t v = 0;
        if (!s || !*s || strlen(s) > 20)
                return -EINVAL;
        for (const char *p = s; *p; p++) {
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                if (v > (UINT64_MAX - 9) / 10)
                        return -ERANGE;
                v = v * 10 + (uint64_t)(*p - '0');
        }
        if (v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

int config_parse_port(const char *s, uint16_t *ret) {
        uint64_t v;
        int r = parse_decimal_u64(s, 65535, &v);
        if (r < 0)
                return r;
        *ret = (uint16_t)v;
        return 0;
}

int config_parse_uint32(const char *s, uint32_t *ret) {
        uint64_t v;
        int r = parse_decimal_u64(s, UINT32_MAX, &v);
        if (r < 0)
                return r;
        *ret = (uint32_t)v;
        return 0;
}

/* Go strconv.ParseBool. */
int config_parse_bool(const char *s, bool *ret) {
        static const char *const t[] = { "1", "t", "T", "TRUE", "true", "True" };
        static const char *const f[] = { "0", "f", "F", "FALSE", "false", "False" };
        for (size_t i = 0; i < ELEMENTSOF(t); i++) {
                if (streq(s, t[i])) {
                        *ret = true;
                        return 0;
                }
                if (streq(s, f[i])) {
                        *ret = false;
                        return 0;
                }
        }
        return -EINVAL;
}

/* Go strconv.ParseUint(s, 0, 16): 0x/0o/0b prefixes, a leading 0 means octal, and '_' may
 * separate digits (or follow a prefix), as in Go integer literals. */
static int parse_uint16_base0(const char *s, uint16_t *ret) {
        unsigned base = 10;
        uint64_t v = 0;
        bool digit = false, underscore_ok = false;
        const char *p = s;

        if (!*p)
                return -EINVAL;
        if (p[0] == '0' && p[1]) {
                underscore_ok = true;
                switch (p[1]) {
                case 'x': case 'X': base = 16; p += 2; break;
                case 'o': case 'O': base = 8; p += 2; break;
                case 'b': case 'B': base = 2; p += 2; break;
                default: base = 8; p += 1; digit = true; break;
                }
        }
        for (; *p; p++) {
                unsigned d;
                if (*p == '_') {
                        if (!underscore_ok || !p[1] || p[1] == '_')
                                return -EINVAL;
                        underscore_ok = false;
                        continue;
                }
                if (*p >= '0' && *p <= '9')
                        d = (unsigned)(*p - '0');
                else if (*p >= 'a' && *p <= 'f')
                        d = (unsigned)(*p - 'a' + 10);
                else if (*p >= 'A' && *p <= 'F')
                        d = (unsigned)(*p - 'A' + 10);
                else
                        return -EINVAL;
                if (d >= base)
                        return -EINVAL;
                v = v * base + d;
                if (v > 65535)
                        return -ERANGE;
                digit = true;
                underscore_ok = true;
        }
        if (!digit)
                return -EINVAL;
        *ret = (uint16_t)v;
        return 0;
}

/* Go time.ParseDuration. Negative durations are rejected: a deadline in the past is never meant. */
int config_parse_duration_usec(const char *s, uint64_t *ret) {
        static const struct { const char *unit; double usec; } units[] = {
                { "ns", 0.001 }, { "us", 1 }, { "\xc2\xb5s", 1 }, { "\xce\xbcs", 1 }, { "ms", 1000 },
                { "s", 1e6 }, { "m", 60e6 }, { "h", 3600e6 },
        };
        const char *p = s;
        double total = 0;

        if (!s || !*s)
                return -EINVAL;
        if (*p == '+')
                p++;
        else if (*p == '-')
                return -ERANGE;
        if (streq(p, "0")) {
                *ret = 0;
                return 0;
        }
        if (!*p)
                return -EINVAL;
        while (*p) {
                /* [0-9]*(.[0-9]*)? — no sign, exponent, hex or inf (strtod would take them). */
                const char *start = p;
                double v = 0, scale = 1;
                bool digits = false;
                for (; isdigit((unsigned char)*p); p++, digits = true)
                        v = v * 10 + (*p - '0');
                if (*p == '.')
                        for (p++; isdigit((unsigned char)*p); p++, digits = true)
                                v += (*p - '0') * (scale /= 10);
                if (!digits || p == start)
                        return -EINVAL;
                size_t best = 0;
                double mult = 0;
                for (size_t i = 0; i < ELEMENTSOF(units); i++) {
                        size_t n = strlen(units[i].unit);
                        if (strncmp(p, units[i].unit, n) == 0 && n > best) {
                                best = n;
                                mult = units[i].usec;
                        }
                }
                if (!best)
                        return -EINVAL;
                p += best;
                total += v * mult;
                if (total > 1e15)
                        return -ERANGE;
        }
        *ret = (uint64_t)(total + 0.5);
        return 0;
}

/* --- list parsers -------------------------------------------------------------------------- */

/* Istio's split: on ',', empty items dropped, no whitespace trimming (§2.5). Calls fn per item. */
static int split_list(const char *s, size_t max, int (*fn)(const char *item, void *ud), void *ud, const char **ret_bad) {
        size_t count = 0, i = 0, len = strlen(s ? s : "");
        char item[4096];

        /* Walk the caller's string by offsets (no strtok copy), so a bad item can be reported
         * as a pointer into it. */
        while (i <= len && s) {
                size_t n = strcspn(s + i, ",");
                if (n > 0) {
                        int r;
                        if (++count > max)
                                return -E2BIG;
                        if (n >= sizeof item)
                                r = -EINVAL;
                        else {
                                memcpy(item, s + i, n);
                                item[n] = 0;
                                r = fn(item, ud);
                        }
                        if (r < 0) {
                                if (ret_bad)
                                        *ret_bad = s + i;
                                return r;
                        }
                }
                i += n + 1;
        }
        return 0;
}

static int grow(void **v, size_t n, size_t elem) {
        void *nv;
        if (n & (n - 1) && n > 8)
                return 0; /* capacity is the next power of two >= 8 */
        nv = realloc(*v, (n < 8 ? 8 : n * 2) * elem);
        if (!nv)
                return -ENOMEM;
        *v = nv;
        return 0;
}

static int add_port(const char *item, void *ud) {
        struct config_ports *p = ud;
        uint16_t port;
        int r = config_parse_port(item, &port);
        if (r < 0)
                return -EINVAL;
        r = grow((void **)&p->v, p->n, sizeof *p->v);
        if (r < 0)
                return r;
        p->v[p->n++] = port;
        return 0;
}

int config_parse_port_list(const char *s, struct config_ports *ret) {
        return config_parse_port_list_full(s, ret, NULL);
}

int config_parse_port_list_full(const char *s, struct config_ports *ret, const char **ret_bad) {
        struct config_ports p = {};
        int r = split_list(s, CONFIG_MAX_LIST, add_port, &p, ret_bad);
        if (r < 0) {
                config_ports_free(&p);
                return r;
        }
        config_ports_free(ret);
        *ret = p;
        return 0;
}

/* Linux interface names (dev_valid_name) restricted to what iptables-restore and nft accept
 * unquoted; a trailing '+' is iptables' prefix wildcard. */
int config_parse_iface(const char *s, char ret[IFNAMSIZ]) {
        size_t n = strlen(s);
        if (n == 0 || n >= IFNAMSIZ || streq(s, ".") || streq(s, ".."))
                return -EINVAL;
        if (s[0] == '-' || s[0] == '+')
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                char ch = s[i];
                if (isalnum((unsigned char)ch) || ch == '_' || ch == '-' || ch == '.')
                        continue;
                if (ch == '+' && i == n - 1)
                        continue;
                return -EINVAL;
        }
        memcpy(ret, s, n + 1);
        return 0;
}

static int add_iface(const char *item, void *ud) {
        struct config_ifaces *l = ud;
        char name[IFNAMSIZ];
        int r = config_parse_iface(item, name);
        if (r < 0)
                return r;
        r = grow((void **)&l->v, l->n, sizeof *l->v);
        if (r < 0)
                return r;
        memcpy(l->v[l->n++], name, IFNAMSIZ);
        return 0;
}

int config_parse_iface_list(const char *s, struct config_ifaces *ret) {
        struct config_ifaces l = {};
        int r = split_list(s, CONFIG_MAX_LIST, add_iface, &l, NULL);
        if (r < 0) {
                ifaces_free(&l);
                return r;
        }
        ifaces_free(ret);
        *ret = l;
        return 0;
}

static int add_cidr(const char *item, void *ud) {
        struct config_cidrs *two = ud;
        struct netaddr_cidr c;
        struct config_cidrs *l;
        int r = netaddr_parse_cidr(item, &c);
        if (r < 0)
                return r;
        /* IPv4-mapped IPv6 prefixes count as IPv6 (§2.5). */
        l = &two[c.ip.family == AF_INET ? 0 : 1];
        r = grow((void **)&l->v, l->n, sizeof *l->v);
        if (r < 0)
                return r;
        l->v[l->n++] = c;
        return 0;
}

int config_parse_cidr_list(const char *s, bool allow_wildcard, bool *ret_all, struct config_cidrs ret[2],
                           const char **ret_bad) {
        struct config_cidrs two[2] = {};
        int r;

        if (streq(s, "*")) {
                if (!allow_wildcard) {
                        if (ret_bad)
                                *ret_bad = s;
                        return -EINVAL;
                }
                if (ret_all)
                        *ret_all = true;
                return 0;
        }
        r = split_list(s, CONFIG_MAX_CIDRS, add_cidr, two, ret_bad);
        if (r < 0) {
                cidrs_free(&two[0]);
                cidrs_free(&two[1]);
                return r;
        }
        for (int f = 0; f < 2; f++) {
                cidrs_free(&ret[f]);
                ret[f] = two[f];
        }
        if (ret_all)
                *ret_all = false;
        return 0;
}

/* A numeric id, or a user/group name (POSIX portable set, as useradd/groupadd accept). */
int config_parse_owner(const char *s, struct config_owner *ret) {
        size_t n = strlen(s);
        uint64_t v;

        if (n == 0 || n > CONFIG_OWNER_NAME_MAX)
                return -EINVAL;
        if (isdigit((unsigned char)s[0])) {
                int r = parse_decimal_u64(s, UINT32_MAX - 1, &v); /* (uid_t)-1 is "no id" */
                if (r < 0)
                        return -EINVAL;
                *ret = (struct config_owner){ .id = (uint32_t)v };
                return 0;
        }
        if (!(isalpha((unsigned char)s[0]) || s[0] == '_'))
                return -EINVAL;
        for (size_t i = 1; i < n; i++) {
                char ch = s[i];
                if (isalnum((unsigned char)ch) || ch == '_' || ch == '-' || ch == '.')
                        continue;
                if (ch == '$' && i == n - 1)
                        continue;
                return -EINVAL;
        }
        *ret = (struct config_owner){ .is_name = true };
        memcpy(ret->name, s, n + 1);
        return 0;
}

static int add_owner(const char *item, void *ud) {
        struct config_owners *l = ud;
        struct config_owner o;
        int r = config_parse_owner(item, &o);
        if (r < 0)
                return r;
        r = grow((void **)&l->v, l->n, sizeof *l->v);
        if (r < 0)
                return r;
        l->v[l->n++] = o;
        return 0;
}

int config_parse_owner_list(const char *s, struct config_owners *ret, const char **ret_bad) {
        struct config_owners l = {};
        int r = split_list(s, CONFIG_MAX_LIST, add_owner, &l, ret_bad);
        if (r < 0) {
                config_owners_free(&l);
                return r;
        }
        config_owners_free(ret);
        *ret = l;
        return 0;
}

const char *config_owner_to_string(const struct config_owner *o, char *buf, size_t size) {
        if (o->is_name)
                snprintf(buf, size, "%s", o->name);
        else
                snprintf(buf, size, "%u", o->id);
        return buf;
}

static int ips_add(struct config_ips *l, const struct netaddr_ip *ip) {
        int r = grow((void **)&l->v, l->n, sizeof *l->v);
        if (r < 0)
                return r;
        l->v[l->n++] = *ip;
        return 0;
}

/* resolv.conf(5): "nameserver ADDR" lines, in file order; '#' and ';' start comments. */
int config_parse_resolv_conf(const char *text, struct config_ips *v4, struct config_ips *v6) {
        const char *p = text;
        int r;

        while (*p) {
                const char *eol = strchrnul(p, '\n');
                char line[512], *save = NULL, *kw, *val;
                size_t n = (size_t)(eol - p);

                if (n >= sizeof line)
                        n = sizeof line - 1;
                memcpy(line, p, n);
                line[n] = 0;
                p = *eol ? eol + 1 : eol;
                kw = strtok_r(line, " \t\r", &save);
                if (!kw || kw[0] == '#' || kw[0] == ';' || !streq(kw, "nameserver"))
                        continue;
                val = strtok_r(NULL, " \t\r", &save);
                if (!val)
                        continue;
                struct netaddr_ip ip;
                if (netaddr_parse_ip(val, &ip) < 0)
                        continue; /* unparsable entries are dropped, as Istio does */
                r = ips_add(ip.family == AF_INET ? v4 : v6, &ip);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* --- command line and environment --------------------------------------------------------- */

struct raw {
        const char *val[F_MAX];
        const char *src[F_MAX]; /* "--flag" or "ENV_VAR": what to name in an error */
        bool cli[F_MAX];
        char srcbuf[F_MAX][64];
};

static int find_long(const char *name, size_t len) {
        for (int i = 0; i < F_MAX; i++)
                if (strlen(flags[i].name) == len && strncmp(flags[i].name, name, len) == 0)
                        return i;
        return -1;
}

static int find_short(char ch) {
        for (int i = 0; i < F_MAX; i++)
                if (flags[i].shorthand == ch)
                        return i;
        return -1;
}

static bool takes_value(int id) {
        return !(flags[id].type == FT_BOOL || flags[id].type == FT_IGNORED_BOOL);
}

static int set_cli(struct raw *raw, int id, const char *val, bool shorthand, struct config_error *err) {
        /* Bool flags given a value must hold a valid bool (pflag: exit 255). */
        if (!takes_value(id) && val) {
                bool b;
                if (config_parse_bool(val, &b) < 0)
                        return fail(err, CONFIG_ERR_CMDLINE, "invalid argument \"%s\" for \"%s%s\" flag: strconv.ParseBool: parsing \"%s\": invalid syntax",
                                    val, shorthand ? "-" : "--", shorthand ? (char[]){ flags[id].shorthand, 0 } : flags[id].name, val);
        }
        raw->val[id] = val ? val : "true";
        raw->cli[id] = true;
        if (flags[id].shorthand)
                snprintf(raw->srcbuf[id], sizeof raw->srcbuf[id], "--%s (-%c)", flags[id].name, flags[id].shorthand);
        else
                snprintf(raw->srcbuf[id], sizeof raw->srcbuf[id], "--%s", flags[id].name);
        raw->src[id] = raw->srcbuf[id];
        return 0;
}

/* pflag syntax (§2.3): --name=v, --name v, -x v, -xv, -x=v, bool shorthands may be grouped,
 * "--" ends flags, positional arguments are accepted and ignored. */
static int parse_argv(struct raw *raw, int argc, char *const *argv, struct config_error *err) {
        for (int i = 1; i < argc; i++) {
                const char *a = argv[i];
                int id, r;

                if (streq(a, "--"))
                        break;
                if (a[0] != '-' || !a[1])
                        continue; /* positional */
                if (a[1] == '-') {
                        const char *name = a + 2, *eq = strchr(name, '=');
                        size_t len = eq ? (size_t)(eq - name) : strlen(name);
                        id = find_long(name, len);
                        if (id < 0)
                                return fail(err, CONFIG_ERR_CMDLINE, "unknown flag: --%.*s", (int)len, name);
                        if (eq)
                                r = set_cli(raw, id, eq + 1, false, err);
                        else if (!takes_value(id))
                                r = set_cli(raw, id, NULL, false, err);
                        else if (i + 1 < argc)
                                r = set_cli(raw, id, argv[++i], false, err);
                        else
                                return fail(err, CONFIG_ERR_CMDLINE, "flag needs an argument: --%s", flags[id].name);
                        if (r < 0)
                                return r;
                        continue;
                }
                for (const char *p = a + 1; *p; p++) {
                        id = find_short(*p);
                        if (id < 0)
                                return fail(err, CONFIG_ERR_CMDLINE, "unknown shorthand flag: '%c' in %s", *p, a);
                        if (!takes_value(id)) {
                                if (p[1] == '=') {
                                        r = set_cli(raw, id, p + 2, true, err);
                                        if (r < 0)
                                                return r;
                                        break;
                                }
                                r = set_cli(raw, id, NULL, true, err);
                                if (r < 0)
                                        return r;
                                continue;
                        }
                        if (p[1] == '=')
                                r = set_cli(raw, id, p + 2, true, err);
                        else if (p[1])
                                r = set_cli(raw, id, p + 1, true, err);
                        else if (i + 1 < argc)
                                r = set_cli(raw, id, argv[++i], true, err);
                        else
                                return fail(err, CONFIG_ERR_CMDLINE, "flag needs an argument: '%c' in %s", *p, a);
                        if (r < 0)
                                return r;
                        break;
                }
        }
        return 0;
}

static void apply_env(struct raw *raw, char *const *envp) {
        for (int id = 0; id < F_MAX; id++) {
                const char *names[2] = { flags[id].env, flags[id].alt_env };
                if (raw->cli[id])
                        continue;
                for (int k = 0; k < 2; k++) {
                        const char *v = names[k] ? env_get(envp, names[k]) : NULL;
                        if (v) {
                                raw->val[id] = v;
                                raw->src[id] = names[k];
                        }
                }
        }
}

/* A bad value from the command line is a cobra error (255); from the environment Istio silently
 * applies a zero value — we reject it instead (docs/istio-iptables.md, DECISION). */
static enum config_error_kind kind_of(const struct raw *raw, int id) {
        return raw->cli[id] ? CONFIG_ERR_CMDLINE : CONFIG_ERR_CONFIG;
}

static int conv_bool(const struct raw *raw, int id, bool *ret, struct config_error *err) {
        if (!raw->val[id])
                return 0;
        if (config_parse_bool(raw->val[id], ret) < 0)
                return fail(err, kind_of(raw, id), "invalid boolean \"%s\" for %s (use true or false)", raw->val[id],
                            raw->src[id]);
        return 0;
}

static int conv_port(const struct raw *raw, int id, uint16_t *ret, struct config_error *err) {
        uint16_t p;
        if (!raw->val[id])
                return 0;
        if (config_parse_port(raw->val[id], &p) < 0 || p == 0)
                return fail(err, CONFIG_ERR_CONFIG, "invalid port \"%s\" for %s: must be a number from 1 to 65535",
                            raw->val[id], raw->src[id]);
        *ret = p;
        return 0;
}

static int conv_port_list(const struct raw *raw, int id, struct config_ports *ret, struct config_error *err) {
        const char *bad = NULL;
        int r;
        if (!raw->val[id])
                return 0;
        r = config_parse_port_list_full(raw->val[id], ret, &bad);
        if (r == -E2BIG)
                return fail(err, CONFIG_ERR_CONFIG, "too many ports in %s (at most %d)", raw->src[id], CONFIG_MAX_LIST);
        if (r < 0)
                return fail(err, CONFIG_ERR_CONFIG,
                            "invalid port list \"%s\" for %s: \"%.*s\" is not a port number from 0 to 65535",
                            raw->val[id], raw->src[id], bad ? (int)strcspn(bad, ",") : 0, bad ? bad : "");
        return 0;
}

static int conv_iface_list(const struct raw *raw, int id, struct config_ifaces *ret, struct config_error *err) {
        int r;
        if (!raw->val[id])
                return 0;
        r = config_parse_iface_list(raw->val[id], ret);
        if (r == -E2BIG)
                return fail(err, CONFIG_ERR_CONFIG, "too many interfaces in %s (at most %d)", raw->src[id],
                            CONFIG_MAX_LIST);
        if (r < 0)
                return fail(err, CONFIG_ERR_CONFIG,
                            "invalid interface list \"%s\" for %s: names are 1-15 characters of [A-Za-z0-9_.-] (optional trailing '+')",
                            raw->val[id], raw->src[id]);
        return 0;
}

static int conv_owner_list(const char *val, const char *src, struct config_owners *ret, struct config_error *err) {
        const char *bad = NULL;
        int r = config_parse_owner_list(val, ret, &bad);
        if (r == -E2BIG)
                return fail(err, CONFIG_ERR_CONFIG, "too many entries in %s (at most %d)", src, CONFIG_MAX_LIST);
        if (r < 0) {
                size_t n = bad ? strcspn(bad, ",") : 0;
                return fail(err, CONFIG_ERR_CONFIG,
                            "invalid value \"%s\" for %s: \"%.*s\" is neither a numeric id (0-4294967294) nor a valid user/group name",
                            val, src, (int)n, bad ? bad : "");
        }
        return 0;
}

static int conv_cidrs(const struct raw *raw, int id, bool allow_wildcard, bool *ret_all, struct config_cidrs ret[2],
                      struct config_error *err) {
        const char *bad = NULL;
        int r;
        if (!raw->val[id])
                return 0;
        r = config_parse_cidr_list(raw->val[id], allow_wildcard, ret_all, ret, &bad);
        if (r == -E2BIG)
                return fail(err, CONFIG_ERR_CONFIG, "too many CIDRs in %s (at most %d)", raw->src[id], CONFIG_MAX_CIDRS);
        if (r < 0 && !allow_wildcard && streq(raw->val[id], "*"))
                return fail(err, CONFIG_ERR_CONFIG, "invalid value for OUTBOUND_IP_RANGES_EXCLUDE: \"*\" (%s)",
                            raw->src[id]);
        if (r < 0) {
                size_t n = bad ? strcspn(bad, ",") : 0;
                return fail(err, CONFIG_ERR_CONFIG,
                            "invalid CIDR \"%.*s\" in %s: expected ADDRESS/PREFIX-LENGTH (e.g. 10.0.0.0/8 or fd00::/8)",
                            (int)n, bad ? bad : raw->val[id], raw->src[id]);
        }
        return 0;
}

static int conv_u32(const struct raw *raw, int id, uint32_t *ret, struct config_error *err) {
        if (!raw->val[id])
                return 0;
        if (config_parse_uint32(raw->val[id], ret) < 0)
                return fail(err, CONFIG_ERR_CONFIG, "invalid value \"%s\" for %s: must be a decimal number from 0 to 4294967295",
                            raw->val[id], raw->src[id]);
        return 0;
}

/* Convert, part 1: the values whose syntax pflag itself checks (a bad one on the command line is
 * a cobra error, exit 255). */
static int convert_pflag(const struct raw *raw, struct capture_config *c, struct config_error *err) {
        if (raw->val[F_PROBE_PORT] && parse_uint16_base0(raw->val[F_PROBE_PORT], &c->probe_port) < 0)
                return fail(err, kind_of(raw, F_PROBE_PORT), "invalid argument \"%s\" for %s: must be a port number 0-65535",
                            raw->val[F_PROBE_PORT], raw->src[F_PROBE_PORT]);
        if (raw->val[F_PROBE_TIMEOUT] && config_parse_duration_usec(raw->val[F_PROBE_TIMEOUT], &c->probe_timeout_usec) < 0)
                return fail(err, kind_of(raw, F_PROBE_TIMEOUT),
                            "invalid argument \"%s\" for %s: must be a duration such as 5s or 500ms",
                            raw->val[F_PROBE_TIMEOUT], raw->src[F_PROBE_TIMEOUT]);
        if (raw->val[F_VKLOG]) {
                uint64_t x;
                if (parse_decimal_u64(raw->val[F_VKLOG], INT_MAX, &x) < 0)
                        return fail(err, CONFIG_ERR_CMDLINE, "invalid argument \"%s\" for --vklog", raw->val[F_VKLOG]);
        }
        if (raw->val[F_LOG_OUTPUT_LEVEL]) {
                enum log_level lvl;
                if (log_parse_level(raw->val[F_LOG_OUTPUT_LEVEL], &lvl) < 0)
                        return fail(err, CONFIG_ERR_CMDLINE,
                                    "invalid --log_output_level \"%s\": expected LEVEL or SCOPE:LEVEL,… with LEVEL one of debug, info, warn, error, none",
                                    raw->val[F_LOG_OUTPUT_LEVEL]);
                c->log_level = lvl;
        }
        return 0;
}

/* Convert, part 2: every flag with an environment variable, in Istio's order of checks. */
static int convert_values(struct raw *raw, struct capture_config *c, struct config_error *err) {
        const char *v;
        int r;

        static const struct { int id; size_t off; } bools[] = {
                { F_DRY_RUN, offsetof(struct capture_config, dry_run) },
                { F_SKIP_RULE_APPLY, offsetof(struct capture_config, skip_rule_apply) },
                { F_RUN_VALIDATION, offsetof(struct capture_config, run_validation) },
                { F_REDIRECT_DNS, offsetof(struct capture_config, redirect_dns) },
                { F_DROP_INVALID, offsetof(struct capture_config, drop_invalid) },
                { F_DUAL_STACK, offsetof(struct capture_config, dual_stack) },
                { F_CAPTURE_ALL_DNS, offsetof(struct capture_config, capture_all_dns) },
                { F_CNI_MODE, offsetof(struct capture_config, cni_mode) },
                { F_RECONCILE, offsetof(struct capture_config, reconcile) },
                { F_CLEANUP_ONLY, offsetof(struct capture_config, cleanup_only) },
                { F_FORCE_APPLY, offsetof(struct capture_config, force_apply) },
                { F_NATIVE_NFTABLES, offsetof(struct capture_config, native_nftables) },
                { F_LOG_AS_JSON, offsetof(struct capture_config, log_as_json) },
        };
        for (size_t i = 0; i < ELEMENTSOF(bools); i++) {
                r = conv_bool(raw, bools[i].id, (bool *)((char *)c + bools[i].off), err);
                if (r < 0)
                        return r;
        }

        if ((r = conv_port(raw, F_ENVOY_PORT, &c->proxy_port, err)) < 0 ||
            (r = conv_port(raw, F_INBOUND_CAPTURE_PORT, &c->inbound_capture_port, err)) < 0 ||
            (r = conv_port(raw, F_INBOUND_TUNNEL_PORT, &c->inbound_tunnel_port, err)) < 0)
                return r;

        /* An empty -u/-g means "derive it" (§1 step 3); config_fill_environment() does that. */
        if ((v = raw->val[F_PROXY_UID]) && (r = conv_owner_list(v, raw->src[F_PROXY_UID], &c->proxy_uid, err)) < 0)
                return r;
        if ((v = raw->val[F_PROXY_GID]) && (r = conv_owner_list(v, raw->src[F_PROXY_GID], &c->proxy_gid, err)) < 0)
                return r;

        /* Istio treats anything but exactly "TPROXY" as REDIRECT; a typo such as "tproxy" then
         * silently selects the other mode, so we reject unknown modes (DECISION). */
        if ((v = raw->val[F_MODE])) {
                if (streq(v, "TPROXY"))
                        c->tproxy = true;
                else if (streq(v, "REDIRECT") || streq(v, ""))
                        c->tproxy = false;
                else
                        return fail(err, CONFIG_ERR_CONFIG,
                                    "invalid interception mode \"%s\" for %s: must be REDIRECT or TPROXY (case-sensitive)",
                                    v, raw->src[F_MODE]);
        }

        if ((v = raw->val[F_INBOUND_PORTS])) {
                if (streq(v, "*"))
                        c->inbound_all = true;
                else if ((r = conv_port_list(raw, F_INBOUND_PORTS, &c->inbound_ports, err)) < 0)
                        return r;
        }
        if ((r = conv_port_list(raw, F_LOCAL_EXCLUDE_PORTS, &c->inbound_exclude_ports, err)) < 0 ||
            (r = conv_port_list(raw, F_OUTBOUND_PORTS, &c->outbound_ports, err)) < 0 ||
            (r = conv_port_list(raw, F_OUTBOUND_PORTS_EXCLUDE, &c->outbound_exclude_ports, err)) < 0 ||
            (r = conv_iface_list(raw, F_EXCLUDE_INTERFACES, &c->exclude_ifaces, err)) < 0 ||
            (r = conv_iface_list(raw, F_KUBE_VIRT_INTERFACES, &c->virt_ifaces, err)) < 0 ||
            (r = conv_cidrs(raw, F_SERVICE_EXCLUDE_CIDR, false, NULL, c->exclude, err)) < 0 ||
            (r = conv_cidrs(raw, F_SERVICE_CIDR, true, &c->include_all, c->include, err)) < 0 ||
            (r = conv_u32(raw, F_TPROXY_MARK, &c->tproxy_mark, err)) < 0 ||
            (r = conv_u32(raw, F_TPROXY_ROUTE_TABLE, &c->tproxy_route_table, err)) < 0)
                return r;

        config_update_derived(c);

        if ((v = raw->val[F_NETWORK_NAMESPACE])) {
                free(c->network_namespace);
                c->network_namespace = strdup(v);
                if (!c->network_namespace)
                        return -ENOMEM;
        }
        if ((v = raw->val[F_FORCE_IPTABLES_BINARY])) {
                if (streq(v, ""))
                        c->force_binary = CONFIG_FORCE_NONE;
                else if (streq(v, "legacy"))
                        c->force_binary = CONFIG_FORCE_LEGACY;
                else if (streq(v, "nft"))
                        c->force_binary = CONFIG_FORCE_NFT;
                else
                        return fail(err, CONFIG_ERR_CONFIG,
                                    "invalid FORCE_IPTABLES_BINARY value \"%s\" (%s): must be \"\", \"legacy\" or \"nft\"", v,
                                    raw->src[F_FORCE_IPTABLES_BINARY]);
        }
        return 0;
}

/* Convert, part 3: the inputs read from the environment only (§1 step 3). */
static int convert_env_only(char *const *envp, struct capture_config *c, struct config_error *err) {
        const char *v;
        int r;

        /* Env-only inputs (§1 step 3): set-but-empty is the empty string, not the default. */
        if ((v = env_get(envp, "ISTIO_OUTBOUND_OWNER_GROUPS"))) {
                c->owner_groups_all = streq(v, "*");
                if (!c->owner_groups_all &&
                    (r = conv_owner_list(v, "ISTIO_OUTBOUND_OWNER_GROUPS", &c->owner_groups_include, err)) < 0)
                        return r;
        }
        if ((v = env_get(envp, "ISTIO_OUTBOUND_OWNER_GROUPS_EXCLUDE")) &&
            (r = conv_owner_list(v, "ISTIO_OUTBOUND_OWNER_GROUPS_EXCLUDE", &c->owner_groups_exclude, err)) < 0)
                return r;
        if ((v = env_get(envp, "ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR"))) {
                struct netaddr_cidr lb;
                if (netaddr_parse_cidr(v, &lb) < 0 || lb.ip.family != AF_INET || !netaddr_ip_is_loopback(&lb.ip) ||
                    lb.prefixlen < 8)
                        return fail(err, CONFIG_ERR_CONFIG,
                                    "invalid ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR \"%s\": must be an IPv4 loopback prefix (127.x.x.x) with length 8 to 32",
                                    v);
                c->loopback4 = lb;
        }
        return 0;
}

/* Collect (argv, then the environment under it) | convert. */
int config_parse(struct capture_config *c, int argc, char *const *argv, char *const *envp, bool *ret_help,
                 struct config_error *err) {
        struct raw raw = {};
        bool b = false;
        int r;

        if (err)
                *err = (struct config_error){};
        r = parse_argv(&raw, argc, argv, err);
        if (r < 0)
                return r;
        apply_env(&raw, envp);

        if (raw.val[F_HELP] && conv_bool(&raw, F_HELP, &b, err) == 0 && b) {
                *ret_help = true;
                return 0;
        }
        *ret_help = false;

        if ((r = convert_pflag(&raw, c, err)) < 0 || (r = convert_values(&raw, c, err)) < 0 ||
            (r = convert_env_only(envp, c, err)) < 0)
                return r;
        return 0;
}

void config_update_derived(struct capture_config *c) {
        /* §3.2 step 4: one flag for both families. */
        c->include_has_loopback = false;
        for (int f = 0; f < 2; f++)
                for (size_t i = 0; i < c->include[f].n; i++)
                        if (netaddr_ip_is_loopback(&c->include[f].v[i].ip))
                                c->include_has_loopback = true;
}

/* --- derived inputs (§2.4) ----------------------------------------------------------------- */

static bool ip_usable(const struct netaddr_ip *ip) {
        if (netaddr_ip_is_loopback(ip))
                return false;
        if (ip->family == AF_INET) {
                uint32_t a = ntohl(ip->v4.s_addr);
                if ((a & 0xffff0000u) == 0xa9fe0000u) /* 169.254.0.0/16 link-local unicast */
                        return false;
                if ((a & 0xffffff00u) == 0xe0000000u) /* 224.0.0.0/24 link-local multicast */
                        return false;
                return true;
        }
        if (IN6_IS_ADDR_LINKLOCAL(&ip->v6) || IN6_IS_ADDR_MC_LINKLOCAL(&ip->v6))
                return false;
        return true;
}

static int detect_host_ip(struct capture_config *c, struct config_error *err) {
        struct ifaddrs *ifa = NULL;
        bool found = false, seen_v6 = false;

        if (getifaddrs(&ifa) < 0) {
                int r = -errno;
                fail(err, CONFIG_ERR_CONFIG, "failed to list interface addresses: %s", strerror(-r));
                return r;
        }
        /* getifaddrs() returns addresses in the kernel's dump order, as Go's net.InterfaceAddrs(). */
        for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
                struct netaddr_ip ip = {};
                if (!i->ifa_addr)
                        continue;
                if (i->ifa_addr->sa_family == AF_INET) {
                        ip.family = AF_INET;
                        ip.v4 = ((struct sockaddr_in *)i->ifa_addr)->sin_addr;
                } else if (i->ifa_addr->sa_family == AF_INET6) {
                        ip.family = AF_INET6;
                        ip.v6 = ((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr;
                        if (netaddr_ip_is_v4mapped(&ip)) {
                                struct in_addr v4;
                                memcpy(&v4, &ip.v6.s6_addr[12], 4);
                                ip.family = AF_INET;
                                ip.v4 = v4;
                        }
                } else
                        continue;
                if (!ip_usable(&ip))
                        continue;
                if (!found) {
                        c->host_ip = ip;
                        found = true;
                }
                if (ip.family == AF_INET6)
                        seen_v6 = true;
                if (!c->dual_stack || seen_v6)
                        break;
        }
        freeifaddrs(ifa);
        if (!found)
                return fail(err, CONFIG_ERR_CONFIG, "no valid local IP address found (only loopback or link-local addresses)");
        c->enable_ipv6 = c->dual_stack ? seen_v6 : c->host_ip.family == AF_INET6;
        return 0;
}

int config_fill_environment(struct capture_config *c, const char *resolv_conf_path, struct config_error *err) {
        int r;

        if (c->proxy_uid.n == 0) {
                const char *user = getenv("ENVOY_USER");
                struct config_owner o = { .id = 1337 };
                uint32_t id;
                if (!user || !*user)
                        user = "istio-proxy";
                if (idname_lookup(user, false, &id) == 0)
                        o.id = id;
                c->proxy_uid.v = malloc(sizeof o);
                if (!c->proxy_uid.v)
                        return -ENOMEM;
                c->proxy_uid.v[0] = o;
                c->proxy_uid.n = 1;
        }
        if (c->proxy_gid.n == 0) {
                /* Istio sets the gid string to the final uid string (it may be a list). */
                c->proxy_gid.v = malloc(c->proxy_uid.n * sizeof *c->proxy_gid.v);
                if (!c->proxy_gid.v)
                        return -ENOMEM;
                memcpy(c->proxy_gid.v, c->proxy_uid.v, c->proxy_uid.n * sizeof *c->proxy_gid.v);
                c->proxy_gid.n = c->proxy_uid.n;
        }

        r = detect_host_ip(c, err);
        if (r < 0)
                return r;

        if (c->redirect_dns && !c->capture_all_dns) {
                _cleanup_free_ char *text = NULL;
                _cleanup_close_ int fd = open(resolv_conf_path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
                r = fd < 0 ? -errno : fileio_read_all(fd, 1u << 20, &text, NULL);
                if (r < 0) {
                        fail(err, CONFIG_ERR_CONFIG, "failed to load %s: %s", resolv_conf_path, strerror(-r));
                        return r;
                }
                r = config_parse_resolv_conf(text, &c->dns4, &c->dns6);
                if (r < 0)
                        return r;
        }
        return 0;
}

int config_validate(const struct capture_config *c, struct config_error *err) {
        if (!c->owner_groups_all && c->owner_groups_include.n > CONFIG_MAX_OWNER_GROUPS)
                return fail(err, CONFIG_ERR_CONFIG,
                            "ISTIO_OUTBOUND_OWNER_GROUPS has %zu entries: at most %d groups can be included",
                            c->owner_groups_include.n, CONFIG_MAX_OWNER_GROUPS);
        if (c->proxy_uid.n + c->proxy_gid.n > CONFIG_MAX_LIST)
                return fail(err, CONFIG_ERR_CONFIG, "too many proxy uids/gids");
        return 0;
}
