/* SPDX-License-Identifier: Apache-2.0 */
/* httpd.c: the node agent's small HTTP/1.1 server (see httpd.h; RFC 9112, spec istio-cni.md §4.10). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/macro.h"
#include "agent/httpd.h"

#define DEFAULT_MAX_CONNS 256
#define DEFAULT_MAX_BODY (1u << 20)
#define DEFAULT_IO_TIMEOUT_USEC (5ULL * 1000 * 1000)
#define METHOD_MAX 16
#define BACKOFF_MIN_MS 10
#define BACKOFF_MAX_MS 1000

/* ---- messages ---- */

const char *httpd_reason(int status) {
        static const struct {
                int status;
                const char *reason;
        } t[] = {
                { 200, "OK" },                    { 201, "Created" },
                { 202, "Accepted" },              { 204, "No Content" },
                { 400, "Bad Request" },           { 401, "Unauthorized" },
                { 403, "Forbidden" },             { 404, "Not Found" },
                { 405, "Method Not Allowed" },    { 408, "Request Timeout" },
                { 409, "Conflict" },              { 411, "Length Required" },
                { 413, "Content Too Large" },     { 429, "Too Many Requests" },
                { 431, "Request Header Fields Too Large" },
                { 500, "Internal Server Error" }, { 501, "Not Implemented" },
                { 502, "Bad Gateway" },           { 503, "Service Unavailable" },
                { 504, "Gateway Timeout" },       { 505, "HTTP Version Not Supported" },
        };
        for (size_t i = 0; i < ELEMENTSOF(t); i++)
                if (t[i].status == status)
                        return t[i].reason;
        return "Unknown";
}

int httpd_format_response(const struct httpd_response *resp, char **ret, size_t *ret_len) {
        char head[256];
        int status = resp->status >= 100 && resp->status <= 599 ? resp->status : 500;
        size_t blen = resp->body ? resp->body_len : 0;
        /* The content type is the handler's constant; refuse line breaks rather than split the head. */
        const char *ct = resp->content_type && !strpbrk(resp->content_type, "\r\n") ? resp->content_type
                                                                                    : "text/plain; charset=utf-8";
        int n = snprintf(head, sizeof head, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                                            "Connection: close\r\n\r\n", status, httpd_reason(status), ct, blen);
        if (n < 0 || (size_t)n >= sizeof head)
                return -EINVAL;
        char *b = malloc((size_t)n + blen + 1);
        if (!b)
                return -ENOMEM;
        memcpy(b, head, (size_t)n);
        if (blen)
                memcpy(b + n, resp->body, blen);
        b[(size_t)n + blen] = 0;
        *ret = b;
        *ret_len = (size_t)n + blen;
        return 0;
}

int httpd_respond(struct httpd_response *resp, int status, const char *content_type, const char *text) {
        char *b = strdup(text ? text : "");
        free(resp->body);
        if (!b) {
                *resp = (struct httpd_response){ .status = 500 };
                return -ENOMEM;
        }
        *resp = (struct httpd_response){ .status = status, .content_type = content_type, .body = b,
                                         .body_len = strlen(b) };
        return 0;
}

/* ---- request parser ---- */

static bool is_tchar(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* The next line of buf[*pos..end): its start and length without the line end. false when no
 * line end is there yet. */
static bool next_line(const char *buf, size_t end, size_t *pos, const char **ret_line, size_t *ret_len) {
        const char *s = buf + *pos, *nl = memchr(s, '\n', end - *pos);
        if (!nl)
                return false;
        size_t l = (size_t)(nl - s);
        *pos += l + 1;
        if (l && s[l - 1] == '\r')
                l--;
        *ret_line = s;
        *ret_len = l;
        return true;
}

static int parse_fail(struct httpd_parsed *ret, int status, const char *why) {
        free(ret->storage);
        *ret = (struct httpd_parsed){ .error_status = status, .error = why };
        return -EBADMSG;
}

static bool ieq_prefix(const char *line, size_t len, const char *name) {
        size_t n = strlen(name);
        return len > n && line[n] == ':' && strncasecmp(line, name, n) == 0;
}

/* Request line: METHOD SP origin-form SP HTTP/1.x. Fills the offsets of its parts. */
static int parse_request_line(const char *l, size_t len, struct httpd_parsed *ret, size_t *m_len, size_t *t_off,
                              size_t *t_len) {
        const char *sp1 = memchr(l, ' ', len), *sp2;

        if (!sp1 || sp1 == l)
                return parse_fail(ret, 400, "malformed request line");
        *m_len = (size_t)(sp1 - l);
        if (*m_len > METHOD_MAX)
                return parse_fail(ret, 400, "method too long");
        for (size_t i = 0; i < *m_len; i++)
                if (!is_tchar(l[i]))
                        return parse_fail(ret, 400, "malformed method");
        sp2 = memchr(sp1 + 1, ' ', len - (size_t)(sp1 + 1 - l));
        if (!sp2 || sp2 == sp1 + 1)
                return parse_fail(ret, 400, "malformed request line");
        *t_off = (size_t)(sp1 + 1 - l);
        *t_len = (size_t)(sp2 - sp1 - 1);
        if (l[*t_off] != '/')
                return parse_fail(ret, 400, "request target is not a path");
        for (size_t i = 0; i < *t_len; i++)
                if ((unsigned char)l[*t_off + i] <= 0x20 || (unsigned char)l[*t_off + i] >= 0x7f)
                        return parse_fail(ret, 400, "bad character in the request target");
        const char *v = sp2 + 1;
        size_t vlen = len - (size_t)(v - l);
        if (vlen == 8 && (memcmp(v, "HTTP/1.1", 8) == 0 || memcmp(v, "HTTP/1.0", 8) == 0))
                return 0;
        if (vlen == 8 && memcmp(v, "HTTP/", 5) == 0 && v[5] >= '0' && v[5] <= '9' && v[6] == '.' && v[7] >= '0' &&
            v[7] <= '9')
                return parse_fail(ret, 505, "only HTTP/1.0 and HTTP/1.1 are served");
        return parse_fail(ret, 400, "malformed HTTP version");
}

/* Header fields: only Content-Length and Transfer-Encoding matter here. */
static int parse_header(const char *l, size_t len, struct httpd_parsed *ret, int64_t *clen) {
        const char *colon = memchr(l, ':', len);
        if (l[0] == ' ' || l[0] == '\t')
                return parse_fail(ret, 400, "obsolete header line folding");
        if (!colon || colon == l)
                return parse_fail(ret, 400, "malformed header line");
        for (const char *p = l; p < colon; p++)
                if (!is_tchar(*p))
                        return parse_fail(ret, 400, "malformed header name");
        if (ieq_prefix(l, len, "Transfer-Encoding"))
                return parse_fail(ret, 501, "Transfer-Encoding is not supported; send Content-Length");
        if (ieq_prefix(l, len, "Content-Length")) {
                const char *v = colon + 1, *e = l + len;
                int64_t n = 0;
                while (v < e && (*v == ' ' || *v == '\t'))
                        v++;
                while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
                        e--;
                if (v == e)
                        return parse_fail(ret, 400, "bad Content-Length");
                for (; v < e; v++) {
                        if (*v < '0' || *v > '9' || n > (INT64_MAX - 9) / 10)
                                return parse_fail(ret, 400, "bad Content-Length");
                        n = n * 10 + (*v - '0');
                }
                if (*clen >= 0 && *clen != n)
                        return parse_fail(ret, 400, "conflicting Content-Length");
                *clen = n;
        }
        return 0;
}

int httpd_parse_request(const char *buf, size_t len, size_t max_body, struct httpd_parsed *ret) {
        size_t pos = 0, scan = len < HTTPD_HEAD_MAX ? len : HTTPD_HEAD_MAX, l, m_len = 0, t_off = 0, t_len = 0;
        const char *line;
        int64_t clen = -1;
        int r;

        *ret = (struct httpd_parsed){};
        if (!max_body)
                max_body = DEFAULT_MAX_BODY;
        /* RFC 9112 §2.2: ignore at least one empty line before the request line. */
        while (pos < scan && (buf[pos] == '\r' || buf[pos] == '\n'))
                pos++;
        size_t start = pos;
        if (!next_line(buf, scan, &pos, &line, &l))
                return len >= HTTPD_HEAD_MAX ? parse_fail(ret, 431, "request head too large") : 0;
        if (memchr(line, 0, l))
                return parse_fail(ret, 400, "NUL byte in the request head");
        r = parse_request_line(line, l, ret, &m_len, &t_off, &t_len);
        if (r < 0)
                return r;
        for (;;) {
                if (!next_line(buf, scan, &pos, &line, &l))
                        return len >= HTTPD_HEAD_MAX ? parse_fail(ret, 431, "request head too large") : 0;
                if (l == 0)
                        break;
                if (memchr(line, 0, l))
                        return parse_fail(ret, 400, "NUL byte in the request head");
                r = parse_header(line, l, ret, &clen);
                if (r < 0)
                        return r;
        }
        if (clen > (int64_t)max_body)
                return parse_fail(ret, 413, "request body too large");
        size_t body_len = clen > 0 ? (size_t)clen : 0;
        if (len - pos < body_len)
                return 0;

        /* storage: "METHOD\0target\0body\0"; the query is split off the target in place. */
        char *s = malloc(m_len + 1 + t_len + 1 + body_len + 1);
        if (!s)
                return -ENOMEM;
        const char *rl = buf + start;
        memcpy(s, rl, m_len);
        s[m_len] = 0;
        char *target = s + m_len + 1;
        memcpy(target, rl + t_off, t_len);
        target[t_len] = 0;
        char *body = target + t_len + 1;
        memcpy(body, buf + pos, body_len);
        body[body_len] = 0;
        char *q = strchr(target, '?');
        if (q)
                *q++ = 0;
        ret->storage = s;
        ret->req = (struct httpd_request){ .method = s, .path = target, .query = q, .body = body, .body_len = body_len,
                                           .conn_fd = -1, .received_usec = now_usec() };
        return 1;
}

void httpd_parsed_done(struct httpd_parsed *p) {
        free(p->storage);
        *p = (struct httpd_parsed){};
}

/* ---- listening sockets ---- */

int httpd_listen_tcp(const char *addr, uint16_t port, int *ret_fd) {
        struct sockaddr_storage ss = {};
        socklen_t sl;
        int family, one = 1, zero = 0;

        if (!addr || !*addr) {
                _cleanup_close_ int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
                struct sockaddr_in6 s6 = { .sin6_family = AF_INET6, .sin6_port = htons(port), .sin6_addr = in6addr_any };
                if (fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0 &&
                    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero) == 0 &&
                    bind(fd, (struct sockaddr *)&s6, sizeof s6) == 0) {
                        if (listen(fd, 512) < 0)
                                return -errno;
                        *ret_fd = TAKE_FD(fd);
                        return 0;
                }
                if (fd >= 0 && errno != EADDRNOTAVAIL && errno != EAFNOSUPPORT)
                        return -errno; /* e.g. EADDRINUSE: IPv4 would fail the same way */
                addr = "0.0.0.0"; /* IPv6 disabled on this node */
        }
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
                family = AF_INET;
                s4->sin_family = AF_INET;
                s4->sin_port = htons(port);
                sl = sizeof *s4;
        } else if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
                family = AF_INET6;
                s6->sin6_family = AF_INET6;
                s6->sin6_port = htons(port);
                sl = sizeof *s6;
        } else
                return -EINVAL;
        _cleanup_close_ int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
            (family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0) ||
            bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 512) < 0)
                return -errno;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* Which file each Unix listening fd bound: httpd_unlink_unix needs the path's inode, and the
 * socket fd itself only knows its sockfs inode. Slots are reused when their fd no longer is the
 * socket they recorded. */
static struct bound {
        int fd;
        ino_t sock_ino;
        dev_t dev;
        ino_t ino;
} bound[32];
static pthread_mutex_t bound_lock = PTHREAD_MUTEX_INITIALIZER;

static bool bound_valid(const struct bound *b) {
        struct stat st;
        return b->fd >= 0 && fstat(b->fd, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_ino == b->sock_ino;
}

static void bound_add(int fd, const struct stat *path_st) {
        struct stat st;
        if (fstat(fd, &st) < 0)
                return;
        pthread_mutex_lock(&bound_lock);
        size_t slot = ELEMENTSOF(bound);
        for (size_t i = 0; i < ELEMENTSOF(bound) && slot == ELEMENTSOF(bound); i++)
                if (bound[i].fd == fd || bound[i].sock_ino == 0 || !bound_valid(&bound[i]))
                        slot = i;
        if (slot == ELEMENTSOF(bound))
                slot = 0; /* 32 live Unix listeners: the oldest loses its unlink check (it then never unlinks) */
        bound[slot] = (struct bound){ .fd = fd, .sock_ino = st.st_ino, .dev = path_st->st_dev, .ino = path_st->st_ino };
        pthread_mutex_unlock(&bound_lock);
}

/* 1: a server answers at sa; 0: nothing does (stale or absent); < 0: cannot tell. */
static int unix_is_live(const struct sockaddr_un *sa) {
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (const struct sockaddr *)sa, sizeof *sa) == 0 || errno == EAGAIN || errno == EINPROGRESS)
                return 1; /* EAGAIN: its backlog is full, it is alive */
        if (errno == ECONNREFUSED || errno == ENOENT)
                return 0;
        return -errno;
}

int httpd_listen_unix(const char *path, mode_t mode, int *ret_fd) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct stat st;
        int r;

        if (!path || !*path)
                return -EINVAL;
        if (strlen(path) >= sizeof sa.sun_path)
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, path, strlen(path) + 1);
        _cleanup_free_ char *dir = strdup(path);
        if (!dir)
                return -ENOMEM;
        char *slash = strrchr(dir, '/');
        if (!slash)
                strcpy(dir, ".");
        else if (slash == dir)
                dir[1] = 0;
        else
                *slash = 0;
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        while (flock(dfd, LOCK_EX) < 0)
                if (errno != EINTR)
                        return -errno;
        /* Under the lock: nobody else following this protocol checks, unlinks or binds now. */
        if (lstat(path, &st) == 0) {
                if (!S_ISSOCK(st.st_mode))
                        return -EEXIST;
                r = unix_is_live(&sa);
                if (r < 0)
                        return r;
                if (r > 0)
                        return -EADDRINUSE;
                if (unlink(path) < 0 && errno != ENOENT)
                        return -errno;
        } else if (errno != ENOENT)
                return -errno;
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
                return -errno;
        if (chmod(path, mode) < 0 || listen(fd, 512) < 0 || lstat(path, &st) < 0) {
                r = -errno;
                (void)unlink(path);
                return r;
        }
        bound_add(fd, &st);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int httpd_unlink_unix(const char *path, int listen_fd) {
        struct stat st;
        bool found = false, ours = false;

        pthread_mutex_lock(&bound_lock);
        for (size_t i = 0; i < ELEMENTSOF(bound); i++)
                if (bound[i].fd == listen_fd && bound[i].sock_ino && bound_valid(&bound[i])) {
                        found = true;
                        ours = lstat(path, &st) == 0 && st.st_dev == bound[i].dev && st.st_ino == bound[i].ino;
                        if (ours)
                                bound[i] = (struct bound){ .fd = -1 };
                        break;
                }
        pthread_mutex_unlock(&bound_lock);
        if (!found)
                return -EBADF;
        if (!ours)
                return 0;
        if (unlink(path) < 0)
                return errno == ENOENT ? 0 : -errno;
        return 1;
}

/* ---- server ---- */

struct conn {
        struct httpd *s;
        int fd;                 /* -1 once closed (under s->lock) */
        bool done;
        pthread_t t;
        struct conn *next;
};

struct httpd {
        int fd, wake_fd;
        struct httpd_options o;
        httpd_handler handler;
        void *userdata;
        pthread_t accept_t;
        pthread_mutex_t lock;
        pthread_cond_t cond;    /* CLOCK_MONOTONIC; signalled when a connection ends */
        struct conn *conns;
        unsigned live;
};

/* Sends all of p within deadline. */
static int send_all(int fd, const char *p, size_t n, uint64_t deadline) {
        while (n > 0) {
                ssize_t k = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (k > 0) {
                        p += k;
                        n -= (size_t)k;
                        continue;
                }
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0 && errno != EAGAIN)
                        return -errno;
                uint64_t now = now_usec();
                if (now >= deadline)
                        return -ETIMEDOUT;
                struct pollfd pf = { .fd = fd, .events = POLLOUT };
                (void)poll(&pf, 1, (int)((deadline - now + 999) / 1000));
        }
        return 0;
}

static void send_status(int fd, int status, const char *text, uint64_t deadline) {
        struct httpd_response resp = { .status = status, .body = (char *)text, .body_len = strlen(text) };
        _cleanup_free_ char *out = NULL;
        size_t n;
        if (httpd_format_response(&resp, &out, &n) == 0)
                (void)send_all(fd, out, n, deadline);
}

/* Reads one request within deadline. > 0: parsed; 0: the peer went away or timed out before a
 * complete request (after a timeout with bytes read, 408 was sent); -EBADMSG: answered. */
static int read_request(struct httpd *s, int fd, uint64_t deadline, struct httpd_parsed *ret) {
        size_t cap = 4096, len = 0, max = HTTPD_HEAD_MAX + s->o.max_body;
        _cleanup_free_ char *buf = malloc(cap);
        int r;

        if (!buf)
                return -ENOMEM;
        for (;;) {
                uint64_t now = now_usec();
                if (now >= deadline) {
                        if (len)
                                send_status(fd, 408, "request not received in time\n", now + 1000000);
                        return 0;
                }
                struct pollfd pf = { .fd = fd, .events = POLLIN };
                int k = poll(&pf, 1, (int)((deadline - now + 999) / 1000));
                if (k < 0 && errno != EINTR)
                        return 0;
                if (k <= 0)
                        continue;
                if (len == cap) {
                        size_t ncap = cap * 2 > max ? max : cap * 2;
                        char *nb = realloc(buf, ncap);
                        if (!nb)
                                return -ENOMEM;
                        buf = nb;
                        cap = ncap;
                }
                ssize_t m = recv(fd, buf + len, cap - len, 0);
                if (m < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (m <= 0)
                        return 0;
                len += (size_t)m;
                r = httpd_parse_request(buf, len, s->o.max_body, ret);
                if (r == -EBADMSG) {
                        char msg[160];
                        snprintf(msg, sizeof msg, "%s\n", ret->error);
                        send_status(fd, ret->error_status, msg, deadline);
                        return r;
                }
                if (r != 0)
                        return r;
                if (len == max) /* cannot happen: the parser refuses a head or body past max first */
                        return -EBADMSG;
        }
}

static void serve_conn(struct httpd *s, int fd) {
        struct httpd_parsed p = {};
        struct httpd_response resp = {};
        struct ucred cred = {};
        socklen_t cl = sizeof cred;
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        bool known = false;

        if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0 && ss.ss_family == AF_UNIX &&
            getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) == 0)
                known = true;
        if (s->o.same_uid_only && (!known || cred.uid != geteuid())) {
                send_status(fd, 403, "only the server's own uid may ask\n", now_usec() + s->o.io_timeout_usec);
                return;
        }
        int r = read_request(s, fd, now_usec() + s->o.io_timeout_usec, &p);
        if (r <= 0) {
                if (r == -ENOMEM)
                        send_status(fd, 503, "out of memory\n", now_usec() + s->o.io_timeout_usec);
                return;
        }
        p.req.peer_known = known;
        p.req.peer_uid = known ? cred.uid : (uid_t)-1;
        p.req.conn_fd = fd;
        s->handler(&p.req, &resp, s->userdata);
        if (resp.status == 0)
                resp.status = 500;
        _cleanup_free_ char *out = NULL;
        size_t n = 0;
        if (httpd_format_response(&resp, &out, &n) == 0)
                (void)send_all(fd, out, n, now_usec() + s->o.io_timeout_usec);
        else
                send_status(fd, 503, "out of memory\n", now_usec() + s->o.io_timeout_usec);
        free(resp.body);
        httpd_parsed_done(&p);
}

static void *conn_main(void *arg) {
        struct conn *c = arg;
        struct httpd *s = c->s;

        serve_conn(s, c->fd);
        pthread_mutex_lock(&s->lock);
        /* closed under the lock: httpd_stop shuts down only fds that are still ours */
        close(c->fd);
        c->fd = -1;
        c->done = true;
        s->live--;
        pthread_cond_broadcast(&s->cond);
        pthread_mutex_unlock(&s->lock);
        return NULL;
}

/* Joins and frees the connections that have ended (all of them when all is set). */
static void reap(struct httpd *s, bool all) {
        struct conn *c, **pp, *gone = NULL;

        pthread_mutex_lock(&s->lock);
        for (pp = &s->conns; (c = *pp);) {
                if (all || c->done) {
                        *pp = c->next;
                        c->next = gone;
                        gone = c;
                } else
                        pp = &c->next;
        }
        pthread_mutex_unlock(&s->lock);
        while ((c = gone)) {
                gone = c->next;
                pthread_join(c->t, NULL);
                free(c);
        }
}

static bool accept_error_is_transient(int e) {
        return !(e == EBADF || e == EINVAL || e == ENOTSOCK || e == EFAULT || e == EOPNOTSUPP);
}

static void *accept_main(void *arg) {
        struct httpd *s = arg;
        pthread_attr_t attr;
        int backoff_ms = 0;

        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, 256 * 1024);
        for (;;) {
                reap(s, false);
                /* After EMFILE & co. the pending connection keeps the fd readable: wait on the
                 * wake fd alone for the back-off, so that the loop does not spin. */
                struct pollfd pf[2] = { { .fd = s->wake_fd, .events = POLLIN }, { .fd = s->fd, .events = POLLIN } };
                int k = poll(pf, backoff_ms ? 1 : 2, backoff_ms ? backoff_ms : 1000);
                if (k < 0 && errno != EINTR)
                        break;
                if (pf[0].revents || (backoff_ms == 0 && (pf[1].revents & (POLLERR | POLLNVAL))))
                        break; /* stopping, or the listener is gone: polling it again would spin */
                if (backoff_ms == 0 && !(pf[1].revents & POLLIN))
                        continue;
                int fd = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);
                if (fd < 0) {
                        if (errno == EINTR || errno == EAGAIN || errno == ECONNABORTED) {
                                backoff_ms = 0;
                                continue;
                        }
                        if (!accept_error_is_transient(errno))
                                break;
                        backoff_ms = backoff_ms ? (backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff_ms * 2)
                                                : BACKOFF_MIN_MS;
                        continue;
                }
                backoff_ms = 0;
                struct conn *c = NULL;
                pthread_mutex_lock(&s->lock);
                if (s->live < s->o.max_conns && (c = calloc(1, sizeof *c))) {
                        *c = (struct conn){ .s = s, .fd = fd };
                        if (pthread_create(&c->t, &attr, conn_main, c) == 0) {
                                s->live++;
                                c->next = s->conns;
                                s->conns = c;
                                pthread_mutex_unlock(&s->lock);
                                continue;
                        }
                        free(c);
                }
                pthread_mutex_unlock(&s->lock);
                /* Overloaded: say so at once, without blocking the accept loop on this peer. */
                send_status(fd, 503, "too many connections\n", 0);
                close(fd);
        }
        pthread_attr_destroy(&attr);
        return NULL;
}

int httpd_start(int listen_fd, const struct httpd_options *o, httpd_handler h, void *userdata, struct httpd **ret) {
        pthread_condattr_t ca;
        struct httpd *s;

        if (listen_fd < 0 || !h || !ret) {
                if (listen_fd >= 0)
                        close(listen_fd);
                return -EINVAL;
        }
        s = calloc(1, sizeof *s);
        if (!s) {
                close(listen_fd);
                return -ENOMEM;
        }
        s->fd = listen_fd;
        s->o = o ? *o : (struct httpd_options){};
        if (!s->o.max_conns)
                s->o.max_conns = DEFAULT_MAX_CONNS;
        if (!s->o.max_body)
                s->o.max_body = DEFAULT_MAX_BODY;
        if (!s->o.io_timeout_usec)
                s->o.io_timeout_usec = DEFAULT_IO_TIMEOUT_USEC;
        s->handler = h;
        s->userdata = userdata;
        s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (s->wake_fd < 0) {
                int r = -errno;
                close(listen_fd);
                free(s);
                return r;
        }
        pthread_mutex_init(&s->lock, NULL);
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&s->cond, &ca);
        pthread_condattr_destroy(&ca);
        int r = pthread_create(&s->accept_t, NULL, accept_main, s);
        if (r != 0) {
                close(s->wake_fd);
                close(listen_fd);
                pthread_mutex_destroy(&s->lock);
                pthread_cond_destroy(&s->cond);
                free(s);
                return -r;
        }
        *ret = s;
        return 0;
}

struct httpd *httpd_stop(struct httpd *s) {
        if (!s)
                return NULL;
        uint64_t one = 1;
        (void)!write(s->wake_fd, &one, sizeof one);
        pthread_join(s->accept_t, NULL);
        close(s->fd);
        close(s->wake_fd);

        /* Let answers in flight finish; past io_timeout, cut their I/O (a handler itself must be
         * bounded: it is joined below whatever happens). */
        uint64_t deadline = now_usec() + s->o.io_timeout_usec;
        pthread_mutex_lock(&s->lock);
        while (s->live > 0) {
                uint64_t now = now_usec();
                if (now >= deadline)
                        break;
                struct timespec ts;
                clock_gettime(CLOCK_MONOTONIC, &ts);
                uint64_t wait = deadline - now, ns = (uint64_t)ts.tv_nsec + (wait % 1000000) * 1000;
                ts.tv_sec += (time_t)(wait / 1000000 + ns / 1000000000);
                ts.tv_nsec = (long)(ns % 1000000000);
                pthread_cond_timedwait(&s->cond, &s->lock, &ts);
        }
        for (struct conn *c = s->conns; c; c = c->next)
                if (!c->done && c->fd >= 0)
                        shutdown(c->fd, SHUT_RDWR);
        pthread_mutex_unlock(&s->lock);
        reap(s, true);
        pthread_mutex_destroy(&s->lock);
        pthread_cond_destroy(&s->cond);
        free(s);
        return NULL;
}

bool httpd_request_abandoned(const struct httpd_request *req) {
        if (!req || req->conn_fd < 0)
                return false;
        /* A closed Unix peer gives POLLHUP; a closed TCP peer only a FIN (POLLRDHUP). A half-close
         * after the request is legal HTTP but no client of ours does it. */
        struct pollfd pf = { .fd = req->conn_fd, .events = POLLRDHUP };
        return poll(&pf, 1, 0) == 1 && (pf.revents & (POLLHUP | POLLERR | POLLRDHUP));
}
