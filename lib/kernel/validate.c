/* SPDX-License-Identifier: Apache-2.0 */
/* validate.c: the redirect probe behind --run-validation / istio-validation.
 * Spec: istio-iptables.md §6 (listeners, client, SO_ORIGINAL_DST, timeout), §0.1, §10 items 28–30.
 *
 * Beyond Istio: one thread and poll() instead of goroutines and a 1 s retry; a client retry every
 * 20 ms; and a third, passive "sentinel" listener on the probe address itself (127.0.0.6:15002 or
 * [::6]:15002). It never makes the probe pass: only our capture listeners reporting the probe
 * address as SO_ORIGINAL_DST do. It lets a failure be classified: if the sentinel accepts our
 * client, nothing redirected the connection; if the connection is refused or accepted by a socket
 * that is not ours, it was redirected somewhere else. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/macro.h"
#include "kernel/validate.h"

/* linux/netfilter_ipv4.h and linux/netfilter_ipv6/ip6_tables.h clash with the libc headers;
 * both options are 80 (uapi, stable). */
#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80
#endif

#define RETRY_GAP_USEC (20 * 1000)     /* between client attempts */
#define HUNG_USEC (200 * 1000)         /* a loopback connect that has not completed by then is dropped */
#define ACCEPT_GRACE_USEC (50 * 1000)  /* connected: wait this long for one of our listeners to see it */
#define ACCEPTS_PER_WAKE 16

static const char *const reason_names[_VALIDATE_REASON_MAX] = {
        [VALIDATE_OK] = "ok",
        [VALIDATE_NO_REDIRECT] = "no-redirect",
        [VALIDATE_WRONG_PORT] = "wrong-port",
        [VALIDATE_ORIGINAL_DST_MISMATCH] = "original-dst-mismatch",
        [VALIDATE_BIND_FAILED] = "bind-failed",
        [VALIDATE_EXEMPT_UID] = "exempt-uid",
        [VALIDATE_TIMEOUT] = "timeout",
        [VALIDATE_INTERNAL] = "internal",
        [VALIDATE_NO_PROBE_ADDRESS] = "no-probe-address",
};

const char *validate_reason_to_string(enum validate_reason r) {
        if ((unsigned)r >= _VALIDATE_REASON_MAX)
                return "unknown";
        return reason_names[r];
}

int validate_reason_from_string(const char *s, enum validate_reason *ret) {
        if (!s)
                return -EINVAL;
        for (unsigned i = 0; i < _VALIDATE_REASON_MAX; i++)
                if (streq(reason_names[i], s)) {
                        *ret = (enum validate_reason)i;
                        return 0;
                }
        return -EINVAL;
}

void validate_opts_init(struct validate_opts *ret) {
        *ret = (struct validate_opts){
                .outbound_port = 15001,
                .inbound_port = 15006,
                .probe_port = 15002,
                .timeout_usec = 5ULL * 1000 * 1000,
                .ipv6 = false,
                .proxy_uid = 1337,
                .proxy_uid_known = true,
        };
}

/* What the last client attempt showed. */
enum outcome {
        OUT_NONE,
        OUT_NOT_REDIRECTED, /* the sentinel on the probe address accepted our client */
        OUT_REFUSED,        /* ECONNREFUSED */
        OUT_ELSEWHERE,      /* connected, but neither our listeners nor the sentinel saw it */
        OUT_MISMATCH,       /* one of our listeners saw it with another original destination */
        OUT_ODST_FAILED,    /* one of our listeners saw it, SO_ORIGINAL_DST failed */
        OUT_HUNG,           /* connect did not complete */
        OUT_ERROR,          /* bind/connect failed with another errno */
};

enum client_state { CLIENT_IDLE, CLIENT_CONNECTING, CLIENT_CONNECTED };

struct probe {
        const struct validate_opts *o;
        int family;
        int lfd[2];        /* capture listeners: outbound, inbound */
        int lerr[2];       /* their bind errno, 0 if bound */
        uint16_t lport[2];
        int sfd;           /* sentinel on the probe address */
        int serr;
        int cfd;           /* the client */
        enum client_state cstate;
        uint64_t cdue;     /* when the current client state times out / next attempt starts */
        struct sockaddr_storage caddr; /* the client's bound local address */
        unsigned attempts;
        enum outcome last;
        int last_err;
        int hit;           /* index of the listener that proved success or saw a mismatch */
        char seen_dst[64]; /* the mismatching original destination */
};

/* 127.0.0.1 / ::1 (loopback=true) or 127.0.0.6 / ::6 (the probe address). */
static socklen_t make_addr(int family, bool loopback, uint16_t port, struct sockaddr_storage *ret) {
        memset(ret, 0, sizeof *ret);
        if (family == AF_INET) {
                struct sockaddr_in *sin = (struct sockaddr_in *)ret;
                sin->sin_family = AF_INET;
                sin->sin_port = htons(port);
                sin->sin_addr.s_addr = htonl(loopback ? 0x7f000001 : 0x7f000006);
                return sizeof *sin;
        }
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ret;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        sin6->sin6_addr.s6_addr[15] = loopback ? 1 : 6;
        return sizeof *sin6;
}

static void fmt_addr(const struct sockaddr_storage *ss, char *buf, size_t n) {
        char host[INET6_ADDRSTRLEN] = "?";

        if (ss->ss_family == AF_INET) {
                const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
                inet_ntop(AF_INET, &sin->sin_addr, host, sizeof host);
                snprintf(buf, n, "%s:%u", host, ntohs(sin->sin_port));
        } else if (ss->ss_family == AF_INET6) {
                const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
                inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof host);
                snprintf(buf, n, "[%s]:%u", host, ntohs(sin6->sin6_port));
        } else
                snprintf(buf, n, "(family %d)", ss->ss_family);
}

static void fmt_port(int family, bool loopback, uint16_t port, char *buf, size_t n) {
        struct sockaddr_storage ss;
        make_addr(family, loopback, port, &ss);
        fmt_addr(&ss, buf, n);
}

static bool same_endpoint(const struct sockaddr_storage *a, const struct sockaddr_storage *b) {
        if (a->ss_family != b->ss_family)
                return false;
        if (a->ss_family == AF_INET) {
                const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
                return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
        }
        const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
        return x->sin6_port == y->sin6_port && memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
}

/* Returns a listening fd or -errno. reuseport: the capture listeners, as Istio sets it. */
static int listen_on(int family, bool loopback, uint16_t port, bool reuseport) {
        _cleanup_close_ int fd = -1;
        struct sockaddr_storage ss;
        socklen_t len = make_addr(family, loopback, port, &ss);
        int one = 1;

        fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
                return -errno;
        if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
                return -errno;
        if (bind(fd, (struct sockaddr *)&ss, len) < 0)
                return -errno;
        if (listen(fd, 16) < 0)
                return -errno;
        return TAKE_FD(fd);
}

static void client_close(struct probe *p) {
        if (p->cfd >= 0)
                close(p->cfd);
        p->cfd = -1;
}

/* Ends the current attempt with outcome out and schedules the next one. */
static void attempt_end(struct probe *p, enum outcome out, int err, uint64_t now) {
        client_close(p);
        p->last = out;
        p->last_err = err;
        p->cstate = CLIENT_IDLE;
        p->cdue = now + RETRY_GAP_USEC;
}

/* Returns 0 when an attempt is under way or ended (see p->last), <0 on an internal failure. */
static int attempt_start(struct probe *p, uint64_t now) {
        struct sockaddr_storage src, dst;
        socklen_t srclen = make_addr(p->family, true, 0, &src);
        socklen_t dstlen = make_addr(p->family, false, p->o->probe_port, &dst);
        socklen_t len = sizeof p->caddr;

        /* The probe address may appear later (an applier adding ::6 concurrently). */
        if (p->sfd < 0) {
                p->sfd = listen_on(p->family, false, p->o->probe_port, false);
                p->serr = p->sfd < 0 ? -p->sfd : 0;
        }

        p->attempts++;
        p->cfd = socket(p->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (p->cfd < 0)
                return -errno;
        if (bind(p->cfd, (struct sockaddr *)&src, srclen) < 0 ||
            getsockname(p->cfd, (struct sockaddr *)&p->caddr, &len) < 0) {
                attempt_end(p, OUT_ERROR, errno, now);
                return 0;
        }
        if (connect(p->cfd, (struct sockaddr *)&dst, dstlen) == 0) {
                p->cstate = CLIENT_CONNECTED;
                p->cdue = now + ACCEPT_GRACE_USEC;
        } else if (errno == EINPROGRESS) {
                p->cstate = CLIENT_CONNECTING;
                p->cdue = now + HUNG_USEC;
        } else
                attempt_end(p, errno == ECONNREFUSED ? OUT_REFUSED : OUT_ERROR, errno, now);
        return 0;
}

/* Reads the original destination of an accepted connection. */
static int original_dst(int fd, int family, struct sockaddr_storage *ret) {
        socklen_t len = sizeof *ret;

        memset(ret, 0, sizeof *ret);
        if (family == AF_INET) {
                if (getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, ret, &len) < 0)
                        return -errno;
        } else if (getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, ret, &len) < 0)
                return -errno;
        return 0;
}

/* Drains one of our capture listeners. Returns 1 on proof of redirect, else 0. */
static int drain_listener(struct probe *p, int idx, uint64_t now) {
        struct sockaddr_storage want;
        make_addr(p->family, false, p->o->probe_port, &want);

        for (int i = 0; i < ACCEPTS_PER_WAKE; i++) {
                struct sockaddr_storage peer, odst;
                socklen_t plen = sizeof peer;
                _cleanup_close_ int fd = -1;
                int r;

                fd = accept4(p->lfd[idx], (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0)
                        return 0; /* EAGAIN, or a transient accept error: Istio keeps going too */
                r = original_dst(fd, p->family, &odst);
                /* Any connection whose original destination is the probe address proves the
                 * redirect, even one from an earlier attempt (Istio checks the port only). */
                if (r >= 0 && same_endpoint(&odst, &want)) {
                        p->hit = idx;
                        return 1;
                }
                /* Other traffic in the pod is not ours to judge; only our client's counts. */
                if (p->cstate == CLIENT_IDLE || !same_endpoint(&peer, &p->caddr))
                        continue;
                p->hit = idx;
                if (r < 0) {
                        attempt_end(p, OUT_ODST_FAILED, -r, now);
                } else {
                        fmt_addr(&odst, p->seen_dst, sizeof p->seen_dst);
                        attempt_end(p, OUT_MISMATCH, 0, now);
                }
        }
        return 0;
}

static void drain_sentinel(struct probe *p, uint64_t now) {
        for (int i = 0; i < ACCEPTS_PER_WAKE; i++) {
                struct sockaddr_storage peer;
                socklen_t plen = sizeof peer;
                int fd = accept4(p->sfd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);

                if (fd < 0)
                        return;
                close(fd);
                if (p->cstate != CLIENT_IDLE && same_endpoint(&peer, &p->caddr))
                        attempt_end(p, OUT_NOT_REDIRECTED, 0, now);
        }
}

static void client_event(struct probe *p, uint64_t now) {
        int err = 0;
        socklen_t len = sizeof err;

        if (getsockopt(p->cfd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
                err = errno;
        if (err == 0) {
                p->cstate = CLIENT_CONNECTED;
                p->cdue = now + ACCEPT_GRACE_USEC;
        } else
                attempt_end(p, err == ECONNREFUSED ? OUT_REFUSED : OUT_ERROR, err, now);
}

static bool uid_exempt(const struct validate_opts *o, uid_t euid) {
        return o->proxy_uid_known ? euid != o->proxy_uid : euid == 0;
}

#define DETAIL(...) snprintf(ret->detail, sizeof ret->detail, __VA_ARGS__)

/* Fills ret for a failed probe from what was seen; returns the negative code. */
static int classify(const struct probe *p, struct validate_result *ret) {
        const struct validate_opts *o = p->o;
        char probe[64], lo[2][64], lhs[64];
        uid_t euid = geteuid();
        int bad = p->lerr[0] ? 0 : p->lerr[1] ? 1 : -1; /* a capture listener that failed */

        fmt_port(p->family, false, o->probe_port, probe, sizeof probe);
        fmt_port(p->family, true, p->lport[0], lo[0], sizeof lo[0]);
        fmt_port(p->family, true, p->lport[1], lo[1], sizeof lo[1]);
        fmt_port(p->family, true, 0, lhs, sizeof lhs);
        lhs[strlen(lhs) - 2] = 0; /* the client's address without ":0" */

        if (p->family == AF_INET6 && p->serr == EADDRNOTAVAIL && p->last != OUT_NOT_REDIRECTED) {
                ret->reason = VALIDATE_NO_PROBE_ADDRESS;
                DETAIL("the probe address ::6 is not assigned to lo (bind %s: %s), so no connection to it can "
                       "be redirected; the rules applier adds it (ip -6 addr add ::6/128 dev lo)",
                       probe, strerror(p->serr));
                return -EADDRNOTAVAIL;
        }

        switch (p->last) {
        case OUT_NOT_REDIRECTED:
                if (uid_exempt(o, euid)) {
                        ret->reason = VALIDATE_EXEMPT_UID;
                        if (o->proxy_uid_known)
                                DETAIL("running as uid %u, but the rules redirect loopback traffic only for the proxy "
                                       "uid %u (ISTIO_OUTPUT -o lo --uid-owner %u -j ISTIO_IN_REDIRECT) and let other "
                                       "uids through: the probe to %s was not redirected; run the validation as uid %u",
                                       (unsigned)euid, o->proxy_uid, o->proxy_uid, probe, o->proxy_uid);
                        else
                                DETAIL("running as uid 0, whose loopback traffic the rules let through: the probe to %s "
                                       "was not redirected; run the validation as the proxy uid (1337)", probe);
                        return -EPERM;
                }
                ret->reason = VALIDATE_NO_REDIRECT;
                DETAIL("a connection from %s as uid %u reached %s unchanged: no nat rule redirects the proxy uid's "
                       "loopback traffic to %s (ISTIO_OUTPUT -> ISTIO_IN_REDIRECT); the capture rules are missing "
                       "or incomplete (was the pod created before istio-cni was ready?)",
                       lhs, (unsigned)euid, probe, lo[1]);
                return -EHOSTUNREACH;
        case OUT_REFUSED:
        case OUT_ELSEWHERE:
                if (bad >= 0) {
                        ret->reason = VALIDATE_BIND_FAILED;
                        DETAIL("cannot listen on %s (%s) and the probe to %s was %s: another socket holds "
                               "the capture port; free it and retry",
                               lo[bad], strerror(p->lerr[bad]), probe,
                               p->last == OUT_REFUSED ? "refused" : "accepted by a socket that is not ours");
                        return -p->lerr[bad];
                }
                ret->reason = VALIDATE_WRONG_PORT;
                if (p->sfd < 0)
                        DETAIL("the probe to %s was %s and %s is busy (%s), so it is unclear whether it was "
                               "redirected at all; it did not reach %s or %s",
                               probe, p->last == OUT_REFUSED ? "refused" : "accepted by a socket that is not ours",
                               probe, strerror(p->serr), lo[0], lo[1]);
                else if (p->last == OUT_REFUSED)
                        DETAIL("the probe to %s was refused although a listener was bound there: a rule redirected "
                               "it to a port where nothing listens, not to %s or %s (check the -p/-z ports)",
                               probe, lo[0], lo[1]);
                else
                        DETAIL("the probe to %s was accepted by a socket that is not ours: a rule redirected it "
                               "to a port other than %s and %s (check the -p/-z ports)", probe, lo[0], lo[1]);
                return -EPROTO;
        case OUT_MISMATCH:
                ret->reason = VALIDATE_ORIGINAL_DST_MISMATCH;
                DETAIL("listener %s accepted the probe, but its original destination is %s, not %s: "
                       "another nat rule rewrote it first", lo[p->hit], p->seen_dst, probe);
                return -EPROTO;
        case OUT_ODST_FAILED:
                ret->reason = VALIDATE_ORIGINAL_DST_MISMATCH;
                DETAIL("listener %s accepted the probe, but SO_ORIGINAL_DST failed (%s): the connection was not "
                       "NATed by a REDIRECT rule", lo[p->hit], strerror(p->last_err));
                return -EPROTO;
        case OUT_ERROR:
                ret->reason = VALIDATE_INTERNAL;
                DETAIL("cannot connect from %s to %s: %s%s", lhs, probe, strerror(p->last_err),
                       p->last_err == ENETUNREACH ? " (is lo up?)" : "");
                return -p->last_err;
        case OUT_HUNG:
        case OUT_NONE:
        default:
                ret->reason = VALIDATE_TIMEOUT;
                DETAIL("no probe to %s completed within %llu ms (%u attempts%s)", probe,
                       (unsigned long long)(o->timeout_usec / 1000), p->attempts,
                       p->last == OUT_HUNG ? "; connects hung: does a rule drop the SYN?" : "");
                return -ETIMEDOUT;
        }
}

int validate_run(const struct validate_opts *o, struct validate_result *ret) {
        uint64_t start = now_usec(), deadline = start + o->timeout_usec;
        struct probe p = {
                .o = o,
                .family = o->ipv6 ? AF_INET6 : AF_INET,
                .lfd = { -1, -1 },
                .lport = { o->outbound_port, o->inbound_port },
                .sfd = -1,
                .cfd = -1,
                .hit = -1,
        };
        int r = 0, nbound = 0;

        *ret = (struct validate_result){ .reason = VALIDATE_INTERNAL };

        /* Istio: a listener that fails to bind is skipped; none at all is an error. Equal ports
         * (-p == -z) need one listener only. */
        for (int i = 0; i < 2; i++) {
                if (i == 1 && p.lport[1] == p.lport[0]) {
                        p.lerr[1] = p.lerr[0];
                        break;
                }
                p.lfd[i] = listen_on(p.family, true, p.lport[i], true);
                p.lerr[i] = p.lfd[i] < 0 ? -p.lfd[i] : 0;
                nbound += p.lfd[i] >= 0;
        }
        if (nbound == 0) {
                char a[64], b[64];
                fmt_port(p.family, true, p.lport[0], a, sizeof a);
                fmt_port(p.family, true, p.lport[1], b, sizeof b);
                ret->reason = VALIDATE_BIND_FAILED;
                snprintf(ret->detail, sizeof ret->detail,
                         "no listener available: %s (%s), %s (%s)%s", a, strerror(p.lerr[0]), b,
                         strerror(p.lerr[1]),
                         p.lerr[0] == EADDRNOTAVAIL ? "; is lo up and does it have its loopback address?"
                         : p.lerr[0] == EADDRINUSE ? "; another process without SO_REUSEPORT (or another uid) holds the ports"
                                                   : "");
                r = -p.lerr[0];
                goto finish;
        }
        p.sfd = listen_on(p.family, false, o->probe_port, false);
        p.serr = p.sfd < 0 ? -p.sfd : 0;

        for (;;) {
                uint64_t now = now_usec();
                struct pollfd pfd[4];
                int64_t wait;

                if (p.cstate == CLIENT_IDLE && now >= p.cdue) {
                        if (now >= deadline)
                                break;
                        r = attempt_start(&p, now);
                        if (r < 0) {
                                snprintf(ret->detail, sizeof ret->detail, "cannot create the probe client socket: %s",
                                         strerror(-r));
                                goto finish;
                        }
                        continue;
                }
                if (p.cstate != CLIENT_IDLE && now >= p.cdue) {
                        attempt_end(&p, p.cstate == CLIENT_CONNECTING ? OUT_HUNG : OUT_ELSEWHERE, 0, now);
                        continue;
                }
                if (now >= deadline)
                        break;

                for (int i = 0; i < 2; i++)
                        pfd[i] = (struct pollfd){ .fd = p.lfd[i], .events = POLLIN };
                pfd[2] = (struct pollfd){ .fd = p.sfd, .events = POLLIN };
                /* Connected: only the listeners can tell us more; a foreign peer's close must not spin. */
                pfd[3] = (struct pollfd){ .fd = p.cstate == CLIENT_CONNECTING ? p.cfd : -1, .events = POLLOUT };

                wait = (int64_t)((p.cdue < deadline ? p.cdue : deadline) - now);
                if (wait < 0)
                        wait = 0;
                if (poll(pfd, ELEMENTSOF(pfd), (int)((wait + 999) / 1000)) < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        snprintf(ret->detail, sizeof ret->detail, "poll: %s", strerror(errno));
                        goto finish;
                }
                now = now_usec();
                /* Listeners first: a connect and its accept often land in the same wake-up. */
                for (int i = 0; i < 2; i++)
                        if (pfd[i].fd >= 0 && pfd[i].revents && drain_listener(&p, i, now))
                                goto success;
                if (pfd[2].fd >= 0 && pfd[2].revents)
                        drain_sentinel(&p, now);
                if (pfd[3].fd >= 0 && pfd[3].revents && p.cstate == CLIENT_CONNECTING)
                        client_event(&p, now);
        }
        r = classify(&p, ret);
        goto finish;

success: {
        char probe[64], lo[64];
        fmt_port(p.family, false, o->probe_port, probe, sizeof probe);
        fmt_port(p.family, true, p.lport[p.hit], lo, sizeof lo);
        ret->reason = VALIDATE_OK;
        snprintf(ret->detail, sizeof ret->detail,
                 "the probe to %s was redirected to %s (original destination %s) after %u attempt%s", probe, lo,
                 probe, p.attempts, p.attempts == 1 ? "" : "s");
        r = 0;
}
finish:
        client_close(&p);
        for (int i = 0; i < 2; i++)
                if (p.lfd[i] >= 0)
                        close(p.lfd[i]);
        if (p.sfd >= 0)
                close(p.sfd);
        ret->attempts = p.attempts;
        ret->elapsed_usec = now_usec() - start;
        if (r == 0 && ret->reason != VALIDATE_OK)
                r = -EIO;
        return r;
}

int validate_write_termination_message(const char *path, const struct validate_result *r) {
        _cleanup_close_ int fd = -1;
        char line[4096];
        size_t n, off = 0;
        int len;

        if (!path || !r)
                return -EINVAL;
        len = snprintf(line, sizeof line, "%s: %s", validate_reason_to_string(r->reason), r->detail);
        if (len < 0)
                return -EINVAL;
        n = (size_t)len < sizeof line - 1 ? (size_t)len : sizeof line - 2;
        /* One line: the repair controller and kubectl show it verbatim. */
        for (size_t i = 0; i < n; i++)
                if (line[i] == '\n' || line[i] == '\r')
                        line[i] = ' ';
        line[n++] = '\n';

        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0644);
        if (fd < 0)
                return -errno;
        while (off < n) {
                ssize_t w = write(fd, line + off, n - off);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                off += (size_t)w;
        }
        return 0;
}
