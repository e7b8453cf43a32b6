/* SPDX-License-Identifier: Apache-2.0 */
/* routes.h: the addresses, policy rules and routes istio-iptables sets up, over raw rtnetlink.
 * Spec: istio-iptables.md §5.7 (routes and addresses), §10 quirks 21-22. See docs/backends.md.
 * No `ip` binary is executed. Every function works on the caller's current network namespace. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* On failure the functions return -errno and, when ret_step is non-NULL, point it at a static
 * description of the step that failed (e.g. "add IPv6 policy rule"), so the caller can log
 * "Failed to <step>: <strerror>". ret_step is left untouched on success. */

/* Adds ::6/128 to lo (Istio's IPv6 inbound passthrough source). An existing address is fine. */
int routes_add_lo_ipv6_source(const char **ret_step);

/* TPROXY: adds the policy rule "fwmark <mark> lookup <table>" and the route
 * "local 0.0.0.0/0 dev lo scope host table <table>", for IPv4 and, if ipv6, for IPv6 too
 * ("local ::/0"). Idempotent, unlike Istio (quirk 22): the rule is added only when an identical
 * one is not already installed, and an existing route is fine. *ret_added (optional) says whether
 * this call added the rule; unlike other ret_ values it is set on failure too, so the caller can
 * undo a partial setup with routes_cleanup_tproxy(). */
int routes_setup_tproxy(uint32_t mark, uint32_t table, bool ipv6, bool *ret_added, const char **ret_step);

/* Removes what routes_setup_tproxy() adds: every copy of the identical rule (older Istio runs may
 * have left duplicates) and the local route. Missing ones are fine. ::6 is left on lo. */
int routes_cleanup_tproxy(uint32_t mark, uint32_t table, bool ipv6, const char **ret_step);

enum {
        ROUTES_KEEP_PAIR = 1u << 0,   /* keep the rule and route of (mark, table): the config wants them */
        ROUTES_PAIR_ALWAYS = 1u << 1, /* remove the (mark, table) rule even without its route */
};

/* Removes the TPROXY routing found in this netns, both families, whatever flags set it up: every
 * policy rule "fwmark M lookup T" (full mask, no other selector) whose table T holds the local
 * default route via lo (what routes_setup_tproxy() adds, for any M and T), then that route.
 * flags: see above; (mark, table) is the configured pair. A family the kernel lacks is skipped.
 * Returns the number of policy rules removed, or -errno. ::6 is left on lo. */
int routes_cleanup_tproxy_found(uint32_t mark, uint32_t table, unsigned flags, const char **ret_step);

/* Counts the policy rules in family (AF_INET/AF_INET6) equal to "fwmark <mark> lookup <table>". */
int routes_count_tproxy_rules(int family, uint32_t mark, uint32_t table);

/* Message building, exposed for unit tests: writes the netlink request into buf (size bytes) and
 * returns its length, or -ENOBUFS. type is RTM_NEWRULE/RTM_DELRULE, RTM_NEWROUTE/RTM_DELROUTE. */
int routes_build_rule_msg(void *buf, size_t size, int type, int family, uint32_t mark, uint32_t table,
                          uint32_t seq);
int routes_build_local_route_msg(void *buf, size_t size, int type, int family, uint32_t table,
                                 int ifindex, uint32_t seq);
