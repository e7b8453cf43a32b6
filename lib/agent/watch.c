/* SPDX-License-Identifier: Apache-2.0 */
/* watch.c: inotify, or a polled fingerprint, over the installer's paths (istio-cni.md §4.9). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/param.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/watch.h"
#include "base/macro.h"

/* Istio reacts to Create, Write and Remove (not Chmod). A file watch also needs the "self" events,
 * because a file replaced by rename is never written: its old inode is unlinked or moved. Not
 * IN_CLOSE_WRITE: podman opens and closes its cni.lock in the conf dir on every command without
 * writing it, and each of those would be a reinstall pass. */
#define FILE_MASK (IN_MODIFY | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF)
#define DIR_MASK (IN_CREATE | IN_MODIFY | IN_DELETE | IN_MOVED_TO | IN_MOVED_FROM | \
                  IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

struct watch {
        int fd;                 /* inotify, or -1 when polling */
        char **paths;           /* polled paths (a copy) */
        uint64_t fingerprint;
};

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
        const unsigned char *b = p;
        for (size_t i = 0; i < n; i++) {
                h ^= b[i];
                h *= 1099511628211ULL;
        }
        return h;
}

static uint64_t fnv_stat(uint64_t h, const struct stat *st) {
        h = fnv(h, &st->st_ino, sizeof st->st_ino);
        h = fnv(h, &st->st_size, sizeof st->st_size);
        h = fnv(h, &st->st_mtim, sizeof st->st_mtim);
        return fnv(h, &st->st_mode, sizeof st->st_mode);
}

/* What the paths look like now: each path's inode, size and mtime, and for a directory the same
 * for every entry (the conf dir holds a handful of files). A missing path hashes as missing. */
static uint64_t fingerprint(char *const *paths) {
        uint64_t h = 1469598103934665603ULL;
        for (; *paths; paths++) {
                struct stat st;
                DIR *d;
                struct dirent *de;

                h = fnv(h, *paths, strlen(*paths) + 1);
                if (stat(*paths, &st) < 0) {
                        h = fnv(h, "-", 1);
                        continue;
                }
                h = fnv_stat(h, &st);
                if (!S_ISDIR(st.st_mode) || !(d = opendir(*paths)))
                        continue;
                while ((de = readdir(d))) {
                        struct stat est;
                        if (fstatat(dirfd(d), de->d_name, &est, AT_SYMLINK_NOFOLLOW) < 0)
                                continue;
                        /* Entry order is the filesystem's: fold entries commutatively. */
                        h ^= fnv_stat(fnv(1469598103934665603ULL, de->d_name, strlen(de->d_name)), &est) * 31;
                }
                closedir(d);
        }
        return h;
}

static int add_one(int fd, const char *path) {
        struct stat st;
        char parent[PATH_MAX];
        char *slash;

        if (stat(path, &st) == 0)
                return inotify_add_watch(fd, path, S_ISDIR(st.st_mode) ? DIR_MASK : FILE_MASK) < 0 ? -errno : 0;
        /* Not there yet: its parent's create events tell us when it appears. */
        if (snprintf(parent, sizeof parent, "%s", path) >= (int)sizeof parent)
                return -ENAMETOOLONG;
        slash = strrchr(parent, '/');
        if (!slash || slash == parent)
                return 0;
        *slash = 0;
        if (inotify_add_watch(fd, parent, IN_CREATE | IN_MOVED_TO | IN_ONLYDIR) < 0)
                return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
        return 0;
}

struct watch *watch_free(struct watch *w) {
        if (!w)
                return NULL;
        if (w->fd >= 0)
                close(w->fd);
        strv_free(w->paths);
        free(w);
        return NULL;
}

static char **strv_copy(char *const *l) {
        size_t n = 0;
        char **c;
        while (l[n])
                n++;
        c = calloc(n + 1, sizeof(char *));
        if (!c)
                return NULL;
        for (size_t i = 0; i < n; i++)
                if (!(c[i] = strdup(l[i])))
                        return strv_free(c);
        return c;
}

int watch_new(char *const *paths, bool force_poll, struct watch **ret, bool *ret_polling, char *why, size_t whysz) {
        struct watch *w = calloc(1, sizeof *w);
        int r = 0;

        if (!w)
                return -ENOMEM;
        w->fd = -1;
        w->paths = strv_copy(paths);
        if (!w->paths) {
                free(w);
                return -ENOMEM;
        }
        *ret_polling = false;
        if (!force_poll) {
                w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
                if (w->fd < 0)
                        r = -errno;
                for (char *const *p = paths; r == 0 && *p; p++)
                        r = add_one(w->fd, *p);
                if (r < 0) {
                        if (why && whysz)
                                snprintf(why, whysz, "%s: %s",
                                         w->fd < 0 ? "inotify_init1" : "inotify_add_watch", strerror(-r));
                        if (w->fd >= 0)
                                close(w->fd);
                        w->fd = -1;
                }
        } else if (why && whysz)
                snprintf(why, whysz, "polling requested");
        if (w->fd < 0) {
                *ret_polling = true;
                w->fingerprint = fingerprint(w->paths);
        }
        *ret = w;
        return 0;
}

/* Drains the inotify queue; returns whether anything relevant (any event: the masks already
 * filter) was queued. */
static int drain(int fd) {
        char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
        int any = 0;
        for (;;) {
                ssize_t n = read(fd, buf, sizeof buf);
                if (n < 0)
                        return errno == EAGAIN ? any : -errno;
                if (n == 0)
                        return any;
                any = 1;
        }
}

static int wait_stop(int stop_fd, uint64_t usec) {
        struct pollfd p = { .fd = stop_fd, .events = POLLIN };
        int r = poll(stop_fd >= 0 ? &p : NULL, stop_fd >= 0 ? 1 : 0, (int)(usec / 1000));
        if (r < 0)
                return errno == EINTR ? 0 : -errno;
        return r > 0 ? -ECANCELED : 0;
}

int watch_wait(struct watch *w, int stop_fd, uint64_t timeout_usec) {
        uint64_t deadline = now_usec() + timeout_usec;

        if (w->fd < 0) {
                for (;;) {
                        uint64_t now = now_usec(), fp = fingerprint(w->paths);
                        int r;
                        if (fp != w->fingerprint) {
                                w->fingerprint = fp;
                                return 1;
                        }
                        if (now >= deadline)
                                return 0;
                        r = wait_stop(stop_fd, MIN(WATCH_POLL_USEC, deadline - now));
                        if (r < 0)
                                return r;
                }
        }
        for (;;) {
                struct pollfd p[2] = { { .fd = w->fd, .events = POLLIN }, { .fd = stop_fd, .events = POLLIN } };
                uint64_t now = now_usec();
                int r = drain(w->fd);

                if (r != 0)
                        return r;
                if (now >= deadline)
                        return 0;
                r = poll(p, stop_fd >= 0 ? 2 : 1, (int)MIN((deadline - now + 999) / 1000, (uint64_t)INT_MAX));
                if (r < 0 && errno != EINTR)
                        return -errno;
                if (r > 0 && stop_fd >= 0 && (p[1].revents & POLLIN))
                        return -ECANCELED;
        }
}
