/* SPDX-License-Identifier: Apache-2.0 */
/* nftdump.c: NFT_MSG_GETTABLE dumps over raw netlink (see nftdump.h). */
#include "kernel/nftdump.h"

#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/macro.h"

/* Appends the string attribute attr (NFTA_TABLE_NAME; NFTA_CHAIN_TABLE or NFTA_CHAIN_NAME) of one
 * message, if it has one, to *names as a NUL-terminated string; "" when it has none, so chain
 * messages always give pairs. 0 or -ENOMEM. */
static int name_attr(const struct nlmsghdr *h, unsigned attr, char **names, size_t *len) {
        const char *payload = NLMSG_DATA(h);
        size_t plen, off = NLMSG_ALIGN(sizeof(struct nfgenmsg));
        char *grown;

        if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct nfgenmsg)))
                goto none;
        plen = h->nlmsg_len - NLMSG_HDRLEN;
        while (off + sizeof(struct nlattr) <= plen) {
                const struct nlattr *a = (const struct nlattr *)(payload + off);
                size_t alen = a->nla_len;

                if (alen < sizeof(struct nlattr) || off + alen > plen)
                        goto none;
                if ((a->nla_type & NLA_TYPE_MASK) == attr) {
                        /* The kernel caps names at NFT_NAME_MAXLEN (256) including the NUL; a
                         * longer attribute is not a name we could match, so it is cut, not trusted. */
                        size_t n = strnlen((const char *)a + NLA_HDRLEN, alen - NLA_HDRLEN);
                        char *grown;

                        if (n > NFT_NAME_MAXLEN)
                                n = NFT_NAME_MAXLEN;
                        if (!(grown = realloc(*names, *len + n + 1)))
                                return -ENOMEM;
                        memcpy(grown + *len, (const char *)a + NLA_HDRLEN, n);
                        grown[*len + n] = '\0';
                        *names = grown;
                        *len += n + 1;
                        return 0;
                }
                off += NLA_ALIGN(alen);
        }
none:
        if (!(grown = realloc(*names, *len + 1)))
                return -ENOMEM;
        grown[(*len)++] = '\0';
        *names = grown;
        return 0;
}

/* One dump of msg (NFT_MSG_GETTABLE or NFT_MSG_GETCHAIN): the names (tables; or table, chain
 * pairs), NUL-separated, in names and len. -EAGAIN when a concurrent change interrupted it
 * (NLM_F_DUMP_INTR: the list may be incomplete). */
static int dump_once(uint8_t nfproto, unsigned msg, char **names, size_t *len) {
        struct {
                struct nlmsghdr nh;
                struct nfgenmsg g;
        } req = {
                .nh = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct nfgenmsg)),
                        .nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | msg,
                        .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
                        .nlmsg_seq = 1 },
                .g = { .nfgen_family = nfproto, .version = NFNETLINK_V0 },
        };
        struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
        _cleanup_close_ int fd = -1;
        bool interrupted = false;
        int r;

        fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
        if (fd < 0)
                return -errno;
        if (sendto(fd, &req, req.nh.nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return -errno;
        for (;;) {
                char buf[32768] __attribute__((aligned(NLMSG_ALIGNTO)));
                ssize_t n = recv(fd, buf, sizeof(buf), 0);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        return -EIO;
                for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
                        if (h->nlmsg_seq != req.nh.nlmsg_seq)
                                continue;
                        interrupted = interrupted || (h->nlmsg_flags & NLM_F_DUMP_INTR);
                        if (h->nlmsg_type == NLMSG_DONE)
                                return interrupted ? -EAGAIN : 0;
                        if (h->nlmsg_type == NLMSG_ERROR) {
                                const struct nlmsgerr *e = NLMSG_DATA(h);

                                if (e->error < 0)
                                        return e->error;
                                continue;
                        }
                        if (msg == NFT_MSG_GETTABLE && h->nlmsg_type == ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWTABLE) &&
                            (r = name_attr(h, NFTA_TABLE_NAME, names, len)) < 0)
                                return r;
                        if (msg == NFT_MSG_GETCHAIN && h->nlmsg_type == ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWCHAIN) &&
                            ((r = name_attr(h, NFTA_CHAIN_TABLE, names, len)) < 0 ||
                             (r = name_attr(h, NFTA_CHAIN_NAME, names, len)) < 0))
                                return r;
                }
        }
}

/* A dump a concurrent change interrupted is taken again, so the callers only ever see a whole one. */
static int dump(uint8_t nfproto, unsigned msg, char **ret, size_t *ret_len) {
        char *names = NULL;
        size_t len = 0;
        int r = -EAGAIN;

        for (int i = 0; i < 5 && r == -EAGAIN; i++) {
                free(names);
                names = NULL;
                len = 0;
                r = dump_once(nfproto, msg, &names, &len);
        }
        if (r < 0) {
                free(names);
                return r;
        }
        *ret = names;
        *ret_len = len;
        return 0;
}

int nftdump_tables(uint8_t nfproto, void (*cb)(const char *name, void *userdata), void *userdata) {
        _cleanup_free_ char *names = NULL;
        size_t len = 0;
        int r = dump(nfproto, NFT_MSG_GETTABLE, &names, &len);

        if (r < 0)
                return r;
        for (size_t off = 0; off < len; off += strlen(names + off) + 1)
                if (names[off]) /* a table message without a name: not one we could match */
                        cb(names + off, userdata);
        return 0;
}

int nftdump_chains(uint8_t nfproto, void (*cb)(const char *table, const char *chain, void *userdata), void *userdata) {
        _cleanup_free_ char *names = NULL;
        size_t len = 0;
        int r = dump(nfproto, NFT_MSG_GETCHAIN, &names, &len);

        if (r < 0)
                return r;
        for (size_t off = 0; off < len;) {
                const char *table = names + off, *chain;
                off += strlen(table) + 1;
                if (off >= len)
                        break;
                chain = names + off;
                off += strlen(chain) + 1;
                cb(table, chain, userdata);
        }
        return 0;
}
