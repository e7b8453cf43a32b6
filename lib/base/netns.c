/* SPDX-License-Identifier: Apache-2.0 */
/* netns.c: enter a pod's network namespace for one function call and always come back.
 * Spec: istio-cni.md §2.8 steps 1–2. The plugin is single-threaded, so setns() on the calling
 * thread is the whole process; no helper thread is needed. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

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
