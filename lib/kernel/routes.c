/* SPDX-License-Identifier: Apache-2.0 */
/* routes.c: ::6 on lo, the TPROXY fwmark policy rule and the local route, over raw rtnetlink.
 * Spec: istio-iptables.md §5.7, §10 quirks 21-22; rtnetlink(7). See docs/backends.md. */
#include "kernel/routes.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/fib_rules.h>
#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/macro.h"

#define NL_BUFSZ 8192
/* Bounds the delete loop in cleanup: Istio re-runs may have stacked duplicates, but not forever. */
#define MAX_DUPLICATE_RULES 64

static int nl_open(void) {
        int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
        if (fd < 0)
                return -errno;
        struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

static int nl_add_attr(struct nlmsghdr *n, size_t size, int type, const void *data, size_t len) {
        size_t rtalen = RTA_LENGTH(len);
        if (NLMSG_ALIGN(n->nlmsg_len) + RTA_ALIGN(rtalen) > size)
                return -ENOBUFS;
        struct rtattr *rta = (struct rtattr *)((char *)n + NLMSG_ALIGN(n->nlmsg_len));
        rta->rta_type = type;
        rta->rta_len = rtalen;
        if (len)
                memcpy(RTA_DATA(rta), data, len);
        n->nlmsg_len = NLMSG_ALIGN(n->nlmsg_len) + RTA_ALIGN(rtalen);
        return 0;
}

static int nl_add_u32(struct nlmsghdr *n, size_t size, int type, uint32_t v) {
        return nl_add_attr(n, size, type, &v, sizeof(v));
}

/* Sends a request and reads the answers with its sequence number until the ack or NLMSG_DONE:
 * a dump calls cb for every message (cb returning <0 aborts, after draining); a plain request
 * (cb NULL) returns the ack's 0 or the kernel's -errno. */
static int nl_request(int fd, struct nlmsghdr *n, int (*cb)(const struct nlmsghdr *, void *), void *userdata) {
        struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
        int r = 0;
        if (sendto(fd, n, n->nlmsg_len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return -errno;
        for (;;) {
                char buf[NL_BUFSZ * 4] __attribute__((aligned(NLMSG_ALIGNTO)));
                ssize_t len = recv(fd, buf, sizeof(buf), 0);
                if (len < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)len);
                     h = NLMSG_NEXT(h, len)) {
                        if (h->nlmsg_seq != n->nlmsg_seq)
                                continue;
                        if (h->nlmsg_type == NLMSG_DONE)
                                return r;
                        if (h->nlmsg_type == NLMSG_ERROR) {
                                const struct nlmsgerr *e = NLMSG_DATA(h);
                                return e->error ? e->error : r;
                        }
                        if (r >= 0 && cb) {
                                int k = cb(h, userdata);
                                if (k < 0)
                                        r = k;
                        }
                }
        }
}

int routes_build_rule_msg(void *buf, size_t size, int type, int family, uint32_t mark, uint32_t table,
                          uint32_t seq) {
        size_t need = NLMSG_SPACE(sizeof(struct fib_rule_hdr));
        if (size < need)
                return -ENOBUFS;
        memset(buf, 0, need);
        struct nlmsghdr *n = buf;
        n->nlmsg_len = NLMSG_LENGTH(sizeof(struct fib_rule_hdr));
        n->nlmsg_type = type;
        /* No NLM_F_EXCL: the kernel compares the auto-assigned priority too, so it would not catch
         * a duplicate anyway; routes_setup_tproxy() looks for the identical rule itself. */
        n->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (type == RTM_NEWRULE ? NLM_F_CREATE : 0);
        n->nlmsg_seq = seq;
        struct fib_rule_hdr *frh = NLMSG_DATA(n);
        frh->family = family;
        frh->action = FR_ACT_TO_TBL;
        frh->table = table < 256 ? table : RT_TABLE_UNSPEC;
        int r = nl_add_u32(n, size, FRA_FWMARK, mark);
        if (r < 0)
                return r;
        r = nl_add_u32(n, size, FRA_TABLE, table);
        if (r < 0)
                return r;
        return n->nlmsg_len;
}

int routes_build_local_route_msg(void *buf, size_t size, int type, int family, uint32_t table,
                                 int ifindex, uint32_t seq) {
        size_t need = NLMSG_SPACE(sizeof(struct rtmsg));
        if (size < need)
                return -ENOBUFS;
        memset(buf, 0, need);
        struct nlmsghdr *n = buf;
        n->nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
        n->nlmsg_type = type;
        n->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (type == RTM_NEWROUTE ? NLM_F_CREATE | NLM_F_EXCL : 0);
        n->nlmsg_seq = seq;
        struct rtmsg *rtm = NLMSG_DATA(n);
        rtm->rtm_family = family;
        rtm->rtm_dst_len = 0; /* 0.0.0.0/0 or ::/0 */
        rtm->rtm_table = table < 256 ? table : RT_TABLE_UNSPEC;
        rtm->rtm_protocol = type == RTM_NEWROUTE ? RTPROT_BOOT : 0;
        rtm->rtm_scope = RT_SCOPE_HOST;
        rtm->rtm_type = RTN_LOCAL;
        int r = nl_add_u32(n, size, RTA_TABLE, table);
        if (r < 0)
                return r;
        r = nl_add_u32(n, size, RTA_OIF, (uint32_t)ifindex);
        if (r < 0)
                return r;
        return n->nlmsg_len;
}

struct rule_match {
        uint32_t mark, table;
        bool any; /* collect every "fwmark M lookup T" rule, whatever M and T */
        int count;
        uint32_t prio[MAX_DUPLICATE_RULES]; /* priorities of the first matches, for deletion */
        uint32_t marks[MAX_DUPLICATE_RULES], tables[MAX_DUPLICATE_RULES]; /* with any */
};

/* True when the dumped rule is exactly "fwmark <mark> lookup <table>" (any priority): no other
 * selector, full mask, not inverted. */
static int rule_dump_cb(const struct nlmsghdr *h, void *userdata) {
        struct rule_match *m = userdata;
        if (h->nlmsg_type != RTM_NEWRULE || h->nlmsg_len < NLMSG_LENGTH(sizeof(struct fib_rule_hdr)))
                return 0;
        const struct fib_rule_hdr *frh = NLMSG_DATA(h);
        if (frh->action != FR_ACT_TO_TBL || frh->dst_len || frh->src_len || frh->tos ||
            (frh->flags & FIB_RULE_INVERT))
                return 0;
        uint32_t table = frh->table, mark = 0, mask = UINT32_MAX, prio = 0;
        bool has_mark = false;
        int len = h->nlmsg_len - NLMSG_LENGTH(sizeof(*frh));
        for (const struct rtattr *a = (const struct rtattr *)((const char *)frh + NLMSG_ALIGN(sizeof(*frh)));
             RTA_OK(a, len); a = RTA_NEXT(a, len)) {
                uint32_t v = 0;
                if (RTA_PAYLOAD(a) >= sizeof(uint32_t))
                        memcpy(&v, RTA_DATA(a), sizeof(v));
                switch (a->rta_type) {
                case FRA_TABLE: table = v; break;
                case FRA_FWMARK: mark = v; has_mark = true; break;
                case FRA_FWMASK: mask = v; break;
                case FRA_SUPPRESS_PREFIXLEN:
                case FRA_SUPPRESS_IFGROUP:
                        /* Always dumped; -1 (all ones) means "not set". */
                        if (v != UINT32_MAX)
                                return 0;
                        break;
                case FRA_PRIORITY: prio = v; break;
                case FRA_PROTOCOL:
                case FRA_PAD:
                        break;
                default:
                        /* Any other selector (iif, oif, src, uid range, ports...) makes it a
                         * different rule. */
                        return 0;
                }
        }
        if (has_mark && mask == UINT32_MAX && (m->any || (mark == m->mark && table == m->table))) {
                if (m->count < MAX_DUPLICATE_RULES) {
                        m->prio[m->count] = prio;
                        m->marks[m->count] = mark;
                        m->tables[m->count] = table;
                }
                m->count++;
        }
        return 0;
}

static int list_rules_fd(int fd, int family, struct rule_match *m, uint32_t seq) {
        char buf[NLMSG_SPACE(sizeof(struct fib_rule_hdr))] __attribute__((aligned(NLMSG_ALIGNTO))) = { 0 };
        struct nlmsghdr *n = (struct nlmsghdr *)buf;
        n->nlmsg_len = NLMSG_LENGTH(sizeof(struct fib_rule_hdr));
        n->nlmsg_type = RTM_GETRULE;
        n->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
        n->nlmsg_seq = seq;
        ((struct fib_rule_hdr *)NLMSG_DATA(n))->family = family;
        int r = nl_request(fd, n, rule_dump_cb, m);
        if (r < 0)
                return r;
        return m->count;
}

static int count_rules_fd(int fd, int family, uint32_t mark, uint32_t table, uint32_t seq) {
        struct rule_match m = { .mark = mark, .table = table };
        return list_rules_fd(fd, family, &m, seq);
}

int routes_count_tproxy_rules(int family, uint32_t mark, uint32_t table) {
        _cleanup_close_ int fd = nl_open();
        if (fd < 0)
                return fd;
        return count_rules_fd(fd, family, mark, table, 1);
}

#define FAIL(step, err)                        \
        do {                                   \
                if (ret_step)                  \
                        *ret_step = (step);    \
                return (err);                  \
        } while (0)

int routes_add_lo_ipv6_source(const char **ret_step) {
        static const char step[] = "add address ::6/128 to lo";
        char buf[256] __attribute__((aligned(NLMSG_ALIGNTO))) = { 0 };
        struct nlmsghdr *n = (struct nlmsghdr *)buf;
        struct in6_addr a = { .s6_addr = { [15] = 6 } };
        int r;

        unsigned lo = if_nametoindex("lo");
        if (lo == 0)
                FAIL("find interface lo", -errno);
        _cleanup_close_ int fd = nl_open();
        if (fd < 0)
                FAIL("open rtnetlink socket", fd);

        n->nlmsg_len = NLMSG_LENGTH(sizeof(struct ifaddrmsg));
        n->nlmsg_type = RTM_NEWADDR;
        n->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
        n->nlmsg_seq = 1;
        struct ifaddrmsg *ifa = NLMSG_DATA(n);
        ifa->ifa_family = AF_INET6;
        ifa->ifa_prefixlen = 128;
        ifa->ifa_scope = RT_SCOPE_UNIVERSE;
        ifa->ifa_index = lo;
        r = nl_add_attr(n, sizeof(buf), IFA_LOCAL, &a, sizeof(a));
        if (r >= 0)
                r = nl_add_attr(n, sizeof(buf), IFA_ADDRESS, &a, sizeof(a));
        if (r < 0)
                FAIL(step, r);
        r = nl_request(fd, n, NULL, NULL);
        if (r < 0 && r != -EEXIST)
                FAIL(step, r);
        return 0;
}

static int local_route(int fd, int type, int family, uint32_t table, int lo, uint32_t seq) {
        char buf[256] __attribute__((aligned(NLMSG_ALIGNTO)));
        int r = routes_build_local_route_msg(buf, sizeof(buf), type, family, table, lo, seq);
        if (r < 0)
                return r;
        return nl_request(fd, (struct nlmsghdr *)buf, NULL, NULL);
}

/* prio < 0: none given (add: the kernel picks one). */
static int rule_msg(int fd, int type, int family, uint32_t mark, uint32_t table, int64_t prio, uint32_t seq) {
        char buf[256] __attribute__((aligned(NLMSG_ALIGNTO)));
        int r = routes_build_rule_msg(buf, sizeof(buf), type, family, mark, table, seq);
        if (r < 0)
                return r;
        if (prio >= 0) {
                r = nl_add_u32((struct nlmsghdr *)buf, sizeof(buf), FRA_PRIORITY, (uint32_t)prio);
                if (r < 0)
                        return r;
        }
        return nl_request(fd, (struct nlmsghdr *)buf, NULL, NULL);
}

int routes_setup_tproxy(uint32_t mark, uint32_t table, bool ipv6, bool *ret_added, const char **ret_step) {
        static const char *const step_rule[2] = { "add IPv4 policy rule 'fwmark lookup table'",
                                                  "add IPv6 policy rule 'fwmark lookup table'" };
        static const char *const step_list[2] = { "list IPv4 policy rules", "list IPv6 policy rules" };
        static const char *const step_route[2] = { "add IPv4 local route 0.0.0.0/0 dev lo",
                                                   "add IPv6 local route ::/0 dev lo" };
        uint32_t seq = 1;
        int r;

        if (ret_added)
                *ret_added = false;
        unsigned lo = if_nametoindex("lo");
        if (lo == 0)
                FAIL("find interface lo", -errno);
        _cleanup_close_ int fd = nl_open();
        if (fd < 0)
                FAIL("open rtnetlink socket", fd);

        for (int i = 0; i < (ipv6 ? 2 : 1); i++) {
                int family = i ? AF_INET6 : AF_INET;
                /* Istio adds the rule unconditionally, so every init-container restart stacks
                 * another copy (quirk 22). Add it only when the identical rule is missing. */
                r = count_rules_fd(fd, family, mark, table, seq++);
                if (r < 0)
                        FAIL(step_list[i], r);
                if (r == 0) {
                        r = rule_msg(fd, RTM_NEWRULE, family, mark, table, -1, seq++);
                        if (r < 0 && r != -EEXIST)
                                FAIL(step_rule[i], r);
                        if (r >= 0 && ret_added)
                                *ret_added = true;
                }
                r = local_route(fd, RTM_NEWROUTE, family, table, (int)lo, seq++);
                if (r < 0 && r != -EEXIST)
                        FAIL(step_route[i], r);
        }
        return 0;
}

int routes_cleanup_tproxy(uint32_t mark, uint32_t table, bool ipv6, const char **ret_step) {
        static const char *const step_rule[2] = { "delete IPv4 policy rule 'fwmark lookup table'",
                                                  "delete IPv6 policy rule 'fwmark lookup table'" };
        static const char *const step_list[2] = { "list IPv4 policy rules", "list IPv6 policy rules" };
        static const char *const step_route[2] = { "delete IPv4 local route 0.0.0.0/0 dev lo",
                                                   "delete IPv6 local route ::/0 dev lo" };
        uint32_t seq = 1;
        int r;

        unsigned lo = if_nametoindex("lo");
        if (lo == 0)
                FAIL("find interface lo", -errno);
        _cleanup_close_ int fd = nl_open();
        if (fd < 0)
                FAIL("open rtnetlink socket", fd);

        for (int i = 0; i < (ipv6 ? 2 : 1); i++) {
                int family = i ? AF_INET6 : AF_INET;
                /* Delete every identical copy (earlier Istio runs stack duplicates), each by its
                 * priority: the kernel deletes the first rule matching only the selectors given,
                 * which could otherwise be a more specific rule of someone else's. */
                struct rule_match m = { .mark = mark, .table = table };
                r = list_rules_fd(fd, family, &m, seq++);
                if (r < 0)
                        FAIL(step_list[i], r);
                for (int k = 0; k < m.count && k < MAX_DUPLICATE_RULES; k++) {
                        r = rule_msg(fd, RTM_DELRULE, family, mark, table, m.prio[k], seq++);
                        if (r < 0 && r != -ENOENT)
                                FAIL(step_rule[i], r);
                }
                r = local_route(fd, RTM_DELROUTE, family, table, (int)lo, seq++);
                /* A missing route (or a table that never existed) is the state we want. */
                if (r < 0 && r != -ESRCH && r != -ENOENT)
                        FAIL(step_route[i], r);
        }
        return 0;
}

struct local_route_match {
        uint32_t table;
        int lo;
        bool found;
};

/* Is the dumped route "local 0.0.0.0/0 (or ::/0) dev lo table T", what routes_setup_tproxy() adds? */
static int route_dump_cb(const struct nlmsghdr *h, void *userdata) {
        struct local_route_match *m = userdata;
        if (h->nlmsg_type != RTM_NEWROUTE || h->nlmsg_len < NLMSG_LENGTH(sizeof(struct rtmsg)))
                return 0;
        const struct rtmsg *rtm = NLMSG_DATA(h);
        if (rtm->rtm_type != RTN_LOCAL || rtm->rtm_dst_len != 0)
                return 0;
        uint32_t table = rtm->rtm_table, oif = 0;
        int len = h->nlmsg_len - NLMSG_LENGTH(sizeof(*rtm));
        for (const struct rtattr *a = RTM_RTA(rtm); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
                if (RTA_PAYLOAD(a) < sizeof(uint32_t))
                        continue;
                if (a->rta_type == RTA_TABLE)
                        memcpy(&table, RTA_DATA(a), sizeof(table));
                else if (a->rta_type == RTA_OIF)
                        memcpy(&oif, RTA_DATA(a), sizeof(oif));
        }
        if (table == m->table && oif == (uint32_t)m->lo)
                m->found = true;
        return 0;
}

static int has_local_route(int fd, int family, uint32_t table, int lo, uint32_t seq) {
        char buf[NLMSG_SPACE(sizeof(struct rtmsg))] __attribute__((aligned(NLMSG_ALIGNTO))) = { 0 };
        struct nlmsghdr *n = (struct nlmsghdr *)buf;
        struct local_route_match m = { .table = table, .lo = lo };
        n->nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
        n->nlmsg_type = RTM_GETROUTE;
        n->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
        n->nlmsg_seq = seq;
        ((struct rtmsg *)NLMSG_DATA(n))->rtm_family = family;
        int r = nl_request(fd, n, route_dump_cb, &m);
        return r < 0 ? r : m.found;
}

/* One family of routes_cleanup_tproxy_found(); returns the rules removed or -errno. */
static int cleanup_found_family(int fd, int family, int lo, uint32_t mark, uint32_t table, unsigned flags,
                                uint32_t *seq) {
        struct rule_match m = { .any = true };
        bool drop_route[MAX_DUPLICATE_RULES] = {};
        int r, removed = 0;

        r = list_rules_fd(fd, family, &m, (*seq)++);
        /* No IPv6 in this kernel: nothing of ours can be there. */
        if (r == -EAFNOSUPPORT && family == AF_INET6)
                return 0;
        if (r < 0)
                return r;
        for (int k = 0; k < m.count && k < MAX_DUPLICATE_RULES; k++) {
                bool pair = m.marks[k] == mark && m.tables[k] == table;
                if (pair && (flags & ROUTES_KEEP_PAIR))
                        continue;
                if (!(pair && (flags & ROUTES_PAIR_ALWAYS))) {
                        r = has_local_route(fd, family, m.tables[k], lo, (*seq)++);
                        if (r < 0)
                                return r;
                        if (r == 0)
                                continue; /* someone else's fwmark rule: not ours to remove */
                }
                r = rule_msg(fd, RTM_DELRULE, family, m.marks[k], m.tables[k], m.prio[k], (*seq)++);
                if (r < 0 && r != -ENOENT)
                        return r;
                drop_route[k] = true;
                removed++;
        }
        for (int k = 0; k < m.count && k < MAX_DUPLICATE_RULES; k++) {
                /* The kept pair's table keeps its route, even if another mark also used it. */
                if (!drop_route[k] || ((flags & ROUTES_KEEP_PAIR) && m.tables[k] == table))
                        continue;
                r = local_route(fd, RTM_DELROUTE, family, m.tables[k], lo, (*seq)++);
                if (r < 0 && r != -ESRCH && r != -ENOENT)
                        return r;
        }
        return removed;
}

int routes_cleanup_tproxy_found(uint32_t mark, uint32_t table, unsigned flags, const char **ret_step) {
        static const char *const step[2] = { "remove IPv4 TPROXY routing found in the netns",
                                             "remove IPv6 TPROXY routing found in the netns" };
        uint32_t seq = 1;
        int removed = 0;

        unsigned lo = if_nametoindex("lo");
        if (lo == 0)
                FAIL("find interface lo", -errno);
        _cleanup_close_ int fd = nl_open();
        if (fd < 0)
                FAIL("open rtnetlink socket", fd);
        for (int i = 0; i < 2; i++) {
                int r = cleanup_found_family(fd, i ? AF_INET6 : AF_INET, (int)lo, mark, table, flags, &seq);
                if (r < 0)
                        FAIL(step[i], r);
                removed += r;
        }
        return removed;
}
