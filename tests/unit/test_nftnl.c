/* SPDX-License-Identifier: Apache-2.0 */
/* test_nftnl.c: lib/kernel/nftbatch against the real kernel, each test in its own fresh network
 * namespace (check forks every test; the test unshares): one batch applies, re-applies, reads
 * back over netlink, refuses as a whole and names the refused object. Spec: istio-iptables.md §7. */
#include <check.h>
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/macro.h"
#include "kernel/nftbatch.h"
#include "rules/config.h"
#include "rules/rules.h"

static struct ruleset *build(int argc, const char *const *argv) {
        struct capture_config c;
        struct config_error err = {};
        struct ruleset *rs = NULL;
        bool help = false;

        config_init(&c);
        ck_assert_msg(config_parse(&c, argc, (char *const *)argv, NULL, &help, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(rules_build(&c, RULES_FLAVOR_NFT, &rs), 0);
        config_done(&c);
        return rs;
}

static struct ruleset *build_default(void) {
        static const char *const argv[] = { "istio-iptables", "-u", "1337", "-g", "1337", NULL };
        return build(5, argv);
}

static struct ruleset *build_tproxy(void) {
        static const char *const argv[] = { "istio-iptables", "-u", "1337", "-g", "1337", "-m", "TPROXY", "-b", "*",
                                            "-d", "15090,15021", "--redirect-dns", "--capture-all-dns", NULL };
        return build(13, argv);
}

static void fresh_netns(void) { ck_assert_msg(unshare(CLONE_NEWNET) == 0, "unshare: %s", strerror(errno)); }

static char *dump(void) {
        char *t = NULL;
        ck_assert_int_eq(nftbatch_dump(&t), 0);
        return t;
}

START_TEST(test_apply_state_reapply) {
        struct ruleset *def = build_default(), *tp = build_tproxy();
        unsigned mask = 99;
        char *err = NULL, *a, *b;
        bool ok = false;

        fresh_netns();
        ck_assert_int_eq(nftbatch_tables_present(&mask), 0);
        ck_assert_uint_eq(mask, 0);
        a = dump();
        ck_assert_str_eq(a, "");
        free(a);

        ck_assert_int_eq(nftbatch_apply(def, 0, 0, &err), 0);
        ck_assert_ptr_null(err);
        ck_assert_int_eq(nftbatch_tables_present(&mask), 0);
        ck_assert_uint_eq(mask, NFTBATCH_TABLE_NAT);
        a = dump();
        ck_assert_ptr_nonnull(strstr(a, "table inet istio-proxy-nat\nchain output type nat hook 3 priority -100 policy 1\n"));
        ck_assert_ptr_nonnull(strstr(a, "[counter] [immediate reg 0 jump -> istio-output]"));
        ck_assert_int_eq(nftbatch_state(def, &ok, &err), 0);
        ck_assert(ok);
        ck_assert_int_eq(nftbatch_state(tp, &ok, &err), 0);
        ck_assert(!ok);

        /* Drift made by someone else (nft itself) is seen; a re-apply over the existing table
         * repairs it and gives the same state as the first apply. */
        if (system("nft flush chain inet istio-proxy-nat istio-output 2>/dev/null") == 0) {
                ck_assert_int_eq(nftbatch_state(def, &ok, &err), 0);
                ck_assert(!ok);
        }
        ck_assert_int_eq(nftbatch_apply(def, mask, 0, &err), 0);
        b = dump();
        ck_assert_str_eq(a, b);
        free(b);
        ck_assert_int_eq(nftbatch_state(def, &ok, &err), 0);
        ck_assert(ok);

        /* Switch to TPROXY + DNS (nat, mangle, raw) and back: mangle and raw go in the same batch. */
        ck_assert_int_eq(nftbatch_apply(tp, mask, 0, &err), 0);
        ck_assert_int_eq(nftbatch_tables_present(&mask), 0);
        ck_assert_uint_eq(mask, NFTBATCH_TABLES_ALL); /* DNS capture: raw too */
        b = dump();
        ck_assert_ptr_nonnull(strstr(b, "[tproxy ip port reg 1]"));
        ck_assert_ptr_nonnull(strstr(b, "[lookup reg 1 { 0035 3aa0 } flags 0x1]"));
        free(b);
        ck_assert_int_eq(nftbatch_state(tp, &ok, &err), 0);
        ck_assert(ok);
        ck_assert_int_eq(nftbatch_apply(def, mask, 0, &err), 0);
        b = dump();
        ck_assert_str_eq(a, b);
        free(a);
        free(b);

        ck_assert_int_eq(nftbatch_cleanup(&err), 0);
        ck_assert_int_eq(nftbatch_tables_present(&mask), 0);
        ck_assert_uint_eq(mask, 0);
        ck_assert_int_eq(nftbatch_cleanup(&err), 0);
        rules_free(def);
        rules_free(tp);
}
END_TEST

START_TEST(test_refusal_names_object_and_changes_nothing) {
        struct ruleset *def = build_default(), *tp = build_tproxy();
        unsigned mask = 0;
        char *err = NULL, *before, *after;

        fresh_netns();
        ck_assert_int_eq(nftbatch_apply(tp, NFTBATCH_TABLES_ALL & 0, NFTBATCH_FAULT_LAST_RULE, &err), -EINVAL);
        ck_assert_str_eq(err, "rule 1 of chain istio-fault-inject (table inet istio-proxy-nat): No such file or directory");
        free(err);
        err = NULL;
        ck_assert_int_eq(nftbatch_tables_present(&mask), 0);
        ck_assert_uint_eq(mask, 0);

        /* Over an applied ruleset, each refusal names what failed and changes nothing. */
        static const struct {
                unsigned flag;
                const char *err;
        } faults[] = {
                /* the last message (it asks for the ACK that confirms the batch) */
                { NFTBATCH_FAULT_LAST_RULE, "rule 1 of chain istio-fault-inject (table inet istio-proxy-nat): No such file or directory" },
                /* a message in the middle, with no ACK asked: nfnetlink answers a refusal anyway */
                { NFTBATCH_FAULT_FIRST_RULE, "rule 1 of chain istio-fault-inject (table inet istio-proxy-nat): No such file or directory" },
                /* every object accepted, the commit refused: the batch's error, not the first
                 * object's (nfnetlink reports it against the first message) */
                { NFTBATCH_FAULT_COMMIT, "the batch (commit): Invalid argument" },
        };
        ck_assert_int_eq(nftbatch_apply(def, 0, 0, &err), 0);
        before = dump();
        for (size_t i = 0; i < ELEMENTSOF(faults); i++) {
                ck_assert_int_eq(nftbatch_apply(tp, NFTBATCH_TABLE_NAT, faults[i].flag, &err), -EINVAL);
                ck_assert_str_eq(err, faults[i].err);
                free(err);
                err = NULL;
                after = dump();
                ck_assert_str_eq(before, after);
                free(after);
        }
        free(before);
        rules_free(def);
        rules_free(tp);
}
END_TEST

START_TEST(test_unknown_owner_name) {
        static const char *const argv[] = { "istio-iptables", "-u", "cnibox-no-such-user", "-g", "1337", NULL };
        struct ruleset *rs = build(5, argv);
        unsigned mask = 9;
        char *err = NULL;

        fresh_netns();
        ck_assert_int_eq(nftbatch_apply(rs, 0, 0, &err), -ENOENT);
        ck_assert_ptr_nonnull(strstr(err, "cnibox-no-such-user"));
        free(err);
        ck_assert_int_eq(nftbatch_tables_present(&mask), 0);
        ck_assert_uint_eq(mask, 0);
        rules_free(rs);
}
END_TEST

int main(void) {
        Suite *s = suite_create("nftbatch");
        TCase *tc = tcase_create("kernel");
        SRunner *sr;
        int failed;

        if (geteuid() != 0)
                return 77; /* needs CAP_SYS_ADMIN (unshare) and CAP_NET_ADMIN */
        tcase_add_test(tc, test_apply_state_reapply);
        tcase_add_test(tc, test_refusal_names_object_and_changes_nothing);
        tcase_add_test(tc, test_unknown_owner_name);
        suite_add_tcase(s, tc);
        sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? 1 : 0;
}
