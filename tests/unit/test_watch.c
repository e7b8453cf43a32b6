/* SPDX-License-Identifier: Apache-2.0 */
/* test_watch.c: the install loop's change detector (lib/agent/watch.c): inotify and the polling
 * fallback each see a write, a create, a remove, a rename-over and a path that appears later;
 * a stop fd cancels; a quiet watch times out. Runs in temp dirs, no root needed. */
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/watch.h"
#include "base/macro.h"

static char dir[64];

static void setup(void) {
        snprintf(dir, sizeof dir, "/tmp/cnibox-watch.XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        ck_assert_int_eq(system(cmd), 0);
}

static void put(const char *name, const char *text) {
        char p[256];
        FILE *f;
        snprintf(p, sizeof p, "%s/%s", dir, name);
        f = fopen(p, "w");
        ck_assert_ptr_nonnull(f);
        fputs(text, f);
        fclose(f);
}

static struct watch *mk(bool poll, const char *sub) {
        char p1[256], p2[256];
        char *paths[] = { p1, p2, NULL };
        struct watch *w = NULL;
        bool polling = !poll;
        char why[128];
        snprintf(p1, sizeof p1, "%s/file", dir);
        snprintf(p2, sizeof p2, "%s/%s", dir, sub);
        ck_assert_int_eq(watch_new(paths, poll, &w, &polling, why, sizeof why), 0);
        ck_assert_int_eq(polling, poll);
        return w;
}

/* Each change kind, inotify (_i == 0) and polling (_i == 1). */
START_TEST(test_changes) {
        bool poll = _i == 1;
        uint64_t to = poll ? 3 * WATCH_POLL_USEC : 2000000;
        char p[256], q[256];
        struct watch *w;

        mkdir(strcat(strcpy(p, dir), "/d"), 0755);
        put("file", "a");
        w = mk(poll, "d");
        ck_assert_int_eq(watch_wait(w, -1, 100000), 0);    /* quiet */
        put("file", "bb");
        ck_assert_int_eq(watch_wait(w, -1, to), 1);        /* write */
        watch_free(w);

        w = mk(poll, "d");
        put("d/new.conflist", "{}");
        ck_assert_int_eq(watch_wait(w, -1, to), 1);        /* create in a watched dir */
        watch_free(w);

        w = mk(poll, "d");
        snprintf(p, sizeof p, "%s/d/new.conflist", dir);
        ck_assert_int_eq(unlink(p), 0);
        ck_assert_int_eq(watch_wait(w, -1, to), 1);        /* remove */
        watch_free(w);

        w = mk(poll, "d");
        put("other", "xyz");
        snprintf(p, sizeof p, "%s/other", dir);
        snprintf(q, sizeof q, "%s/file", dir);
        ck_assert_int_eq(rename(p, q), 0);
        ck_assert_int_eq(watch_wait(w, -1, to), 1);        /* a file replaced by rename */
        watch_free(w);

        w = mk(poll, "later");
        snprintf(p, sizeof p, "%s/later", dir);
        ck_assert_int_eq(mkdir(p, 0755), 0);
        ck_assert_int_eq(watch_wait(w, -1, to), 1);        /* a path that appears later */
        watch_free(w);
}
END_TEST

START_TEST(test_stop_fd) {
        int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        uint64_t one = 1, t0;
        struct watch *w;

        put("file", "a");
        w = mk(_i == 1, "d");
        ck_assert_int_eq(write(efd, &one, sizeof one), (ssize_t)sizeof one);
        t0 = now_usec();
        ck_assert_int_eq(watch_wait(w, efd, 10 * 1000000ULL), -ECANCELED);
        ck_assert(now_usec() - t0 < 2000000);
        watch_free(w);
        close(efd);
}
END_TEST

static Suite *watch_suite(void) {
        Suite *s = suite_create("watch");
        TCase *tc = tcase_create("watch");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_loop_test(tc, test_changes, 0, 2);
        tcase_add_loop_test(tc, test_stop_fd, 0, 2);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(watch_suite());
        int failed;
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
