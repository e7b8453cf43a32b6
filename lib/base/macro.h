/* SPDX-License-Identifier: Apache-2.0 */
/* macro.h: cleanup attributes and ownership-transfer helpers (systemd style). */
#pragma once

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _noreturn_ __attribute__((noreturn))

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

static inline void freep(void *p) { free(*(void **)p); }
static inline void closep(int *fd) {
        if (*fd >= 0) {
                int saved = errno;
                close(*fd);
                errno = saved;
        }
}
static inline void fclosep(FILE **f) {
        if (*f)
                fclose(*f);
}
static inline void closedirp(DIR **d) {
        if (*d)
                closedir(*d);
}
/* Frees a NULL-terminated string list (NULL-safe); returns NULL. */
static inline char **strv_free(char **l) {
        if (l) {
                for (char **s = l; *s; s++)
                        free(*s);
                free(l);
        }
        return NULL;
}
static inline void strv_freep(char ***p) { strv_free(*p); }
static inline size_t strv_length(char *const *l) {
        size_t n = 0;
        while (l && l[n])
                n++;
        return n;
}

#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)
#define _cleanup_closedir_ _cleanup_(closedirp)
#define _cleanup_strv_free_ _cleanup_(strv_freep)

/* Defines name##p(type **) calling func(*p) when non-NULL, for _cleanup_(name##p). */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)        \
        static inline void func##p(type *p) {          \
                if (*p)                                \
                        func(*p);                      \
        }

#define TAKE_PTR(p)                                    \
        ({                                             \
                __typeof__(p) _tp = (p);               \
                (p) = NULL;                            \
                _tp;                                   \
        })
#define TAKE_FD(fd)                                    \
        ({                                             \
                int _tf = (fd);                        \
                (fd) = -1;                             \
                _tf;                                   \
        })

/* Converts a libc -1/errno result to -errno at the call site. */
#define RET_NERRNO(expr)                               \
        ({                                             \
                long _r = (long)(expr);                \
                _r < 0 ? -(errno ? errno : EIO) : (int)_r; \
        })

/* Closes an open_memstream() stream and hands its buffer to *ret_text, or frees it when r (the
 * render result) or the close failed. Returns r, or -ENOMEM. */
static inline int memstream_finish(FILE *f, char **buf, int r, char **ret_text) {
        if (fclose(f) != 0 && r >= 0)
                r = -ENOMEM;
        if (r < 0) {
                free(*buf);
                *buf = NULL;
                return r;
        }
        *ret_text = *buf;
        return 0;
}

#define streq(a, b) (strcmp((a), (b)) == 0)

/* Monotonic clock in µs, for deadlines and stage timings (never the wall clock: it can jump). */
static inline uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000;
}
