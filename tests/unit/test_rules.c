/* SPDX-License-Identifier: Apache-2.0 */
/* test_rules.c: the pure rule builder (lib/rules) and its renderers (lib/rules-ipt, lib/rules-nft).
 * Spec: istio-iptables.md §3 (emission order), §4 (payload), §5.6 (cleanup), §7 (nftables), §9
 * (dry-run record), §10 quirks. Structure checks here; full golden coverage is in tests/golden/. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/config.h"
#include "base/macro.h"
#include "rules/rules-ipt.h"
#include "rules/rules-nft.h"
#include "rules/rules.h"

#define MAXARGS 12

/* A config as istio-iptables would build it, without touching the system: parsed flags/env,
 * proxy uid/gid defaulting to 1337, IPv6 and DNS servers given explicitly. */
static void make_config(struct capture_config *c, const char *const *args, const char *const *env, bool ipv6,
                        const char *dns) {
        const char *argv[MAXARGS + 2] = { "istio-iptables" };
        struct config_error err;
        bool help;
        int argc = 1;

        for (; args && args[argc - 1]; argc++)
                argv[argc] = args[argc - 1];
        config_init(c);
        ck_assert_msg(config_parse(c, argc, (char *const *)argv, (char *const *)env, &help, &err) == 0, "%s", err.msg);
        for (int gid = 0; gid <= 1; gid++) {
                struct config_owners *o = gid ? &c->proxy_gid : &c->proxy_uid;
                if (o->n)
                        continue;
                ck_assert_int_eq(config_parse_owner_list("1337", o, NULL), 0);
        }
        c->enable_ipv6 = ipv6;
        if (dns)
                ck_assert_int_eq(config_parse_resolv_conf(dns, &c->dns4, &c->dns6), 0);
        ck_assert_msg(config_validate(c, &err) == 0, "%s", err.msg);
}

#define A(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define ENV(...) ((const char *const[]){ __VA_ARGS__, NULL })

static size_t count(const struct rules_list *l, enum rules_table t, enum rules_chain ch) {
        size_t n = 0;
        for (size_t i = 0; i < l->n; i++)
                n += l->v[i].table == t && l->v[i].chain == ch;
        return n;
}

/* The rule's iptables text after "-A CHAIN ", for readable assertions. */
static char *args_of(const struct rules_rule *r) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        ck_assert_ptr_nonnull(f);
        ck_assert_int_eq(rules_ipt_format_args(f, r), 0);
        fclose(f);
        return buf;
}

/* Index of the first rule in (t, ch) whose args equal s, or -1. */
static long find(const struct rules_list *l, enum rules_table t, enum rules_chain ch, const char *s) {
        for (size_t i = 0; i < l->n; i++) {
                if (l->v[i].table != t || l->v[i].chain != ch)
                        continue;
                _cleanup_free_ char *a = args_of(&l->v[i]);
                if (streq(a, s))
                        return (long)i;
        }
        return -1;
}

static const char empty_payload[] =
        "* nat\n"
        "-N ISTIO_INBOUND\n"
        "-N ISTIO_REDIRECT\n"
        "-N ISTIO_IN_REDIRECT\n"
        "-N ISTIO_OUTPUT\n"
        "-A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN\n"
        "-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001\n"
        "-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006\n"
        "-A OUTPUT -j ISTIO_OUTPUT\n"
        "-A ISTIO_OUTPUT -o lo -s 127.0.0.6/32 -j RETURN\n"
        "-A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT\n"
        "-A ISTIO_OUTPUT -o lo -m owner ! --uid-owner 1337 -j RETURN\n"
        "-A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN\n"
        "-A ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT\n"
        "-A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 1337 -j RETURN\n"
        "-A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN\n"
        "-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN\n"
        "COMMIT\n";

START_TEST(test_default_ipt) {
        struct capture_config c;
        struct ruleset *rs = NULL;
        _cleanup_free_ char *text = NULL, *rec = NULL, *clean = NULL, *text6 = NULL;

        make_config(&c, NULL, NULL, false, NULL);
        ck_assert_int_eq(rules_build(&c, RULES_FLAVOR_IPTABLES, &rs), 0);
        ck_assert_uint_eq(rs->fam[0].n, 12);
        ck_assert_uint_eq(rs->fam[1].n, 0);
        ck_assert(!rs->dns_on);
        for (size_t i = 0; i < rs->fam[0].n; i++) {
                ck_assert_int_eq(rs->fam[0].v[i].table, RULES_TABLE_NAT);
                ck_assert_int_eq(rs->fam[0].v[i].family, AF_INET);
                ck_assert_uint_eq(rs->fam[0].v[i].position, 0);
        }
        ck_assert_uint_eq(count(&rs->fam[0], RULES_TABLE_NAT, RULES_CHAIN_ISTIO_OUTPUT), 8);

        ck_assert_int_eq(rules_ipt_render(&rs->fam[0], &text), 0);
        ck_assert_str_eq(text, empty_payload);
        ck_assert_int_eq(rules_ipt_render(&rs->fam[1], &text6), 0);
        ck_assert_str_eq(text6, "");

        ck_assert_int_eq(rules_ipt_dryrun_record(rs, false, &rec), 0);
        ck_assert(strncmp(rec, "iptables-save\nip6tables-save\n* nat\n", 35) == 0);
        ck_assert(strstr(rec, empty_payload) == rec + strlen("iptables-save\nip6tables-save\n"));
        ck_assert_str_eq(rec + strlen(rec) - strlen("COMMIT\niptables-save\n"), "COMMIT\niptables-save\n");

        /* §5.6's example, without the "iptables " prefix of the record. */
        ck_assert_int_eq(rules_ipt_cleanup_commands(&rs->fam[0], &clean), 0);
        ck_assert_str_eq(clean,
                         "-t nat -D ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT\n"
                         "-t nat -D ISTIO_OUTPUT -o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT\n"
                         "-t nat -D OUTPUT -j ISTIO_OUTPUT\n"
                         "-t nat -F ISTIO_OUTPUT\n-t nat -X ISTIO_OUTPUT\n"
                         "-t nat -F ISTIO_IN_REDIRECT\n-t nat -X ISTIO_IN_REDIRECT\n"
                         "-t nat -F ISTIO_REDIRECT\n-t nat -X ISTIO_REDIRECT\n"
                         "-t nat -F ISTIO_INBOUND\n-t nat -X ISTIO_INBOUND\n");
        free(rec);
        rec = NULL;
        ck_assert_int_eq(rules_ipt_dryrun_record(rs, true, &rec), 0);
        ck_assert(strstr(rec, "\niptables -t nat -D OUTPUT -j ISTIO_OUTPUT\n"));
        rules_free(rs);
        config_done(&c);
}
END_TEST

START_TEST(test_default_ipv6) {
        struct capture_config c;
        struct ruleset *rs = NULL;
        _cleanup_free_ char *rec = NULL;

        make_config(&c, NULL, NULL, true, NULL);
        ck_assert_int_eq(rules_build(&c, RULES_FLAVOR_IPTABLES, &rs), 0);
        ck_assert_uint_eq(rs->fam[1].n, rs->fam[0].n);
        for (size_t i = 0; i < rs->fam[1].n; i++)
                ck_assert_int_eq(rs->fam[1].v[i].family, AF_INET6);
        ck_assert_int_ge(find(&rs->fam[1], RULES_TABLE_NAT, RULES_CHAIN_ISTIO_OUTPUT, "-o lo -s ::6/128 -j RETURN"), 0);
        ck_assert_int_ge(find(&rs->fam[1], RULES_TABLE_NAT, RULES_CHAIN_ISTIO_OUTPUT, "-d ::1/128 -j RETURN"), 0);
        ck_assert_int_eq(find(&rs->fam[1], RULES_TABLE_NAT, RULES_CHAIN_ISTIO_OUTPUT, "-d 127.0.0.1/32 -j RETURN"), -1);
        ck_assert_int_eq(rules_ipt_dryrun_record(rs, false, &rec), 0);
        ck_assert_str_eq(rec + strlen(rec) - strlen("COMMIT\niptables-save\nip6tables-save\n"),
                         "COMMIT\niptables-save\nip6tables-save\n");
        rules_free(rs);
        config_done(&c);
}
END_TEST

/* -d only matters with -b '*' (quirk 12). */
START_TEST(test_inbound_exclude) {
        struct capture_config c;
        struct ruleset *rs = NULL;
        long ret, jump;

        make_config(&c, A("-b", "*", "-d", "6000,7000,"), NULL, false, NULL);
        ck_assert_int_eq(rules_build(&c, RULES_FLAVOR_IPTABLES, &rs), 0);
        ret = find(&rs->fam[0], RULES_TABLE_NAT, RULES_CHAIN_ISTIO_INBOUND, "-p tcp --dport 7000 -j RETURN");
        jump = find(&rs->fam[0], RULES_TABLE_NAT, RULES_CHAIN_ISTIO_INBOUND, "-p tcp -j ISTIO_IN_REDIRECT");
        ck_assert_int_ge(ret, 0);
        ck_assert_int_gt(jump, ret);
        ck_assert_int_ge(find(&rs->fam[0], RULES_TABLE_NAT, RULES_CHAIN_PREROUTING, "-p tcp -j ISTIO_INBOUND"), 0);
        rules_free(rs);
        config_done(&c);

        make_config(&c, A("-b", "80", "-d", "6000"), NULL, false, NULL);
        ck_assert_int_eq(rules_build(&c, RULES_FLAVOR_IPTABLES, &rs), 0);
        ck_assert_int_eq(find(&rs->fam[0], RULES_TABLE_NAT, RULES_CHAIN_ISTIO_INBOUND, "-p tcp --dport 6000 -j RETURN"), -1);
        ck_assert_int_ge(find(&rs->fam[0], RULES_TABLE_NAT, RULES_CHAIN_ISTIO_INBOUND, "-p tcp --dport 80 -j ISTIO_IN_REDIRECT"), 0);
        rules_free(rs);
        config_done(&c);

        /* -b '' disables inbound capture: no PREROUTING jump at all. */
        make_config(&c, A("-b", ""), NULL, false, NULL);
        ck_assert_int_eq(rules_build(&c, RULES_FLAVOR_IPTABLES, &rs), 0);
        ck_assert_uint_eq(count(&rs->fam[0], RULES_TABLE_NAT, RULES_CHAIN_PREROUTING), 0);
        rules_free(rs);
        config_done(&c);
}
END_TEST

START_TEST(test_tproxy) {
        struct capture_config c;
        struct ruleset *rs = NULL;
        const struct rules_list *l;
        unsigned pos[4] = {};

        make_config(&c, A("-m", "TPROXY", "-b", "80"), NULL, false, NULL);
        ck_assert_int_eq(rules_build(&c, RULES_FLAVOR_IPTABLES, &rs), 0);
        l = &rs->fam[0];
        ck_assert_uint_eq(count(l, RULES_TABLE_MANGLE, RULES_CHAIN_ISTIO_DIVERT), 2);
        ck_assert_uint_eq(count(l, RULES_TABLE_MANGLE, RULES_CHAIN_ISTIO_TPROXY), 1);
        ck_assert_int_ge(find(l, RULES_TABLE_MANGLE, RULES_CHAIN_ISTIO_TPROXY,
                              "! -d 127.0.0.1/32 -p tcp -j TPROXY --tproxy-mark 1337/0xffffffff --on-port 15006"), 0);
        ck_assert_int_ge(find(l, RULES_TABLE_MANGLE, RULES_CHAIN_PREROUTING, "-p tcp -j ISTIO_INBOUND"), 0);
        ck_assert_uint_eq(count(l, RULES_TABLE_NAT, RULES_CHAIN_PREROUTING), 0);
        /* The three RETURNs inserted at the top of mangle ISTIO_INBOUND, positions 1, 2, 3. */
        for (size_t i = 0; i < l->n; i++)
                if (l->v[i].table == RULES_TABLE_MANGLE && l->v[i].chain == RULES_CHAIN_ISTIO_INBOUND && l->v[i].position)
                        pos[l->v[i].position]++;
        ck_assert(pos[1] == 1 && pos[2] == 1 && pos[3] == 1);
        rules_free(rs);
        config_done(&c);

        /* The marks are set regardless of -b (quirk 9). */
        make_config(&c, A("-m", "TPROXY", "-t", "42"), NULL, false, NULL);
        ck_assert_int_eq(rules_build(&c, RULES_FLAVOR_IPTABLES, &rs), 0);
        ck_assert_int_ge(find(&rs->fam[0], RULES_TABLE_MANGLE, RULES_CHAIN_PREROUTING, "-p tcp -m mark --mark 42 -j CONNMARK --save-mark"), 0);
        ck_assert_uint_eq(count(&rs->fam[0], RULES_TABLE_MANGLE, RULES_CHAIN_ISTIO_TPROXY), 0);
        rules_free(rs);
        config_done(&c);
}
END_TEST

/* -k with -i '*': each virt interface inserted at position 1 of nat PREROUTING. */
START_TEST(test_virt_interfaces) {
        struct capture_config c;
        struct ruleset *rs = NULL;
        const struct rules_list *l;
        size_t ins = 0;

        make_config(&c, A("-k", "eth1,eth2", "-i", "*"), NULL, false, NULL);
        ck_assert_int_eq(rules_build(&c, RULES_FLAVOR_IPTABLES, &rs), 0);
        l = &rs->fam[0];
        for (size_t i = 0; i < l->n; i++)
                if (l->v[i].chain == RULES_CHAIN_PREROUTING) {
                        ck_assert_uint_eq(l->v[i].position, 1);
                        ins++;
                }
        ck_assert_uint_eq(ins, 4); /* RETURN + REDIRECT jump, per interface */
        ck_assert_int_ge(find(l, RULES_TABLE_NAT, RULES_CHAIN_PREROUTING, "-i eth2 -j ISTIO_REDIRECT"), 0);
        ck_assert_int_ge(find(l, RULES_TABLE_NAT, RULES_CHAIN_ISTIO_OUTPUT, "-j ISTIO_REDIRECT"), 0);
        rules_free(rs);
        config_done(&c);
}
END_TEST

START_TEST(test_cidrs_and_ports) {
        struct capture_config c;
        struct ruleset *rs = NULL;
        const struct rules_list *l;

        make_config(&c, A("-i", "10.1.2.3/8,2001:DB8::/32", "-x", "1.1.0.0/16,fd00::/8", "-q", "32000", "-o", "53"), NULL, true,
                    NULL);
        ck_assert_int_eq(rules_build(&c, RULES_FLAVOR_IPTABLES, &rs), 0);
        l = &rs->fam[0];
        ck_assert_int_ge(find(l, RULES_TABLE_NAT, RULES_CHAIN_ISTIO_OUTPUT, "-d 10.1.2.3/8 -j ISTIO_REDIRECT"), 0); /* not masked */
        ck_assert_int_ge(find(l, RULES_TABLE_NAT, RULES_CHAIN_ISTIO_OUTPUT, "-d 1.1.0.0/16 -j RETURN"), 0);
        ck_assert_int_eq(find(l, RULES_TABLE_NAT, RULES_CHAIN_ISTIO_OUTPUT, "-d fd00::/8 -j RETURN"), -1);
        ck_assert_int_ge(find(l, RULES_TABLE_NAT, RULES_CHAIN_ISTIO_OUTPUT, "-p tcp --dport 32000 -j ISTIO_REDIRECT"), 0);
        ck_assert_int_ge(find(l, RULES_TABLE_NAT, RULES_CHAIN_ISTIO_OUTPUT, "-p udp --dport 53 -j RETURN"), 0);
        l = &rs->fam[1];
        ck_assert_int_ge(find(l, RULES_TABLE_NAT, RULES_CHAIN_ISTIO_OUTPUT, "-d 2001:db8::/32 -j ISTIO_REDIRECT"), 0);
        ck_assert_int_ge(find(l, RULES_TABLE_NAT, RULES_CHAIN_ISTIO_OUTPUT, "-d fd00::/8 -j RETURN"), 0);
        ck_assert_int_eq(find(l, RULES_TABLE_NAT, RULES_CHAIN_ISTIO_OUTPUT, "-d 10.1.2.3/8 -j ISTIO_REDIRECT"), -1);
        /* Exclusions come before inclusions. */
        ck_assert_int_lt(find(l, RULES_TABLE_NAT, RULES_CHAIN_ISTIO_OUTPUT, "-d fd00::/8 -j RETURN"),
                         find(l, RULES_TABLE_NAT, RULES_CHAIN_ISTIO_OUTPUT, "-d 2001:db8::/32 -j ISTIO_REDIRECT"));
        rules_free(rs);
        config_done(&c);

        /* A loopback include drops the "other owners' loopback traffic" RETURNs (17b/18b). */
        make_config(&c, A("-i", "127.0.0.1/32"), NULL, false, NULL);
        ck_assert(c.include_has_loopback);
        ck_assert_int_eq(rules_build(&c, RULES_FLAVOR_IPTABLES, &rs), 0);
        ck_assert_int_eq(find(&rs->fam[0], RULES_TABLE_NAT, RULES_CHAIN_ISTIO_OUTPUT, "-o lo -m owner ! --uid-owner 1337 -j RETURN"), -1);
        ck_assert_uint_eq(rs->fam[0].n, 11);
        rules_free(rs);
        config_done(&c);
}
END_TEST

START_TEST(test_owner_groups) {
        struct capture_config c;
        struct ruleset *rs = NULL;

        make_config(&c, NULL, ENV("ISTIO_OUTBOUND_OWNER_GROUPS=java,202"), false, NULL);
        ck_assert_int_eq(rules_build(&c, RULES_FLAVOR_IPTABLES, &rs), 0);
        ck_assert_int_ge(find(&rs->fam[0], RULES_TABLE_NAT, RULES_CHAIN_ISTIO_OUTPUT,
                              "-m owner ! --gid-owner java -m owner ! --gid-owner 202 -j RETURN"), 0);
        rules_free(rs);
        config_done(&c);

        /* Set-but-empty include list: a RETURN-everything rule (§2.5). */
        make_config(&c, NULL, ENV("ISTIO_OUTBOUND_OWNER_GROUPS="), false, NULL);
        ck_assert_int_eq(rules_build(&c, RULES_FLAVOR_IPTABLES, &rs), 0);
        ck_assert_int_ge(find(&rs->fam[0], RULES_TABLE_NAT, RULES_CHAIN_ISTIO_OUTPUT, "-j RETURN"), 0);
        rules_free(rs);
        config_done(&c);

        make_config(&c, NULL, ENV("ISTIO_OUTBOUND_OWNER_GROUPS_EXCLUDE=888,ftp"), false, NULL);
        ck_assert_int_eq(rules_build(&c, RULES_FLAVOR_IPTABLES, &rs), 0);
        ck_assert_int_ge(find(&rs->fam[0], RULES_TABLE_NAT, RULES_CHAIN_ISTIO_OUTPUT, "-m owner --gid-owner ftp -j RETURN"), 0);
        rules_free(rs);
        config_done(&c);
}
END_TEST

/* The builder refuses more than 64 included groups even if validation was skipped. */
START_TEST(test_owner_groups_too_many) {
        struct capture_config c;
        struct ruleset *rs = NULL;

        config_init(&c);
        ck_assert_int_eq(config_parse_owner_list("1337", &c.proxy_uid, NULL), 0);
        ck_assert_int_eq(config_parse_owner_list("1337", &c.proxy_gid, NULL), 0);
        c.owner_groups_all = false;
        ck_assert_int_eq(config_parse_owner_list("1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,"
                                                 "30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,49,50,51,52,53,54,55,"
                                                 "56,57,58,59,60,61,62,63,64,65",
                                                 &c.owner_groups_include, NULL), 0);
        ck_assert_uint_eq(c.owner_groups_include.n, 65);
        ck_assert_int_eq(rules_build(&c, RULES_FLAVOR_IPTABLES, &rs), -E2BIG);
        ck_assert_ptr_null(rs);
        ck_assert_int_eq(rules_build(&c, RULES_FLAVOR_NFT, &rs), -E2BIG);
        config_done(&c);
}
END_TEST

START_TEST(test_dns) {
        struct capture_config c;
        struct ruleset *rs = NULL;

        /* redirect-dns without servers or capture-all: DNS effectively off (§3.2 step 3). */
        make_config(&c, A("--redirect-dns"), NULL, false, "");
        ck_assert_int_eq(rules_build(&c, RULES_FLAVOR_IPTABLES, &rs), 0);
        ck_assert(!rs->dns_on);
        ck_assert_uint_eq(count(&rs->fam[0], RULES_TABLE_RAW, RULES_CHAIN_OUTPUT), 0);
        rules_free(rs);
        config_done(&c);

        make_config(&c, A("--redirect-dns"), NULL, true, "nameserver 127.0.0.53\nnameserver ::127.0.0.53\n");
        ck_assert_int_eq(rules_build(&c, RULES_FLAVOR_IPTABLES, &rs), 0);
        ck_assert(rs->dns_on);
        ck_assert_int_ge(find(&rs->fam[0], RULES_TABLE_NAT, RULES_CHAIN_ISTIO_OUTPUT_DNS,
                              "-p udp --dport 53 -d 127.0.0.53/32 -j REDIRECT --to-port 15053"), 0);
        ck_assert_int_ge(find(&rs->fam[1], RULES_TABLE_NAT, RULES_CHAIN_ISTIO_OUTPUT_DNS,
                              "-p tcp --dport 53 -d ::127.0.0.53/128 -j REDIRECT --to-ports 15053"), 0);
        ck_assert_int_ge(find(&rs->fam[0], RULES_TABLE_RAW, RULES_CHAIN_ISTIO_INBOUND, "-p udp --sport 53 -s 127.0.0.53/32 -j CT --zone 1"), 0);
        ck_assert_int_ge(find(&rs->fam[0], RULES_TABLE_NAT, RULES_CHAIN_ISTIO_OUTPUT,
                              "-o lo ! -d 127.0.0.1/32 -p tcp -m multiport ! --dports 53,15008 -m owner --uid-owner 1337 -j ISTIO_IN_REDIRECT"), 0);
        /* The GID form never uses the DNS variant (quirk 6). */
        ck_assert_int_ge(find(&rs->fam[0], RULES_TABLE_NAT, RULES_CHAIN_ISTIO_OUTPUT,
                              "-o lo ! -d 127.0.0.1/32 -p tcp ! --dport 15008 -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT"), 0);
        rules_free(rs);
        config_done(&c);

        make_config(&c, A("--redirect-dns", "--capture-all-dns"), NULL, false, NULL);
        ck_assert_int_eq(rules_build(&c, RULES_FLAVOR_IPTABLES, &rs), 0);
        ck_assert(rs->dns_on);
        ck_assert_int_ge(find(&rs->fam[0], RULES_TABLE_NAT, RULES_CHAIN_ISTIO_OUTPUT_DNS,
                              "-p udp --dport 53 -j REDIRECT --to-port 15053"), 0);
        ck_assert_int_ge(find(&rs->fam[0], RULES_TABLE_RAW, RULES_CHAIN_PREROUTING, "-j ISTIO_INBOUND"), 0);
        rules_free(rs);
        config_done(&c);
}
END_TEST

START_TEST(test_drop_invalid) {
        struct capture_config c;
        struct ruleset *rs = NULL;

        make_config(&c, A("--drop-invalid"), NULL, false, NULL);
        ck_assert_int_eq(rules_build(&c, RULES_FLAVOR_IPTABLES, &rs), 0);
        ck_assert_int_ge(find(&rs->fam[0], RULES_TABLE_MANGLE, RULES_CHAIN_PREROUTING, "-m conntrack --ctstate INVALID -j ISTIO_DROP"), 0);
        ck_assert_int_ge(find(&rs->fam[0], RULES_TABLE_MANGLE, RULES_CHAIN_ISTIO_DROP, "-j DROP"), 0);
        rules_free(rs);
        /* nft: TCP only (quirk 31). */
        ck_assert_int_eq(rules_build(&c, RULES_FLAVOR_NFT, &rs), 0);
        ck_assert_int_ge(find(&rs->fam[0], RULES_TABLE_MANGLE, RULES_CHAIN_PREROUTING, "-p tcp -m conntrack --ctstate INVALID -j ISTIO_DROP"), 0);
        rules_free(rs);
        config_done(&c);
}
END_TEST

START_TEST(test_nft) {
        struct capture_config c;
        struct ruleset *rs = NULL;
        _cleanup_free_ char *text = NULL, *clean = NULL;
        bool v6 = false, unspec = false;

        make_config(&c, NULL, NULL, true, NULL);
        ck_assert_int_eq(rules_build(&c, RULES_FLAVOR_NFT, &rs), 0);
        ck_assert_uint_eq(rs->fam[1].n, 0); /* one inet list */
        for (size_t i = 0; i < rs->fam[0].n; i++) {
                v6 = v6 || rs->fam[0].v[i].family == AF_INET6;
                unspec = unspec || rs->fam[0].v[i].family == AF_UNSPEC;
        }
        ck_assert(v6 && unspec);
        ck_assert_int_eq(rules_nft_render(rs, false, &text), 0);
        ck_assert(strncmp(text, "add table inet istio-proxy-nat\nflush table inet istio-proxy-nat\n", 63) == 0);
        ck_assert(strstr(text, "\nadd chain inet istio-proxy-nat output { type nat hook output priority -100 ; }\n"));
        ck_assert(strstr(text, "\nadd rule inet istio-proxy-nat istio-output oifname lo meta l4proto tcp ip daddr != 127.0.0.1/32 "
                               "tcp dport != 15008 skuid 1337 counter jump istio-in-redirect\n"));
        ck_assert(strstr(text, "\nadd rule inet istio-proxy-nat istio-output ip6 daddr ::1/128 counter return\n"));
        ck_assert(strstr(text, "\nadd rule inet istio-proxy-nat istio-redirect meta l4proto tcp counter redirect to :15001\n"));
        ck_assert(!strstr(text, "istio-proxy-mangle"));
        ck_assert(!strstr(text, "prerouting")); /* no inbound ports: no prerouting chain */
        ck_assert_int_eq(rules_nft_render(rs, true, &clean), 0);
        ck_assert_str_eq(clean, "add table inet istio-proxy-nat\ndelete table inet istio-proxy-nat\n"
                                "add table inet istio-proxy-mangle\ndelete table inet istio-proxy-mangle\n"
                                "add table inet istio-proxy-raw\ndelete table inet istio-proxy-raw\n");
        rules_free(rs);
        config_done(&c);
}
END_TEST

/* nft inserts: position p → index p-1, or an append when the chain has fewer rules (§7). */
START_TEST(test_nft_inserts) {
        struct capture_config c;
        struct ruleset *rs = NULL;
        _cleanup_free_ char *text = NULL;

        make_config(&c, A("-m", "TPROXY", "-b", "80", "-c", "veth+"), NULL, false, NULL);
        ck_assert_int_eq(rules_build(&c, RULES_FLAVOR_NFT, &rs), 0);
        ck_assert_int_eq(rules_nft_render(rs, false, &text), 0);
        ck_assert(strstr(text, "\ninsert rule inet istio-proxy-mangle istio-inbound index 0 meta l4proto tcp mark 1337 counter return\n"));
        ck_assert(strstr(text, "\ninsert rule inet istio-proxy-mangle istio-inbound index 2 iifname lo meta l4proto tcp mark != 1338 counter return\n"));
        ck_assert(strstr(text, "tproxy ip to :15006 meta mark set 1337 counter accept\n"));
        ck_assert(strstr(text, "\nadd rule inet istio-proxy-nat prerouting iifname \"veth*\" counter return\n"));
        ck_assert(strstr(text, "add chain inet istio-proxy-mangle prerouting { type filter hook prerouting priority -150 ; }\n"));
        rules_free(rs);
        config_done(&c);
}
END_TEST

START_TEST(test_names) {
        enum rules_table t;
        enum rules_chain ch;

        ck_assert_str_eq(rules_table_name(RULES_TABLE_NAT), "nat");
        ck_assert_str_eq(rules_chain_name(RULES_CHAIN_ISTIO_OUTPUT_DNS), "ISTIO_OUTPUT_DNS");
        ck_assert_str_eq(rules_chain_nft_name(RULES_CHAIN_ISTIO_IN_REDIRECT), "istio-in-redirect");
        ck_assert_str_eq(rules_nft_table_name(RULES_TABLE_RAW), "istio-proxy-raw");
        ck_assert(rules_chain_is_builtin(RULES_CHAIN_POSTROUTING));
        ck_assert(!rules_chain_is_builtin(RULES_CHAIN_ISTIO_INBOUND));
        ck_assert_int_eq(rules_table_from_name("mangle", &t), 0);
        ck_assert_int_eq(t, RULES_TABLE_MANGLE);
        ck_assert_int_eq(rules_table_from_name("Mangle", &t), -EINVAL);
        ck_assert_int_eq(rules_chain_from_name("ISTIO_DROP", &ch), 0);
        ck_assert_int_eq(ch, RULES_CHAIN_ISTIO_DROP);
        ck_assert_int_eq(rules_chain_from_name("ISTIO", &ch), -EINVAL);
        ck_assert_ptr_null(rules_free(NULL));
}
END_TEST

/* The builder is pure: building twice gives identical output. */
START_TEST(test_deterministic) {
        struct capture_config c;
        struct ruleset *a = NULL, *b = NULL;
        _cleanup_free_ char *ta = NULL, *tb = NULL;

        make_config(&c, A("-m", "TPROXY", "-b", "*", "-d", "1", "-k", "e1", "-i", "10.0.0.0/8", "--redirect-dns", "--drop-invalid"),
                    NULL, true, "nameserver 1.1.1.1\nnameserver ::1\n");
        ck_assert_int_eq(rules_build(&c, RULES_FLAVOR_IPTABLES, &a), 0);
        ck_assert_int_eq(rules_build(&c, RULES_FLAVOR_IPTABLES, &b), 0);
        ck_assert_int_eq(rules_ipt_dryrun_record(a, false, &ta), 0);
        ck_assert_int_eq(rules_ipt_dryrun_record(b, false, &tb), 0);
        ck_assert_str_eq(ta, tb);
        rules_free(a);
        rules_free(b);
        config_done(&c);
}
END_TEST

static Suite *rules_suite(void) {
        Suite *s = suite_create("rules");
        TCase *tc = tcase_create("iptables");
        tcase_add_test(tc, test_default_ipt);
        tcase_add_test(tc, test_default_ipv6);
        tcase_add_test(tc, test_inbound_exclude);
        tcase_add_test(tc, test_tproxy);
        tcase_add_test(tc, test_virt_interfaces);
        tcase_add_test(tc, test_cidrs_and_ports);
        tcase_add_test(tc, test_owner_groups);
        tcase_add_test(tc, test_owner_groups_too_many);
        tcase_add_test(tc, test_dns);
        tcase_add_test(tc, test_drop_invalid);
        tcase_add_test(tc, test_deterministic);
        tcase_add_test(tc, test_names);
        suite_add_tcase(s, tc);
        tc = tcase_create("nft");
        tcase_add_test(tc, test_nft);
        tcase_add_test(tc, test_nft_inserts);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(rules_suite());
        int failed;
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
