/* SPDX-License-Identifier: Apache-2.0 */
/* fileio.c: whole-file reads and atomic file replacement (spec istio-cni.md §4.3, §4.4, §4.7). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fileio.h"
#include "base/macro.h"

#define COPY_CHUNK 65536

int fileio_read_all(int fd, size_t max, char **ret, size_t *ret_len) {
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, cap = 0;

        /* Room for max + 1 bytes and the NUL: reading one byte past max is how "too big" shows. */
        size_t limit = max < SIZE_MAX - 2 ? max + 2 : SIZE_MAX;

        for (;;) {
                if (cap - len < 2) {
                        size_t ncap = cap ? (cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2) : 8192;
                        char *n;

                        if (ncap > limit)
                                ncap = limit;
                        if (ncap <= cap)
                                return -EFBIG;
                        n = realloc(buf, ncap);
                        if (!n)
                                return -ENOMEM;
                        buf = n;
                        cap = ncap;
                }
                ssize_t k = read(fd, buf + len, cap - len - 1);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                len += (size_t)k;
                if (len > max)
                        return -EFBIG;
        }
        if (!buf) {
                buf = malloc(1);
                if (!buf)
                        return -ENOMEM;
        }
        buf[len] = '\0';
        *ret = TAKE_PTR(buf);
        if (ret_len)
                *ret_len = len;
        return 0;
}

int fileio_read_file(const char *path, size_t max, char **ret, size_t *ret_len) {
        _cleanup_close_ int fd = -1;
        struct stat st;

        /* O_NONBLOCK: a FIFO planted where a config file should be must not hang the agent. */
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (S_ISDIR(st.st_mode))
                return -EISDIR;
        if (!S_ISREG(st.st_mode))
                return -EBADFD;
        return fileio_read_all(fd, max, ret, ret_len);
}

static int write_full(int fd, const void *data, size_t len) {
        const char *p = data;

        while (len > 0) {
                ssize_t k = write(fd, p, len);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += k;
                len -= (size_t)k;
        }
        return 0;
}

/* Splits path into a directory fd target and the base name; "a" → ("." , "a"). */
static int split_path(const char *path, char **ret_dir, const char **ret_base) {
        const char *slash = strrchr(path, '/');
        char *dir;

        if (!slash)
                dir = strdup(".");
        else if (slash == path)
                dir = strdup("/");
        else
                dir = strndup(path, (size_t)(slash - path));
        if (!dir)
                return -ENOMEM;
        *ret_base = slash ? slash + 1 : path;
        *ret_dir = dir;
        return 0;
}

/* Creates "<path>.tmp.<16 hex>" with O_EXCL; retries on a name clash. */
static int open_tmp(const char *path, char **ret_tmp) {
        for (int attempt = 0; attempt < 16; attempt++) {
                uint64_t rnd;
                char *tmp;

                if (getrandom(&rnd, sizeof rnd, GRND_NONBLOCK) != sizeof rnd)
                        rnd = now_usec() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)attempt;
                if (asprintf(&tmp, "%s.tmp.%016llx", path, (unsigned long long)rnd) < 0)
                        return -ENOMEM;
                int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0600);
                if (fd >= 0) {
                        *ret_tmp = tmp;
                        return fd;
                }
                int r = -errno;
                free(tmp);
                if (r != -EEXIST)
                        return r;
        }
        return -EEXIST;
}

static int fsync_dir(const char *dir) {
        _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0)
                return -errno;
        /* Some file systems (and EINVAL on special ones) cannot sync a directory: not our failure. */
        if (fsync(fd) < 0 && errno != EINVAL && errno != EROFS)
                return -errno;
        return 0;
}

/* Writes a temp file with data and mode, then renames it over path (see header). When from_fd >= 0
 * the content is streamed from it instead of data. */
static int replace_atomic(const char *path, const void *data, size_t len, int from_fd, mode_t mode) {
        _cleanup_free_ char *tmp = NULL, *dir = NULL;
        _cleanup_close_ int fd = -1;
        const char *base;
        int r;

        if (!path || !*path)
                return -EINVAL;
        r = split_path(path, &dir, &base);
        if (r < 0)
                return r;
        if (!*base)
                return -EISDIR;
        fd = open_tmp(path, &tmp);
        if (fd < 0)
                return fd;
        if (fchmod(fd, mode & 07777) < 0) {
                r = -errno;
                goto fail;
        }
        if (from_fd >= 0) {
                _cleanup_free_ char *buf = malloc(COPY_CHUNK);
                if (!buf) {
                        r = -ENOMEM;
                        goto fail;
                }
                for (;;) {
                        ssize_t k = read(from_fd, buf, COPY_CHUNK);
                        if (k < 0 && errno == EINTR)
                                continue;
                        if (k < 0) {
                                r = -errno;
                                goto fail;
                        }
                        if (k == 0)
                                break;
                        r = write_full(fd, buf, (size_t)k);
                        if (r < 0)
                                goto fail;
                }
        } else {
                r = write_full(fd, data, len);
                if (r < 0)
                        goto fail;
        }
        if (fsync(fd) < 0) {
                r = -errno;
                goto fail;
        }
        r = close(TAKE_FD(fd));
        if (r < 0 && errno != EINTR) {
                r = -errno;
                goto fail;
        }
        if (rename(tmp, path) < 0) {
                r = -errno;
                goto fail;
        }
        return fsync_dir(dir);
fail:
        (void) unlink(tmp);
        return r;
}

int fileio_write_atomic(const char *path, const void *data, size_t len, mode_t mode) {
        if (!data && len > 0)
                return -EINVAL;
        return replace_atomic(path, data ? data : "", len, -1, mode);
}

int fileio_remove_stale_tmp(const char *dir, const char *name) {
        _cleanup_free_ char *prefix = NULL;
        DIR *d;
        int n = 0, first_err = 0;
        size_t plen;

        if (!dir || !name || !*name || strchr(name, '/'))
                return -EINVAL;
        if (asprintf(&prefix, "%s.tmp.", name) < 0)
                return -ENOMEM;
        plen = strlen(prefix);
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return errno == ENOENT ? 0 : -errno;
        d = fdopendir(dfd);
        if (!d) {
                int r = -errno;
                close(dfd);
                return r;
        }
        for (struct dirent *de; (errno = 0, de = readdir(d));) {
                if (strncmp(de->d_name, prefix, plen) != 0)
                        continue;
                if (unlinkat(dfd, de->d_name, 0) < 0) {
                        if (errno != ENOENT && first_err == 0)
                                first_err = -errno;
                        continue;
                }
                n++;
        }
        if (errno != 0 && first_err == 0)
                first_err = -errno;
        closedir(d);
        return first_err < 0 ? first_err : n;
}

/* Compares the rest of a and b byte for byte; 1 equal, 0 different, <0 error. */
static int same_content(int a, int b) {
        _cleanup_free_ char *ba = malloc(COPY_CHUNK), *bb = malloc(COPY_CHUNK);

        if (!ba || !bb)
                return -ENOMEM;
        for (;;) {
                ssize_t ka;
                do
                        ka = read(a, ba, COPY_CHUNK);
                while (ka < 0 && errno == EINTR);
                if (ka < 0)
                        return -errno;
                /* Read exactly as much from b, so short reads on either side cannot mislead. */
                size_t got = 0;
                while (got < (size_t)ka) {
                        ssize_t kb = read(b, bb + got, (size_t)ka - got);
                        if (kb < 0 && errno == EINTR)
                                continue;
                        if (kb < 0)
                                return -errno;
                        if (kb == 0)
                                return 0;
                        got += (size_t)kb;
                }
                if (ka == 0) {
                        char c;
                        ssize_t kb;
                        do
                                kb = read(b, &c, 1);
                        while (kb < 0 && errno == EINTR);
                        if (kb < 0)
                                return -errno;
                        return kb == 0;
                }
                if (memcmp(ba, bb, (size_t)ka) != 0)
                        return 0;
        }
}

int fileio_copy_if_changed(const char *src, const char *dst, bool *ret_changed) {
        _cleanup_close_ int sfd = -1, dfd = -1;
        _cleanup_free_ char *dir = NULL;
        const char *base;
        struct stat sst, dst_st;
        int r;

        if (!src || !dst)
                return -EINVAL;
        r = split_path(dst, &dir, &base);
        if (r < 0)
                return r;
        if (!*base)
                return -EISDIR;
        r = fileio_remove_stale_tmp(dir, base);
        if (r < 0 && r != -ENOENT)
                return r;

        sfd = open(src, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (sfd < 0)
                return -errno;
        if (fstat(sfd, &sst) < 0)
                return -errno;
        if (!S_ISREG(sst.st_mode))
                return S_ISDIR(sst.st_mode) ? -EISDIR : -EBADFD;

        dfd = open(dst, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW);
        if (dfd < 0 && errno != ENOENT && errno != ELOOP)
                return -errno;
        if (dfd >= 0) {
                if (fstat(dfd, &dst_st) < 0)
                        return -errno;
                if (S_ISREG(dst_st.st_mode) && dst_st.st_size == sst.st_size) {
                        r = same_content(sfd, dfd);
                        if (r < 0)
                                return r;
                        if (r > 0) {
                                bool chmodded = false;
                                if ((dst_st.st_mode & 07777) != (sst.st_mode & 07777)) {
                                        if (fchmod(dfd, sst.st_mode & 07777) < 0)
                                                return -errno;
                                        chmodded = true;
                                }
                                if (ret_changed)
                                        *ret_changed = chmodded;
                                return 0;
                        }
                        if (lseek(sfd, 0, SEEK_SET) < 0)
                                return -errno;
                }
        }
        r = replace_atomic(dst, NULL, 0, sfd, sst.st_mode & 07777);
        if (r < 0)
                return r;
        if (ret_changed)
                *ret_changed = true;
        return 0;
}
