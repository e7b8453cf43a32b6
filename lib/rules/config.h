/* SPDX-License-Identifier: Apache-2.0 */
/* config.h: the typed capture configuration shared by every applet, and its parsers.
 * Spec: istio-iptables.md §2 (flags, env, list syntax, derived inputs), §1 (validation, exit codes).
 * Every value is parsed into a typed field here; nothing downstream re-parses strings. */
#pragma once

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/netaddr.h"

#define CONFIG_MAX_OWNER_GROUPS 64   /* Istio's limit on ISTIO_OUTBOUND_OWNER_GROUPS (include mode) */
#define CONFIG_MAX_LIST 1024         /* any list longer than this is rejected, not truncated */
/* CIDR lists (-i/-x) may be as long as one exec argument can carry (MAX_ARG_STRLEN, 128 KiB:
 * ~5,000-7,000 IPv4 CIDRs); Istio has no cap. Longer lists are rejected, not truncated. */
#define CONFIG_MAX_CIDRS 16384
#define CONFIG_OWNER_NAME_MAX 32     /* useradd's limit */

/* A uid, gid or group: numeric, or a name resolved only where rules are applied
 * (Istio passes names verbatim to iptables, which resolves them). */
struct config_owner {
        bool is_name;
        uint32_t id;
        char name[CONFIG_OWNER_NAME_MAX + 1];
};

struct config_owners {
        size_t n;
        struct config_owner *v;
};

struct config_ports {
        size_t n;
        uint16_t *v;
};

struct config_ifaces {
        size_t n;
        char (*v)[IFNAMSIZ];
};

struct config_cidrs {
        size_t n;
        struct netaddr_cidr *v;
};

struct config_ips {
        size_t n;
        struct netaddr_ip *v;
};

enum config_force_binary { CONFIG_FORCE_NONE, CONFIG_FORCE_LEGACY, CONFIG_FORCE_NFT };

struct capture_config {
        uint16_t proxy_port;           /* -p  */
        uint16_t inbound_capture_port; /* -z  */
        uint16_t inbound_tunnel_port;  /* -e  */
        struct config_owners proxy_uid; /* -u */
        struct config_owners proxy_gid; /* -g */
        bool tproxy;                   /* -m TPROXY */
        bool inbound_all;              /* -b '*' */
        struct config_ports inbound_ports;         /* -b list; empty and !inbound_all = off */
        struct config_ports inbound_exclude_ports; /* -d (only used with -b '*') */
        struct config_ifaces exclude_ifaces;       /* -c */
        struct config_ifaces virt_ifaces;          /* -k */
        bool include_all;                          /* -i '*' (both families) */
        struct config_cidrs include[2];            /* -i, [0]=v4 [1]=v6 */
        struct config_cidrs exclude[2];            /* -x */
        bool include_has_loopback;                 /* a loopback prefix in either family of -i */
        struct config_ports outbound_ports;        /* -q */
        struct config_ports outbound_exclude_ports; /* -o */
        uint32_t tproxy_mark;          /* -t */
        uint32_t tproxy_route_table;   /* -r */
        bool dry_run, skip_rule_apply, run_validation, redirect_dns, drop_invalid, dual_stack,
             capture_all_dns, cni_mode, reconcile, cleanup_only, force_apply, native_nftables;
        uint16_t probe_port;           /* --iptables-probe-port */
        uint64_t probe_timeout_usec;   /* --probe-timeout */
        char *network_namespace;
        /* How long to wait for the xtables lock; 0 → 30 s (iptables --wait=30). The CNI plugin
         * passes what remains of its ADD deadline (issue 11 A6). No flag. */
        uint64_t lock_wait_usec;
        enum config_force_binary force_binary;
        bool owner_groups_all;                     /* ISTIO_OUTBOUND_OWNER_GROUPS == '*' */
        struct config_owners owner_groups_include;
        struct config_owners owner_groups_exclude;
        struct netaddr_cidr loopback4;             /* ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR */
        /* logging (inherited pilot-agent flags) */
        int log_level;                             /* enum log_level */
        bool log_as_json;
        /* derived (§2.4) */
        bool enable_ipv6;
        struct netaddr_ip host_ip;
        struct config_ips dns4, dns6;
};

/* Where a parse error came from: exit 255 for the command line (Istio's cobra errors),
 * exit 1 for configuration/validation errors. */
enum config_error_kind { CONFIG_ERR_NONE, CONFIG_ERR_CMDLINE, CONFIG_ERR_CONFIG };

struct config_error {
        enum config_error_kind kind;
        char msg[512];
};

/* Fills Istio's defaults (§2.1). Allocates nothing. */
void config_init(struct capture_config *c);
void config_done(struct capture_config *c);

/* Parses argv (argv[0] is the applet name) and env (NULL-terminated "K=V" array, NULL = none)
 * with Istio's precedence: command line > alternate env > primary env > default.
 * On success *ret_help is set when --help was given. Returns 0 or -EINVAL (err filled). */
int config_parse(struct capture_config *c, int argc, char *const *argv, char *const *envp, bool *ret_help,
                 struct config_error *err);

/* The derived inputs of §2.4 that need the system: host IP / IPv6 from the interface addresses
 * (getifaddrs), the proxy uid default, and DNS servers from resolv_conf_path (when needed).
 * Returns 0 or -errno (err filled, kind CONFIG). */
int config_fill_environment(struct capture_config *c, const char *resolv_conf_path, struct config_error *err);

/* Recomputes the fields derived from others (include_has_loopback from include[]); for callers
 * that fill the lists themselves, such as the CNI plugin's annotations. */
void config_update_derived(struct capture_config *c);

/* Istio's Validate() plus ours (owner-group count etc.). Returns 0 or -EINVAL (err filled). */
int config_validate(const struct capture_config *c, struct config_error *err);

/* Typed parsers, exported for the CNI plugin's annotations and for unit tests.
 * Each returns 0 or -EINVAL/-E2BIG/-ERANGE and never prints. */
int config_parse_port(const char *s, uint16_t *ret);
int config_parse_port_list(const char *s, struct config_ports *ret);
/* Same; on -EINVAL *ret_bad (optional) points at the bad item inside s. */
int config_parse_port_list_full(const char *s, struct config_ports *ret, const char **ret_bad);
int config_parse_iface(const char *s, char ret[IFNAMSIZ]);
int config_parse_iface_list(const char *s, struct config_ifaces *ret);
/* "*" sets *ret_all (both families); otherwise a CIDR list split by family. */
int config_parse_cidr_list(const char *s, bool allow_wildcard, bool *ret_all, struct config_cidrs ret[2],
                           const char **ret_bad);
int config_parse_owner(const char *s, struct config_owner *ret);
int config_parse_owner_list(const char *s, struct config_owners *ret, const char **ret_bad);
int config_parse_bool(const char *s, bool *ret);
int config_parse_duration_usec(const char *s, uint64_t *ret);
int config_parse_uint32(const char *s, uint32_t *ret);
/* Resolv.conf text → v4 and v6 server lists (unparsable entries dropped, as Istio). */
int config_parse_resolv_conf(const char *text, struct config_ips *v4, struct config_ips *v6);
/* "1337" or "istio-proxy" etc. rendered as iptables/nft would take it. */
const char *config_owner_to_string(const struct config_owner *o, char *buf, size_t size);

void config_ports_free(struct config_ports *p);
void config_owners_free(struct config_owners *o);
