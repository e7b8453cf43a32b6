/* SPDX-License-Identifier: Apache-2.0 */
/* netaddr.h: typed IP addresses and CIDR prefixes, parsed strictly and printed canonically.
 * Spec: istio-iptables.md §2.5 (CIDR rules), RFC 4291 §2.2 / RFC 5952 (text form). */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

/* "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/128" plus NUL */
#define NETADDR_CIDR_STRLEN (INET6_ADDRSTRLEN + 5)

struct netaddr_ip {
        int family; /* AF_INET or AF_INET6 */
        union {
                struct in_addr v4;
                struct in6_addr v6;
        };
};

struct netaddr_cidr {
        struct netaddr_ip ip;
        uint8_t prefixlen;
};

/* Parses an address. IPv4: dotted quad, no leading zeros. IPv6: no zone. -EINVAL otherwise. */
int netaddr_parse_ip(const char *s, struct netaddr_ip *ret);
/* Parses "addr/len" strictly: the length is required, decimal without leading zeros, within the
 * family's width; the address is kept as written (not masked). -EINVAL otherwise. */
int netaddr_parse_cidr(const char *s, struct netaddr_cidr *ret);
/* Canonical text (inet_ntop form). Returns buf. */
const char *netaddr_ip_to_string(const struct netaddr_ip *ip, char *buf, size_t size);
const char *netaddr_cidr_to_string(const struct netaddr_cidr *c, char *buf, size_t size);
/* A host prefix (/32 or /128) for an address. */
struct netaddr_cidr netaddr_host_cidr(const struct netaddr_ip *ip);
/* True for 127.0.0.0/8 and ::1, also when written IPv4-mapped. */
bool netaddr_ip_is_loopback(const struct netaddr_ip *ip);
/* True for IPv4-mapped IPv6 (::ffff:a.b.c.d). */
bool netaddr_ip_is_v4mapped(const struct netaddr_ip *ip);
bool netaddr_ip_equal(const struct netaddr_ip *a, const struct netaddr_ip *b);
