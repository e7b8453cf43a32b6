/* SPDX-License-Identifier: Apache-2.0 */
/* resolve.h: host name → addresses without NSS, as Go's pure resolver does: /etc/hosts, then
 * DNS A/AAAA over UDP (TCP when truncated) to the servers in /etc/resolv.conf, honouring its
 * search, ndots, timeout and attempts. A static binary cannot load the host's NSS modules, and
 * client-go (which the plugin replaces) never used them. Spec: istio-cni.md §2.5 (kubeconfig
 * server); RFC 1035 §4 (messages), §4.1.4 (compression), §4.2.2 (TCP); resolv.conf(5); hosts(5). */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define RESOLVE_HOSTS "/etc/hosts"
#define RESOLVE_CONF "/etc/resolv.conf"
#define RESOLVE_MAX_NS 3
#define RESOLVE_MAX_SEARCH 6
#define RESOLVE_MAX_ADDRS 16

struct resolve_addr {
        int family; /* AF_INET or AF_INET6 */
        union {
                struct in_addr v4;
                struct in6_addr v6;
        };
};

struct resolve_conf {
        struct sockaddr_storage ns[RESOLVE_MAX_NS];
        size_t n_ns;
        char *search[RESOLVE_MAX_SEARCH];
        size_t n_search;
        unsigned ndots;     /* default 1 */
        unsigned timeout_s; /* per try, default 5 */
        unsigned attempts;  /* default 2 */
        bool use_vc;        /* options use-vc / tcp: TCP from the start */
};

/* resolv.conf text → conf (Go's dnsReadConfig): nameserver (IP literals, first 3), search and
 * domain (the last one wins), options ndots:N (max 15) timeout:N (1..30) attempts:N (1..5)
 * use-vc/tcp. Unknown lines and bad values are ignored, as the libc and Go do. No server:
 * 127.0.0.1 and ::1. Returns 0 or -ENOMEM; free with resolve_conf_done(). */
int resolve_conf_parse(const char *text, size_t len, struct resolve_conf *ret);
void resolve_conf_done(struct resolve_conf *c);

/* hosts(5) text: the addresses of name (case-insensitive, a trailing dot ignored), in file
 * order, at most max. Returns the count (0: not listed). */
size_t resolve_hosts_parse(const char *text, size_t len, const char *name, struct resolve_addr *out, size_t max);

/* A DNS query for qname (dotted, a trailing dot allowed) and qtype (1 A, 28 AAAA) with id and
 * RD set, into buf. Returns its length, or -EINVAL for a name that is not a valid DNS name. */
int resolve_dns_query(const char *qname, uint16_t qtype, uint16_t id, uint8_t *buf, size_t cap);

/* A DNS response to resolve_dns_query(qname, qtype, id): 0 when it is one (the answers of
 * qtype, class IN, appended to out up to max, *n updated; CNAMEs followed as Go does, by taking
 * the records of the type asked), *ret_rcode its RCODE and *ret_tc its TC bit; -EBADMSG for a
 * malformed message, -ESRCH for a message that answers another query (id, question). */
int resolve_dns_answer(const uint8_t *msg, size_t len, const char *qname, uint16_t qtype, uint16_t id,
                       struct resolve_addr *out, size_t max, size_t *n, int *ret_rcode, bool *ret_tc);

/* name → addresses: RESOLVE_HOSTS, then DNS per RESOLVE_CONF, all within deadline (now_usec()
 * clock). Returns the count (> 0) with out filled, -ETIMEDOUT when the deadline passed,
 * -ENOENT when no source knows the name, or -errno; err names the cause. */
int resolve_host(const char *name, uint64_t deadline, struct resolve_addr *out, size_t max, char *err, size_t errsz);

/* As resolve_host() with the hosts text and resolv.conf given (tests; hosts may be NULL). */
int resolve_host_with(const char *name, const char *hosts, size_t hosts_len, const struct resolve_conf *conf,
                      uint64_t deadline, struct resolve_addr *out, size_t max, char *err, size_t errsz);
