/* SPDX-License-Identifier: Apache-2.0 */
/* test_config.c: istio-iptables flag/env parsing into struct capture_config (lib/config), and the
 * applet's exit codes for bad input (cmd/istio-iptables.c).
 * Spec: istio-iptables.md §1 (exit codes 0/1/255), §2.1–§2.5 (flags, env, precedence, lists),
 * §10 (quirks). Every rejected value must name its flag (or env var) and the value. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "applets.h"
#include "rules/config.h"
#include "base/macro.h"

#define MAXARGS 12
#define MAXENV 6

/* Runs config_parse on argv (without argv[0]) and env, both NULL-terminated. */
static int parse(struct capture_config *c, const char *const *args, const char *const *env, bool *help,
                 struct config_error *err) {
        const char *argv[MAXARGS + 2] = { "istio-iptables" };
        int argc = 1;
        bool h = false;

        for (; args && args[argc - 1]; argc++) {
                ck_assert_int_lt(argc, MAXARGS + 1);
                argv[argc] = args[argc - 1];
        }
        config_init(c);
        return config_parse(c, argc, (char *const *)argv, (char *const *)env, help ? help : &h, err);
}

#define A(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define ENV(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* --- rejected input: error kind (→ exit code) and message --------------------------------- */

static const struct bad_case {
        const char *args[MAXARGS];
        const char *env[MAXENV];
        enum config_error_kind kind;
        const char *names;  /* the flag or env var the message must name */
        const char *value;  /* the value it must quote */
} bad[] = {
        /* ports, scalar (-p -z -e): passed verbatim by Istio, so a failure is exit 1 */
        { { "-p", "65536" }, {}, CONFIG_ERR_CONFIG, "--envoy-port", "\"65536\"" },
        { { "-p", "-1" }, {}, CONFIG_ERR_CONFIG, "--envoy-port", "\"-1\"" },
        { { "-p", "99999999999" }, {}, CONFIG_ERR_CONFIG, "--envoy-port", "\"99999999999\"" },
        { { "-p", "abc" }, {}, CONFIG_ERR_CONFIG, "--envoy-port", "\"abc\"" },
        { { "-z", "80a" }, {}, CONFIG_ERR_CONFIG, "--inbound-capture-port", "\"80a\"" },
        { { "-e", " 443" }, {}, CONFIG_ERR_CONFIG, "--inbound-tunnel-port", "\" 443\"" },
        { { "--envoy-port=" }, {}, CONFIG_ERR_CONFIG, "--envoy-port", "\"\"" },
        { { "-z", "0" }, {}, CONFIG_ERR_CONFIG, "--inbound-capture-port", "\"0\"" },
        { {}, { "INBOUND_CAPTURE_PORT=70000" }, CONFIG_ERR_CONFIG, "INBOUND_CAPTURE_PORT", "\"70000\"" },
        { {}, { "INBOUND_TUNNEL_PORT=x" }, CONFIG_ERR_CONFIG, "INBOUND_TUNNEL_PORT", "\"x\"" },
        /* port lists: not trimmed */
        { { "-b", "65536" }, {}, CONFIG_ERR_CONFIG, "--istio-inbound-ports", "\"65536\"" },
        { { "-b", "80, 443" }, {}, CONFIG_ERR_CONFIG, "--istio-inbound-ports", "\"80, 443\"" },
        { { "-b", "80,*" }, {}, CONFIG_ERR_CONFIG, "--istio-inbound-ports", "\"80,*\"" },
        { { "-d", "-1" }, {}, CONFIG_ERR_CONFIG, "--istio-local-exclude-ports", "\"-1\"" },
        { { "-q", "99999999999" }, {}, CONFIG_ERR_CONFIG, "--istio-outbound-ports", "\"99999999999\"" },
        { { "-o", " 443" }, {}, CONFIG_ERR_CONFIG, "--istio-local-outbound-ports-exclude", "\" 443\"" },
        { { "-q", "80a" }, {}, CONFIG_ERR_CONFIG, "--istio-outbound-ports", "\"80a\"" },
        { {}, { "ISTIO_INBOUND_PORTS=abc" }, CONFIG_ERR_CONFIG, "ISTIO_INBOUND_PORTS", "\"abc\"" },
        { {}, { "ISTIO_LOCAL_OUTBOUND_PORTS_EXCLUDE=1,,x" }, CONFIG_ERR_CONFIG, "ISTIO_LOCAL_OUTBOUND_PORTS_EXCLUDE",
          "\"1,,x\"" },
        /* CIDRs, both families */
        { { "-i", "10.0.0.0" }, {}, CONFIG_ERR_CONFIG, "--istio-service-cidr", "\"10.0.0.0\"" },
        { { "-i", "10.0.0.0/33" }, {}, CONFIG_ERR_CONFIG, "--istio-service-cidr", "\"10.0.0.0/33\"" },
        { { "-x", "::/129" }, {}, CONFIG_ERR_CONFIG, "--istio-service-exclude-cidr", "\"::/129\"" },
        { { "-i", "2001:db8::" }, {}, CONFIG_ERR_CONFIG, "--istio-service-cidr", "\"2001:db8::\"" },
        { { "-i", "010.0.0.0/8" }, {}, CONFIG_ERR_CONFIG, "--istio-service-cidr", "\"010.0.0.0/8\"" },
        { { "-x", "10.0.0.0/08" }, {}, CONFIG_ERR_CONFIG, "--istio-service-exclude-cidr", "\"10.0.0.0/08\"" },
        { { "-i", "fe80::1%eth0/64" }, {}, CONFIG_ERR_CONFIG, "--istio-service-cidr", "\"fe80::1%eth0/64\"" },
        { { "-i", "1.2.3.4/8junk" }, {}, CONFIG_ERR_CONFIG, "--istio-service-cidr", "\"1.2.3.4/8junk\"" },
        { { "-i", "10.0.0.0/8,bad" }, {}, CONFIG_ERR_CONFIG, "--istio-service-cidr", "\"bad\"" },
        { { "-i", " 10.0.0.0/8" }, {}, CONFIG_ERR_CONFIG, "--istio-service-cidr", "\" 10.0.0.0/8\"" },
        { { "-i", "*,10.0.0.0/8" }, {}, CONFIG_ERR_CONFIG, "--istio-service-cidr", "\"*\"" },
        { { "-x", "*" }, {}, CONFIG_ERR_CONFIG, "invalid value for OUTBOUND_IP_RANGES_EXCLUDE", "--istio-service-exclude-cidr" },
        { {}, { "ISTIO_SERVICE_EXCLUDE_CIDR=*" }, CONFIG_ERR_CONFIG, "invalid value for OUTBOUND_IP_RANGES_EXCLUDE",
          "ISTIO_SERVICE_EXCLUDE_CIDR" },
        { {}, { "ISTIO_SERVICE_CIDR=1.2.3.4/32,::1/200" }, CONFIG_ERR_CONFIG, "ISTIO_SERVICE_CIDR", "\"::1/200\"" },
        /* interception modes (DECISION: unknown modes are rejected, not REDIRECT) */
        { { "-m", "tproxy" }, {}, CONFIG_ERR_CONFIG, "--istio-inbound-interception-mode", "\"tproxy\"" },
        { { "-m", "NONE" }, {}, CONFIG_ERR_CONFIG, "--istio-inbound-interception-mode", "\"NONE\"" },
        { { "-m", "foo" }, {}, CONFIG_ERR_CONFIG, "--istio-inbound-interception-mode", "\"foo\"" },
        { {}, { "ISTIO_INBOUND_INTERCEPTION_MODE=redirect" }, CONFIG_ERR_CONFIG, "ISTIO_INBOUND_INTERCEPTION_MODE",
          "\"redirect\"" },
        /* loopback CIDR (env only) */
        { {}, { "ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR=10.0.0.1/32" }, CONFIG_ERR_CONFIG, "ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR",
          "\"10.0.0.1/32\"" },
        { {}, { "ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR=127.0.0.1/7" }, CONFIG_ERR_CONFIG, "ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR",
          "\"127.0.0.1/7\"" },
        { {}, { "ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR=::1/128" }, CONFIG_ERR_CONFIG, "ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR",
          "\"::1/128\"" },
        { {}, { "ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR=::ffff:127.0.0.1/104" }, CONFIG_ERR_CONFIG,
          "ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR", "\"::ffff:127.0.0.1/104\"" },
        { {}, { "ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR=garbage" }, CONFIG_ERR_CONFIG, "ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR",
          "\"garbage\"" },
        { {}, { "ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR=127.0.0.1" }, CONFIG_ERR_CONFIG, "ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR",
          "\"127.0.0.1\"" },
        { {}, { "ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR=" }, CONFIG_ERR_CONFIG, "ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR", "\"\"" },
        /* uid / gid / groups */
        { { "-u", "-5" }, {}, CONFIG_ERR_CONFIG, "--proxy-uid", "\"-5\"" },
        { { "-u", "-1" }, {}, CONFIG_ERR_CONFIG, "--proxy-uid", "\"-1\"" },
        { { "-u", "4294967295" }, {}, CONFIG_ERR_CONFIG, "--proxy-uid", "\"4294967295\"" },
        { { "-u", "1337x" }, {}, CONFIG_ERR_CONFIG, "--proxy-uid", "\"1337x\"" },
        { { "-g", "istio proxy" }, {}, CONFIG_ERR_CONFIG, "--proxy-gid", "\"istio proxy\"" },
        { { "-g", "1,2,bad name" }, {}, CONFIG_ERR_CONFIG, "--proxy-gid", "\"bad name\"" },
        { { "-u", "abcdefghijabcdefghijabcdefghijabc" }, {}, CONFIG_ERR_CONFIG, "--proxy-uid",
          "\"abcdefghijabcdefghijabcdefghijabc\"" },
        { {}, { "PROXY_GID=4294967296" }, CONFIG_ERR_CONFIG, "PROXY_GID", "\"4294967296\"" },
        { {}, { "ISTIO_OUTBOUND_OWNER_GROUPS=java,bad group" }, CONFIG_ERR_CONFIG, "ISTIO_OUTBOUND_OWNER_GROUPS",
          "\"bad group\"" },
        { {}, { "ISTIO_OUTBOUND_OWNER_GROUPS_EXCLUDE=-3" }, CONFIG_ERR_CONFIG, "ISTIO_OUTBOUND_OWNER_GROUPS_EXCLUDE",
          "\"-3\"" },
        /* interface names */
        { { "-c", "abcdefghijklmnop" }, {}, CONFIG_ERR_CONFIG, "--istio-exclude-interfaces", "\"abcdefghijklmnop\"" },
        { { "-c", "eth0 -j ACCEPT" }, {}, CONFIG_ERR_CONFIG, "--istio-exclude-interfaces", "\"eth0 -j ACCEPT\"" },
        { { "-k", "a/b" }, {}, CONFIG_ERR_CONFIG, "--kube-virt-interfaces", "\"a/b\"" },
        { { "-k", "+eth" }, {}, CONFIG_ERR_CONFIG, "--kube-virt-interfaces", "\"+eth\"" },
        { { "-c", ".." }, {}, CONFIG_ERR_CONFIG, "--istio-exclude-interfaces", "\"..\"" },
        { {}, { "KUBE_VIRT_INTERFACES=eth0;x" }, CONFIG_ERR_CONFIG, "KUBE_VIRT_INTERFACES", "\"eth0;x\"" },
        /* marks and tables */
        { { "-t", "abc" }, {}, CONFIG_ERR_CONFIG, "--istio-inbound-tproxy-mark", "\"abc\"" },
        { { "-r", "-1" }, {}, CONFIG_ERR_CONFIG, "--istio-inbound-tproxy-route-table", "\"-1\"" },
        { { "-t", "4294967296" }, {}, CONFIG_ERR_CONFIG, "--istio-inbound-tproxy-mark", "\"4294967296\"" },
        { { "--force-iptables-binary", "iptables" }, {}, CONFIG_ERR_CONFIG, "FORCE_IPTABLES_BINARY", "\"iptables\"" },
        /* unknown flags, missing arguments: cobra errors, exit 255 */
        { { "--foo" }, {}, CONFIG_ERR_CMDLINE, "unknown flag", "--foo" },
        { { "--foo=bar" }, {}, CONFIG_ERR_CMDLINE, "unknown flag", "--foo" },
        { { "-y" }, {}, CONFIG_ERR_CMDLINE, "unknown shorthand flag", "'y'" },
        { { "-ny" }, {}, CONFIG_ERR_CMDLINE, "unknown shorthand flag", "'y'" },
        { { "--enable-ipv6" }, {}, CONFIG_ERR_CMDLINE, "unknown flag", "--enable-ipv6" },
        { { "--host-ipv4-loopback-cidr=127.0.0.1/32" }, {}, CONFIG_ERR_CMDLINE, "unknown flag", "--host-ipv4-loopback-cidr" },
        { { "--iptables-version", "1.8" }, {}, CONFIG_ERR_CMDLINE, "unknown flag", "--iptables-version" },
        { { "--dry" }, {}, CONFIG_ERR_CMDLINE, "unknown flag", "--dry" },     /* no abbreviations */
        { { "--Dry-run" }, {}, CONFIG_ERR_CMDLINE, "unknown flag", "--Dry-run" },
        { { "-p" }, {}, CONFIG_ERR_CMDLINE, "needs an argument", "'p'" },
        { { "-n", "-b" }, {}, CONFIG_ERR_CMDLINE, "needs an argument", "'b'" },
        { { "--envoy-port" }, {}, CONFIG_ERR_CMDLINE, "needs an argument", "--envoy-port" },
        { { "--probe-timeout" }, {}, CONFIG_ERR_CMDLINE, "needs an argument", "--probe-timeout" },
        /* bools */
        { { "--dry-run=maybe" }, {}, CONFIG_ERR_CMDLINE, "dry-run", "\"maybe\"" },
        { { "-n=maybe" }, {}, CONFIG_ERR_CMDLINE, "\"-n\"", "\"maybe\"" },
        { { "--redirect-dns=yes" }, {}, CONFIG_ERR_CMDLINE, "redirect-dns", "\"yes\"" },
        { {}, { "REDIRECT_DNS=yes" }, CONFIG_ERR_CONFIG, "REDIRECT_DNS", "\"yes\"" },
        { {}, { "ISTIO_META_DNS_CAPTURE=on" }, CONFIG_ERR_CONFIG, "ISTIO_META_DNS_CAPTURE", "\"on\"" },
        { {}, { "DRY_RUN=" }, CONFIG_ERR_CONFIG, "DRY_RUN", "\"\"" },
        { {}, { "INVALID_DROP=2" }, CONFIG_ERR_CONFIG, "INVALID_DROP", "\"2\"" },
        /* durations and the probe port (pflag-typed: CLI 255, env 1) */
        { { "--probe-timeout", "5" }, {}, CONFIG_ERR_CMDLINE, "--probe-timeout", "\"5\"" },
        { { "--probe-timeout=-1s" }, {}, CONFIG_ERR_CMDLINE, "--probe-timeout", "\"-1s\"" },
        { { "--probe-timeout", "5x" }, {}, CONFIG_ERR_CMDLINE, "--probe-timeout", "\"5x\"" },
        { { "--probe-timeout", "" }, {}, CONFIG_ERR_CMDLINE, "--probe-timeout", "\"\"" },
        { {}, { "PROBE_TIMEOUT=5" }, CONFIG_ERR_CONFIG, "PROBE_TIMEOUT", "\"5\"" },
        { { "--iptables-probe-port", "65536" }, {}, CONFIG_ERR_CMDLINE, "--iptables-probe-port", "\"65536\"" },
        { { "--iptables-probe-port=abc" }, {}, CONFIG_ERR_CMDLINE, "--iptables-probe-port", "\"abc\"" },
        { { "--iptables-probe-port=08" }, {}, CONFIG_ERR_CMDLINE, "--iptables-probe-port", "\"08\"" },
        { { "--iptables-probe-port=0x" }, {}, CONFIG_ERR_CMDLINE, "--iptables-probe-port", "\"0x\"" },
        { { "--iptables-probe-port=-1" }, {}, CONFIG_ERR_CMDLINE, "--iptables-probe-port", "\"-1\"" },
        { {}, { "IPTABLES_PROBE_PORT=70000" }, CONFIG_ERR_CONFIG, "IPTABLES_PROBE_PORT", "\"70000\"" },
        /* logging flags inherited from pilot-agent */
        { { "--log_output_level=bogus" }, {}, CONFIG_ERR_CMDLINE, "--log_output_level", "\"bogus\"" },
        { { "--vklog", "x" }, {}, CONFIG_ERR_CMDLINE, "--vklog", "\"x\"" },
};

START_TEST(test_bad) {
        const struct bad_case *t = &bad[_i];
        struct capture_config c;
        struct config_error err;
        const char *env[MAXENV + 1] = {};

        for (int k = 0; k < MAXENV && t->env[k]; k++)
                env[k] = t->env[k];
        ck_assert_int_eq(parse(&c, t->args, env, NULL, &err), -EINVAL);
        ck_assert_msg(err.kind == t->kind, "case %d: kind %d, expected %d (%s)", _i, err.kind, t->kind, err.msg);
        ck_assert_msg(strstr(err.msg, t->names), "case %d: message does not name %s: %s", _i, t->names, err.msg);
        ck_assert_msg(strstr(err.msg, t->value), "case %d: message does not quote %s: %s", _i, t->value, err.msg);
        config_done(&c);
}
END_TEST

/* --- accepted input ----------------------------------------------------------------------- */

START_TEST(test_defaults) {
        struct capture_config c;
        struct config_error err;
        char buf[NETADDR_CIDR_STRLEN];

        ck_assert_int_eq(parse(&c, NULL, NULL, NULL, &err), 0);
        ck_assert_int_eq(err.kind, CONFIG_ERR_NONE);
        ck_assert_uint_eq(c.proxy_port, 15001);
        ck_assert_uint_eq(c.inbound_capture_port, 15006);
        ck_assert_uint_eq(c.inbound_tunnel_port, 15008);
        ck_assert_uint_eq(c.tproxy_mark, 1337);
        ck_assert_uint_eq(c.tproxy_route_table, 133);
        ck_assert_uint_eq(c.probe_port, 15002);
        ck_assert_uint_eq(c.probe_timeout_usec, 5000000);
        ck_assert(c.owner_groups_all);
        ck_assert(!c.tproxy && !c.inbound_all && !c.include_all && !c.dry_run && !c.redirect_dns);
        ck_assert_uint_eq(c.proxy_uid.n, 0); /* derived later by config_fill_environment */
        ck_assert_uint_eq(c.inbound_ports.n + c.include[0].n + c.include[1].n + c.exclude[0].n + c.exclude[1].n, 0);
        ck_assert_str_eq(netaddr_cidr_to_string(&c.loopback4, buf, sizeof buf), "127.0.0.1/32");
        ck_assert_int_eq(c.force_binary, CONFIG_FORCE_NONE);
        config_done(&c);
}
END_TEST

START_TEST(test_lists) {
        struct capture_config c;
        struct config_error err;

        /* Empty items dropped; the last occurrence of a flag wins. */
        ck_assert_int_eq(parse(&c, A("-b", "1", "-b", "6000,7000,", "-q", ",,,", "-o", "", "-d", "0,65535"), NULL, NULL, &err), 0);
        ck_assert_uint_eq(c.inbound_ports.n, 2);
        ck_assert_uint_eq(c.inbound_ports.v[0], 6000);
        ck_assert_uint_eq(c.inbound_ports.v[1], 7000);
        ck_assert(!c.inbound_all);
        ck_assert_uint_eq(c.outbound_ports.n, 0);
        ck_assert_uint_eq(c.outbound_exclude_ports.n, 0);
        ck_assert_uint_eq(c.inbound_exclude_ports.n, 2);
        ck_assert_uint_eq(c.inbound_exclude_ports.v[1], 65535);
        config_done(&c);

        ck_assert_int_eq(parse(&c, A("-b", "*", "-d", "15020"), NULL, NULL, &err), 0);
        ck_assert(c.inbound_all);
        ck_assert_uint_eq(c.inbound_ports.n, 0);
        ck_assert_uint_eq(c.inbound_exclude_ports.n, 1);
        config_done(&c);

        ck_assert_int_eq(parse(&c, A("-b", ""), NULL, NULL, &err), 0);
        ck_assert(!c.inbound_all);
        ck_assert_uint_eq(c.inbound_ports.n, 0);
        config_done(&c);

        ck_assert_int_eq(parse(&c, A("-c", "eth0,abcdefghijklmno,veth+", "-k", "a.b_c-d"), NULL, NULL, &err), 0);
        ck_assert_uint_eq(c.exclude_ifaces.n, 3);
        ck_assert_str_eq(c.exclude_ifaces.v[1], "abcdefghijklmno");
        ck_assert_str_eq(c.exclude_ifaces.v[2], "veth+");
        ck_assert_uint_eq(c.virt_ifaces.n, 1);
        config_done(&c);
}
END_TEST

START_TEST(test_cidrs) {
        struct capture_config c;
        struct config_error err;
        char buf[NETADDR_CIDR_STRLEN];

        ck_assert_int_eq(parse(&c, A("-i", "10.1.2.3/8,2001:DB8::/32,::ffff:10.0.0.0/104,", "-x", "1.1.0.0/16"), NULL, NULL,
                               &err), 0);
        ck_assert(!c.include_all);
        ck_assert_uint_eq(c.include[0].n, 1);
        ck_assert_uint_eq(c.include[1].n, 2); /* IPv4-mapped counts as v6 */
        ck_assert_str_eq(netaddr_cidr_to_string(&c.include[0].v[0], buf, sizeof buf), "10.1.2.3/8");
        ck_assert_str_eq(netaddr_cidr_to_string(&c.include[1].v[0], buf, sizeof buf), "2001:db8::/32");
        ck_assert_str_eq(netaddr_cidr_to_string(&c.include[1].v[1], buf, sizeof buf), "::ffff:10.0.0.0/104");
        ck_assert_uint_eq(c.exclude[0].n, 1);
        ck_assert_uint_eq(c.exclude[1].n, 0);
        ck_assert(!c.include_has_loopback);
        config_done(&c);

        ck_assert_int_eq(parse(&c, A("-i", "*", "-x", ""), NULL, NULL, &err), 0);
        ck_assert(c.include_all);
        ck_assert_uint_eq(c.include[0].n + c.include[1].n + c.exclude[0].n + c.exclude[1].n, 0);
        config_done(&c);
}
END_TEST

/* Loopback in -i (either family) sets the shared marker; in -x it does not. */
static const struct {
        const char *args[4];
        bool loop;
} loop_cases[] = {
        { { "-i", "127.0.0.1/32" }, true },
        { { "-i", "10.0.0.0/8,127.0.0.0/8" }, true },
        { { "-i", "::1/128" }, true },
        { { "-i", "::ffff:127.0.0.1/128" }, true },
        { { "-i", "0.0.0.0/0" }, false },
        { { "-i", "10.0.0.0/8" }, false },
        { { "-x", "127.0.0.1/32" }, false },
        { { "-i", "*" }, false },
};

START_TEST(test_loopback_include) {
        struct capture_config c;
        struct config_error err;
        ck_assert_int_eq(parse(&c, loop_cases[_i].args, NULL, NULL, &err), 0);
        ck_assert(c.include_has_loopback == loop_cases[_i].loop);
        config_done(&c);
}
END_TEST

START_TEST(test_modes) {
        struct capture_config c;
        struct config_error err;

        ck_assert_int_eq(parse(&c, A("-m", "TPROXY", "-t", "7", "-r", "4294967295"), NULL, NULL, &err), 0);
        ck_assert(c.tproxy);
        ck_assert_uint_eq(c.tproxy_mark, 7);
        ck_assert_uint_eq(c.tproxy_route_table, 4294967295u);
        config_done(&c);
        ck_assert_int_eq(parse(&c, A("-m", "REDIRECT"), NULL, NULL, &err), 0);
        ck_assert(!c.tproxy);
        config_done(&c);
        ck_assert_int_eq(parse(&c, A("-m", ""), ENV("ISTIO_INBOUND_INTERCEPTION_MODE=TPROXY"), NULL, &err), 0);
        ck_assert(!c.tproxy); /* CLI "" wins over env */
        config_done(&c);
        ck_assert_int_eq(parse(&c, NULL, ENV("ISTIO_INBOUND_INTERCEPTION_MODE=TPROXY"), NULL, &err), 0);
        ck_assert(c.tproxy);
        config_done(&c);
}
END_TEST

START_TEST(test_owners) {
        struct capture_config c;
        struct config_error err;
        char buf[64];

        ck_assert_int_eq(parse(&c, A("-u", "1337,istio-proxy,0", "-g", "4294967294,_grp$"), NULL, NULL, &err), 0);
        ck_assert_uint_eq(c.proxy_uid.n, 3);
        ck_assert(!c.proxy_uid.v[0].is_name);
        ck_assert_uint_eq(c.proxy_uid.v[0].id, 1337);
        ck_assert(c.proxy_uid.v[1].is_name);
        ck_assert_str_eq(config_owner_to_string(&c.proxy_uid.v[1], buf, sizeof buf), "istio-proxy");
        ck_assert_str_eq(config_owner_to_string(&c.proxy_uid.v[2], buf, sizeof buf), "0");
        ck_assert_uint_eq(c.proxy_gid.n, 2);
        ck_assert_str_eq(config_owner_to_string(&c.proxy_gid.v[0], buf, sizeof buf), "4294967294");
        ck_assert_str_eq(config_owner_to_string(&c.proxy_gid.v[1], buf, sizeof buf), "_grp$");
        config_done(&c);

        /* Owner groups (env only): "*" = all; a list = include; set-but-empty is NOT all (§2.5). */
        ck_assert_int_eq(parse(&c, NULL, ENV("ISTIO_OUTBOUND_OWNER_GROUPS=java,202", "ISTIO_OUTBOUND_OWNER_GROUPS_EXCLUDE=888,ftp"),
                               NULL, &err), 0);
        ck_assert(!c.owner_groups_all);
        ck_assert_uint_eq(c.owner_groups_include.n, 2);
        ck_assert_uint_eq(c.owner_groups_exclude.n, 2);
        config_done(&c);
        ck_assert_int_eq(parse(&c, NULL, ENV("ISTIO_OUTBOUND_OWNER_GROUPS=*"), NULL, &err), 0);
        ck_assert(c.owner_groups_all);
        config_done(&c);
        ck_assert_int_eq(parse(&c, NULL, ENV("ISTIO_OUTBOUND_OWNER_GROUPS="), NULL, &err), 0);
        ck_assert(!c.owner_groups_all);
        ck_assert_uint_eq(c.owner_groups_include.n, 0);
        config_done(&c);
}
END_TEST

/* Builds "ITEM,ITEM,…" with n items. */
static char *repeat_list(const char *item, size_t n) {
        size_t len = strlen(item) + 1;
        char *s = malloc(n * len + 1);
        ck_assert_ptr_nonnull(s);
        s[0] = 0;
        for (size_t i = 0; i < n; i++) {
                memcpy(s + i * len, item, len - 1);
                s[i * len + len - 1] = i + 1 < n ? ',' : 0;
        }
        return s;
}

/* Owner groups: parse accepts any count; validation allows at most 64 included (Istio), exclude unbounded. */
static const struct {
        const char *var;
        size_t n;
        bool valid;
} group_counts[] = {
        { "ISTIO_OUTBOUND_OWNER_GROUPS", 64, true },
        { "ISTIO_OUTBOUND_OWNER_GROUPS", 65, false },
        { "ISTIO_OUTBOUND_OWNER_GROUPS", 200, false },
        { "ISTIO_OUTBOUND_OWNER_GROUPS_EXCLUDE", 65, true },
        { "ISTIO_OUTBOUND_OWNER_GROUPS_EXCLUDE", 1000, true },
};

START_TEST(test_owner_group_count) {
        struct capture_config c;
        struct config_error err = {};
        _cleanup_free_ char *list = repeat_list("1000", group_counts[_i].n);
        _cleanup_free_ char *env = NULL;

        ck_assert_int_ge(asprintf(&env, "%s=%s", group_counts[_i].var, list), 0);
        ck_assert_int_eq(parse(&c, NULL, ENV(env), NULL, &err), 0);
        if (group_counts[_i].valid)
                ck_assert_int_eq(config_validate(&c, &err), 0);
        else {
                char n[32];
                snprintf(n, sizeof n, "%zu", group_counts[_i].n);
                ck_assert_int_eq(config_validate(&c, &err), -EINVAL);
                ck_assert_int_eq(err.kind, CONFIG_ERR_CONFIG);
                ck_assert_msg(strstr(err.msg, "ISTIO_OUTBOUND_OWNER_GROUPS") && strstr(err.msg, n) && strstr(err.msg, "64"),
                              "%s", err.msg);
        }
        config_done(&c);
}
END_TEST

/* CONFIG_MAX_LIST+1 items in any list → E2BIG, reported as a config error naming the flag. */
static const struct {
        const char *flag;
        const char *item;
        const char *names;
        size_t max;
        const char *max_text;
} overlong[] = {
        { "-b", "80", "--istio-inbound-ports", CONFIG_MAX_LIST, "1024" },
        { "-q", "80", "--istio-outbound-ports", CONFIG_MAX_LIST, "1024" },
        { "-c", "eth0", "--istio-exclude-interfaces", CONFIG_MAX_LIST, "1024" },
        { "-k", "eth0", "--kube-virt-interfaces", CONFIG_MAX_LIST, "1024" },
        /* CIDR lists: up to what one exec argument carries (issue 14). */
        { "-i", "10.0.0.0/8", "--istio-service-cidr", CONFIG_MAX_CIDRS, "16384" },
        { "-x", "fd00::/8", "--istio-service-exclude-cidr", CONFIG_MAX_CIDRS, "16384" },
        { "-u", "1337", "--proxy-uid", CONFIG_MAX_LIST, "1024" },
        { "-g", "1337", "--proxy-gid", CONFIG_MAX_LIST, "1024" },
};

START_TEST(test_overlong_lists) {
        struct capture_config c;
        struct config_error err;
        _cleanup_free_ char *ok = repeat_list(overlong[_i].item, overlong[_i].max);
        _cleanup_free_ char *big = repeat_list(overlong[_i].item, overlong[_i].max + 1);

        ck_assert_int_eq(parse(&c, A(overlong[_i].flag, ok), NULL, NULL, &err), 0);
        config_done(&c);
        ck_assert_int_eq(parse(&c, A(overlong[_i].flag, big), NULL, NULL, &err), -EINVAL);
        ck_assert_int_eq(err.kind, CONFIG_ERR_CONFIG);
        ck_assert_msg(strstr(err.msg, "too many") && strstr(err.msg, overlong[_i].names) && strstr(err.msg, overlong[_i].max_text), "%s",
                      err.msg);
        config_done(&c);
}
END_TEST

START_TEST(test_loopback_cidr_good) {
        struct capture_config c;
        struct config_error err;
        char buf[NETADDR_CIDR_STRLEN];

        ck_assert_int_eq(parse(&c, NULL, ENV("ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR=127.0.0.0/8"), NULL, &err), 0);
        ck_assert_str_eq(netaddr_cidr_to_string(&c.loopback4, buf, sizeof buf), "127.0.0.0/8");
        config_done(&c);
        ck_assert_int_eq(parse(&c, NULL, ENV("ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR=127.1.2.3/32"), NULL, &err), 0);
        ck_assert_str_eq(netaddr_cidr_to_string(&c.loopback4, buf, sizeof buf), "127.1.2.3/32");
        config_done(&c);
}
END_TEST

/* pflag syntax (§2.3). */
START_TEST(test_pflag_syntax) {
        struct capture_config c;
        struct config_error err;
        bool help;

        ck_assert_int_eq(parse(&c, A("-b80", "-q=81", "--istio-outbound-ports=82", "-p", "-1", "-p", "9"), NULL, NULL, &err), 0);
        ck_assert_uint_eq(c.inbound_ports.v[0], 80);
        ck_assert_uint_eq(c.outbound_ports.n, 1);
        ck_assert_uint_eq(c.outbound_ports.v[0], 82);
        ck_assert_uint_eq(c.proxy_port, 9);
        config_done(&c);

        ck_assert_int_eq(parse(&c, A("-b*"), NULL, NULL, &err), 0);
        ck_assert(c.inbound_all);
        config_done(&c);
        ck_assert_int_eq(parse(&c, A("-b=*"), NULL, NULL, &err), 0);
        ck_assert(c.inbound_all);
        config_done(&c);

        /* Positional arguments ignored; "--" ends flags. */
        ck_assert_int_eq(parse(&c, A("foo", "-n", "bar", "--", "--foo", "-y"), NULL, NULL, &err), 0);
        ck_assert(c.dry_run);
        config_done(&c);

        /* Historical and inherited flags are accepted. */
        ck_assert_int_eq(parse(&c, A("-f", "--restore-format=false", "--iptables-trace-logging", "--log_target", "stdout",
                                     "--log_caller=x", "--log_stacktrace_level", "none", "--vklog", "3"),
                               NULL, NULL, &err), 0);
        config_done(&c);
        ck_assert_int_eq(parse(&c, A("--log_output_level=default:debug,grpc:none", "--log_as_json"), NULL, NULL, &err), 0);
        ck_assert(c.log_as_json);
        config_done(&c);

        ck_assert_int_eq(parse(&c, A("--help"), NULL, &help, &err), 0);
        ck_assert(help);
        config_done(&c);
        ck_assert_int_eq(parse(&c, A("-h"), NULL, &help, &err), 0);
        ck_assert(help);
        config_done(&c);
        ck_assert_int_eq(parse(&c, A("--help=false"), NULL, &help, &err), 0);
        ck_assert(!help);
        config_done(&c);
        /* An unknown flag is reported even next to --help. */
        ck_assert_int_eq(parse(&c, A("--help", "--foo"), NULL, &help, &err), -EINVAL);
        ck_assert_int_eq(err.kind, CONFIG_ERR_CMDLINE);
        config_done(&c);
}
END_TEST

/* Bool flag forms: {args, env, expected dry_run}. */
static const struct {
        const char *args[4];
        const char *env[3];
        bool want;
} bool_cases[] = {
        { { "-n" }, {}, true },
        { { "--dry-run" }, {}, true },
        { { "--dry-run=false" }, {}, false },
        { { "--dry-run=1" }, {}, true },
        { { "--dry-run=T" }, {}, true },
        { { "--dry-run=FALSE" }, {}, false },
        { { "-n=false" }, {}, false },
        { { "-n", "false" }, {}, true }, /* a bool takes no separate value */
        { {}, { "DRY_RUN=true" }, true },
        { {}, { "DRY_RUN=0" }, false },
        { { "--dry-run=false" }, { "DRY_RUN=true" }, false },
        { { "-n" }, { "DRY_RUN=garbage" }, true }, /* the env value is never looked at */
};

START_TEST(test_bools) {
        struct capture_config c;
        struct config_error err;
        ck_assert_int_eq(parse(&c, bool_cases[_i].args, bool_cases[_i].env, NULL, &err), 0);
        ck_assert(c.dry_run == bool_cases[_i].want);
        config_done(&c);
}
END_TEST

/* Precedence: CLI > alternate env > primary env > default (§2.3). */
START_TEST(test_env_precedence) {
        struct capture_config c;
        struct config_error err;

        ck_assert_int_eq(parse(&c, NULL, ENV("REDIRECT_DNS=true", "ISTIO_META_DNS_CAPTURE=false"), NULL, &err), 0);
        ck_assert(!c.redirect_dns);
        config_done(&c);
        ck_assert_int_eq(parse(&c, NULL, ENV("ISTIO_META_DNS_CAPTURE=true", "REDIRECT_DNS=false"), NULL, &err), 0);
        ck_assert(c.redirect_dns);
        config_done(&c);
        ck_assert_int_eq(parse(&c, A("--redirect-dns=false"), ENV("ISTIO_META_DNS_CAPTURE=true"), NULL, &err), 0);
        ck_assert(!c.redirect_dns);
        config_done(&c);
        /* A bad env value is irrelevant when the command line sets the flag. */
        ck_assert_int_eq(parse(&c, A("--redirect-dns"), ENV("REDIRECT_DNS=yes"), NULL, &err), 0);
        ck_assert(c.redirect_dns);
        config_done(&c);

        ck_assert_int_eq(parse(&c, NULL, ENV("DROP_INVALID=false", "INVALID_DROP=true"), NULL, &err), 0);
        ck_assert(c.drop_invalid);
        config_done(&c);
        ck_assert_int_eq(parse(&c, NULL, ENV("DROP_INVALID=true", "INVALID_DROP=false"), NULL, &err), 0);
        ck_assert(!c.drop_invalid);
        config_done(&c);
        ck_assert_int_eq(parse(&c, NULL, ENV("DUAL_STACK=false", "ISTIO_DUAL_STACK=true"), NULL, &err), 0);
        ck_assert(c.dual_stack);
        config_done(&c);

        ck_assert_int_eq(parse(&c, A("-u", "7", "-z", "1000"), ENV("PROXY_UID=5", "INBOUND_CAPTURE_PORT=2000", "PROXY_GID=9"),
                               NULL, &err), 0);
        ck_assert_uint_eq(c.proxy_uid.n, 1);
        ck_assert_uint_eq(c.proxy_uid.v[0].id, 7);
        ck_assert_uint_eq(c.proxy_gid.v[0].id, 9);
        ck_assert_uint_eq(c.inbound_capture_port, 1000);
        config_done(&c);

        /* Quirk 17: ENVOY_PORT is not honoured. */
        ck_assert_int_eq(parse(&c, NULL, ENV("ENVOY_PORT=1234"), NULL, &err), 0);
        ck_assert_uint_eq(c.proxy_port, 15001);
        config_done(&c);
        ck_assert_int_eq(parse(&c, NULL, ENV("ENVOY_PORT=garbage"), NULL, &err), 0);
        config_done(&c);

        /* Env names must match exactly (no prefix match). */
        ck_assert_int_eq(parse(&c, NULL, ENV("DRY_RUNX=true", "DRY_RU=true", "NOEQUALS"), NULL, &err), 0);
        ck_assert(!c.dry_run);
        config_done(&c);
}
END_TEST

static const struct {
        const char *in;
        uint64_t usec;
} dur_good[] = {
        { "5s", 5000000 }, { "500ms", 500000 }, { "1m30s", 90000000 }, { "1.5s", 1500000 }, { "0", 0 },
        { "+2s", 2000000 }, { "1h", 3600000000ULL }, { "300us", 300 }, { "1\xc2\xb5s", 1 }, { ".5s", 500000 },
        { "2000ns", 2 },
};

START_TEST(test_duration_good) {
        struct capture_config c;
        struct config_error err;
        _cleanup_free_ char *arg = NULL;
        uint64_t v = 12345;

        ck_assert_int_eq(config_parse_duration_usec(dur_good[_i].in, &v), 0);
        ck_assert_uint_eq(v, dur_good[_i].usec);
        ck_assert_int_ge(asprintf(&arg, "--probe-timeout=%s", dur_good[_i].in), 0);
        ck_assert_int_eq(parse(&c, A(arg), NULL, NULL, &err), 0);
        ck_assert_uint_eq(c.probe_timeout_usec, dur_good[_i].usec);
        config_done(&c);
}
END_TEST

static const char *const dur_bad[] = { "5", "-1s", "", "s", "1x", "1.5", "ms", " 5s", "5s ", "5 s", ".", "-0s", "1sm" };

START_TEST(test_duration_bad) {
        uint64_t v = 12345;
        ck_assert_int_lt(config_parse_duration_usec(dur_bad[_i], &v), 0);
        ck_assert_uint_eq(v, 12345);
}
END_TEST

/* --iptables-probe-port: Go strconv.ParseUint(s, 0, 16). */
static const struct {
        const char *in;
        int ok;
        uint16_t want;
} probe_cases[] = {
        { "0x3a9a", 1, 15002 }, { "15002", 1, 15002 }, { "070", 1, 56 }, { "0o17", 1, 15 }, { "0b101", 1, 5 },
        { "0X10", 1, 16 }, { "0", 1, 0 }, { "65535", 1, 65535 }, { "0_7", 1, 7 }, { "0x1_0", 1, 16 },
        { "65536", 0, 0 }, { "0x10000", 0, 0 }, { "08", 0, 0 }, { "0b2", 0, 0 }, { "", 0, 0 }, { "0x", 0, 0 },
        { "1__0", 0, 0 }, { "0x1_", 0, 0 }, { "+1", 0, 0 }, { "-1", 0, 0 }, { " 1", 0, 0 },
};

START_TEST(test_probe_port) {
        struct capture_config c;
        struct config_error err;
        _cleanup_free_ char *arg = NULL;

        ck_assert_int_ge(asprintf(&arg, "--iptables-probe-port=%s", probe_cases[_i].in), 0);
        if (probe_cases[_i].ok) {
                ck_assert_int_eq(parse(&c, A(arg), NULL, NULL, &err), 0);
                ck_assert_uint_eq(c.probe_port, probe_cases[_i].want);
        } else {
                ck_assert_int_eq(parse(&c, A(arg), NULL, NULL, &err), -EINVAL);
                ck_assert_int_eq(err.kind, CONFIG_ERR_CMDLINE);
                ck_assert_msg(strstr(err.msg, "--iptables-probe-port"), "%s", err.msg);
        }
        config_done(&c);
}
END_TEST

START_TEST(test_force_binary) {
        struct capture_config c;
        struct config_error err;

        ck_assert_int_eq(parse(&c, A("--force-iptables-binary=legacy"), NULL, NULL, &err), 0);
        ck_assert_int_eq(c.force_binary, CONFIG_FORCE_LEGACY);
        config_done(&c);
        ck_assert_int_eq(parse(&c, NULL, ENV("FORCE_IPTABLES_BINARY=nft"), NULL, &err), 0);
        ck_assert_int_eq(c.force_binary, CONFIG_FORCE_NFT);
        config_done(&c);
        ck_assert_int_eq(parse(&c, A("--force-iptables-binary="), ENV("FORCE_IPTABLES_BINARY=nft"), NULL, &err), 0);
        ck_assert_int_eq(c.force_binary, CONFIG_FORCE_NONE);
        config_done(&c);
        ck_assert_int_eq(parse(&c, A("--network-namespace", "/var/run/netns/x", "--network-namespace=/y"), NULL, NULL, &err), 0);
        ck_assert_str_eq(c.network_namespace, "/y");
        config_done(&c);
}
END_TEST

/* --- the typed parsers directly --------------------------------------------------------------- */

static const struct {
        const char *in;
        int r;
        uint16_t v;
} port_cases[] = {
        { "0", 0, 0 }, { "80", 0, 80 }, { "65535", 0, 65535 }, { "65536", -ERANGE, 0 }, { "99999999999", -ERANGE, 0 },
        { "-1", -EINVAL, 0 }, { "abc", -EINVAL, 0 }, { "80a", -EINVAL, 0 }, { " 443", -EINVAL, 0 }, { "443 ", -EINVAL, 0 },
        { "", -EINVAL, 0 }, { "+80", -EINVAL, 0 }, { "0x50", -EINVAL, 0 }, { "999999999999999999999", -EINVAL, 0 },
        { "18446744073709551616", -ERANGE, 0 },
};

START_TEST(test_parse_port) {
        uint16_t v = 4242;
        ck_assert_int_eq(config_parse_port(port_cases[_i].in, &v), port_cases[_i].r);
        ck_assert_uint_eq(v, port_cases[_i].r == 0 ? port_cases[_i].v : 4242);
}
END_TEST

static const struct {
        const char *in;
        int r;
        size_t n;
} port_list_cases[] = {
        { "6000,7000,", 0, 2 }, { ",,,", 0, 0 }, { "", 0, 0 }, { "1", 0, 1 }, { ",80,,81,", 0, 2 },
        { "80, 443", -EINVAL, 0 }, { "80,65536", -EINVAL, 0 }, { "*", -EINVAL, 0 }, { "80;81", -EINVAL, 0 },
};

START_TEST(test_parse_port_list) {
        struct config_ports p = { .n = 1, .v = malloc(sizeof(uint16_t)) };
        p.v[0] = 4242;
        ck_assert_int_eq(config_parse_port_list(port_list_cases[_i].in, &p), port_list_cases[_i].r);
        if (port_list_cases[_i].r == 0)
                ck_assert_uint_eq(p.n, port_list_cases[_i].n);
        else
                ck_assert(p.n == 1 && p.v[0] == 4242); /* untouched on failure */
        config_ports_free(&p);
}
END_TEST

START_TEST(test_parse_list_limits) {
        struct config_ports p = {};
        struct config_owners o = {};
        struct config_ifaces i = {};
        struct config_cidrs two[2] = {};
        const char *bad = NULL;
        _cleanup_free_ char *ports_ok = repeat_list("1", CONFIG_MAX_LIST);
        _cleanup_free_ char *ports_big = repeat_list("1", CONFIG_MAX_LIST + 1);
        _cleanup_free_ char *long_item = NULL;

        ck_assert_int_eq(config_parse_port_list(ports_ok, &p), 0);
        ck_assert_uint_eq(p.n, CONFIG_MAX_LIST);
        ck_assert_int_eq(config_parse_port_list(ports_big, &p), -E2BIG);
        ck_assert_uint_eq(p.n, CONFIG_MAX_LIST);
        config_ports_free(&p);
        ck_assert_int_eq(config_parse_owner_list(ports_big, &o, &bad), -E2BIG);
        ck_assert_int_eq(config_parse_iface_list(ports_big, &i), -E2BIG);
        {
                _cleanup_free_ char *cidrs_ok = repeat_list("10.0.0.0/8", CONFIG_MAX_CIDRS);
                _cleanup_free_ char *cidrs_big = repeat_list("10.0.0.0/8", CONFIG_MAX_CIDRS + 1);
                ck_assert_int_eq(config_parse_cidr_list(cidrs_ok, true, NULL, two, &bad), 0);
                ck_assert_uint_eq(two[0].n, CONFIG_MAX_CIDRS);
                ck_assert_int_eq(config_parse_cidr_list(cidrs_big, true, NULL, two, &bad), -E2BIG);
        }
        /* An item longer than any valid one is an error, not a truncation. */
        long_item = malloc(5001);
        memset(long_item, '1', 5000);
        long_item[5000] = 0;
        ck_assert_int_eq(config_parse_port_list(long_item, &p), -EINVAL);
        ck_assert_int_eq(config_parse_cidr_list(long_item, true, NULL, two, &bad), -EINVAL);
        ck_assert_ptr_eq(bad, long_item);
        free(two[0].v);
        free(two[1].v);
}
END_TEST

START_TEST(test_parse_cidr_list) {
        struct config_cidrs two[2] = {};
        const char *bad = NULL;
        const char *s = "10.0.0.0/8,fd00::/8,1.2.3.4,5.6.7.8/32";
        bool all = true;

        ck_assert_int_eq(config_parse_cidr_list("*", false, &all, two, &bad), -EINVAL);
        ck_assert_int_eq(config_parse_cidr_list("*", true, &all, two, &bad), 0);
        ck_assert(all);
        ck_assert_int_eq(config_parse_cidr_list(s, true, &all, two, &bad), -EINVAL);
        ck_assert_ptr_eq(bad, s + strlen("10.0.0.0/8,fd00::/8,")); /* points at the bad item */
        ck_assert_int_eq(config_parse_cidr_list("10.0.0.0/8,fd00::/8,::ffff:1.2.3.4/128", true, &all, two, &bad), 0);
        ck_assert(!all);
        ck_assert_uint_eq(two[0].n, 1);
        ck_assert_uint_eq(two[1].n, 2);
        free(two[0].v);
        free(two[1].v);
}
END_TEST

static const struct {
        const char *in;
        int r;
        bool is_name;
        uint32_t id;
} owner_cases[] = {
        { "0", 0, false, 0 }, { "1337", 0, false, 1337 }, { "4294967294", 0, false, 4294967294u },
        { "istio-proxy", 0, true, 0 }, { "_x", 0, true, 0 }, { "a.b", 0, true, 0 }, { "machine$", 0, true, 0 },
        { "abcdefghijabcdefghijabcdefghijab", 0, true, 0 }, /* 32 chars */
        { "abcdefghijabcdefghijabcdefghijabc", -EINVAL, false, 0 },
        { "4294967295", -EINVAL, false, 0 }, { "-1", -EINVAL, false, 0 }, { "1337x", -EINVAL, false, 0 },
        { "istio proxy", -EINVAL, false, 0 }, { "", -EINVAL, false, 0 }, { "a$b", -EINVAL, false, 0 },
        { "-rf", -EINVAL, false, 0 }, { "a/b", -EINVAL, false, 0 }, { "99999999999999999999999", -EINVAL, false, 0 },
};

START_TEST(test_parse_owner) {
        struct config_owner o = {};
        ck_assert_int_eq(config_parse_owner(owner_cases[_i].in, &o), owner_cases[_i].r);
        if (owner_cases[_i].r == 0) {
                char buf[64];
                ck_assert(o.is_name == owner_cases[_i].is_name);
                if (!o.is_name)
                        ck_assert_uint_eq(o.id, owner_cases[_i].id);
                ck_assert_str_eq(config_owner_to_string(&o, buf, sizeof buf), owner_cases[_i].in);
        }
}
END_TEST

static const struct {
        const char *in;
        int ok;
} iface_cases[] = {
        { "eth0", 1 }, { "abcdefghijklmno", 1 }, { "veth+", 1 }, { "a.b_c-d", 1 }, { "lo", 1 },
        { "abcdefghijklmnop", 0 }, { "", 0 }, { "eth0 -j ACCEPT", 0 }, { "a/b", 0 }, { "+eth", 0 }, { "e+th", 0 },
        { "-eth", 0 }, { ".", 0 }, { "..", 0 }, { "eth0\n", 0 }, { "eth:0", 0 }, { "eth\"0", 0 }, { "*", 0 },
};

START_TEST(test_parse_iface) {
        char name[IFNAMSIZ] = "unchanged";
        int r = config_parse_iface(iface_cases[_i].in, name);
        if (iface_cases[_i].ok) {
                ck_assert_int_eq(r, 0);
                ck_assert_str_eq(name, iface_cases[_i].in);
        } else {
                ck_assert_int_eq(r, -EINVAL);
                ck_assert_str_eq(name, "unchanged");
        }
}
END_TEST

static const struct {
        const char *in;
        int r;
        bool v;
} bool_parse_cases[] = {
        { "1", 0, true }, { "t", 0, true }, { "T", 0, true }, { "TRUE", 0, true }, { "true", 0, true }, { "True", 0, true },
        { "0", 0, false }, { "f", 0, false }, { "F", 0, false }, { "FALSE", 0, false }, { "false", 0, false },
        { "False", 0, false }, { "yes", -EINVAL, false }, { "tRUE", -EINVAL, false }, { "", -EINVAL, false },
        { "on", -EINVAL, false }, { " true", -EINVAL, false }, { "2", -EINVAL, false },
};

START_TEST(test_parse_bool) {
        bool b = !bool_parse_cases[_i].v;
        ck_assert_int_eq(config_parse_bool(bool_parse_cases[_i].in, &b), bool_parse_cases[_i].r);
        if (bool_parse_cases[_i].r == 0)
                ck_assert(b == bool_parse_cases[_i].v);
}
END_TEST

START_TEST(test_parse_uint32) {
        uint32_t v = 0;
        ck_assert_int_eq(config_parse_uint32("4294967295", &v), 0);
        ck_assert_uint_eq(v, 4294967295u);
        ck_assert_int_eq(config_parse_uint32("4294967296", &v), -ERANGE);
        ck_assert_int_eq(config_parse_uint32("-1", &v), -EINVAL);
        ck_assert_int_eq(config_parse_uint32("0x10", &v), -EINVAL);
        ck_assert_int_eq(config_parse_uint32("", &v), -EINVAL);
}
END_TEST

/* resolv.conf(5): comments, several servers, v4/v6 split, garbage dropped. */
static const struct {
        const char *text;
        const char *v4, *v6; /* space-separated canonical text */
} resolv_cases[] = {
        { "nameserver 10.0.0.1\n", "10.0.0.1", "" },
        { "# generated\nsearch svc.cluster.local\nnameserver 10.96.0.10\nnameserver 10.96.0.11\noptions ndots:5\n",
          "10.96.0.10 10.96.0.11", "" },
        { "nameserver 2001:DB8::1\nnameserver 10.0.0.1\n", "10.0.0.1", "2001:db8::1" },
        { "nameserver ::127.0.0.53\n", "", "::127.0.0.53" },
        { "nameserver ::ffff:1.2.3.4\n", "", "::ffff:1.2.3.4" }, /* IPv4-mapped goes to v6 */
        { "nameserver garbage\nnameserver 010.0.0.1\nnameserver 1.2.3.4/32\nnameserver\nnameserver 9.9.9.9", "9.9.9.9", "" },
        { "#nameserver 1.1.1.1\n; nameserver 2.2.2.2\n  nameserver\t8.8.8.8  \r\nnameserver 8.8.4.4 # trailing\n",
          "8.8.8.8 8.8.4.4", "" },
        { "nameservers 1.1.1.1\nNAMESERVER 2.2.2.2\n", "", "" },
        { "", "", "" },
        { "\n\n\n", "", "" },
};

static void join_ips(const struct config_ips *l, char *buf, size_t size) {
        char a[INET6_ADDRSTRLEN];
        buf[0] = 0;
        for (size_t i = 0; i < l->n; i++) {
                strncat(buf, i ? " " : "", size - strlen(buf) - 1);
                strncat(buf, netaddr_ip_to_string(&l->v[i], a, sizeof a), size - strlen(buf) - 1);
        }
}

START_TEST(test_resolv_conf) {
        struct config_ips v4 = {}, v6 = {};
        char buf[256];

        ck_assert_int_eq(config_parse_resolv_conf(resolv_cases[_i].text, &v4, &v6), 0);
        join_ips(&v4, buf, sizeof buf);
        ck_assert_str_eq(buf, resolv_cases[_i].v4);
        join_ips(&v6, buf, sizeof buf);
        ck_assert_str_eq(buf, resolv_cases[_i].v6);
        free(v4.v);
        free(v6.v);
}
END_TEST

START_TEST(test_resolv_conf_long_line) {
        struct config_ips v4 = {}, v6 = {};
        _cleanup_free_ char *text = malloc(3000);
        memset(text, 'x', 2000);
        strcpy(text + 2000, "\nnameserver 1.1.1.1\n");
        ck_assert_int_eq(config_parse_resolv_conf(text, &v4, &v6), 0);
        ck_assert_uint_eq(v4.n, 1);
        free(v4.v);
        free(v6.v);
}
END_TEST

/* --- the applet: exit codes (check forks each test, so clearenv() is local) ------------------ */

static const struct {
        const char *args[6];
        const char *env;
        int code;
        const char *says;
} exit_cases[] = {
        { { "--foo" }, NULL, 255, "--foo" },
        { { "-y" }, NULL, 255, "'y'" },
        { { "-p" }, NULL, 255, "argument" },
        { { "--dry-run=maybe" }, NULL, 255, "maybe" },
        { { "--probe-timeout", "5" }, NULL, 255, "\"5\"" },
        { { "--iptables-probe-port", "65536" }, NULL, 255, "65536" },
        { { "--log_output_level", "loud" }, NULL, 255, "loud" },
        { { "-n", "-i", "10.0.0.0" }, NULL, 1, "10.0.0.0" },
        { { "-n", "-i", "10.0.0.0/33" }, NULL, 1, "10.0.0.0/33" },
        { { "-n", "-x", "*" }, NULL, 1, "OUTBOUND_IP_RANGES_EXCLUDE" },
        { { "-n", "-m", "tproxy" }, NULL, 1, "tproxy" },
        { { "-n", "-b", "65536" }, NULL, 1, "65536" },
        { { "-n", "-u", "-1" }, NULL, 1, "-1" },
        { { "-n", "-c", "eth0 -j ACCEPT" }, NULL, 1, "eth0 -j ACCEPT" },
        { { "-n" }, "REDIRECT_DNS=yes", 1, "REDIRECT_DNS" },
        { { "-n" }, "ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR=10.0.0.0/8", 1, "10.0.0.0/8" },
        { { "--help" }, NULL, 0, NULL },
        { { "-h", "-i", "bad" }, NULL, 0, NULL },
};

START_TEST(test_applet_exit) {
        const char *argv[8] = { "istio-iptables" };
        int argc = 1, fd, code;
        char out[2048] = "";
        ssize_t n;
        FILE *tmp = tmpfile();

        ck_assert_ptr_nonnull(tmp);
        for (; exit_cases[_i].args[argc - 1]; argc++)
                argv[argc] = exit_cases[_i].args[argc - 1];
        clearenv();
        if (exit_cases[_i].env)
                ck_assert_int_eq(putenv((char *)exit_cases[_i].env), 0);
        /* The applet writes its errors to stderr: capture them; --help goes to stdout: drop it. */
        ck_assert_ptr_nonnull(freopen("/dev/null", "w", stdout));
        fflush(stderr);
        fd = dup(STDERR_FILENO);
        ck_assert_int_eq(dup2(fileno(tmp), STDERR_FILENO), STDERR_FILENO);
        code = istio_iptables_main(argc, (char **)argv);
        fflush(stderr);
        dup2(fd, STDERR_FILENO);
        close(fd);
        n = pread(fileno(tmp), out, sizeof out - 1, 0);
        out[n > 0 ? n : 0] = 0;
        fclose(tmp);

        ck_assert_msg(code == exit_cases[_i].code, "case %d: exit %d, expected %d; stderr: %s", _i, code,
                      exit_cases[_i].code, out);
        if (exit_cases[_i].says)
                ck_assert_msg(strstr(out, exit_cases[_i].says), "case %d: stderr lacks %s: %s", _i, exit_cases[_i].says, out);
}
END_TEST

/* --- Go parsing compatibility (these found two divergences, since fixed in lib/rules/config.c) ------- */

START_TEST(test_go_probe_port_underscore) {
        /* Go: strconv.ParseUint("1_000", 0, 16) = 1000 and ("0x_1f", 0, 16) = 31 (underscores are
         * allowed between digits and after a base prefix when base is 0). */
        struct capture_config c;
        struct config_error err;
        ck_assert_int_eq(parse(&c, A("--iptables-probe-port=1_000"), NULL, NULL, &err), 0);
        ck_assert_uint_eq(c.probe_port, 1000);
        config_done(&c);
        ck_assert_int_eq(parse(&c, A("--iptables-probe-port=0x_1f"), NULL, NULL, &err), 0);
        ck_assert_uint_eq(c.probe_port, 31);
        config_done(&c);
}
END_TEST

START_TEST(test_go_duration_no_strtod) {
        /* Go time.ParseDuration rejects exponents and hex ("unknown unit"); strtod() accepts them. */
        uint64_t v = 0;
        ck_assert_int_lt(config_parse_duration_usec("1e3s", &v), 0);
        ck_assert_int_lt(config_parse_duration_usec("0x10s", &v), 0);
        ck_assert_int_lt(config_parse_duration_usec("1E1ms", &v), 0);
}
END_TEST

static Suite *config_suite(void) {
        Suite *s = suite_create("config");
        TCase *tc = tcase_create("reject");
        tcase_add_loop_test(tc, test_bad, 0, ELEMENTSOF(bad));
        tcase_add_loop_test(tc, test_overlong_lists, 0, ELEMENTSOF(overlong));
        tcase_add_loop_test(tc, test_owner_group_count, 0, ELEMENTSOF(group_counts));
        tcase_add_loop_test(tc, test_duration_bad, 0, ELEMENTSOF(dur_bad));
        suite_add_tcase(s, tc);

        tc = tcase_create("accept");
        tcase_add_test(tc, test_defaults);
        tcase_add_test(tc, test_lists);
        tcase_add_test(tc, test_cidrs);
        tcase_add_loop_test(tc, test_loopback_include, 0, ELEMENTSOF(loop_cases));
        tcase_add_test(tc, test_modes);
        tcase_add_test(tc, test_owners);
        tcase_add_test(tc, test_loopback_cidr_good);
        tcase_add_test(tc, test_pflag_syntax);
        tcase_add_loop_test(tc, test_bools, 0, ELEMENTSOF(bool_cases));
        tcase_add_test(tc, test_env_precedence);
        tcase_add_loop_test(tc, test_duration_good, 0, ELEMENTSOF(dur_good));
        tcase_add_loop_test(tc, test_probe_port, 0, ELEMENTSOF(probe_cases));
        tcase_add_test(tc, test_force_binary);
        suite_add_tcase(s, tc);

        tc = tcase_create("parsers");
        tcase_add_loop_test(tc, test_parse_port, 0, ELEMENTSOF(port_cases));
        tcase_add_loop_test(tc, test_parse_port_list, 0, ELEMENTSOF(port_list_cases));
        tcase_add_test(tc, test_parse_list_limits);
        tcase_add_test(tc, test_parse_cidr_list);
        tcase_add_loop_test(tc, test_parse_owner, 0, ELEMENTSOF(owner_cases));
        tcase_add_loop_test(tc, test_parse_iface, 0, ELEMENTSOF(iface_cases));
        tcase_add_loop_test(tc, test_parse_bool, 0, ELEMENTSOF(bool_parse_cases));
        tcase_add_test(tc, test_parse_uint32);
        tcase_add_loop_test(tc, test_resolv_conf, 0, ELEMENTSOF(resolv_cases));
        tcase_add_test(tc, test_resolv_conf_long_line);
        suite_add_tcase(s, tc);

        tc = tcase_create("applet");
        tcase_add_loop_test(tc, test_applet_exit, 0, ELEMENTSOF(exit_cases));
        suite_add_tcase(s, tc);

        tc = tcase_create("go_compat");
        tcase_add_test(tc, test_go_probe_port_underscore);
        tcase_add_test(tc, test_go_duration_no_strtod);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(config_suite());
        int failed;
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
