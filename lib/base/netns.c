/* SPDX-License-Identifier: Apache-2.0 */
/* netns.c: enter a pod's network namespace for one function call and always come back.
 * Spec: istio-cni.md §2.8 steps 1–2. The plugin is single-threaded, so setns() on the calling
 * thread is the whole process; no helper thread is needed. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "base/fileio.h"
#include "base/macro.h"
#include "base/netns.h"

/* linux/magic.h values; spelled out so the header is not needed. */
#define NETNS_PROC_MAGIC 0x9fa0
#define NETNS_NSFS_MAGIC 0x6e736673

int netns_open(const char *path) {
        struct statfs sfs;
        _cleanup_close_ int fd = -1;

        if (!path || !*path)
                return -EINVAL;
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        /* Check the opened file, not the path, so a swapped path cannot slip through. */
        if (fstatfs(fd, &sfs) < 0)
                return -errno;
        if ((unsigned long)sfs.f_type != NETNS_PROC_MAGIC && (unsigned long)sfs.f_type != NETNS_NSFS_MAGIC)
                return -EMEDIUMTYPE;
        return TAKE_FD(fd);
}

int netns_is_current(int fd) {
        struct stat a, b;

        if (fstat(fd, &a) < 0)
                return -errno;
        if (stat("/proc/thread-self/ns/net", &b) < 0 && stat("/proc/self/ns/net", &b) < 0)
                return -errno;
        return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

int netns_run(int nsfd, int (*fn)(void *userdata), void *userdata) {
        _cleanup_close_ int self = -1;
        int r;

        if (nsfd < 0 || !fn)
                return -EINVAL;
        self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        if (self < 0)
                self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
        if (self < 0)
                return -errno;
        if (setns(nsfd, CLONE_NEWNET) < 0)
                return -errno;
        r = fn(userdata);
        if (setns(self, CLONE_NEWNET) < 0)
                return NETNS_ERR_RESTORE;
        return r;
}

/* Exit codes of netns_scratch_output()'s child beyond fn's own 1..100. */
enum { SCRATCH_UNSHARE = 120, SCRATCH_WRITE = 121 };

static _Noreturn void scratch_child(int wfd, int (*fn)(void *, char **), void *userdata) {
        char *text = NULL;
        size_t n, off = 0;
        int r;

        if (unshare(CLONE_NEWNET) < 0)
                _exit(SCRATCH_UNSHARE);
        r = fn(userdata, &text);
        if (r != 0)
                _exit(r > 0 && r <= 100 ? r : 100);
        n = text ? strlen(text) : 0;
        while (off < n) {
                ssize_t k = write(wfd, text + off, n - off);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        _exit(SCRATCH_WRITE);
                off += (size_t)k;
        }
        _exit(0);
}

int netns_scratch_output(int (*fn)(void *userdata, char **ret_text), void *userdata, char **ret_text,
                         int *ret_fn_code) {
        _cleanup_free_ char *text = NULL;
        int pipefd[2], status, r;
        pid_t pid;

        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return -errno;
        pid = fork();
        if (pid < 0) {
                r = -errno;
                close(pipefd[0]);
                close(pipefd[1]);
                return r;
        }
        if (pid == 0) {
                close(pipefd[0]);
                scratch_child(pipefd[1], fn, userdata);
        }
        close(pipefd[1]);
        r = fileio_read_all(pipefd[0], 64u << 20, &text, NULL);
        close(pipefd[0]);
        if (r < 0)
                (void)kill(pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        if (r < 0)
                return r;
        if (!WIFEXITED(status))
                return -EIO;
        switch (WEXITSTATUS(status)) {
        case 0:
                *ret_text = TAKE_PTR(text);
                return 0;
        case SCRATCH_UNSHARE:
                return -EPERM;
        case SCRATCH_WRITE:
                return -EIO;
        default:
                if (ret_fn_code)
                        *ret_fn_code = WEXITSTATUS(status);
                return -ECANCELED;
        }
}
