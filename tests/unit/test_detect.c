/* SPDX-License-Identifier: Apache-2.0 */
/* test_detect.c: lib/detect (the decision rule, then real namespaces) and lib/iptnft (the
 * iptables-nft exec path that detection leads to). Spec: istio-iptables.md §5.1-5.2, quirk 23.
 * Also a driver for tests/e2e/iptables/{detect,iptnft}-*:
 *   test_detect detect v4|v6 [none|legacy|nft]     prints backend, then the why line
 *   test_detect restore v4|v6 [flush] < payload     test_detect save v4|v6
 *   test_detect run v4|v6 ARGS...                   (errors: "errno=NAME exit=N stderr=...") */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernel/detect.h"
#include "kernel/iptnft.h"

/* ---- the pure rule ---- */

struct decide_case {
        const char *name;
        enum detect_force force;
        struct detect_facts f;
        int r;
        enum detect_backend want;
};

#define NAT DETECT_TABLE_NAT
static const struct decide_case decide_cases[] = {
        { "fresh, binary", DETECT_FORCE_NONE, { .nft_works = true, .nft_binary = true, .legacy_nat_usable = true }, 0, DETECT_IPTNFT },
        { "fresh, no binary", DETECT_FORCE_NONE, { .nft_works = true, .legacy_nat_usable = true }, 0, DETECT_LEGACY },
        { "fresh, nft-only kernel, no binary", DETECT_FORCE_NONE, { .nft_works = true, .legacy_nat_error = -ENOENT }, 0, DETECT_NATIVE_NFT },
        { "fresh, legacy-only kernel, binary", DETECT_FORCE_NONE, { .nft_binary = true, .nft_error = -EOPNOTSUPP, .legacy_nat_usable = true }, 0, DETECT_LEGACY },
        { "legacy holds rules", DETECT_FORCE_NONE, { .legacy_tables = NAT, .legacy_rules = 3, .legacy_nat_usable = true, .nft_works = true, .nft_binary = true }, 0, DETECT_LEGACY },
        { "both hold rules: legacy, like Istio", DETECT_FORCE_NONE, { .legacy_rules = 3, .legacy_nat_usable = true, .nft_works = true, .nft_xt_tables = NAT, .nft_binary = true }, 0, DETECT_LEGACY },
        { "nft holds xtables", DETECT_FORCE_NONE, { .nft_works = true, .nft_xt_tables = NAT, .nft_binary = true, .legacy_nat_usable = true }, 0, DETECT_IPTNFT },
        { "nft holds xtables, no binary", DETECT_FORCE_NONE, { .nft_works = true, .nft_xt_tables = NAT, .legacy_nat_usable = true }, 0, DETECT_NATIVE_NFT },
        { "empty legacy nat (Istio's probe residue) does not count", DETECT_FORCE_NONE, { .legacy_tables = NAT, .legacy_nat_usable = true, .nft_works = true, .nft_binary = true }, 0, DETECT_IPTNFT },
        { "nothing usable", DETECT_FORCE_NONE, { .nft_error = -EOPNOTSUPP, .legacy_nat_error = -ENOENT }, -EOPNOTSUPP, DETECT_NONE },
        { "forced legacy", DETECT_FORCE_LEGACY, { .nft_works = true, .nft_xt_tables = NAT, .nft_binary = true, .legacy_nat_usable = true }, 0, DETECT_LEGACY },
        { "forced legacy, unusable", DETECT_FORCE_LEGACY, { .nft_works = true, .legacy_nat_error = -ENOENT }, -EOPNOTSUPP, DETECT_NONE },
        { "forced nft", DETECT_FORCE_NFT, { .legacy_rules = 5, .legacy_nat_usable = true, .nft_works = true, .nft_binary = true }, 0, DETECT_IPTNFT },
        { "forced nft, no binary", DETECT_FORCE_NFT, { .nft_works = true }, -ENOENT, DETECT_NONE },
        { "forced nft, no nf_tables", DETECT_FORCE_NFT, { .nft_binary = true, .nft_error = -EOPNOTSUPP }, -EOPNOTSUPP, DETECT_NONE },
};

START_TEST(test_decide) {
        const struct decide_case *c = &decide_cases[_i];
        for (int fam = 0; fam < 2; fam++) {
                struct detect_result res;
                int r = detect_decide(fam ? AF_INET6 : AF_INET, c->force, &c->f, &res);
                ck_assert_msg(r == c->r, "%s: r=%d want %d (%s)", c->name, r, c->r, res.why);
                ck_assert_msg(res.backend == c->want, "%s: got %s (%s)", c->name,
                              detect_backend_to_string(res.backend), res.why);
                ck_assert(strlen(res.why) > 10 && strlen(res.why) < DETECT_WHY_MAX);
                ck_assert(!strchr(res.why, '\n'));
                ck_assert_msg(!strncmp(res.why, fam ? "IPv6: " : "IPv4: ", 6), "%s", res.why);
        }
}
END_TEST

START_TEST(test_force_parse) {
        enum detect_force f;
        ck_assert_int_eq(detect_force_from_string("", &f), 0);
        ck_assert_int_eq(f, DETECT_FORCE_NONE);
        ck_assert_int_eq(detect_force_from_string("legacy", &f), 0);
        ck_assert_int_eq(f, DETECT_FORCE_LEGACY);
        ck_assert_int_eq(detect_force_from_string("nft", &f), 0);
        ck_assert_int_eq(f, DETECT_FORCE_NFT);
        ck_assert_int_eq(detect_force_from_string("NFT", &f), -EINVAL);
        ck_assert_int_eq(detect_force_from_string("iptables-nft", &f), -EINVAL);
}
END_TEST

/* ---- real namespaces (each check test is a forked child) ---- */

static bool have_nft_binary(void) {
        return access("/usr/sbin/iptables-nft-restore", X_OK) == 0 || access("/sbin/iptables-nft-restore", X_OK) == 0;
}

static void enter_netns(void) {
        ck_assert_int_eq(unshare(CLONE_NEWNET), 0);
}

static bool legacy_nat_listed(void) {
        FILE *f = fopen("/proc/net/ip_tables_names", "re");
        char line[64];
        bool found = false;
        if (!f)
                return false;
        while (fgets(line, sizeof(line), f))
                if (!strcmp(line, "nat\n"))
                        found = true;
        fclose(f);
        return found;
}

START_TEST(test_fresh_netns) {
        struct detect_result res;
        enter_netns();
        int r = detect_backend(AF_INET, DETECT_FORCE_NONE, &res);
        ck_assert_msg(r == 0, "%s", res.why);
        if (have_nft_binary() && res.facts.nft_works) {
                ck_assert_msg(res.backend == DETECT_IPTNFT, "%s", res.why);
                /* Quirk 23: the decision did not need legacy, so it did not instantiate its nat. */
                ck_assert(!res.facts.legacy_nat_probed);
                ck_assert(!legacy_nat_listed());
        }
        /* The same without the binary on PATH: in-process legacy, probed now. */
        setenv("PATH", "/nonexistent", 1);
        r = detect_backend(AF_INET, DETECT_FORCE_NONE, &res);
        ck_assert_msg(r == 0, "%s", res.why);
        if (res.facts.legacy_nat_usable) {
                ck_assert_msg(res.backend == DETECT_LEGACY, "%s", res.why);
                ck_assert(legacy_nat_listed());
                /* The empty table our probe created does not count as rules next time. */
                ck_assert_int_eq(res.facts.legacy_rules, 0);
        }
}
END_TEST

START_TEST(test_nft_rules_win) {
        struct detect_result res;
        struct iptnft_error err;
        char *argv[] = { "-t", "nat", "-A", "OUTPUT", "-j", "RETURN", NULL };
        if (!have_nft_binary())
                return;
        enter_netns();
        int r = iptnft_run(AF_INET, argv, &err);
        ck_assert_msg(r == 0, "iptables-nft: %s %s", strerror(-r), err.stderr_text);
        r = detect_backend(AF_INET, DETECT_FORCE_NONE, &res);
        ck_assert_msg(r == 0 && res.backend == DETECT_IPTNFT, "%s", res.why);
        ck_assert(res.facts.nft_xt_tables & DETECT_TABLE_NAT);
        ck_assert(!res.facts.legacy_nat_probed);
        /* Forced legacy still works (the kernel can serve it), and says nft holds tables. */
        r = detect_backend(AF_INET, DETECT_FORCE_LEGACY, &res);
        ck_assert_msg(r == 0 && res.backend == DETECT_LEGACY, "%s", res.why);
        ck_assert_msg(strstr(res.why, "nf_tables also holds"), "%s", res.why);
        /* Without the binary, nft-held rules lead to the native backend, not to legacy. */
        setenv("PATH", "/nonexistent", 1);
        r = detect_backend(AF_INET, DETECT_FORCE_NONE, &res);
        ck_assert_msg(r == 0 && res.backend == DETECT_NATIVE_NFT, "%s", res.why);
        r = detect_backend(AF_INET, DETECT_FORCE_NFT, &res);
        ck_assert_int_eq(r, -ENOENT);
        ck_assert_msg(strstr(res.why, "iptables-nft-restore is not in PATH"), "%s", res.why);
}
END_TEST

START_TEST(test_forced_legacy_unusable) {
        struct detect_result res;
        enter_netns();
        setenv("CNIBOX_TEST_DETECT_UNUSABLE", "legacy", 1);
        int r = detect_backend(AF_INET6, DETECT_FORCE_LEGACY, &res);
        ck_assert_int_eq(r, -EOPNOTSUPP);
        ck_assert_int_eq(res.backend, DETECT_NONE);
        ck_assert_msg(strstr(res.why, "cannot serve the legacy nat table"), "%s", res.why);
        ck_assert(!legacy_nat_listed());
}
END_TEST

/* ---- iptnft ---- */

static const char payload[] =
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
        "-A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN\n"
        "-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN\n"
        "COMMIT\n";

START_TEST(test_iptnft_restore_save) {
        struct iptnft_error err;
        char *text = NULL;
        if (!have_nft_binary())
                return;
        enter_netns();
        int r = iptnft_restore(AF_INET, payload, strlen(payload), true, &err);
        ck_assert_msg(r == 0, "%s: %s", strerror(-r), err.stderr_text);
        ck_assert_int_eq(err.exit_status, 0);
        r = iptnft_save(AF_INET, &text, &err);
        ck_assert_int_eq(r, 0);
        ck_assert_msg(strstr(text, "-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001\n"), "%s", text);
        ck_assert(strstr(text, "-A ISTIO_OUTPUT -m owner --uid-owner 1337 -j RETURN\n"));
        free(text);
        /* Applying again fails like Istio's: -N of an existing chain (spec §4). */
        r = iptnft_restore(AF_INET, payload, strlen(payload), true, &err);
        ck_assert_int_eq(r, -EIO);
        ck_assert_int_ne(err.exit_status, 0);
        ck_assert_msg(strstr(err.stderr_text, "ISTIO_INBOUND") || strstr(err.stderr_text, "exists") ||
                              strstr(err.stderr_text, "line"),
                      "%s", err.stderr_text);
}
END_TEST

START_TEST(test_iptnft_bad_payload) {
        struct iptnft_error err;
        static const char bad[] = "* nat\n-A NOPE -j FROB\nCOMMIT\n";
        if (!have_nft_binary())
                return;
        enter_netns();
        int r = iptnft_restore(AF_INET6, bad, strlen(bad), true, &err);
        ck_assert_int_eq(r, -EIO);
        ck_assert_int_gt(err.exit_status, 0);
        ck_assert_str_eq(err.program, "ip6tables-nft-restore");
        ck_assert_msg(strlen(err.stderr_text) > 0, "no stderr");
        ck_assert(err.stderr_text[strlen(err.stderr_text) - 1] != '\n');
}
END_TEST

START_TEST(test_iptnft_missing) {
        struct iptnft_error err;
        char *text = (char *)"x";
        setenv("PATH", "/nonexistent", 1);
        ck_assert_int_eq(iptnft_restore(AF_INET, payload, strlen(payload), true, &err), -ENOENT);
        ck_assert_int_eq(iptnft_save(AF_INET6, &text, &err), -ENOENT);
        ck_assert_str_eq(text, "x"); /* untouched on failure */
        ck_assert_int_eq(iptnft_restore(AF_UNIX, "", 0, true, &err), -EAFNOSUPPORT);
}
END_TEST

/* A stand-in that never reads its stdin and never exits: the timeout must kill it. */
START_TEST(test_iptnft_timeout) {
        struct iptnft_error err;
        char dir[] = "/tmp/cnibox-iptnft-XXXXXX", path[64];
        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/iptables-nft-restore", dir);
        FILE *f = fopen(path, "we");
        ck_assert_ptr_nonnull(f);
        fputs("#!/bin/sh\necho started >&2\nexec sleep 30\n", f);
        fclose(f);
        chmod(path, 0755);
        {
                char p2[128];
                snprintf(p2, sizeof(p2), "%s:/usr/bin:/bin", dir);
                setenv("PATH", p2, 1);
        }
        iptnft_set_timeout_ms(300);
        /* A payload bigger than the socket buffer, so the writer side is blocked too. */
        size_t big = 4u << 20;
        char *p = malloc(big);
        memset(p, '#', big);
        int r = iptnft_restore(AF_INET, p, big, true, &err);
        free(p);
        unlink(path);
        rmdir(dir);
        ck_assert_int_eq(r, -ETIMEDOUT);
        ck_assert(err.timed_out);
        ck_assert_int_eq(err.signal, 9);
        ck_assert_str_eq(err.stderr_text, "started");
}
END_TEST

/* ---- driver ---- */

static int fam_arg(const char *s) {
        return s && !strcmp(s, "v6") ? AF_INET6 : AF_INET;
}

static int report(int r, const struct iptnft_error *err) {
        if (r < 0) {
                fprintf(stderr, "errno=%s exit=%d timed_out=%d stderr=%s\n", strerrorname_np(-r), err->exit_status,
                        err->timed_out, err->stderr_text);
                return 1;
        }
        return 0;
}

static int driver(int argc, char **argv) {
        struct iptnft_error err;
        if (argc >= 3 && !strcmp(argv[1], "detect")) {
                enum detect_force force = DETECT_FORCE_NONE;
                struct detect_result res;
                if (argc >= 4 && strcmp(argv[3], "none") && detect_force_from_string(argv[3], &force) < 0)
                        return 2;
                int r = detect_backend(fam_arg(argv[2]), force, &res);
                printf("%s\n%s\n", detect_backend_to_string(res.backend), res.why);
                if (r < 0)
                        fprintf(stderr, "errno=%s\n", strerrorname_np(-r));
                return r < 0 ? 1 : 0;
        }
        if (argc >= 3 && !strcmp(argv[1], "restore")) {
                size_t cap = 1 << 16, len = 0;
                char *buf = malloc(cap);
                size_t k;
                while (buf && (k = fread(buf + len, 1, cap - len, stdin)) > 0) {
                        len += k;
                        if (len == cap)
                                buf = realloc(buf, cap *= 2);
                }
                if (!buf)
                        return 1;
                int r = iptnft_restore(fam_arg(argv[2]), buf, len, !(argc >= 4 && !strcmp(argv[3], "flush")), &err);
                free(buf);
                return report(r, &err);
        }
        if (argc >= 3 && !strcmp(argv[1], "save")) {
                char *text = NULL;
                int r = iptnft_save(fam_arg(argv[2]), &text, &err);
                if (r >= 0)
                        fputs(text, stdout);
                free(text);
                return report(r, &err);
        }
        if (argc >= 3 && !strcmp(argv[1], "run"))
                return report(iptnft_run(fam_arg(argv[2]), argv + 3, &err), &err);
        fprintf(stderr, "usage: see the top of test_detect.c\n");
        return 2;
}

int main(int argc, char **argv) {
        if (argc > 1)
                return driver(argc, argv);

        Suite *s = suite_create("detect");
        TCase *tc = tcase_create("rule");
        tcase_add_loop_test(tc, test_decide, 0, sizeof(decide_cases) / sizeof(decide_cases[0]));
        tcase_add_test(tc, test_force_parse);
        tcase_add_test(tc, test_iptnft_missing);
        tcase_add_test(tc, test_iptnft_timeout);
        suite_add_tcase(s, tc);
        if (geteuid() == 0) {
                tc = tcase_create("netns");
                tcase_add_test(tc, test_fresh_netns);
                tcase_add_test(tc, test_nft_rules_win);
                tcase_add_test(tc, test_forced_legacy_unusable);
                tcase_add_test(tc, test_iptnft_restore_save);
                tcase_add_test(tc, test_iptnft_bad_payload);
                suite_add_tcase(s, tc);
        }
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
