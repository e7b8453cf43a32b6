/* SPDX-License-Identifier: Apache-2.0 */
/* podnetns.c: apply rules in a pod's netns; find a pod's netns by its IP (see podnetns.h; spec
 * istio-cni.md §2.8, §5.4, §5.5). */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/podnetns.h"
#include "base/errbuf.h"
#include "base/fileio.h"
#include "base/macro.h"
#include "base/netns.h"
#include "rules/rules-nft.h"

struct apply_ctx {
        struct capture_config *c;
        struct capture_opts o; /* o.lock_fd: the pod's netns fd, the xtables lock */
        bool check;
        struct capture_report *rep;
        char *err;
        size_t errsz;
};

/* Runs inside the pod netns: the same detection, backends, atomic apply and rollback as
 * istio-iptables (lib/kernel/capture), so a pod is never left half-configured. */
static int apply_in_netns(void *userdata) {
        struct apply_ctx *a = userdata;
        struct config_error cerr = { 0 };
        int r;

        /* IPv6 and the host IP come from the pod's own interface addresses. Then the same
         * validation as istio-iptables: a config built from annotations gets no shortcut. */
        r = config_fill_environment(a->c, "/etc/resolv.conf", &cerr);
        if (r >= 0)
                r = config_validate(a->c, &cerr);
        if (r < 0)
                return errbuf_set(a->err, a->errsz, r, "%s", cerr.msg[0] ? cerr.msg : strerror(-r));
        if (a->check) {
                r = capture_check(a->c, a->rep);
                if (r == 0)
                        return errbuf_set(a->err, a->errsz, -ENOENT, "redirect rules missing or drifted: %.1000s",
                                          a->rep->error);
        } else
                r = capture_run(a->c, &a->o, a->rep);
        if (r < 0)
                errbuf_set(a->err, a->errsz, r, "%s", a->rep->error);
        return r < 0 ? r : 0;
}

int podnetns_apply(const char *netns_path, struct capture_config *cfg, bool check, struct capture_report *rep,
                   char *err, size_t errsz) {
        _cleanup_close_ int nsfd = netns_open(netns_path);
        struct apply_ctx a = { .c = cfg, .o = { .lock_fd = nsfd }, .check = check, .rep = rep, .err = err,
                               .errsz = errsz };

        *rep = (struct capture_report){};
        if (err && errsz)
                err[0] = 0;
        if (nsfd < 0)
                return errbuf_set(err, errsz, nsfd, "failed to open netns \"%.300s\": %s", netns_path,
                                  nsfd == -EMEDIUMTYPE ? "unknown FS magic (not a network namespace)" : strerror(-nsfd));
        int r = netns_run(nsfd, apply_in_netns, &a);
        if (r < 0 && err && errsz && !err[0])
                errbuf_set(err, errsz, r, "%s", r == NETNS_ERR_RESTORE ? "could not return to the caller's network namespace"
                                                                       : strerror(-r));
        return r;
}

/* Issue 11 section B: `iptables-save -t nat` shows nothing when the legacy backend was picked on a
 * host whose iptables is nft-built (and the reverse). Each backend line names the command that
 * shows what was programmed. */
const char *podnetns_inspect_command(const char *note) {
        static const struct {
                const char *prefix, *cmd;
        } t[] = {
                { "backend IPv4: legacy:", "iptables-legacy-save -t nat" },
                { "backend IPv6: legacy:", "ip6tables-legacy-save -t nat" },
                { "backend IPv4: iptables-nft:", "iptables-nft-save -t nat" },
                { "backend IPv6: iptables-nft:", "ip6tables-nft-save -t nat" },
                { "backend IPv4: native-nft:", "nft list table inet " RULES_NFT_TABLE_NAT },
                { "backend IPv6: native-nft:", "nft list table inet " RULES_NFT_TABLE_NAT },
                { "nftables: applied", "nft list table inet " RULES_NFT_TABLE_NAT },
        };
        for (size_t i = 0; i < ELEMENTSOF(t); i++)
                if (strncmp(note, t[i].prefix, strlen(t[i].prefix)) == 0)
                        return t[i].cmd;
        return NULL;
}

/* ---- finding the netns (§5.5) ---- */

struct ip {
        int family;
        unsigned char a[16];
};

struct proc {
        int pid;
        dev_t dev;
        ino_t ino;
};

int podnetns_text_has_addr(const char *text, int family, const void *addr) {
        char last[64] = "";
        const char *p = text;

        if (!text || (family != AF_INET && family != AF_INET6))
                return -EINVAL;
        while (*p) {
                size_t n = strcspn(p, "\n");
                char line[256];
                snprintf(line, sizeof line, "%.*s", (int)(n < sizeof line ? n : sizeof line - 1), p);
                p += n + (p[n] == '\n');
                if (family == AF_INET) {
                        /* fib_trie: an address line "|-- A.B.C.D" followed by "/32 host LOCAL" */
                        const char *q = line + strspn(line, " \t|+-");
                        if (strstr(line, "|-- ")) {
                                snprintf(last, sizeof last, "%s", q);
                                last[strcspn(last, " ")] = 0;
                        } else if (strncmp(q, "/32 host LOCAL", 14) == 0 && last[0]) {
                                struct in_addr a;
                                if (inet_pton(AF_INET, last, &a) == 1 && memcmp(&a, addr, 4) == 0)
                                        return 1;
                        }
                } else {
                        /* if_inet6: "<32 hex> <ifindex> <plen> <scope> <flags> <name>" */
                        unsigned char a[16];
                        size_t i;
                        for (i = 0; i < 16; i++) {
                                unsigned v;
                                if (!isxdigit((unsigned char)line[2 * i]) || !isxdigit((unsigned char)line[2 * i + 1]) ||
                                    sscanf(line + 2 * i, "%2x", &v) != 1)
                                        break;
                                a[i] = (unsigned char)v;
                        }
                        if (i == 16 && memcmp(a, addr, 16) == 0)
                                return 1;
                }
        }
        return 0;
}

/* 1 when the file shows the address, 0 not, -errno when unreadable. */
static int file_has_addr(const char *path, const struct ip *want) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        _cleanup_free_ char *text = NULL;
        size_t len;

        if (fd < 0)
                return -errno;
        int r = fileio_read_all(fd, 16u << 20, &text, &len);
        if (r < 0)
                return r;
        return podnetns_text_has_addr(text, want->family, want->a);
}

static int ifaddrs_has_cb(void *userdata) {
        const struct ip *want = userdata;
        struct ifaddrs *ifa = NULL;
        int found = 0;

        if (getifaddrs(&ifa) < 0)
                return -errno;
        for (struct ifaddrs *i = ifa; i && !found; i = i->ifa_next) {
                if (!i->ifa_addr || i->ifa_addr->sa_family != want->family)
                        continue;
                if (want->family == AF_INET)
                        found = memcmp(&((struct sockaddr_in *)i->ifa_addr)->sin_addr, want->a, 4) == 0;
                else
                        found = memcmp(&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, want->a, 16) == 0;
        }
        freeifaddrs(ifa);
        return found;
}

/* Does pid's netns hold the address? Reads /proc/<pid>/net first; enters only as a fallback. */
static int netns_has(const char *hp, int pid, const struct ip *want, struct podnetns_stats *st) {
        char path[4200];
        int r;

        snprintf(path, sizeof path, "%s/%d/net/%s", hp, pid, want->family == AF_INET ? "fib_trie" : "if_inet6");
        r = file_has_addr(path, want);
        if (r >= 0)
                return r;
        snprintf(path, sizeof path, "%s/%d/ns/net", hp, pid);
        _cleanup_close_ int fd = netns_open(path);
        if (fd < 0)
                return fd;
        st->entered++;
        r = netns_run(fd, ifaddrs_has_cb, (void *)want);
        return r;
}

int podnetns_stat_start_time(const char *text, unsigned long long *ret) {
        const char *p = text ? strrchr(text, ')') : NULL;
        if (!p)
                return -EBADMSG;
        p++;
        /* fields 3… follow the comm's ')': skip 19 of them to reach field 22 */
        for (int i = 0; i < 19; i++) {
                p += strspn(p, " ");
                if (!*p)
                        return -EBADMSG;
                p += strcspn(p, " ");
        }
        p += strspn(p, " ");
        if (!isdigit((unsigned char)*p))
                return -EBADMSG;
        char *end;
        errno = 0;
        unsigned long long v = strtoull(p, &end, 10);
        if (errno || (*end && *end != ' ' && *end != '\n'))
                return -EBADMSG;
        *ret = v;
        return 0;
}

/* /proc/<pid>/stat field 22 (start time in clock ticks); UINT64_MAX when unreadable. */
static unsigned long long start_time(const char *hp, int pid) {
        char path[4200];
        _cleanup_free_ char *text = NULL;
        unsigned long long v;
        size_t len;

        snprintf(path, sizeof path, "%s/%d/stat", hp, pid);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fileio_read_all(fd, 64u << 10, &text, &len) < 0 || podnetns_stat_start_time(text, &v) < 0)
                return UINT64_MAX;
        return v;
}

int podnetns_find(const char *hp, const char *pod_ip, char *ret_path, size_t pathsz, struct podnetns_stats *ret_st,
                  char *err, size_t errsz) {
        struct podnetns_stats st = {};
        struct ip want = {};
        _cleanup_free_ struct proc *procs = NULL;
        size_t n = 0, cap = 0;
        struct dirent *de;
        int r = 0;

        if (!pod_ip || !*pod_ip)
                return errbuf_set(err, errsz, -EINVAL, "the pod has no IP yet (status.podIP is empty)");
        if (inet_pton(AF_INET, pod_ip, want.a) == 1)
                want.family = AF_INET;
        else if (inet_pton(AF_INET6, pod_ip, want.a) == 1)
                want.family = AF_INET6;
        else
                return errbuf_set(err, errsz, -EINVAL, "invalid pod IP '%.64s'", pod_ip);

        DIR *d = opendir(hp);
        if (!d)
                return errbuf_set(err, errsz, -errno, "cannot read %s: %s", hp, strerror(errno));
        while ((de = readdir(d))) {
                char path[4200], *end;
                struct stat sb;
                long pid = strtol(de->d_name, &end, 10);
                if (!isdigit((unsigned char)de->d_name[0]) || *end || pid <= 0 || pid > INT32_MAX)
                        continue;
                st.pids++;
                snprintf(path, sizeof path, "%s/%ld/ns/net", hp, pid);
                if (stat(path, &sb) < 0)
                        continue; /* vanished, or not ours to see */
                if (n == cap) {
                        size_t nc = cap ? cap * 2 : 256;
                        struct proc *np = realloc(procs, nc * sizeof *np);
                        if (!np) {
                                closedir(d);
                                return errbuf_set(err, errsz, -ENOMEM, "out of memory");
                        }
                        procs = np;
                        cap = nc;
                }
                procs[n++] = (struct proc){ .pid = (int)pid, .dev = sb.st_dev, .ino = sb.st_ino };
        }
        closedir(d);

        /* Each distinct netns once: the first process seen in it stands for it. */
        int best_pid = -1;
        unsigned long long best_start = UINT64_MAX;
        for (size_t i = 0; i < n; i++) {
                bool seen = false;
                for (size_t j = 0; j < i && !seen; j++)
                        seen = procs[j].dev == procs[i].dev && procs[j].ino == procs[i].ino;
                if (seen)
                        continue;
                st.netns++;
                r = netns_has(hp, procs[i].pid, &want, &st);
                if (r <= 0)
                        continue; /* permission, vanished process: skip it (§5.5 step 3) */
                for (size_t j = i; j < n; j++) {
                        if (procs[j].dev != procs[i].dev || procs[j].ino != procs[i].ino)
                                continue;
                        unsigned long long s = start_time(hp, procs[j].pid);
                        if (best_pid < 0 || s < best_start) {
                                best_pid = procs[j].pid;
                                best_start = s;
                        }
                }
        }
        if (ret_st)
                *ret_st = st;
        if (best_pid < 0)
                return errbuf_set(err, errsz, -ENOENT, "failed to find network namespace for pod IP %s "
                                  "(%u processes, %u network namespaces under %s)", pod_ip, st.pids, st.netns, hp);
        if (snprintf(ret_path, pathsz, "%s/%d/ns/net", hp, best_pid) >= (int)pathsz)
                return errbuf_set(err, errsz, -ENAMETOOLONG, "path too long");
        return 0;
}
