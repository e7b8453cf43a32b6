/* SPDX-License-Identifier: Apache-2.0 */
/* resolve.c: host name → addresses from /etc/hosts and DNS, without NSS (see resolve.h).
 * Spec: istio-cni.md §2.5; RFC 1035 §4; resolv.conf(5); hosts(5); Go's net/dnsclient_unix.go. */
#include "kube/resolve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/uio.h>
#include <unistd.h>

#include "base/errbuf.h"
#include "base/fileio.h"
#include "base/macro.h"

#define DNS_TYPE_A 1
#define DNS_TYPE_CNAME 5
#define DNS_TYPE_AAAA 28
#define DNS_CLASS_IN 1
#define DNS_RCODE_NXDOMAIN 3
#define DNS_MAX_NAME 255 /* RFC 1035 §2.3.4, wire form */
#define DNS_MAX_MSG 65535

/* ---- resolv.conf ---- */

static bool is_blank(char c) {
        return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* The next whitespace-separated field of [*p, end), or NULL; *n its length. */
static const char *next_field(const char **p, const char *end, size_t *n) {
        const char *s = *p;
        while (s < end && is_blank(*s))
                s++;
        if (s == end)
                return *p = s, NULL;
        const char *e = s;
        while (e < end && !is_blank(*e))
                e++;
        *n = (size_t)(e - s);
        *p = e;
        return s;
}

static bool field_is(const char *f, size_t n, const char *word) {
        return strlen(word) == n && memcmp(f, word, n) == 0;
}

/* "key:N" with N a decimal: 1 and *v (capped at 99), 0 for another key or a bad number. */
static bool option_num(const char *f, size_t n, const char *key, unsigned *v) {
        size_t k = strlen(key);
        unsigned x = 0;
        if (n <= k || memcmp(f, key, k) != 0)
                return false;
        for (size_t i = k; i < n; i++) {
                if (f[i] < '0' || f[i] > '9')
                        return false;
                if (x < 100)
                        x = x * 10 + (unsigned)(f[i] - '0');
        }
        *v = x;
        return true;
}

static void conf_clear_search(struct resolve_conf *c) {
        for (size_t i = 0; i < c->n_search; i++) {
                free(c->search[i]);
                c->search[i] = NULL;
        }
        c->n_search = 0;
}

static int ns_add(struct resolve_conf *c, const char *f, size_t n) {
        char ip[INET6_ADDRSTRLEN + 1];
        struct sockaddr_in *s4 = (struct sockaddr_in *)&c->ns[c->n_ns];
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&c->ns[c->n_ns];

        if (c->n_ns >= RESOLVE_MAX_NS || n >= sizeof ip)
                return 0;
        memcpy(ip, f, n);
        ip[n] = 0;
        memset(&c->ns[c->n_ns], 0, sizeof c->ns[0]);
        if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1) {
                s4->sin_family = AF_INET;
                s4->sin_port = htons(53);
        } else if (inet_pton(AF_INET6, ip, &s6->sin6_addr) == 1) {
                s6->sin6_family = AF_INET6;
                s6->sin6_port = htons(53);
        } else
                return 0; /* not an IP literal (Go and the libc skip it too) */
        c->n_ns++;
        return 0;
}

int resolve_conf_parse(const char *text, size_t len, struct resolve_conf *ret) {
        const char *p = text, *end = text + len;

        *ret = (struct resolve_conf){ .ndots = 1, .timeout_s = 5, .attempts = 2 };
        while (p && p < end) {
                const char *eol = memchr(p, '\n', (size_t)(end - p)) ?: end;
                const char *q = p, *f;
                size_t n;

                p = eol < end ? eol + 1 : end;
                f = next_field(&q, eol, &n);
                if (!f || *f == '#' || *f == ';')
                        continue;
                if (field_is(f, n, "nameserver")) {
                        if ((f = next_field(&q, eol, &n)))
                                ns_add(ret, f, n);
                } else if (field_is(f, n, "search") || field_is(f, n, "domain")) {
                        conf_clear_search(ret); /* the last search/domain line wins */
                        while ((f = next_field(&q, eol, &n)) && ret->n_search < RESOLVE_MAX_SEARCH) {
                                if (n == 1 && *f == '.')
                                        continue; /* the root: the name as given is tried anyway */
                                char *s = strndup(f, n);
                                if (!s)
                                        return resolve_conf_done(ret), -ENOMEM;
                                ret->search[ret->n_search++] = s;
                        }
                } else if (field_is(f, n, "options")) {
                        unsigned v;
                        while ((f = next_field(&q, eol, &n))) {
                                if (option_num(f, n, "ndots:", &v))
                                        ret->ndots = v > 15 ? 15 : v;
                                else if (option_num(f, n, "timeout:", &v))
                                        ret->timeout_s = v < 1 ? 1 : v > 30 ? 30 : v;
                                else if (option_num(f, n, "attempts:", &v))
                                        ret->attempts = v < 1 ? 1 : v > 5 ? 5 : v;
                                else if (field_is(f, n, "use-vc") || field_is(f, n, "usevc") || field_is(f, n, "tcp"))
                                        ret->use_vc = true;
                        }
                }
        }
        if (ret->n_ns == 0) {
                ns_add(ret, "127.0.0.1", 9);
                ns_add(ret, "::1", 3);
        }
        return 0;
}

void resolve_conf_done(struct resolve_conf *c) {
        conf_clear_search(c);
}

/* ---- hosts ---- */

/* name and [f, f+n) equal, ignoring case and one trailing dot on either. */
static bool name_eq(const char *name, const char *f, size_t n) {
        size_t m = strlen(name);
        if (m > 0 && name[m - 1] == '.')
                m--;
        if (n > 0 && f[n - 1] == '.')
                n--;
        return m == n && m > 0 && strncasecmp(name, f, n) == 0;
}

size_t resolve_hosts_parse(const char *text, size_t len, const char *name, struct resolve_addr *out, size_t max) {
        const char *p = text, *end = text + len;
        size_t count = 0;

        if (!text || !name)
                return 0;
        while (p < end && count < max) {
                const char *eol = memchr(p, '\n', (size_t)(end - p)) ?: end;
                const char *hash = memchr(p, '#', (size_t)(eol - p));
                const char *lend = hash ?: eol, *q = p, *f;
                char ip[INET6_ADDRSTRLEN + 1];
                struct resolve_addr a = {};
                size_t n;

                p = eol < end ? eol + 1 : end;
                f = next_field(&q, lend, &n);
                if (!f || n >= sizeof ip)
                        continue;
                memcpy(ip, f, n);
                ip[n] = 0;
                if (inet_pton(AF_INET, ip, &a.v4) == 1)
                        a.family = AF_INET;
                else if (inet_pton(AF_INET6, ip, &a.v6) == 1)
                        a.family = AF_INET6;
                else
                        continue;
                while ((f = next_field(&q, lend, &n)))
                        if (name_eq(name, f, n)) {
                                out[count++] = a;
                                break;
                        }
        }
        return count;
}

/* ---- DNS messages ---- */

int resolve_dns_query(const char *qname, uint16_t qtype, uint16_t id, uint8_t *buf, size_t cap) {
        size_t len = strlen(qname), o = 12;

        if (len > 0 && qname[len - 1] == '.')
                len--;
        if (len == 0 || len > 253 || cap < 12 + len + 2 + 4)
                return -EINVAL;
        memset(buf, 0, 12);
        buf[0] = (uint8_t)(id >> 8), buf[1] = (uint8_t)id;
        buf[2] = 0x01; /* RD */
        buf[5] = 1;    /* QDCOUNT */
        for (size_t s = 0; s < len;) {
                const char *dot = memchr(qname + s, '.', len - s);
                size_t l = (dot ? (size_t)(dot - qname) : len) - s;
                if (l == 0 || l > 63)
                        return -EINVAL;
                buf[o++] = (uint8_t)l;
                memcpy(buf + o, qname + s, l);
                o += l;
                s += l + 1;
        }
        buf[o++] = 0;
        buf[o++] = (uint8_t)(qtype >> 8), buf[o++] = (uint8_t)qtype;
        buf[o++] = 0, buf[o++] = DNS_CLASS_IN;
        return (int)o;
}

static uint16_t get16(const uint8_t *p) {
        return (uint16_t)(p[0] << 8 | p[1]);
}

/* Reads the (possibly compressed) name at *off into out (dotted, lowercase, no trailing dot);
 * *off moves past it in the message. -EBADMSG on a loop, overrun or overlong name. */
static int read_name(const uint8_t *msg, size_t len, size_t *off, char out[DNS_MAX_NAME + 1]) {
        size_t p = *off, o = 0, wire = 0;
        bool jumped = false;

        for (unsigned hops = 0;; hops++) {
                if (p >= len || hops > 127)
                        return -EBADMSG;
                uint8_t l = msg[p];
                if ((l & 0xc0) == 0xc0) {
                        if (p + 1 >= len)
                                return -EBADMSG;
                        if (!jumped)
                                *off = p + 2;
                        jumped = true;
                        p = (size_t)((l & 0x3f) << 8 | msg[p + 1]);
                        continue;
                }
                if (l & 0xc0)
                        return -EBADMSG; /* 0x40/0x80: extended label types, not used */
                p++;
                if (l == 0)
                        break;
                wire += (size_t)l + 1;
                if (p + l > len || wire > DNS_MAX_NAME - 1)
                        return -EBADMSG;
                if (o > 0)
                        out[o++] = '.';
                for (size_t i = 0; i < l; i++) {
                        char c = (char)msg[p + i];
                        out[o++] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
                }
                p += l;
        }
        out[o] = 0;
        if (!jumped)
                *off = p;
        return 0;
}

int resolve_dns_answer(const uint8_t *msg, size_t len, const char *qname, uint16_t qtype, uint16_t id,
                       struct resolve_addr *out, size_t max, size_t *n, int *ret_rcode, bool *ret_tc) {
        char name[DNS_MAX_NAME + 1];
        size_t off = 12, qlen = strlen(qname);
        uint16_t flags, qd, an;
        int r;

        if (len < 12)
                return -EBADMSG;
        flags = get16(msg + 2), qd = get16(msg + 4), an = get16(msg + 6);
        if (get16(msg) != id || !(flags & 0x8000) || qd != 1)
                return -ESRCH;
        /* The question must be ours (RFC 5452 §9.1): name, type and class. */
        r = read_name(msg, len, &off, name);
        if (r < 0)
                return r;
        if (qlen > 0 && qname[qlen - 1] == '.')
                qlen--;
        if (off + 4 > len)
                return -EBADMSG;
        if (strlen(name) != qlen || strncasecmp(name, qname, qlen) != 0 || get16(msg + off) != qtype ||
            get16(msg + off + 2) != DNS_CLASS_IN)
                return -ESRCH;
        off += 4;
        *ret_rcode = flags & 0x0f;
        *ret_tc = flags & 0x0200;
        /* As Go: every answer record of the type asked and class IN counts (a CNAME chain's
         * target records come in the same answer section); CNAMEs themselves are skipped. */
        for (unsigned i = 0; i < an; i++) {
                uint16_t type, class, rdlen;
                r = read_name(msg, len, &off, name);
                if (r < 0)
                        return r;
                if (off + 10 > len)
                        return -EBADMSG;
                type = get16(msg + off), class = get16(msg + off + 2), rdlen = get16(msg + off + 8);
                off += 10;
                if (off + rdlen > len)
                        return -EBADMSG;
                if (class == DNS_CLASS_IN && type == qtype && (type == DNS_TYPE_A || type == DNS_TYPE_AAAA)) {
                        if (rdlen != (type == DNS_TYPE_A ? 4 : 16))
                                return -EBADMSG;
                        if (*n < max) {
                                struct resolve_addr *a = &out[(*n)++];
                                *a = (struct resolve_addr){ .family = type == DNS_TYPE_A ? AF_INET : AF_INET6 };
                                memcpy(type == DNS_TYPE_A ? (void *)&a->v4 : (void *)&a->v6, msg + off, rdlen);
                        }
                }
                off += rdlen;
        }
        return 0;
}

/* ---- exchange ---- */

enum outcome { OK_ANSWER, OK_NXDOMAIN, TRY_NEXT, TIMED_OUT };

static uint16_t random_id(void) {
        uint16_t id;
        if (getrandom(&id, sizeof id, GRND_NONBLOCK) != sizeof id)
                id = (uint16_t)(now_usec() ^ (uint64_t)getpid());
        return id;
}

static int wait_io(int fd, short ev, uint64_t until) {
        for (;;) {
                uint64_t now = now_usec();
                struct pollfd p = { .fd = fd, .events = ev };
                int r;
                if (now >= until)
                        return -ETIMEDOUT;
                r = poll(&p, 1, (int)((until - now + 999) / 1000));
                if (r > 0)
                        return 0;
                if (r < 0 && errno != EINTR)
                        return -errno;
        }
}

static socklen_t ss_len(const struct sockaddr_storage *ss) {
        return ss->ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
}

/* One query over TCP (RFC 1035 §4.2.2: 2-byte length prefix). */
static int exchange_tcp(const struct sockaddr_storage *ns, const uint8_t *q, size_t qlen, uint64_t until,
                        uint8_t *resp, size_t *ret_len) {
        _cleanup_close_ int fd = socket(ns->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        uint8_t hdr[2] = { (uint8_t)(qlen >> 8), (uint8_t)qlen };
        size_t got = 0, want = 2;
        int r, soerr = 0;
        socklen_t sl = sizeof soerr;

        if (fd < 0)
                return -errno;
        if (connect(fd, (const struct sockaddr *)ns, ss_len(ns)) < 0 && errno != EINPROGRESS)
                return -errno;
        if ((r = wait_io(fd, POLLOUT, until)) < 0)
                return r;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr)
                return soerr ? -soerr : -errno;
        struct iovec iov[2] = { { hdr, 2 }, { (void *)q, qlen } };
        if (writev(fd, iov, 2) != (ssize_t)(qlen + 2))
                return -EIO; /* 2 + 512 bytes fit any fresh socket buffer */
        /* Read the length, then the message. */
        uint8_t lenbuf[2];
        while (got < want) {
                uint8_t *dst = want == 2 ? lenbuf + got : resp + got;
                ssize_t k;
                if ((r = wait_io(fd, POLLIN, until)) < 0)
                        return r;
                k = read(fd, dst, want - got);
                if (k < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (k <= 0)
                        return k < 0 ? -errno : -ECONNRESET;
                got += (size_t)k;
                if (want == 2 && got == 2) {
                        want = get16(lenbuf), got = 0;
                        if (want < 12)
                                return -EBADMSG;
                }
        }
        *ret_len = want;
        return 0;
}

/* A and AAAA for one name at one server, within min(deadline, now + timeout). */
static enum outcome exchange(const struct resolve_conf *c, const struct sockaddr_storage *ns, const char *qname,
                             uint64_t deadline, struct resolve_addr *out, size_t max, size_t *n) {
        static const uint16_t types[2] = { DNS_TYPE_A, DNS_TYPE_AAAA };
        uint8_t q[2][300];
        int qlen[2];
        uint16_t ids[2];
        bool done[2] = {}, tc[2] = {};
        int rcode[2] = {};
        size_t base = *n;
        uint64_t until = now_usec() + (uint64_t)c->timeout_s * 1000000;
        _cleanup_close_ int fd = -1;
        _cleanup_free_ uint8_t *resp = malloc(DNS_MAX_MSG);

        if (!resp)
                return TRY_NEXT;
        if (until > deadline)
                until = deadline;
        for (int i = 0; i < 2; i++) {
                ids[i] = random_id();
                qlen[i] = resolve_dns_query(qname, types[i], ids[i], q[i], sizeof q[i]);
                if (qlen[i] < 0)
                        return OK_NXDOMAIN; /* not a DNS name: no server can know it */
                tc[i] = c->use_vc;
        }
        if (!c->use_vc) {
                fd = socket(ns->ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
                if (fd < 0 || connect(fd, (const struct sockaddr *)ns, ss_len(ns)) < 0)
                        return TRY_NEXT;
                for (int i = 0; i < 2; i++)
                        if (send(fd, q[i], (size_t)qlen[i], 0) != qlen[i])
                                return TRY_NEXT;
                while (!done[0] || !done[1]) {
                        ssize_t k;
                        int r = wait_io(fd, POLLIN, until);
                        if (r == -ETIMEDOUT)
                                return now_usec() >= deadline ? TIMED_OUT : TRY_NEXT;
                        if (r < 0)
                                return TRY_NEXT;
                        k = recv(fd, resp, DNS_MAX_MSG, 0);
                        if (k < 0) {
                                if (errno == EINTR || errno == EAGAIN)
                                        continue;
                                return TRY_NEXT; /* ECONNREFUSED: no server on that port */
                        }
                        for (int i = 0; i < 2; i++) {
                                size_t before = *n;
                                if (done[i])
                                        continue;
                                /* A mismatched or malformed datagram is ignored (it may be spoofed). */
                                if (resolve_dns_answer(resp, (size_t)k, qname, types[i], ids[i], out, max, n, &rcode[i],
                                                       &tc[i]) == 0) {
                                        done[i] = true;
                                        if (tc[i])
                                                *n = before; /* a truncated answer is asked again over TCP */
                                        break;
                                }
                        }
                }
        }
        for (int i = 0; i < 2; i++) {
                size_t k = 0;
                if (!tc[i])
                        continue;
                if (exchange_tcp(ns, q[i], (size_t)qlen[i], until, resp, &k) < 0 ||
                    resolve_dns_answer(resp, k, qname, types[i], ids[i], out, max, n, &rcode[i], &tc[i]) != 0) {
                        *n = base;
                        return now_usec() >= deadline ? TIMED_OUT : TRY_NEXT;
                }
        }
        /* SERVFAIL, REFUSED…: the next server may do better (Go: checkHeader). */
        for (int i = 0; i < 2; i++)
                if (rcode[i] != 0 && rcode[i] != DNS_RCODE_NXDOMAIN) {
                        *n = base;
                        return TRY_NEXT;
                }
        if (*n > base)
                return OK_ANSWER;
        return OK_NXDOMAIN; /* NXDOMAIN or no record of either type: try the next name */
}

int resolve_host_with(const char *name, const char *hosts, size_t hosts_len, const struct resolve_conf *c,
                      uint64_t deadline, struct resolve_addr *out, size_t max, char *err, size_t errsz) {
        char names[RESOLVE_MAX_SEARCH + 1][DNS_MAX_NAME + 2];
        size_t n, dots = 0, len, nn = 0;
        bool rooted;

        if (!name || !*name || max == 0)
                return errbuf_set(err, errsz, -EINVAL, "empty host name");
        n = resolve_hosts_parse(hosts, hosts_len, name, out, max);
        if (n > 0)
                return (int)n;
        len = strlen(name);
        if (len > DNS_MAX_NAME)
                return errbuf_set(err, errsz, -EINVAL, "cannot resolve '%.64s…': name too long", name);
        rooted = name[len - 1] == '.';
        for (size_t i = 0; i < len; i++)
                dots += name[i] == '.';
        /* Go's nameList: a rooted name alone; with at least ndots dots, as given and then with
         * each search suffix; with fewer, the suffixed names first. */
        if (rooted || dots >= c->ndots)
                snprintf(names[nn++], sizeof names[0], "%s", name);
        for (size_t s = 0; !rooted && s < c->n_search; s++)
                if ((size_t)snprintf(names[nn], sizeof names[0], "%s.%s", name, c->search[s]) < sizeof names[0])
                        nn++;
        if (!rooted && dots < c->ndots)
                snprintf(names[nn++], sizeof names[0], "%s", name);

        for (size_t i = 0; i < nn; i++) {
                bool next = false;
                for (unsigned a = 0; a < c->attempts && !next; a++)
                        for (size_t k = 0; k < c->n_ns && !next; k++)
                                switch (exchange(c, &c->ns[k], names[i], deadline, out, max, &n)) {
                                case OK_ANSWER:
                                        return (int)n;
                                case TIMED_OUT:
                                        return errbuf_set(err, errsz, -ETIMEDOUT, "resolving '%s' timed out", name);
                                case OK_NXDOMAIN:
                                        next = true; /* the servers agree: no such name; try the next one */
                                        break;
                                case TRY_NEXT:
                                        break;
                                }
        }
        if (now_usec() >= deadline)
                return errbuf_set(err, errsz, -ETIMEDOUT, "resolving '%s' timed out", name);
        return errbuf_set(err, errsz, -ENOENT, "cannot resolve '%s': not in %s, and no DNS server (%s) knows it",
                          name, RESOLVE_HOSTS, RESOLVE_CONF);
}

int resolve_host(const char *name, uint64_t deadline, struct resolve_addr *out, size_t max, char *err, size_t errsz) {
        _cleanup_free_ char *hosts = NULL, *rc = NULL;
        size_t hl = 0, rl = 0;
        struct resolve_conf c;
        int r;

        /* Missing files are normal (a scratch root): no hosts entries, the default servers. */
        (void)fileio_read_file(RESOLVE_HOSTS, 1 << 20, &hosts, &hl);
        (void)fileio_read_file(RESOLVE_CONF, 1 << 20, &rc, &rl);
        r = resolve_conf_parse(rc ?: "", rc ? rl : 0, &c);
        if (r < 0)
                return errbuf_set(err, errsz, r, "reading %s: %s", RESOLVE_CONF, strerror(-r));
        r = resolve_host_with(name, hosts, hl, &c, deadline, out, max, err, errsz);
        resolve_conf_done(&c);
        return r;
}
