/* SPDX-License-Identifier: Apache-2.0 */
/* mnl.c: libmnl's API subset for libnftnl and nftbatch (see mnl.h for why). Netlink framing per
 * netlink(7); the attribute rules (alignment, validation lengths, callback results) as libmnl. */
#include "kernel/mnl.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct mnl_socket {
        int fd;
        struct sockaddr_nl addr;
};

/* --- sockets ------------------------------------------------------------------------------- */

struct mnl_socket *mnl_socket_open2(int bus, int flags) {
        struct mnl_socket *nl = calloc(1, sizeof *nl);

        if (!nl)
                return NULL;
        /* Always close-on-exec: nothing we exec may inherit a netfilter socket. */
        nl->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | flags, bus);
        if (nl->fd < 0) {
                int e = errno;
                free(nl);
                errno = e;
                return NULL;
        }
        return nl;
}

struct mnl_socket *mnl_socket_open(int bus) {
        return mnl_socket_open2(bus, 0);
}

int mnl_socket_bind(struct mnl_socket *nl, unsigned int groups, pid_t pid) {
        socklen_t len = sizeof nl->addr;

        nl->addr = (struct sockaddr_nl){ .nl_family = AF_NETLINK, .nl_groups = groups, .nl_pid = (__u32)pid };
        if (bind(nl->fd, (struct sockaddr *)&nl->addr, sizeof nl->addr) < 0)
                return -1;
        /* The kernel picks the port id when pid is 0: read it back. */
        if (getsockname(nl->fd, (struct sockaddr *)&nl->addr, &len) < 0)
                return -1;
        if (len != sizeof nl->addr || nl->addr.nl_family != AF_NETLINK) {
                errno = EINVAL;
                return -1;
        }
        return 0;
}

int mnl_socket_close(struct mnl_socket *nl) {
        int r = close(nl->fd);

        free(nl);
        return r;
}

int mnl_socket_get_fd(const struct mnl_socket *nl) {
        return nl->fd;
}

unsigned int mnl_socket_get_portid(const struct mnl_socket *nl) {
        return nl->addr.nl_pid;
}

ssize_t mnl_socket_sendto(const struct mnl_socket *nl, const void *req, size_t siz) {
        static const struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };

        return sendto(nl->fd, req, siz, 0, (const struct sockaddr *)&kernel, sizeof kernel);
}

ssize_t mnl_socket_recvfrom(const struct mnl_socket *nl, void *buf, size_t bufsiz) {
        struct sockaddr_nl addr;
        struct iovec iov = { .iov_base = buf, .iov_len = bufsiz };
        struct msghdr msg = { .msg_name = &addr, .msg_namelen = sizeof addr, .msg_iov = &iov, .msg_iovlen = 1 };
        ssize_t r = recvmsg(nl->fd, &msg, 0);

        if (r < 0)
                return r;
        if (msg.msg_flags & MSG_TRUNC) {
                errno = ENOSPC;
                return -1;
        }
        if (msg.msg_namelen != sizeof addr) {
                errno = EINVAL;
                return -1;
        }
        return r;
}

int mnl_socket_setsockopt(const struct mnl_socket *nl, int type, void *buf, socklen_t len) {
        return setsockopt(nl->fd, SOL_NETLINK, type, buf, len);
}

/* --- messages ------------------------------------------------------------------------------ */

size_t mnl_nlmsg_size(size_t len) {
        return len + MNL_NLMSG_HDRLEN;
}

struct nlmsghdr *mnl_nlmsg_put_header(void *buf) {
        struct nlmsghdr *nlh = buf;

        memset(buf, 0, MNL_NLMSG_HDRLEN);
        nlh->nlmsg_len = MNL_NLMSG_HDRLEN;
        return nlh;
}

void *mnl_nlmsg_put_extra_header(struct nlmsghdr *nlh, size_t size) {
        char *p = (char *)nlh + nlh->nlmsg_len;

        nlh->nlmsg_len += MNL_ALIGN(size);
        memset(p, 0, size);
        return p;
}

void *mnl_nlmsg_get_payload(const struct nlmsghdr *nlh) {
        return (char *)nlh + MNL_NLMSG_HDRLEN;
}

void *mnl_nlmsg_get_payload_offset(const struct nlmsghdr *nlh, size_t offset) {
        return (char *)nlh + MNL_NLMSG_HDRLEN + MNL_ALIGN(offset);
}

void *mnl_nlmsg_get_payload_tail(const struct nlmsghdr *nlh) {
        return (char *)nlh + MNL_ALIGN(nlh->nlmsg_len);
}

/* Unsigned comparison on purpose: libmnl casts nlmsg_len to int, so a length over 2 GiB reads as
 * negative and passes (found by fuzz_mnl); here it is refused. */
bool mnl_nlmsg_ok(const struct nlmsghdr *nlh, int len) {
        return len >= (int)sizeof(struct nlmsghdr) && nlh->nlmsg_len >= sizeof(struct nlmsghdr) &&
               nlh->nlmsg_len <= (unsigned)len;
}

struct nlmsghdr *mnl_nlmsg_next(const struct nlmsghdr *nlh, int *len) {
        *len -= (int)MNL_ALIGN(nlh->nlmsg_len);
        return (struct nlmsghdr *)((char *)nlh + MNL_ALIGN(nlh->nlmsg_len));
}

bool mnl_nlmsg_seq_ok(const struct nlmsghdr *nlh, unsigned int seq) {
        return nlh->nlmsg_seq && seq ? nlh->nlmsg_seq == seq : true;
}

bool mnl_nlmsg_portid_ok(const struct nlmsghdr *nlh, unsigned int portid) {
        return nlh->nlmsg_pid && portid ? nlh->nlmsg_pid == portid : true;
}

/* --- batches: messages back to back in one caller buffer ------------------------------------ */

struct mnl_nlmsg_batch {
        char *buf;
        size_t limit, buflen;
        char *cur;
        bool overflow;
};

struct mnl_nlmsg_batch *mnl_nlmsg_batch_start(void *buf, size_t limit) {
        struct mnl_nlmsg_batch *b = malloc(sizeof *b);

        if (!b)
                return NULL;
        *b = (struct mnl_nlmsg_batch){ .buf = buf, .limit = limit, .cur = buf };
        return b;
}

void mnl_nlmsg_batch_stop(struct mnl_nlmsg_batch *b) {
        free(b);
}

/* Accounts the message at cur; false (and "overflow") when it does not fit in limit. */
bool mnl_nlmsg_batch_next(struct mnl_nlmsg_batch *b) {
        const struct nlmsghdr *nlh = (const struct nlmsghdr *)b->cur;

        if (b->buflen + nlh->nlmsg_len > b->limit) {
                b->overflow = true;
                return false;
        }
        b->cur = b->buf + b->buflen + nlh->nlmsg_len;
        b->buflen += nlh->nlmsg_len;
        return true;
}

void mnl_nlmsg_batch_reset(struct mnl_nlmsg_batch *b) {
        if (b->overflow) {
                const struct nlmsghdr *nlh = (const struct nlmsghdr *)b->cur;

                memmove(b->buf, b->cur, nlh->nlmsg_len);
                b->buflen = nlh->nlmsg_len;
                b->cur = b->buf + b->buflen;
                b->overflow = false;
        } else {
                b->buflen = 0;
                b->cur = b->buf;
        }
}

size_t mnl_nlmsg_batch_size(struct mnl_nlmsg_batch *b) {
        return b->buflen;
}

void *mnl_nlmsg_batch_head(struct mnl_nlmsg_batch *b) {
        return b->buf;
}

void *mnl_nlmsg_batch_current(struct mnl_nlmsg_batch *b) {
        return b->cur;
}

bool mnl_nlmsg_batch_is_empty(struct mnl_nlmsg_batch *b) {
        return b->buflen == 0;
}

/* --- attributes ---------------------------------------------------------------------------- */

uint16_t mnl_attr_get_type(const struct nlattr *attr) {
        return attr->nla_type & NLA_TYPE_MASK;
}

uint16_t mnl_attr_get_len(const struct nlattr *attr) {
        return attr->nla_len;
}

uint16_t mnl_attr_get_payload_len(const struct nlattr *attr) {
        return (uint16_t)(attr->nla_len - MNL_ATTR_HDRLEN);
}

void *mnl_attr_get_payload(const struct nlattr *attr) {
        return (char *)attr + MNL_ATTR_HDRLEN;
}

/* Unaligned-safe reads: attribute payloads are 4-byte aligned, u64 ones are not 8-byte aligned. */
uint8_t mnl_attr_get_u8(const struct nlattr *attr) {
        return *(const uint8_t *)mnl_attr_get_payload(attr);
}

uint16_t mnl_attr_get_u16(const struct nlattr *attr) {
        uint16_t v;
        memcpy(&v, mnl_attr_get_payload(attr), sizeof v);
        return v;
}

uint32_t mnl_attr_get_u32(const struct nlattr *attr) {
        uint32_t v;
        memcpy(&v, mnl_attr_get_payload(attr), sizeof v);
        return v;
}

uint64_t mnl_attr_get_u64(const struct nlattr *attr) {
        uint64_t v;
        memcpy(&v, mnl_attr_get_payload(attr), sizeof v);
        return v;
}

const char *mnl_attr_get_str(const struct nlattr *attr) {
        return mnl_attr_get_payload(attr);
}

bool mnl_attr_ok(const struct nlattr *attr, int len) {
        return len >= (int)sizeof(struct nlattr) && attr->nla_len >= sizeof(struct nlattr) && (int)attr->nla_len <= len;
}

struct nlattr *mnl_attr_next(const struct nlattr *attr) {
        return (struct nlattr *)((char *)attr + MNL_ALIGN(attr->nla_len));
}

int mnl_attr_type_valid(const struct nlattr *attr, uint16_t maxtype) {
        if (mnl_attr_get_type(attr) > maxtype) {
                errno = EOPNOTSUPP;
                return -1;
        }
        return 1;
}

static int validate(const struct nlattr *attr, enum mnl_attr_data_type type, size_t exp_len) {
        uint16_t len = mnl_attr_get_payload_len(attr);
        const char *data = mnl_attr_get_payload(attr);

        if (len < exp_len) {
                errno = ERANGE;
                return -1;
        }
        switch (type) {
        case MNL_TYPE_FLAG:
                if (len > 0) {
                        errno = ERANGE;
                        return -1;
                }
                break;
        case MNL_TYPE_NUL_STRING:
                if (len == 0) {
                        errno = ERANGE;
                        return -1;
                }
                if (data[len - 1] != '\0') {
                        errno = EINVAL;
                        return -1;
                }
                break;
        case MNL_TYPE_STRING:
                if (len == 0) {
                        errno = ERANGE;
                        return -1;
                }
                break;
        case MNL_TYPE_NESTED:
                /* Empty is fine; otherwise at least one attribute header. */
                if (len > 0 && len < MNL_ATTR_HDRLEN) {
                        errno = ERANGE;
                        return -1;
                }
                break;
        default:
                break;
        }
        if (exp_len && len > exp_len) {
                errno = ERANGE;
                return -1;
        }
        return 0;
}

int mnl_attr_validate(const struct nlattr *attr, enum mnl_attr_data_type type) {
        static const size_t fixed_len[MNL_TYPE_MAX] = {
                [MNL_TYPE_U8] = sizeof(uint8_t),   [MNL_TYPE_U16] = sizeof(uint16_t),
                [MNL_TYPE_U32] = sizeof(uint32_t), [MNL_TYPE_U64] = sizeof(uint64_t),
                [MNL_TYPE_MSECS] = sizeof(uint64_t),
        };

        if ((unsigned)type >= MNL_TYPE_MAX) {
                errno = EINVAL;
                return -1;
        }
        return validate(attr, type, fixed_len[type]);
}

int mnl_attr_validate2(const struct nlattr *attr, enum mnl_attr_data_type type, size_t len) {
        if ((unsigned)type >= MNL_TYPE_MAX) {
                errno = EINVAL;
                return -1;
        }
        return validate(attr, type, len);
}

/* Calls cb on each attribute in [first, end) until it returns MNL_CB_STOP or MNL_CB_ERROR. */
static int parse_range(const struct nlattr *first, const char *end, mnl_attr_cb_t cb, void *data) {
        int r = MNL_CB_OK;

        for (const struct nlattr *a = first; mnl_attr_ok(a, (int)(end - (const char *)a)); a = mnl_attr_next(a))
                if ((r = cb(a, data)) <= MNL_CB_STOP)
                        return r;
        return r;
}

int mnl_attr_parse(const struct nlmsghdr *nlh, unsigned int offset, mnl_attr_cb_t cb, void *data) {
        return parse_range(mnl_nlmsg_get_payload_offset(nlh, offset), mnl_nlmsg_get_payload_tail(nlh), cb, data);
}

int mnl_attr_parse_nested(const struct nlattr *nested, mnl_attr_cb_t cb, void *data) {
        const char *p = mnl_attr_get_payload(nested);

        return parse_range((const struct nlattr *)p, p + mnl_attr_get_payload_len(nested), cb, data);
}

int mnl_attr_parse_payload(const void *payload, size_t payload_len, mnl_attr_cb_t cb, void *data) {
        return parse_range(payload, (const char *)payload + payload_len, cb, data);
}

void mnl_attr_put(struct nlmsghdr *nlh, uint16_t type, size_t len, const void *data) {
        struct nlattr *attr = mnl_nlmsg_get_payload_tail(nlh);
        size_t pad = MNL_ALIGN(len) - len;

        attr->nla_type = type;
        attr->nla_len = (uint16_t)(MNL_ATTR_HDRLEN + len);
        if (len)
                memcpy(mnl_attr_get_payload(attr), data, len);
        if (pad)
                memset((char *)mnl_attr_get_payload(attr) + len, 0, pad);
        nlh->nlmsg_len += MNL_ALIGN(MNL_ATTR_HDRLEN + len);
}

void mnl_attr_put_u8(struct nlmsghdr *nlh, uint16_t type, uint8_t data) {
        mnl_attr_put(nlh, type, sizeof data, &data);
}

void mnl_attr_put_u16(struct nlmsghdr *nlh, uint16_t type, uint16_t data) {
        mnl_attr_put(nlh, type, sizeof data, &data);
}

void mnl_attr_put_u32(struct nlmsghdr *nlh, uint16_t type, uint32_t data) {
        mnl_attr_put(nlh, type, sizeof data, &data);
}

void mnl_attr_put_u64(struct nlmsghdr *nlh, uint16_t type, uint64_t data) {
        mnl_attr_put(nlh, type, sizeof data, &data);
}

void mnl_attr_put_str(struct nlmsghdr *nlh, uint16_t type, const char *data) {
        mnl_attr_put(nlh, type, strlen(data), data);
}

void mnl_attr_put_strz(struct nlmsghdr *nlh, uint16_t type, const char *data) {
        mnl_attr_put(nlh, type, strlen(data) + 1, data);
}

struct nlattr *mnl_attr_nest_start(struct nlmsghdr *nlh, uint16_t type) {
        struct nlattr *start = mnl_nlmsg_get_payload_tail(nlh);

        start->nla_type = NLA_F_NESTED | type;
        nlh->nlmsg_len += MNL_ALIGN(sizeof(struct nlattr));
        return start;
}

void mnl_attr_nest_end(struct nlmsghdr *nlh, struct nlattr *start) {
        start->nla_len = (uint16_t)((char *)mnl_nlmsg_get_payload_tail(nlh) - (char *)start);
}

void mnl_attr_nest_cancel(struct nlmsghdr *nlh, struct nlattr *start) {
        nlh->nlmsg_len -= (uint32_t)((char *)mnl_nlmsg_get_payload_tail(nlh) - (char *)start);
}

/* --- callbacks ----------------------------------------------------------------------------- */

/* NLMSG_ERROR: 0 is an ACK (stop); otherwise errno is the kernel's error. */
static int cb_error(const struct nlmsghdr *nlh) {
        const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);

        if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(struct nlmsgerr))) {
                errno = EBADMSG;
                return MNL_CB_ERROR;
        }
        /* INT_MIN cannot be negated; no kernel sends it, a corrupt buffer might (fuzz_mnl). */
        errno = err->error == INT_MIN ? EPROTO : err->error < 0 ? -err->error : err->error;
        return err->error == 0 ? MNL_CB_STOP : MNL_CB_ERROR;
}

int mnl_cb_run(const void *buf, size_t numbytes, unsigned int seq, unsigned int portid, mnl_cb_t cb_data,
               void *data) {
        const struct nlmsghdr *nlh = buf;
        int len = (int)numbytes, r = MNL_CB_OK;

        while (mnl_nlmsg_ok(nlh, len)) {
                if (!mnl_nlmsg_portid_ok(nlh, portid)) {
                        errno = ESRCH;
                        return -1;
                }
                if (!mnl_nlmsg_seq_ok(nlh, seq)) {
                        errno = EPROTO;
                        return -1;
                }
                /* A dump that a concurrent change interrupted: the caller starts over. */
                if (nlh->nlmsg_flags & NLM_F_DUMP_INTR) {
                        errno = EINTR;
                        return -1;
                }
                if (nlh->nlmsg_type >= NLMSG_MIN_TYPE) {
                        if (cb_data && (r = cb_data(nlh, data)) <= MNL_CB_STOP)
                                return r;
                } else if (nlh->nlmsg_type == NLMSG_ERROR) {
                        if ((r = cb_error(nlh)) <= MNL_CB_STOP)
                                return r;
                } else if (nlh->nlmsg_type == NLMSG_DONE) {
                        return MNL_CB_STOP;
                }
                /* NLMSG_NOOP, NLMSG_OVERRUN: nothing to do, as libmnl. */
                nlh = mnl_nlmsg_next(nlh, &len);
        }
        return r;
}
