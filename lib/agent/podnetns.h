/* SPDX-License-Identifier: Apache-2.0 */
/* podnetns.h: a pod's network namespace: program (or check) its redirect rules there, and, for
 * the repair controller, find it from the host's /proc by the pod IP.
 * Spec: istio-cni.md §2.8 (enter the netns, same detection/backends/rollback as istio-iptables),
 * §5.4 Repair step 3 (the same code path as the plugin), §5.5 (finding the netns).
 *
 * Finding, better than Istio's one setns per process: every /proc/<pid>/ns/net is stat()ed and
 * the processes are grouped by the netns inode, so each distinct netns is visited once; its
 * addresses are read from /proc/<pid>/net/fib_trie (IPv4 local addresses) and
 * /proc/<pid>/net/if_inet6, which the kernel shows for that process's netns without entering it.
 * Only when those files cannot be read is the netns entered (setns + getifaddrs). Of the
 * processes in the matching netns the oldest (smallest start time, /proc/<pid>/stat field 22)
 * names the path: the sandbox's pause process, which outlives istio-validation. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "kernel/capture.h"
#include "rules/config.h"

/* Enters netns_path and applies cfg (or, with check, compares) with lib/kernel/capture, after the
 * same environment fill and validation as istio-iptables. rep gets the backend notes. Returns 0;
 * -errno with err (a netns that cannot be opened is named); NETNS_ERR_RESTORE when this thread
 * could not return to its netns (fatal for the thread: the caller must stop using it). */
int podnetns_apply(const char *netns_path, struct capture_config *cfg, bool check, struct capture_report *rep,
                   char *err, size_t errsz);

/* The command that shows what a backend note says was programmed, or NULL. */
const char *podnetns_inspect_command(const char *note);

/* The parsers behind the finder (exposed for tests and the fuzzer). Whether text shows addr (4
 * or 16 bytes) as a local address: for AF_INET, text is /proc/<pid>/net/fib_trie; for AF_INET6,
 * /proc/<pid>/net/if_inet6. 1 yes, 0 no, -EINVAL bad arguments. */
int podnetns_text_has_addr(const char *text, int family, const void *addr);
/* Field 22 (start time) of a /proc/<pid>/stat text; -EBADMSG when it is not there. */
int podnetns_stat_start_time(const char *text, unsigned long long *ret);

struct podnetns_stats {
        unsigned pids;          /* /proc entries looked at */
        unsigned netns;         /* distinct network namespaces */
        unsigned entered;       /* of them, entered because /proc/<pid>/net could not be read */
};

/* Finds the netns holding pod_ip (IPv4 or IPv6 literal; §5.5 step 1) under host_proc (e.g.
 * "/host/proc"). Returns 0 with "<host_proc>/<pid>/ns/net" in ret_path; -EINVAL for a bad IP;
 * -ENOENT "failed to find network namespace"; -ENAMETOOLONG; other -errno (with err). st may be NULL. */
int podnetns_find(const char *host_proc, const char *pod_ip, char *ret_path, size_t pathsz,
                  struct podnetns_stats *st, char *err, size_t errsz);
