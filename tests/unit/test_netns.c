/* SPDX-License-Identifier: Apache-2.0 */
/* test_netns.c: netns_open/netns_run enter a namespace and always restore the caller's.
 * Spec: istio-cni.md §2.8 steps 1–2. Needs root (unshare); exits 77 otherwise. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/macro.h"
#include "base/netns.h"

static int child_ns = -1;

static int in_ns(void *u) {
        *(int *)u = netns_is_current(child_ns);
        return 42;
}

START_TEST(test_open_errors) {
        ck_assert_int_eq(netns_open("/nonexistent/netns"), -ENOENT);
        ck_assert_int_eq(netns_open("/tmp"), -EMEDIUMTYPE);
        ck_assert_int_eq(netns_open(""), -EINVAL);
        int fd = netns_open("/proc/self/ns/net");
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(netns_is_current(fd), 1);
        close(fd);
}
END_TEST

START_TEST(test_run_restores) {
        /* A fresh netns held by a sleeping child (never the host's netns being modified). */
        int up[2], down[2]; /* child → parent "ready", parent → child "exit now" */
        ck_assert_int_eq(pipe2(up, O_CLOEXEC), 0);
        ck_assert_int_eq(pipe2(down, O_CLOEXEC), 0);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                char c = 'x';
                close(up[0]);
                close(down[1]);
                if (unshare(CLONE_NEWNET) < 0)
                        c = 'e';
                if (write(up[1], &c, 1) != 1)
                        _exit(1);
                (void)!read(down[0], &c, 1); /* returns at EOF when the parent closes */
                _exit(0);
        }
        close(up[1]);
        close(down[0]);
        char c = 0;
        ck_assert_int_eq(read(up[0], &c, 1), 1);
        ck_assert_msg(c == 'x', "unshare(CLONE_NEWNET) failed in the child");
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/ns/net", (int)pid);
        child_ns = netns_open(path);
        ck_assert_int_ge(child_ns, 0);
        ck_assert_int_eq(netns_is_current(child_ns), 0);
        int inside = -1;
        ck_assert_int_eq(netns_run(child_ns, in_ns, &inside), 42);
        ck_assert_int_eq(inside, 1);
        ck_assert_int_eq(netns_is_current(child_ns), 0);
        ck_assert_int_eq(netns_run(-1, in_ns, &inside), -EINVAL);
        close(child_ns);
        close(down[1]);
        close(up[0]);
        waitpid(pid, NULL, 0);
}
END_TEST

/* fn for netns_scratch_output(): its own netns inode as text, or a failure code. */
static int scratch_fn(void *userdata, char **ret_text) {
        struct stat st;
        int code = *(int *)userdata;

        if (code)
                return code;
        if (stat("/proc/self/ns/net", &st) < 0 || asprintf(ret_text, "%lu", (unsigned long)st.st_ino) < 0)
                return 99;
        return 0;
}

START_TEST(test_scratch_output) {
        _cleanup_free_ char *text = NULL, *mine = NULL;
        struct stat st;
        _cleanup_close_ int self_fd = -1;
        int code = 0, got = -1;

        ck_assert_int_eq(stat("/proc/self/ns/net", &st), 0);
        ck_assert_int_ge(asprintf(&mine, "%lu", (unsigned long)st.st_ino), 0);
        /* The text comes back, and fn ran in another (new) namespace. */
        ck_assert_int_eq(netns_scratch_output(scratch_fn, &code, &text, &got), 0);
        ck_assert_ptr_nonnull(text);
        ck_assert_str_ne(text, mine);
        self_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
        ck_assert_int_eq(netns_is_current(self_fd), 1); /* and this process never left its own */
        /* fn's failure code is handed back, and no text. */
        free(TAKE_PTR(text));
        code = 7;
        ck_assert_int_eq(netns_scratch_output(scratch_fn, &code, &text, &got), -ECANCELED);
        ck_assert_int_eq(got, 7);
        ck_assert_ptr_null(text);
}
END_TEST

int main(void) {
        Suite *s = suite_create("netns");
        TCase *tc = tcase_create("core");
        tcase_add_test(tc, test_open_errors);
        if (geteuid() == 0)
                tcase_add_test(tc, test_run_restores);
        if (geteuid() == 0)
                tcase_add_test(tc, test_scratch_output);
        suite_add_tcase(s, tc);
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        if (geteuid() != 0 && !failed)
                return 77;
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
