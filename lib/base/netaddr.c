/* SPDX-License-Identifier: Apache-2.0 */
/* netaddr.c: strict address/prefix parsing (Go netip semantics, which Istio uses). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/netaddr.h"

int netaddr_parse_ip(const char *s, struct netaddr_ip *ret) {
        struct netaddr_ip ip = {};

        if (!s || !*s || strlen(s) >= INET6_ADDRSTRLEN)
                return -EINVAL;
        /* glibc's inet_pton already rejects zones ("%eth0") and IPv4 octets with leading zeros. */
        if (strchr(s, ':')) {
                if (inet_pton(AF_INET6, s, &ip.v6) != 1)
                        return -EINVAL;
                ip.family = AF_INET6;
        } else {
                if (inet_pton(AF_INET, s, &ip.v4) != 1)
                        return -EINVAL;
                ip.family = AF_INET;
        }
        *ret = ip;
        return 0;
}

int netaddr_parse_cidr(const char *s, struct netaddr_cidr *ret) {
        char addr[INET6_ADDRSTRLEN];
        const char *slash, *p;
        struct netaddr_cidr c = {};
        unsigned len = 0;
        int r;

        if (!s)
                return -EINVAL;
        slash = strchr(s, '/');
        if (!slash || (size_t)(slash - s) >= sizeof addr)
                return -EINVAL;
        memcpy(addr, s, (size_t)(slash - s));
        addr[slash - s] = 0;
        r = netaddr_parse_ip(addr, &c.ip);
        if (r < 0)
                return r;
        p = slash + 1;
        if (!*p || (p[0] == '0' && p[1]) || strlen(p) > 3)
                return -EINVAL;
        for (; *p; p++) {
                if (*p < '0' || *p > '9')
                        return -EINVAL;
                len = len * 10 + (unsigned)(*p - '0');
        }
        if (len > (c.ip.family == AF_INET ? 32u : 128u))
                return -EINVAL;
        c.prefixlen = (uint8_t)len;
        *ret = c;
        return 0;
}

const char *netaddr_ip_to_string(const struct netaddr_ip *ip, char *buf, size_t size) {
        if (!inet_ntop(ip->family, ip->family == AF_INET ? (const void *)&ip->v4 : (const void *)&ip->v6, buf,
                       (socklen_t)size))
                snprintf(buf, size, "?");
        return buf;
}

const char *netaddr_cidr_to_string(const struct netaddr_cidr *c, char *buf, size_t size) {
        char a[INET6_ADDRSTRLEN];
        snprintf(buf, size, "%s/%u", netaddr_ip_to_string(&c->ip, a, sizeof a), c->prefixlen);
        return buf;
}

struct netaddr_cidr netaddr_host_cidr(const struct netaddr_ip *ip) {
        return (struct netaddr_cidr){ .ip = *ip, .prefixlen = ip->family == AF_INET ? 32 : 128 };
}

bool netaddr_ip_is_v4mapped(const struct netaddr_ip *ip) {
        return ip->family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&ip->v6);
}

bool netaddr_ip_is_loopback(const struct netaddr_ip *ip) {
        if (ip->family == AF_INET)
                return (ntohl(ip->v4.s_addr) >> 24) == 127;
        if (netaddr_ip_is_v4mapped(ip))
                return ip->v6.s6_addr[12] == 127;
        return IN6_IS_ADDR_LOOPBACK(&ip->v6);
}

bool netaddr_ip_equal(const struct netaddr_ip *a, const struct netaddr_ip *b) {
        if (a->family != b->family)
                return false;
        return a->family == AF_INET ? a->v4.s_addr == b->v4.s_addr : memcmp(&a->v6, &b->v6, sizeof a->v6) == 0;
}
