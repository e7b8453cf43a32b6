/* SPDX-License-Identifier: Apache-2.0 */
/* iptnft.c: run iptables-nft-restore/-save/iptables-nft directly, payload on stdin, bounded.
 * Spec: istio-iptables.md §4, §5.1, §5.3. See docs/backends.md. */
#include "kernel/iptnft.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "base/macro.h"

extern char **environ;

/* Save output of a pod's tables is small; this only guards against a runaway child. */
#define STDOUT_MAX (16u << 20)
#define MAX_ARGS 64

static unsigned timeout_ms = IPTNFT_TIMEOUT_MS;

void iptnft_set_timeout_ms(unsigned ms) {
        timeout_ms = ms ? ms : IPTNFT_TIMEOUT_MS;
}

const char *iptnft_restore_program(int family) {
        return family == AF_INET ? "iptables-nft-restore" : family == AF_INET6 ? "ip6tables-nft-restore" : NULL;
}

const char *iptnft_save_program(int family) {
        return family == AF_INET ? "iptables-nft-save" : family == AF_INET6 ? "ip6tables-nft-save" : NULL;
}

const char *iptnft_program(int family) {
        return family == AF_INET ? "iptables-nft" : family == AF_INET6 ? "ip6tables-nft" : NULL;
}

static void close_pair(int p[2]) {
        for (int i = 0; i < 2; i++)
                if (p[i] >= 0) {
                        close(p[i]);
                        p[i] = -1;
                }
}

/* Runs argv[0] from PATH with in (may be NULL) on stdin; collects stdout into *ret_out when
 * ret_out is non-NULL (else discards it) and a bounded stderr into err. */
static int spawn_run(char *const argv[], const char *in, size_t inlen, char **ret_out, struct iptnft_error *err) {
        /* stdin is a socketpair rather than a pipe: send(MSG_NOSIGNAL) gives EPIPE instead of a
         * process-wide SIGPIPE when the child exits early, and lib/ must not touch signal state. */
        int sin[2] = { -1, -1 }, sout[2] = { -1, -1 }, serr[2] = { -1, -1 };
        _cleanup_free_ char *out = NULL;
        size_t outlen = 0, outcap = 0, errlen = 0, written = 0;
        posix_spawn_file_actions_t fa;
        pid_t pid;
        int r, status = 0;
        bool killed = false;

        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sin) < 0 ||
            pipe2(sout, O_CLOEXEC) < 0 || pipe2(serr, O_CLOEXEC) < 0) {
                r = -errno;
                close_pair(sin);
                close_pair(sout);
                close_pair(serr);
                return r;
        }

        r = posix_spawn_file_actions_init(&fa);
        if (r != 0) {
                close_pair(sin);
                close_pair(sout);
                close_pair(serr);
                return -r;
        }
        /* dup2 clears O_CLOEXEC on the child's 0/1/2; every other fd of ours stays CLOEXEC. */
        posix_spawn_file_actions_adddup2(&fa, sin[1], 0);
        posix_spawn_file_actions_adddup2(&fa, sout[1], 1);
        posix_spawn_file_actions_adddup2(&fa, serr[1], 2);
        r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        close(sin[1]);
        sin[1] = -1;
        close(sout[1]);
        sout[1] = -1;
        close(serr[1]);
        serr[1] = -1;
        if (r != 0) {
                close_pair(sin);
                close_pair(sout);
                close_pair(serr);
                return -r; /* ENOENT when not in PATH, EACCES when not executable */
        }

        if (!in || inlen == 0) {
                close(sin[0]);
                sin[0] = -1;
        } else
                fcntl(sin[0], F_SETFL, O_NONBLOCK);

        uint64_t deadline = now_usec() + timeout_ms * 1000ULL;
        r = 0;
        while (sout[0] >= 0 || serr[0] >= 0) {
                struct pollfd p[3] = {
                        { .fd = sout[0], .events = POLLIN },
                        { .fd = serr[0], .events = POLLIN },
                        { .fd = sin[0], .events = POLLOUT },
                };
                uint64_t now = now_usec();
                if (now >= deadline) {
                        kill(pid, SIGKILL);
                        killed = true;
                        break;
                }
                int n = poll(p, 3, (int)((deadline - now + 999) / 1000));
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        kill(pid, SIGKILL);
                        break;
                }
                if (p[2].revents & (POLLOUT | POLLERR | POLLHUP)) {
                        ssize_t k = send(sin[0], in + written, inlen - written, MSG_NOSIGNAL | MSG_DONTWAIT);
                        if (k > 0)
                                written += (size_t)k;
                        /* A child that stops reading early (EPIPE) reports why on stderr. */
                        if ((k < 0 && errno != EAGAIN && errno != EINTR) || written == inlen) {
                                close(sin[0]);
                                sin[0] = -1;
                        }
                }
                if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
                        char buf[4096];
                        ssize_t k = read(sout[0], buf, sizeof(buf));
                        if (k <= 0) {
                                if (k < 0 && errno == EINTR)
                                        continue;
                                close(sout[0]);
                                sout[0] = -1;
                        } else if (ret_out && outlen + (size_t)k <= STDOUT_MAX) {
                                if (outlen + (size_t)k + 1 > outcap) {
                                        size_t ncap = (outcap ? outcap * 2 : 8192);
                                        while (ncap < outlen + (size_t)k + 1)
                                                ncap *= 2;
                                        char *t = realloc(out, ncap);
                                        if (!t) {
                                                r = -ENOMEM;
                                                kill(pid, SIGKILL);
                                                break;
                                        }
                                        out = t;
                                        outcap = ncap;
                                }
                                memcpy(out + outlen, buf, (size_t)k);
                                outlen += (size_t)k;
                        }
                }
                if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
                        char buf[1024];
                        ssize_t k = read(serr[0], buf, sizeof(buf));
                        if (k <= 0) {
                                if (k < 0 && errno == EINTR)
                                        continue;
                                close(serr[0]);
                                serr[0] = -1;
                        } else if (err && errlen < sizeof(err->stderr_text) - 1) {
                                size_t c = sizeof(err->stderr_text) - 1 - errlen;
                                if ((size_t)k < c)
                                        c = (size_t)k;
                                memcpy(err->stderr_text + errlen, buf, c);
                                errlen += c;
                                err->stderr_text[errlen] = '\0';
                        }
                }
        }
        close_pair(sin);
        close_pair(sout);
        close_pair(serr);

        /* The pipes are closed: a child still running is killed above or exits on its own
         * (EOF/EPIPE); bound this wait too. */
        for (;;) {
                pid_t w = waitpid(pid, &status, killed ? 0 : WNOHANG);
                if (w == pid)
                        break;
                if (w < 0 && errno != EINTR) {
                        if (r == 0)
                                r = -errno;
                        goto finish;
                }
                if (w == 0) {
                        if (now_usec() >= deadline) {
                                kill(pid, SIGKILL);
                                killed = true;
                                continue;
                        }
                        usleep(1000);
                }
        }

        if (err) {
                while (errlen > 0 && (err->stderr_text[errlen - 1] == '\n' || err->stderr_text[errlen - 1] == '\r'))
                        err->stderr_text[--errlen] = '\0';
                err->timed_out = killed && r == 0;
                if (WIFEXITED(status)) {
                        err->exit_status = WEXITSTATUS(status);
                        err->signal = 0;
                } else if (WIFSIGNALED(status)) {
                        err->exit_status = -1;
                        err->signal = WTERMSIG(status);
                }
        }
finish:
        if (r < 0)
                return r;
        if (killed)
                return -ETIMEDOUT;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return -EIO;
        if (ret_out) {
                if (!out) {
                        out = strdup("");
                        if (!out)
                                return -ENOMEM;
                } else
                        out[outlen] = '\0';
                *ret_out = TAKE_PTR(out);
        }
        return 0;
}

static void err_init(struct iptnft_error *err, const char *program) {
        if (!err)
                return;
        memset(err, 0, sizeof(*err));
        err->exit_status = -1;
        if (program)
                snprintf(err->program, sizeof(err->program), "%s", program);
}

int iptnft_restore(int family, const char *payload, size_t len, bool noflush, struct iptnft_error *err) {
        const char *prog = iptnft_restore_program(family);
        err_init(err, prog);
        if (!prog)
                return -EAFNOSUPPORT;
        char *argv[] = { (char *)prog, noflush ? (char *)"--noflush" : NULL, NULL };
        return spawn_run(argv, payload, len, NULL, err);
}

int iptnft_save(int family, char **ret_text, struct iptnft_error *err) {
        const char *prog = iptnft_save_program(family);
        err_init(err, prog);
        if (!prog)
                return -EAFNOSUPPORT;
        if (!ret_text)
                return -EINVAL;
        char *argv[] = { (char *)prog, NULL };
        return spawn_run(argv, NULL, 0, ret_text, err);
}

int iptnft_run(int family, char *const argv[], struct iptnft_error *err) {
        const char *prog = iptnft_program(family);
        char *full[MAX_ARGS + 2];
        size_t n = 0;

        err_init(err, prog);
        if (!prog)
                return -EAFNOSUPPORT;
        if (!argv)
                return -EINVAL;
        full[0] = (char *)prog;
        for (; argv[n]; n++) {
                if (n >= MAX_ARGS)
                        return -E2BIG;
                full[n + 1] = argv[n];
        }
        full[n + 1] = NULL;
        return spawn_run(full, NULL, 0, NULL, err);
}
