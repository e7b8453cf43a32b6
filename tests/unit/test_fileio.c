/* SPDX-License-Identifier: Apache-2.0 */
/* test_fileio.c: whole-file reads, atomic replace, stale temp clean-up and copy-if-changed
 * (lib/base/fileio.c; spec istio-cni.md §4.3, §4.4, §4.7). */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fileio.h"
#include "base/macro.h"

static char dir[64];

static void setup(void) {
        strcpy(dir, "/tmp/fileio-test.XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void) {
        _cleanup_free_ char *cmd = NULL;
        ck_assert_int_ge(asprintf(&cmd, "chmod -R u+w '%s' 2>/dev/null; rm -rf '%s'", dir, dir), 0);
        ck_assert_int_eq(system(cmd), 0);
}

static char *path(const char *name) {
        char *p;
        ck_assert_int_ge(asprintf(&p, "%s/%s", dir, name), 0);
        return p;
}

static void put(const char *name, const char *content, mode_t mode) {
        _cleanup_free_ char *p = path(name);
        _cleanup_close_ int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, content, strlen(content)), (ssize_t)strlen(content));
        ck_assert_int_eq(fchmod(fd, mode), 0);
}

static char *get(const char *name) {
        _cleanup_free_ char *p = path(name);
        char *buf = NULL;
        ck_assert_int_eq(fileio_read_file(p, 1 << 24, &buf, NULL), 0);
        return buf;
}

/* Names in dir containing ".tmp." */
static int count_tmp(void) {
        DIR *d = opendir(dir);
        int n = 0;
        ck_assert_ptr_nonnull(d);
        for (struct dirent *de; (de = readdir(d));)
                if (strstr(de->d_name, ".tmp."))
                        n++;
        closedir(d);
        return n;
}

static bool exists(const char *name) {
        _cleanup_free_ char *p = path(name);
        return access(p, F_OK) == 0;
}

static struct stat st_of(const char *name) {
        _cleanup_free_ char *p = path(name);
        struct stat st;
        ck_assert_int_eq(stat(p, &st), 0);
        return st;
}

START_TEST(test_read_limits) {
        _cleanup_free_ char *p = path("f"), *buf = NULL;
        size_t len = 99;

        put("f", "", 0644);
        ck_assert_int_eq(fileio_read_file(p, 10, &buf, &len), 0);
        ck_assert_uint_eq(len, 0);
        ck_assert_str_eq(buf, "");
        free(TAKE_PTR(buf));

        put("f", "0123456789", 0644);
        ck_assert_int_eq(fileio_read_file(p, 10, &buf, &len), 0);
        ck_assert_uint_eq(len, 10);
        ck_assert_str_eq(buf, "0123456789");
        free(TAKE_PTR(buf));
        ck_assert_int_eq(fileio_read_file(p, 9, &buf, &len), -EFBIG);
        ck_assert_ptr_null(buf);
        ck_assert_int_eq(fileio_read_file(p, 0, &buf, &len), -EFBIG);

        /* Bigger than the first buffer, read from a pipe in pieces. */
        int fds[2];
        ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
        pid_t pid = fork();
        if (pid == 0) {
                char chunk[1000];
                memset(chunk, 'x', sizeof chunk);
                for (int i = 0; i < 100; i++)
                        if (write(fds[1], chunk, sizeof chunk) != sizeof chunk)
                                _exit(1);
                _exit(0);
        }
        close(fds[1]);
        ck_assert_int_eq(fileio_read_all(fds[0], 100000, &buf, &len), 0);
        close(fds[0]);
        ck_assert_uint_eq(len, 100000);
        ck_assert_uint_eq(strlen(buf), 100000);
}
END_TEST

START_TEST(test_read_special) {
        _cleanup_free_ char *fifo = path("fifo"), *buf = NULL;

        ck_assert_int_eq(fileio_read_file(dir, 100, &buf, NULL), -EISDIR);
        ck_assert_int_eq(fileio_read_file("/nonexistent/x", 100, &buf, NULL), -ENOENT);
        /* A FIFO must not block the reader. */
        ck_assert_int_eq(mkfifo(fifo, 0600), 0);
        ck_assert_int_eq(fileio_read_file(fifo, 100, &buf, NULL), -EBADFD);
        ck_assert_ptr_null(buf);
}
END_TEST

START_TEST(test_write_atomic) {
        _cleanup_free_ char *p = path("conf"), *c = NULL, *c2 = NULL;

        ck_assert_int_eq(fileio_write_atomic(p, "one\n", 4, 0640), 0);
        c = get("conf");
        ck_assert_str_eq(c, "one\n");
        /* The mode is exact (fchmod, not subject to the umask). */
        ck_assert_uint_eq(st_of("conf").st_mode & 07777, 0640);
        ino_t ino = st_of("conf").st_ino;

        ck_assert_int_eq(fileio_write_atomic(p, "two", 3, 0600), 0);
        c2 = get("conf");
        ck_assert_str_eq(c2, "two");
        ck_assert_uint_eq(st_of("conf").st_mode & 07777, 0600);
        /* Replaced by rename: a new inode, never a truncate-and-write in place. */
        ck_assert_uint_ne(st_of("conf").st_ino, ino);
        ck_assert_int_eq(fileio_write_atomic(p, NULL, 0, 0600), 0);
        ck_assert_uint_eq(st_of("conf").st_size, 0);
        ck_assert_int_eq(count_tmp(), 0);
}
END_TEST

START_TEST(test_write_atomic_errors) {
        _cleanup_free_ char *sub = path("sub"), *missing = path("nodir/conf"), *c = NULL;

        put("conf", "keep", 0644);
        /* The target is a directory: rename fails, the temp file goes. */
        ck_assert_int_eq(mkdir(sub, 0755), 0);
        ck_assert_int_eq(fileio_write_atomic(sub, "x", 1, 0644), -EISDIR);
        ck_assert_int_eq(count_tmp(), 0);
        ck_assert_int_eq(fileio_write_atomic(missing, "x", 1, 0644), -ENOENT);
        ck_assert_int_eq(fileio_write_atomic("", "x", 1, 0644), -EINVAL);
        ck_assert_int_eq(fileio_write_atomic(sub, NULL, 1, 0644), -EINVAL);

        /* A directory we may not write to (only meaningful without CAP_DAC_OVERRIDE). */
        if (geteuid() != 0) {
                _cleanup_free_ char *p = path("conf");
                ck_assert_int_eq(chmod(dir, 0555), 0);
                ck_assert_int_eq(fileio_write_atomic(p, "new", 3, 0644), -EACCES);
                ck_assert_int_eq(chmod(dir, 0755), 0);
                c = get("conf");
                ck_assert_str_eq(c, "keep");
                ck_assert_int_eq(count_tmp(), 0);
        }
}
END_TEST

/* EROFS: a tmpfs remounted read-only in a private mount namespace (root only; check's fork mode
 * keeps the namespace to this test's process). */
START_TEST(test_write_atomic_erofs) {
        _cleanup_free_ char *mnt = path("ro"), *p = NULL, *c = NULL;

        if (geteuid() != 0) {
                fprintf(stderr, "SKIP test_write_atomic_erofs: needs root for a private mount namespace\n");
                return;
        }
        if (unshare(CLONE_NEWNS) < 0) {
                fprintf(stderr, "SKIP test_write_atomic_erofs: unshare(CLONE_NEWNS): %s\n", strerror(errno));
                return;
        }
        ck_assert_int_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
        ck_assert_int_eq(mkdir(mnt, 0755), 0);
        ck_assert_int_eq(mount("tmpfs", mnt, "tmpfs", 0, "size=1m"), 0);
        ck_assert_int_ge(asprintf(&p, "%s/conf", mnt), 0);
        ck_assert_int_eq(fileio_write_atomic(p, "keep", 4, 0644), 0);
        ck_assert_int_eq(mount(NULL, mnt, NULL, MS_REMOUNT | MS_RDONLY, NULL), 0);

        ck_assert_int_eq(fileio_write_atomic(p, "new", 3, 0644), -EROFS);
        ck_assert_int_eq(fileio_read_file(p, 100, &c, NULL), 0);
        ck_assert_str_eq(c, "keep");
        ck_assert_int_eq(fileio_remove_stale_tmp(mnt, "conf"), 0);
        ck_assert_int_eq(umount(mnt), 0);
}
END_TEST

START_TEST(test_remove_stale_tmp) {
        put("x", "x", 0644);
        put("x.tmp.1", "", 0644);
        put("x.tmp.abcdef", "", 0644);
        put("x.tmp.", "", 0644);
        put("x.tmpz", "", 0644);
        put("xx.tmp.1", "", 0644);
        put("y.tmp.1", "", 0644);

        ck_assert_int_eq(fileio_remove_stale_tmp(dir, "x"), 3);
        ck_assert(exists("x"));
        ck_assert(exists("x.tmpz"));
        ck_assert(exists("xx.tmp.1"));
        ck_assert(exists("y.tmp.1"));
        ck_assert(!exists("x.tmp.1"));
        ck_assert_int_eq(fileio_remove_stale_tmp(dir, "x"), 0);
        ck_assert_int_eq(fileio_remove_stale_tmp("/nonexistent/dir", "x"), 0);
        ck_assert_int_eq(fileio_remove_stale_tmp(dir, "a/b"), -EINVAL);
        ck_assert_int_eq(fileio_remove_stale_tmp(dir, ""), -EINVAL);
}
END_TEST

START_TEST(test_copy_if_changed) {
        _cleanup_free_ char *src = path("src"), *dst = path("dst"), *c = NULL;
        struct timespec old[2] = { { .tv_sec = 1000000 }, { .tv_sec = 1000000 } };
        bool changed = false;

        put("src", "#!/bin/sh\necho v1\n", 0755);
        put("dst.tmp.deadbeef", "stale", 0600);

        /* First copy: written with the source's mode; the stale temp is gone. */
        ck_assert_int_eq(fileio_copy_if_changed(src, dst, &changed), 0);
        ck_assert(changed);
        c = get("dst");
        ck_assert_str_eq(c, "#!/bin/sh\necho v1\n");
        ck_assert_uint_eq(st_of("dst").st_mode & 07777, 0755);
        ck_assert_int_eq(count_tmp(), 0);

        /* Identical: not rewritten (same inode, same old mtime). */
        ck_assert_int_eq(utimensat(AT_FDCWD, dst, old, 0), 0);
        ino_t ino = st_of("dst").st_ino;
        ck_assert_int_eq(fileio_copy_if_changed(src, dst, &changed), 0);
        ck_assert(!changed);
        ck_assert_uint_eq(st_of("dst").st_ino, ino);
        ck_assert_int_eq(st_of("dst").st_mtim.tv_sec, 1000000);

        /* Only the mode differs: chmod in place. */
        ck_assert_int_eq(chmod(dst, 0644), 0);
        ck_assert_int_eq(fileio_copy_if_changed(src, dst, &changed), 0);
        ck_assert(changed);
        ck_assert_uint_eq(st_of("dst").st_ino, ino);
        ck_assert_uint_eq(st_of("dst").st_mode & 07777, 0755);
        ck_assert_int_eq(st_of("dst").st_mtim.tv_sec, 1000000);

        /* Same size, different content: replaced. */
        put("src", "#!/bin/sh\necho v2\n", 0750);
        ck_assert_int_eq(fileio_copy_if_changed(src, dst, &changed), 0);
        ck_assert(changed);
        free(c);
        c = get("dst");
        ck_assert_str_eq(c, "#!/bin/sh\necho v2\n");
        ck_assert_uint_ne(st_of("dst").st_ino, ino);
        ck_assert_uint_eq(st_of("dst").st_mode & 07777, 0750);

        /* Different size. */
        put("src", "short", 0755);
        ck_assert_int_eq(fileio_copy_if_changed(src, dst, &changed), 0);
        ck_assert(changed);
        free(c);
        c = get("dst");
        ck_assert_str_eq(c, "short");
        ck_assert_int_eq(count_tmp(), 0);
        ck_assert_int_eq(fileio_copy_if_changed(src, dst, NULL), 0);
}
END_TEST

/* Content past the first compare chunk, differing only in the last byte. */
START_TEST(test_copy_large) {
        _cleanup_free_ char *src = path("big"), *dst = path("big.out"), *data = malloc(300001), *c = NULL;
        bool changed;

        memset(data, 'a', 300000);
        data[300000] = '\0';
        ck_assert_int_eq(fileio_write_atomic(src, data, 300000, 0755), 0);
        ck_assert_int_eq(fileio_copy_if_changed(src, dst, &changed), 0);
        ck_assert(changed);
        ck_assert_int_eq(fileio_copy_if_changed(src, dst, &changed), 0);
        ck_assert(!changed);
        data[299999] = 'b';
        ck_assert_int_eq(fileio_write_atomic(src, data, 300000, 0755), 0);
        ck_assert_int_eq(fileio_copy_if_changed(src, dst, &changed), 0);
        ck_assert(changed);
        ck_assert_int_eq(fileio_read_file(dst, 1 << 20, &c, NULL), 0);
        ck_assert_str_eq(c, data);
}
END_TEST

START_TEST(test_copy_errors) {
        _cleanup_free_ char *dst = path("dst"), *sub = path("sub"), *fifo = path("fifo");
        bool changed = true;

        ck_assert_int_eq(fileio_copy_if_changed("/nonexistent/src", dst, &changed), -ENOENT);
        ck_assert_int_eq(fileio_copy_if_changed(dir, dst, &changed), -EISDIR);
        ck_assert_int_eq(mkfifo(fifo, 0600), 0);
        ck_assert_int_eq(fileio_copy_if_changed(fifo, dst, &changed), -EBADFD);
        ck_assert(changed);
        ck_assert_int_eq(access(dst, F_OK), -1);
        /* dst is a directory: rename fails, no temp left. */
        put("src", "x", 0755);
        _cleanup_free_ char *src = path("src");
        ck_assert_int_eq(mkdir(sub, 0755), 0);
        ck_assert_int_eq(fileio_copy_if_changed(src, sub, &changed), -EISDIR);
        ck_assert_int_eq(count_tmp(), 0);
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("fileio");
        TCase *tc = tcase_create("fileio");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, test_read_limits);
        tcase_add_test(tc, test_read_special);
        tcase_add_test(tc, test_write_atomic);
        tcase_add_test(tc, test_write_atomic_errors);
        tcase_add_test(tc, test_write_atomic_erofs);
        tcase_add_test(tc, test_remove_stale_tmp);
        tcase_add_test(tc, test_copy_if_changed);
        tcase_add_test(tc, test_copy_large);
        tcase_add_test(tc, test_copy_errors);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(suite());
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
