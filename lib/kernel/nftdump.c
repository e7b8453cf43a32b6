/* SPDX-License-Identifier: Apache-2.0 */
/* nftdump.c: NFT_MSG_GETTABLE dumps over raw netlink (see nftdump.h). */
#include "kernel/nftdump.h"

#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/macro.h"

/* Calls cb with the NFTA_TABLE_NAME of one NFT_MSG_NEWTABLE message, if it has one. */
static void table_msg(const struct nlmsghdr *h, void (*cb)(const char *, void *), void *userdata) {
        const char *payload = NLMSG_DATA(h);
        size_t len, off = NLMSG_ALIGN(sizeof(struct nfgenmsg));

        if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct nfgenmsg)))
                return;
        len = h->nlmsg_len - NLMSG_HDRLEN;
        while (off + sizeof(struct nlattr) <= len) {
                const struct nlattr *a = (const struct nlattr *)(payload + off);
                size_t alen = a->nla_len;

                if (alen < sizeof(struct nlattr) || off + alen > len)
                        return;
                if ((a->nla_type & NLA_TYPE_MASK) == NFTA_TABLE_NAME) {
                        /* The kernel caps names at NFT_NAME_MAXLEN (256) including the NUL; a
                         * longer attribute is not a name we could match, so it is cut, not trusted. */
                        char name[NFT_NAME_MAXLEN + 1];
                        size_t n = strnlen((const char *)a + NLA_HDRLEN, alen - NLA_HDRLEN);

                        if (n >= sizeof(name))
                                n = sizeof(name) - 1;
                        memcpy(name, (const char *)a + NLA_HDRLEN, n);
                        name[n] = '\0';
                        cb(name, userdata);
                        return;
                }
                off += NLA_ALIGN(alen);
        }
}

int nftdump_tables(uint8_t nfproto, void (*cb)(const char *name, void *userdata), void *userdata) {
        struct {
                struct nlmsghdr nh;
                struct nfgenmsg g;
        } req = {
                .nh = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct nfgenmsg)),
                        .nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETTABLE,
                        .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
                        .nlmsg_seq = 1 },
                .g = { .nfgen_family = nfproto, .version = NFNETLINK_V0 },
        };
        struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
        _cleanup_close_ int fd = -1;

        fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
        if (fd < 0)
                return -errno;
        if (sendto(fd, &req, req.nh.nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return -errno;
        for (;;) {
                char buf[32768] __attribute__((aligned(NLMSG_ALIGNTO)));
                ssize_t len = recv(fd, buf, sizeof(buf), 0);

                if (len < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (len == 0)
                        return -EIO;
                for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)len); h = NLMSG_NEXT(h, len)) {
                        if (h->nlmsg_seq != req.nh.nlmsg_seq)
                                continue;
                        if (h->nlmsg_type == NLMSG_DONE)
                                return 0;
                        if (h->nlmsg_type == NLMSG_ERROR) {
                                const struct nlmsgerr *e = NLMSG_DATA(h);

                                if (e->error < 0)
                                        return e->error;
                                continue;
                        }
                        if (h->nlmsg_type == ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWTABLE))
                                table_msg(h, cb, userdata);
                }
        }
}
