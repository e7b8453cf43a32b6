/* SPDX-License-Identifier: Apache-2.0 */
/* doctor.c: the checks of `cnibox doctor` (see doctor.h and docs/doctor.md). Each check is one
 * function that reads, decides a status and writes the fix an operator can apply as is. Nothing
 * here changes the node: the kernel is asked in a scratch netns when we may create one, the
 * host's rules are only dumped, files are only read. */
#include "agent/doctor.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <fcntl.h>
#include <errno.h>
#include <grp.h>
#include <linux/netfilter.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/cniconf.h"
#include "agent/elfcheck.h"
#include "agent/podnetns.h"
#include "agent/runtimecfg.h"
#include "base/fileio.h"
#include "base/macro.h"
#include "base/netns.h"
#include "kernel/capture.h"
#include "kernel/detect.h"
#include "kernel/iptlegacy.h"
#include "kernel/nftdump.h"
#include "kernel/validate.h"
#include "kube/httpc.h"
#include "kube/jwt.h"
#include "kube/kubeconfig.h"

#define PLUGIN_TYPE "istio-cni"
#define KUBECONFIG_NAME "istio-cni-kubeconfig"
#define LEGACY_KUBECONFIG_NAME "ZZZ-istio-cni-kubeconfig"
#define HELM "helm upgrade istio-cni istio/cni -n istio-system --reuse-values"

/* ---- the report ---- */

static char *vfmt(const char *fmt, va_list ap) {
        char *s = NULL;
        if (vasprintf(&s, fmt, ap) < 0)
                return NULL;
        return s;
}

static struct doctor_check *check_new(struct doctor_report *rep, const char *id) {
        static struct doctor_check dummy;
        if (rep->n == rep->cap) {
                size_t c = rep->cap ? rep->cap * 2 : 32;
                struct doctor_check *n = realloc(rep->checks, c * sizeof *n);
                if (!n) {
                        rep->oom = true;
                        dummy = (struct doctor_check){};
                        return &dummy; /* writes to it are dropped; doctor_run reports -ENOMEM */
                }
                rep->checks = n;
                rep->cap = c;
        }
        struct doctor_check *c = &rep->checks[rep->n++];
        *c = (struct doctor_check){ .id = strdup(id) };
        if (!c->id)
                rep->oom = true;
        return c;
}

_printf_(3, 4) static void summary(struct doctor_report *rep, struct doctor_check *c, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        free(c->summary);
        c->summary = vfmt(fmt, ap);
        va_end(ap);
        if (!c->summary)
                rep->oom = true;
}

_printf_(3, 4) static void evidence(struct doctor_report *rep, struct doctor_check *c, const char *fmt, ...) {
        va_list ap;
        char *s, **n;

        va_start(ap, fmt);
        s = vfmt(fmt, ap);
        va_end(ap);
        n = s ? realloc(c->evidence, (c->n_evidence + 2) * sizeof *n) : NULL;
        if (!n) {
                free(s);
                rep->oom = true;
                return;
        }
        c->evidence = n;
        n[c->n_evidence++] = s;
        n[c->n_evidence] = NULL;
}

/* Raises the status (never lowers it) and appends the fix (several fixes: one per line). */
_printf_(4, 5) static void verdict(struct doctor_report *rep, struct doctor_check *c, enum doctor_status st,
                                   const char *fmt, ...) {
        va_list ap;
        char *s, *j = NULL;

        if (st > c->status)
                c->status = st;
        va_start(ap, fmt);
        s = vfmt(fmt, ap);
        va_end(ap);
        if (!s) {
                rep->oom = true;
                return;
        }
        if (!c->fix) {
                c->fix = s;
                return;
        }
        if (asprintf(&j, "%s\n%s", c->fix, s) < 0)
                rep->oom = true;
        else {
                free(c->fix);
                c->fix = j;
        }
        free(s);
}

void doctor_report_done(struct doctor_report *rep) {
        for (size_t i = 0; i < rep->n; i++) {
                struct doctor_check *c = &rep->checks[i];
                free(c->id);
                free(c->summary);
                strv_free(c->evidence);
                free(c->fix);
        }
        free(rep->checks);
        *rep = (struct doctor_report){};
}

enum doctor_status doctor_worst(const struct doctor_report *rep) {
        enum doctor_status w = DOCTOR_OK;
        for (size_t i = 0; i < rep->n; i++)
                if (rep->checks[i].status > w)
                        w = rep->checks[i].status;
        return w;
}

const char *doctor_status_to_string(enum doctor_status s) {
        return s == DOCTOR_FAIL ? "fail" : s == DOCTOR_WARN ? "warn" : "ok";
}

void doctor_opts_init(struct doctor_opts *o) {
        *o = (struct doctor_opts){
                .root = "/",
                .sections = DOCTOR_KERNEL | DOCTOR_NODE | DOCTOR_CNI | DOCTOR_LIMITS,
                .cni_conf_dir = "/etc/cni/net.d",
                .cni_bin_dir = "/opt/cni/bin",
                .cni_netns_dir = "/var/run/netns",
                .run_dir = "/var/run/istio-cni",
                .metrics_url = "http://127.0.0.1:15014",
                .rival_minutes = 10,
                .pod_probe = true,
        };
}

/* ---- small readers ---- */

/* root + path ("/" root: path as is). */
static const char *under(const struct doctor_opts *o, const char *path, char *buf, size_t size) {
        const char *root = o->root && !streq(o->root, "/") ? o->root : "";
        if (snprintf(buf, size, "%s%s", root, path) >= (int)size)
                buf[0] = 0;
        return buf;
}

/* First line of a small file (trailing newline removed), or -errno. */
static int read_line(const char *path, char *buf, size_t size) {
        _cleanup_free_ char *t = NULL;
        int r = fileio_read_file(path, 64 << 10, &t, NULL);
        if (r < 0)
                return r;
        snprintf(buf, size, "%.*s", (int)strcspn(t, "\n"), t);
        return 0;
}

static long read_long(const char *path) {
        char b[64];
        if (read_line(path, b, sizeof b) < 0)
                return -1;
        char *e;
        long v = strtol(b, &e, 10);
        return e == b ? -1 : v;
}

/* ---- 1. the kernel, per family ---- */

struct kfacts {
        int r[2][2];                     /* [family][0 istio-iptables, 1 plugin] detect return */
        struct detect_result d[2][2];
        int scratch;                     /* 1 scratch netns, 0 this netns */
};

static void detect_all(struct kfacts *k) {
        for (int f = 0; f < 2; f++)
                for (int p = 0; p < 2; p++)
                        k->r[f][p] = detect_backend_flags(f ? AF_INET6 : AF_INET, DETECT_FORCE_NONE,
                                                          p ? DETECT_NO_EXEC : 0, &k->d[f][p]);
}

/* In a scratch netns, the result comes back as hex over netns_scratch_output()'s text pipe. */
static int detect_child(void *userdata, char **ret_text) {
        struct kfacts k = {};
        const unsigned char *b = (const unsigned char *)&k;
        char *t;
        (void)userdata;
        detect_all(&k);
        t = malloc(2 * sizeof k + 1);
        if (!t)
                return 1;
        for (size_t i = 0; i < sizeof k; i++)
                sprintf(t + 2 * i, "%02x", b[i]);
        *ret_text = t;
        return 0;
}

static void kernel_facts(struct kfacts *k) {
        _cleanup_free_ char *text = NULL;
        int code = 0;

        *k = (struct kfacts){};
        if (netns_scratch_output(detect_child, NULL, &text, &code) == 0 && strlen(text) == 2 * sizeof *k) {
                unsigned char *b = (unsigned char *)k;
                for (size_t i = 0; i < sizeof *k; i++) {
                        unsigned v;
                        sscanf(text + 2 * i, "%2x", &v);
                        b[i] = (unsigned char)v;
                }
                k->scratch = 1;
                return;
        }
        /* No CAP_SYS_ADMIN: this netns. Detection then may instantiate the legacy nat table here,
         * as istio-iptables itself would (quirk 23). */
        detect_all(k);
        k->scratch = 0;
}

static const char *fam(int f) { return f ? "IPv6" : "IPv4"; }

static void check_kernel(const struct doctor_opts *o, struct doctor_report *rep, struct kfacts *k) {
        struct doctor_check *c;
        const char *where;
        bool legacy[2], nft[2];

        kernel_facts(k);
        where = k->scratch ? "a scratch network namespace (as a new pod's)" : "this network namespace";
        /* Without the rights to ask, every answer would blame the kernel: say that instead. */
        if (k->r[0][0] == -EPERM || k->r[0][0] == -EACCES) {
                c = check_new(rep, "kernel.access");
                summary(rep, c, "the kernel cannot be asked: %s", strerror(-k->r[0][0]));
                evidence(rep, c, "detection in %s: %s", where, k->d[0][0].why[0] ? k->d[0][0].why : strerror(-k->r[0][0]));
                verdict(rep, c, DOCTOR_WARN, "run doctor as root (CAP_NET_ADMIN to read netfilter, CAP_SYS_ADMIN for the "
                        "scratch netns); it changes nothing");
                return;
        }
        for (int f = 0; f < 2; f++) {
                legacy[f] = k->d[f][0].facts.legacy_nat_usable || (k->d[f][0].facts.legacy_tables & DETECT_TABLE_NAT);
                nft[f] = k->d[f][0].facts.nft_works;
        }

        c = check_new(rep, "kernel.legacy_nat");
        for (int f = 0; f < 2; f++) {
                const struct detect_facts *x = &k->d[f][0].facts;
                if (legacy[f])
                        evidence(rep, c, "%s: legacy nat table usable in %s", fam(f), where);
                else if (!x->legacy_nat_probed)
                        evidence(rep, c, "%s: legacy nat table not probed (detection did not need it: opening it "
                                 "would instantiate it)", fam(f));
                else
                        evidence(rep, c, "%s: legacy nat table unusable: %s", fam(f), strerror(-x->legacy_nat_error));
        }
        if (legacy[0] && legacy[1])
                summary(rep, c, "the legacy nat table is usable");
        else if (nft[0] && !legacy[0] && !k->d[0][0].facts.legacy_nat_probed)
                summary(rep, c, "the legacy nat table was not probed; not needed: nf_tables works");
        else if (nft[0])
                summary(rep, c, "the legacy nat table is %s; not needed: nf_tables works", legacy[0] ? "IPv4 only" : "not usable");
        else {
                summary(rep, c, "the legacy nat table is not usable and nf_tables does not work");
                verdict(rep, c, DOCTOR_FAIL, "load the legacy nat module (modprobe iptable_nat ip6table_nat) or nf_tables "
                        "(modprobe nf_tables nft_chain_nat); on minimal kernels (RHCOS, RHEL 10) use nf_tables");
        }

        c = check_new(rep, "kernel.nftables");
        for (int f = 0; f < 2; f++) {
                const struct detect_facts *x = &k->d[f][0].facts;
                if (x->nft_works)
                        evidence(rep, c, "%s: nf_tables answered a table dump in %s", fam(f), where);
                else
                        evidence(rep, c, "%s: nf_tables does not answer: %s", fam(f), strerror(-x->nft_error));
        }
        if (nft[0] && nft[1])
                summary(rep, c, "nf_tables works");
        else if (legacy[0]) {
                summary(rep, c, "nf_tables does not work: legacy iptables only");
                verdict(rep, c, DOCTOR_WARN, "capture works with legacy iptables, but distributions are dropping it (EKS 1.33, "
                        "RHEL 10): load nf_tables (modprobe nf_tables nft_chain_nat) or use a kernel built with "
                        "CONFIG_NF_TABLES");
        } else {
                summary(rep, c, "nf_tables does not work");
                verdict(rep, c, DOCTOR_FAIL, "load nf_tables (modprobe nf_tables nft_chain_nat) or use a kernel built with "
                        "CONFIG_NF_TABLES");
        }

        /* xt compat modules: x_tables matches and targets that both the legacy and the
         * iptables-nft backends need (the native nftables backend does not). */
        static const struct {
                const char *name, *module, *proc;
        } xt[] = {
                { "owner", "xt_owner", "/proc/net/ip_tables_matches" },
                { "multiport", "xt_multiport", "/proc/net/ip_tables_matches" },
                { "conntrack", "xt_conntrack", "/proc/net/ip_tables_matches" },
                { "REDIRECT", "xt_REDIRECT", "/proc/net/ip_tables_targets" },
                { "TPROXY", "xt_TPROXY", "/proc/net/ip_tables_targets" },
        };
        struct utsname u;
        char p[4096];
        _cleanup_free_ char *mods = NULL, *builtin = NULL, *dep = NULL, *matches = NULL, *targets = NULL;
        bool have_dir = false;
        unsigned missing = 0;

        c = check_new(rep, "kernel.xt_compat");
        (void)fileio_read_file("/proc/modules", 8 << 20, &mods, NULL);
        (void)fileio_read_file("/proc/net/ip_tables_matches", 1 << 20, &matches, NULL);
        (void)fileio_read_file("/proc/net/ip_tables_targets", 1 << 20, &targets, NULL);
        if (uname(&u) == 0) {
                char d[512];
                snprintf(d, sizeof d, "/lib/modules/%s", u.release);
                under(o, d, p, sizeof p);
                struct stat st;
                have_dir = stat(p, &st) == 0 && S_ISDIR(st.st_mode);
                snprintf(d, sizeof d, "/lib/modules/%s/modules.builtin", u.release);
                (void)fileio_read_file(under(o, d, p, sizeof p), 8 << 20, &builtin, NULL);
                snprintf(d, sizeof d, "/lib/modules/%s/modules.dep", u.release);
                (void)fileio_read_file(under(o, d, p, sizeof p), 32 << 20, &dep, NULL);
        }
        enum detect_backend b4 = k->d[0][0].backend;
        for (size_t i = 0; i < ELEMENTSOF(xt); i++) {
                char line[64], ko[64];
                const char *list = streq(xt[i].proc, "/proc/net/ip_tables_matches") ? matches : targets;
                bool loaded = false;
                snprintf(line, sizeof line, "\n%s\n", xt[i].name);
                if (list) {
                        _cleanup_free_ char *nl = NULL;
                        if (asprintf(&nl, "\n%s", list) >= 0)
                                loaded = strstr(nl, line) != NULL;
                }
                snprintf(line, sizeof line, "\n%s ", xt[i].module);
                if (!loaded && mods) {
                        _cleanup_free_ char *nl = NULL;
                        if (asprintf(&nl, "\n%s", mods) >= 0)
                                loaded = strstr(nl, line) != NULL;
                }
                snprintf(ko, sizeof ko, "/%s.ko", xt[i].module);
                if (loaded)
                        evidence(rep, c, "%s (%s): loaded", xt[i].name, xt[i].module);
                else if (builtin && strstr(builtin, ko))
                        evidence(rep, c, "%s (%s): built into the kernel", xt[i].name, xt[i].module);
                else if (dep && strstr(dep, ko))
                        evidence(rep, c, "%s (%s): not loaded, loadable (modules.dep)", xt[i].name, xt[i].module);
                else if (!have_dir)
                        evidence(rep, c, "%s (%s): not loaded; no /lib/modules/%s under the root to tell whether it can be",
                                 xt[i].name, xt[i].module, u.release);
                else {
                        evidence(rep, c, "%s (%s): missing (not loaded, not built in, not in modules.dep)", xt[i].name,
                                 xt[i].module);
                        missing++;
                }
        }
        if (missing == 0)
                summary(rep, c, "the xt compat modules iptables needs are present or loadable");
        else if (b4 == DETECT_LEGACY || b4 == DETECT_IPTNFT) {
                summary(rep, c, "%u xt compat module(s) missing, and the %s backend needs them", missing,
                        detect_backend_to_string(b4));
                verdict(rep, c, DOCTOR_FAIL, "install the kernel's extra modules package (e.g. linux-modules-extra-$(uname -r)) "
                        "or use the native nftables backend (Helm value cni.nativeNftables=true / NATIVE_NFTABLES=true), "
                        "which needs no xt module");
        } else {
                summary(rep, c, "%u xt compat module(s) missing; the native nftables backend does not need them", missing);
                verdict(rep, c, DOCTOR_WARN, "keep the native nftables backend (NATIVE_NFTABLES=true); iptables-nft and legacy "
                        "would fail with 'Extension ... not supported': install the kernel's extra modules package");
        }

        c = check_new(rep, "kernel.backend");
        bool bad = false;
        for (int f = 0; f < 2; f++)
                for (int pl = 0; pl < 2; pl++) {
                        const struct detect_result *d = &k->d[f][pl];
                        evidence(rep, c, "%s: %s", pl ? "istio-cni plugin (no exec)" : "istio-iptables",
                                 d->why[0] ? d->why : "no explanation");
                        if (k->r[f][pl] < 0 && f == 0)
                                bad = true;
                }
        if (bad) {
                summary(rep, c, "no usable backend for IPv4");
                verdict(rep, c, DOCTOR_FAIL, "the kernel has neither a usable legacy nat table nor nf_tables: load "
                        "nf_tables (modprobe nf_tables nft_chain_nat) or iptable_nat");
        } else {
                summary(rep, c, "istio-iptables picks %s, the plugin picks %s (IPv4)",
                        detect_backend_to_string(k->d[0][0].backend), detect_backend_to_string(k->d[0][1].backend));
        }
}

/* ---- 2. what already runs on the node (read only) ---- */

struct node_rules {
        unsigned legacy_kube[2];  /* KUBE-* chains in legacy tables, per family */
        unsigned nft_kube[2];     /* KUBE-* chains in xtables-named nf_tables tables (iptables-nft) */
        bool kp_table[2];         /* table ip/ip6 kube-proxy (kube-proxy --proxy-mode=nftables) */
        unsigned legacy_tables[2];/* 1 << enum rules_table bits of existing legacy tables */
        unsigned nft_xt[2];       /* DETECT_TABLE_* bits of xtables-named nf_tables tables */
        int f;
};

static void legacy_chain_cb(const char *table, const char *chain, unsigned n_rules, void *userdata) {
        struct node_rules *n = userdata;
        (void)table, (void)n_rules;
        if (strncmp(chain, "KUBE-", 5) == 0)
                n->legacy_kube[n->f]++;
}

static void nft_chain_cb(const char *table, const char *chain, void *userdata) {
        struct node_rules *n = userdata;
        if (streq(table, "kube-proxy"))
                n->kp_table[n->f] = true;
        else if (strncmp(chain, "KUBE-", 5) == 0 && (streq(table, "nat") || streq(table, "filter") || streq(table, "mangle")))
                n->nft_kube[n->f]++;
}

static void nft_table_cb(const char *name, void *userdata) {
        struct node_rules *n = userdata;
        if (streq(name, "kube-proxy"))
                n->kp_table[n->f] = true;
        n->nft_xt[n->f] |= streq(name, "nat") ? DETECT_TABLE_NAT : streq(name, "mangle") ? DETECT_TABLE_MANGLE
                         : streq(name, "filter") ? DETECT_TABLE_FILTER : 0;
}

static void check_node(const struct doctor_opts *o, struct doctor_report *rep) {
        struct doctor_check *c = check_new(rep, "node.kube_proxy_backend");
        struct node_rules n = {};
        bool denied = false;
        (void)o;

        for (n.f = 0; n.f < 2; n.f++) {
                int family = n.f ? AF_INET6 : AF_INET;
                uint8_t nfproto = n.f ? NFPROTO_IPV6 : NFPROTO_IPV4;
                int r = iptlegacy_chains(family, legacy_chain_cb, &n);
                if (r >= 0)
                        n.legacy_tables[n.f] = (unsigned)r;
                int r2 = nftdump_tables(nfproto, nft_table_cb, &n);
                if (r2 >= 0)
                        r2 = nftdump_chains(nfproto, nft_chain_cb, &n);
                evidence(rep, c, "%s: legacy iptables: %u KUBE-* chains%s%s", fam(n.f), n.legacy_kube[n.f],
                         r < 0 ? ", unreadable: " : "", r < 0 ? strerror(-r) : "");
                denied = denied || r2 == -EPERM || r2 == -EACCES;
                if (r2 < 0)
                        evidence(rep, c, "%s: nf_tables: no answer (%s)", fam(n.f), strerror(-r2));
                else
                        evidence(rep, c, "%s: nf_tables: %u KUBE-* chains in xtables tables (iptables-nft)%s", fam(n.f),
                                 n.nft_kube[n.f], n.kp_table[n.f] ? "; table kube-proxy (nftables mode)" : "");
        }
        bool legacy = n.legacy_kube[0] + n.legacy_kube[1] > 0, nft = n.nft_kube[0] + n.nft_kube[1] > 0,
             kp = n.kp_table[0] || n.kp_table[1];
        if (denied) {
                summary(rep, c, "the host's rules cannot be read");
                verdict(rep, c, DOCTOR_WARN, "run doctor as root with the host's network (CAP_NET_ADMIN to read "
                        "netfilter); it changes nothing");
        } else if (legacy + nft + kp > 1) {
                summary(rep, c, "kube-proxy rules exist in %s%s%s at once", legacy ? "legacy iptables, " : "",
                        nft ? "iptables-nft, " : "", kp ? "nftables (kube-proxy table)" : "");
                verdict(rep, c, DOCTOR_WARN, "one set is stale (the node switched kube-proxy modes or iptables backends): "
                        "run kube-proxy --cleanup with the old mode, or reboot the node; keep the one kube-proxy's "
                        "--proxy-mode uses");
        } else if (kp)
                summary(rep, c, "kube-proxy uses nftables (table kube-proxy)");
        else if (nft)
                summary(rep, c, "kube-proxy's rules are in nf_tables through iptables-nft");
        else if (legacy)
                summary(rep, c, "kube-proxy's rules are in legacy iptables");
        else
                summary(rep, c, "no kube-proxy rules in this netns (no kube-proxy, an eBPF replacement, or not the host netns)");

        c = check_new(rep, "node.dual_hooks");
        unsigned both = 0;
        for (int f = 0; f < 2; f++) {
                unsigned l = (n.legacy_tables[f] & (1u << RULES_TABLE_NAT) ? DETECT_TABLE_NAT : 0) |
                             (n.legacy_tables[f] & (1u << RULES_TABLE_MANGLE) ? DETECT_TABLE_MANGLE : 0);
                unsigned x = n.nft_xt[f] | (n.kp_table[f] ? DETECT_TABLE_NAT : 0);
                both |= l & x;
                evidence(rep, c, "%s: legacy tables:%s%s; nf_tables:%s%s%s", fam(f), l & DETECT_TABLE_NAT ? " nat" : "",
                         l & DETECT_TABLE_MANGLE ? " mangle" : l ? "" : " none", x & DETECT_TABLE_NAT ? " nat" : "",
                         x & DETECT_TABLE_MANGLE ? " mangle" : "", x & (DETECT_TABLE_NAT | DETECT_TABLE_MANGLE) ? "" : " none");
        }
        if (both) {
                summary(rep, c, "the host's %s%s hooks are served by both legacy iptables and nf_tables",
                        both & DETECT_TABLE_NAT ? "nat " : "", both & DETECT_TABLE_MANGLE ? "mangle" : "");
                verdict(rep, c, DOCTOR_WARN, "both run on every packet, and the tools of one do not show the other's rules: "
                        "make kube-proxy and the primary CNI use one backend (e.g. kube-proxy --proxy-mode=nftables, or "
                        "the iptables-nft alternative on the host) and remove the stale tables (iptables-legacy-save shows them)");
        } else {
                summary(rep, c, "nat and mangle hooks are served by one backend at most");
        }
}

/* ---- 3. CNI paths and runtime ---- */

/* Where istio-cni actually landed, among the dirs any runtime found or the chart names: when
 * install-cni wrote to a dir the runtime does not read, this shows it. Evidence only. */
static void where_installed(const struct doctor_opts *o, struct doctor_report *rep, struct doctor_check *c,
                            const struct runtimecfg *rt, size_t n_rt) {
        const char *dirs[16];
        size_t n = 0;
        char p[4096];
        struct stat st;

        dirs[n++] = o->cni_conf_dir;
        for (size_t i = 0; i < n_rt && n < ELEMENTSOF(dirs); i++)
                dirs[n++] = rt[i].conf_dir;
        for (size_t i = 0; i < n; i++) {
                bool dup = false;
                for (size_t j = 0; j < i; j++)
                        dup = dup || streq(dirs[i], dirs[j]);
                _cleanup_closedir_ DIR *d = dup ? NULL : opendir(under(o, dirs[i], p, sizeof p));
                struct dirent *de;
                while (d && (de = readdir(d))) {
                        _cleanup_free_ char *text = NULL;
                        char f[4096 + 256];
                        if (de->d_name[0] == '.' || (!strstr(de->d_name, ".conf") && !strstr(de->d_name, ".json")))
                                continue;
                        snprintf(f, sizeof f, "%s/%s", p, de->d_name);
                        if (fileio_read_file(f, CNICONF_MAX_SIZE, &text, NULL) >= 0 && strstr(text, "\"" PLUGIN_TYPE "\""))
                                evidence(rep, c, "istio-cni is in %s/%s", dirs[i], de->d_name);
                }
        }
        const char *bins[16];
        n = 0;
        bins[n++] = o->cni_bin_dir;
        for (size_t i = 0; i < n_rt; i++)
                for (size_t j = 0; rt[i].bin_dirs[j] && n < ELEMENTSOF(bins); j++)
                        bins[n++] = rt[i].bin_dirs[j];
        for (size_t i = 0; i < n; i++) {
                bool dup = false;
                char h[4096];
                for (size_t j = 0; j < i; j++)
                        dup = dup || streq(bins[i], bins[j]);
                snprintf(h, sizeof h, "%s/%s", bins[i], PLUGIN_TYPE);
                if (!dup && stat(under(o, h, p, sizeof p), &st) == 0)
                        evidence(rep, c, "istio-cni binary: %s", h);
        }
}

static void check_paths(const struct doctor_opts *o, struct doctor_report *rep, const struct runtimecfg *rt, size_t n_rt) {
        struct doctor_check *c = check_new(rep, "cni.runtime");
        const struct runtimecfg *e = &rt[0];

        for (size_t i = 0; i < n_rt; i++) {
                evidence(rep, c, "%s: conf dir %s, bin dir %s, netns dir %s (from %s)", rt[i].runtime, rt[i].conf_dir,
                         rt[i].bin_dirs[0], rt[i].netns_dir, rt[i].source);
                if (rt[i].note)
                        evidence(rep, c, "%s: config not used: %s", rt[i].runtime, rt[i].note);
        }
        if (streq(e->runtime, "none")) {
                summary(rep, c, "no container runtime config found under %s", o->root);
                verdict(rep, c, DOCTOR_WARN, "run doctor with the host's root mounted (--root /host with / mounted at /host): "
                        "/etc/containerd/config.toml, /etc/crio/, /var/lib/rancher/k3s, /var/snap/microk8s were looked for");
        } else if (e->note) {
                summary(rep, c, "%s config unreadable; its defaults are assumed", e->runtime);
                verdict(rep, c, DOCTOR_WARN, "fix the runtime config (%s) or check its dirs by hand", e->note);
        } else {
                summary(rep, c, "%s reads CNI configs from %s and plugins from %s", e->runtime, e->conf_dir, e->bin_dirs[0]);
        }

        c = check_new(rep, "cni.paths");
        evidence(rep, c, "install-cni writes configs to cniConfDir=%s, the plugin to cniBinDir=%s", o->cni_conf_dir,
                 o->cni_bin_dir);
        bool bin_ok = false;
        for (size_t i = 0; e->bin_dirs[i]; i++)
                if (streq(e->bin_dirs[i], o->cni_bin_dir))
                        bin_ok = true;
        where_installed(o, rep, c, rt, n_rt);
        /* One command for both values: a second helm upgrade would not need the first one's. */
        bool conf_ok = streq(e->conf_dir, o->cni_conf_dir);
        if (!conf_ok || !bin_ok)
                verdict(rep, c, DOCTOR_FAIL, "%s%s%s%s%s", HELM, conf_ok ? "" : " --set cniConfDir=",
                        conf_ok ? "" : e->conf_dir, bin_ok ? "" : " --set cniBinDir=", bin_ok ? "" : e->bin_dirs[0]);
        if (c->status == DOCTOR_OK)
                summary(rep, c, "install-cni's dirs are the ones %s reads", e->runtime);
        else
                summary(rep, c, "install-cni's dirs differ from %s's: the runtime will not find the plugin", e->runtime);

        c = check_new(rep, "cni.netns_dir");
        evidence(rep, c, "%s mounts pod netns files under %s; cniNetnsDir=%s", e->runtime, e->netns_dir, o->cni_netns_dir);
        if (!streq(e->netns_dir, o->cni_netns_dir) &&
            !(strncmp(e->netns_dir, "/var/run/", 9) == 0 && streq(e->netns_dir + 4, o->cni_netns_dir)) &&
            !(strncmp(o->cni_netns_dir, "/var/run/", 9) == 0 && streq(o->cni_netns_dir + 4, e->netns_dir))) {
                summary(rep, c, "cniNetnsDir differs from the runtime's netns dir");
                verdict(rep, c, DOCTOR_WARN, "%s --set cniNetnsDir=%s (only ambient mode mounts it; sidecar capture gets the "
                        "netns path from the runtime)", HELM, e->netns_dir);
        } else {
                summary(rep, c, "cniNetnsDir matches the runtime's netns dir");
        }
}

/* ---- 4. the CNI config ---- */

struct skips {
        struct doctor_report *rep;
        struct doctor_check *c;
};

static void skip_cb(void *userdata, const char *name, const char *reason) {
        struct skips *s = userdata;
        evidence(s->rep, s->c, "skipped %s: %s", name, reason);
}

/* The plugin types listed in a config (chained "plugins" or a single "type"). */
static char **plugin_types(const char *content, size_t len) {
        cJSON *root = cJSON_ParseWithLength(content, len), *pl;
        char **l = calloc(1, sizeof *l);
        size_t n = 0;

        if (!root || !l) {
                cJSON_Delete(root);
                return l;
        }
        pl = cJSON_GetObjectItemCaseSensitive(root, "plugins");
        if (cJSON_IsArray(pl)) {
                cJSON *it;
                cJSON_ArrayForEach(it, pl) {
                        cJSON *t = cJSON_GetObjectItemCaseSensitive(it, "type");
                        char **nl;
                        if (!cJSON_IsString(t) || !(nl = realloc(l, (n + 2) * sizeof *l)))
                                continue;
                        l = nl;
                        l[n] = strdup(t->valuestring);
                        if (l[n])
                                n++;
                        l[n] = NULL;
                }
        } else {
                cJSON *t = cJSON_GetObjectItemCaseSensitive(root, "type");
                char **nl;
                if (cJSON_IsString(t) && (nl = realloc(l, 2 * sizeof *l))) {
                        l = nl;
                        l[0] = strdup(t->valuestring);
                        l[1] = NULL;
                }
        }
        cJSON_Delete(root);
        return l;
}

/* The agent's metrics, when it answers: 1 and the counters, 0 unreachable. */
static int agent_metrics(const char *url, double *rewrites, double *fights, char *why, size_t whysz) {
        struct httpc *h = NULL;
        struct httpc_body body = { .max = 4 << 20 };
        int status = 0, r;

        if (!url || !url[0])
                return snprintf(why, whysz, "not asked (--metrics-url \"\")"), 0;
        r = httpc_new(&(struct httpc_config){ .server = url }, &h, why, whysz);
        if (r >= 0)
                r = httpc_request(h, &(struct httpc_request){ .method = "GET", .path = "/metrics",
                                                             .timeout_usec = 2000000 },
                                  httpc_body_cb, &body, &status, why, whysz);
        httpc_free(h);
        if (r < 0 || status != 200 || !body.buf) {
                if (r >= 0)
                        snprintf(why, whysz, "HTTP status %d", status);
                free(body.buf);
                return 0;
        }
        *rewrites = *fights = 0;
        bool found = false;
        for (char *s = body.buf; s && *s;) {
                char *nl = strchr(s, '\n');
                if (nl)
                        *nl = 0;
                if (strncmp(s, "cnibox_install_rival_rewrites_total ", 36) == 0)
                        *rewrites = strtod(s + 36, NULL), found = true;
                else if (strncmp(s, "cnibox_install_config_fights_total ", 35) == 0)
                        *fights = strtod(s + 35, NULL), found = true;
                s = nl ? nl + 1 : NULL;
        }
        free(body.buf);
        /* Another exporter on that port (not install-cni): its answer says nothing about us. */
        if (!found)
                snprintf(why, whysz, "%s/metrics has no cnibox_install_* counters (not install-cni)", url);
        return found;
}

static void check_config(const struct doctor_opts *o, struct doctor_report *rep, const struct runtimecfg *rt) {
        struct doctor_check *c = check_new(rep, "cni.config");
        char dir[4096], p[4096 + 256];
        _cleanup_free_ char *content = NULL;
        char **names = NULL;
        size_t n = 0, len = 0;
        struct stat st;
        bool has = false, conflist = false;
        char first[256] = "", err[512] = "";
        struct timespec conf_mtime = {};
        int r;

        under(o, rt->conf_dir, dir, sizeof dir);
        if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
                summary(rep, c, "the CNI conf dir %s does not exist", rt->conf_dir);
                evidence(rep, c, "stat %s: %s", dir, errno ? strerror(errno) : "not a directory");
                verdict(rep, c, DOCTOR_FAIL, "install the primary CNI first (it creates %s); if the runtime reads "
                        "another dir, %s --set cniConfDir=<that dir>", rt->conf_dir, HELM);
                return;
        }
        struct skips s = { rep, c };
        r = cniconf_list_valid(dir, skip_cb, &s, &names, &n);
        if (r < 0 || n == 0) {
                summary(rep, c, "no valid CNI config in %s", rt->conf_dir);
                verdict(rep, c, DOCTOR_FAIL, "install the primary CNI (its config must be in %s); install-cni chains "
                        "istio-cni into the first valid config there", rt->conf_dir);
                cniconf_names_free(names);
                return;
        }
        snprintf(first, sizeof first, "%s", names[0]);
        cniconf_names_free(names);
        snprintf(p, sizeof p, "%s/%s", dir, first);
        evidence(rep, c, "the runtime uses %s/%s (the first valid config, libcni order)", rt->conf_dir, first);
        r = fileio_read_file(p, CNICONF_MAX_SIZE, &content, &len);
        if (r < 0) {
                summary(rep, c, "cannot read %s", first);
                verdict(rep, c, DOCTOR_FAIL, "make %s/%s readable (%s)", rt->conf_dir, first, strerror(-r));
                return;
        }
        if (stat(p, &st) == 0)
                conf_mtime = st.st_mtim;
        conflist = strlen(first) > 9 && streq(first + strlen(first) - 9, ".conflist");
        (void)cniconf_has_istio(content, len, conflist, &has, err, sizeof err);
        if (!has)
                (void)cniconf_has_istio(content, len, !conflist, &has, err, sizeof err);
        if (!has) {
                summary(rep, c, "%s does not hold the istio-cni plugin", first);
                verdict(rep, c, DOCTOR_FAIL, "install-cni has not chained istio-cni into %s/%s (or another writer removed "
                        "it): check the istio-cni-node pod on this node (kubectl -n istio-system logs -l k8s-app=istio-cni-node); "
                        "if it writes to another dir, %s --set cniConfDir=%s", rt->conf_dir, first, HELM, rt->conf_dir);
        } else {
                summary(rep, c, "%s holds the istio-cni plugin", first);
        }

        /* The binaries it names. */
        _cleanup_strv_free_ char **types = plugin_types(content, len);
        c = check_new(rep, "cni.binary");
        bool ours_found = false;
        struct timespec bin_mtime = {};
        for (size_t i = 0; types && types[i]; i++) {
                char bp[4096] = "", host[4096] = "";
                bool found = false;
                for (size_t j = 0; rt->bin_dirs[j] && !found; j++) {
                        snprintf(host, sizeof host, "%s/%s", rt->bin_dirs[j], types[i]);
                        found = stat(under(o, host, bp, sizeof bp), &st) == 0;
                }
                bool ours = streq(types[i], PLUGIN_TYPE);
                if (!found) {
                        evidence(rep, c, "%s: not found in %s", types[i], rt->bin_dirs[0]);
                        if (ours)
                                verdict(rep, c, DOCTOR_FAIL, "install-cni copies istio-cni into cniBinDir: check it runs on "
                                        "this node, and that cniBinDir is %s (%s --set cniBinDir=%s)", rt->bin_dirs[0],
                                        HELM, rt->bin_dirs[0]);
                        else
                                verdict(rep, c, DOCTOR_FAIL, "the plugin %s named in %s is missing from %s: reinstall the "
                                        "CNI that provides it", types[i], first, rt->bin_dirs[0]);
                        continue;
                }
                if (ours) {
                        ours_found = true;
                        bin_mtime = st.st_mtim;
                }
                if (!S_ISREG(st.st_mode) || access(bp, X_OK) < 0) {
                        evidence(rep, c, "%s: %s is not an executable file", types[i], host);
                        verdict(rep, c, DOCTOR_FAIL, "chmod 0755 %s (the runtime execs it)", host);
                        continue;
                }
                if (!ours) {
                        evidence(rep, c, "%s: %s, executable", types[i], host);
                        continue;
                }
                _cleanup_close_ int fd = open(bp, O_RDONLY | O_CLOEXEC);
                _cleanup_free_ char *head = NULL;
                size_t hl = 0;
                struct elfcheck_info ei;
                char eerr[256] = "";
                if (fd < 0 || fileio_read_all(fd, 64 << 10, &head, &hl) < 0) {
                        /* fileio_read_all refuses a file over max: read just the head. */
                        head = malloc(64 << 10);
                        ssize_t k = head && fd >= 0 ? pread(fd, head, 64 << 10, 0) : -1;
                        hl = k > 0 ? (size_t)k : 0;
                }
                if (!head || elfcheck_parse(head, hl, &ei, eerr, sizeof eerr) < 0) {
                        evidence(rep, c, "%s: %s: %s", types[i], host, eerr[0] ? eerr : "unreadable");
                        verdict(rep, c, DOCTOR_FAIL, "%s is not a Linux executable: restart the istio-cni-node pod so "
                                "install-cni copies the plugin again", host);
                } else if (!elfcheck_is_static(&ei)) {
                        evidence(rep, c, "%s: %s is dynamically linked (PT_INTERP %s)", types[i], host, ei.interp);
                        verdict(rep, c, DOCTOR_FAIL, "the plugin runs on the host, whose loader and libraries are not the "
                                "image's: install the static istio-cni (restart the istio-cni-node pod so install-cni "
                                "copies it from the image; a source build needs -DCNIBOX_STATIC=ON)");
                } else {
                        evidence(rep, c, "%s: %s, static ELF%u%s, executable", types[i], host, ei.bits,
                                 ei.has_dynamic ? " (static-pie)" : "");
                }
        }
        if (!types || !types[0]) {
                summary(rep, c, "%s names no plugin", first);
                verdict(rep, c, DOCTOR_FAIL, "fix %s/%s: it must name its plugins", rt->conf_dir, first);
        } else if (c->status == DOCTOR_OK)
                summary(rep, c, "every plugin %s names is in %s%s", first, rt->bin_dirs[0],
                        ours_found ? "; istio-cni is static" : "");
        else
                summary(rep, c, "a plugin %s names cannot run", first);

        /* The plugin's kubeconfig: <run dir>/istio-cni-kubeconfig, or the ≤ 1.22 file in the conf dir. */
        c = check_new(rep, "cni.kubeconfig");
        char kc[4096], host[4096];
        struct kubeconfig k = {};
        snprintf(host, sizeof host, "%s/%s", o->run_dir, KUBECONFIG_NAME);
        if (stat(under(o, host, kc, sizeof kc), &st) < 0) {
                snprintf(host, sizeof host, "%s/%s", rt->conf_dir, LEGACY_KUBECONFIG_NAME);
                if (stat(under(o, host, kc, sizeof kc), &st) < 0)
                        snprintf(host, sizeof host, "%s/%s", o->run_dir, KUBECONFIG_NAME), under(o, host, kc, sizeof kc);
        }
        struct timespec kc_mtime = st.st_mtim;
        r = kubeconfig_load(kc, &k, err, sizeof err);
        if (r < 0) {
                summary(rep, c, r == -ENOENT ? "the plugin's kubeconfig %s is missing" : "the plugin's kubeconfig %s is unusable",
                        host);
                evidence(rep, c, "%s: %s", kc, err[0] ? err : strerror(-r));
                verdict(rep, c, DOCTOR_FAIL, "install-cni writes %s: check the istio-cni-node pod on this node "
                        "(kubectl -n istio-system logs -l k8s-app=istio-cni-node) and that CNI_AGENT_RUN_DIR is %s",
                        host, o->run_dir);
                kc_mtime = (struct timespec){};
        } else {
                _cleanup_free_ char *tok = NULL;
                int64_t exp;
                evidence(rep, c, "%s: server %s", host, k.server);
                if (k.token)
                        tok = strdup(k.token);
                else if (k.token_file) {
                        char tp[4096];
                        (void)fileio_read_file(under(o, k.token_file, tp, sizeof tp), 64 << 10, &tok, NULL);
                }
                if (tok)
                        tok[strcspn(tok, "\r\n")] = 0;
                if (!tok || !tok[0]) {
                        summary(rep, c, "the kubeconfig has no token");
                        evidence(rep, c, "%s", k.client_cert_file || k.client_cert_data ? "client certificate credentials"
                                                                                          : "no credentials");
                        if (!k.client_cert_file && !k.client_cert_data)
                                verdict(rep, c, DOCTOR_FAIL, "restart the istio-cni-node pod: install-cni writes the "
                                        "service-account token into %s", host);
                } else if ((r = jwt_exp(tok, strlen(tok), &exp, err, sizeof err)) == -ENOENT) {
                        summary(rep, c, "the token does not expire");
                } else if (r < 0) {
                        summary(rep, c, "the token is not a JWT");
                        evidence(rep, c, "%s", err);
                        verdict(rep, c, DOCTOR_WARN, "restart the istio-cni-node pod so install-cni writes a fresh token");
                } else {
                        time_t now = time(NULL);
                        char when[64];
                        struct tm tm;
                        time_t e = (time_t)exp;
                        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&e, &tm));
                        evidence(rep, c, "token exp %s (%+lld s from now)", when, (long long)(exp - now));
                        if (exp <= now) {
                                summary(rep, c, "the token in the plugin's kubeconfig expired at %s", when);
                                verdict(rep, c, DOCTOR_FAIL, "install-cni rewrites %s when the service-account token "
                                        "rotates: it is not running or not watching; restart it (kubectl -n istio-system "
                                        "rollout restart ds/istio-cni-node)", host);
                        } else if (exp - now < 600) {
                                summary(rep, c, "the token expires in %lld s", (long long)(exp - now));
                                verdict(rep, c, DOCTOR_WARN, "check that install-cni runs on this node: it rewrites %s when "
                                        "the token rotates", host);
                        } else {
                                summary(rep, c, "the token is valid until %s", when);
                        }
                }
        }
        kubeconfig_done(&k);

        /* A rival writer: the agent's counters when it answers, else mtimes. */
        c = check_new(rep, "cni.rival_writer");
        double rewrites = 0, fights = 0;
        char why[256] = "";
        if (agent_metrics(o->metrics_url, &rewrites, &fights, why, sizeof why) > 0) {
                evidence(rep, c, "%s/metrics: cnibox_install_rival_rewrites_total %g, cnibox_install_config_fights_total %g",
                         o->metrics_url, rewrites, fights);
                if (fights > 0 || rewrites > 0) {
                        summary(rep, c, "another writer rewrote %s (%g rewrites, %g fights)", first, rewrites, fights);
                        verdict(rep, c, fights > 0 ? DOCTOR_FAIL : DOCTOR_WARN,
                                "two agents fight over %s/%s: let the primary CNI leave the file alone (e.g. Cilium: "
                                "cni.exclusive=false) or give istio-cni its own file (cniConfFileName)", rt->conf_dir, first);
                } else
                        summary(rep, c, "the agent saw no rival writer");
        } else {
                evidence(rep, c, "agent metrics: %s", why);
                struct timespec installed = bin_mtime.tv_sec > kc_mtime.tv_sec ? bin_mtime : kc_mtime;
                time_t now = time(NULL);
                evidence(rep, c, "%s modified %lld s ago", first, (long long)(now - conf_mtime.tv_sec));
                if (has && installed.tv_sec && conf_mtime.tv_sec > installed.tv_sec + 5 &&
                    now - conf_mtime.tv_sec < (time_t)o->rival_minutes * 60) {
                        summary(rep, c, "%s changed %lld s after the agent installed", first,
                                (long long)(conf_mtime.tv_sec - installed.tv_sec));
                        verdict(rep, c, DOCTOR_WARN, "another writer may be rewriting %s/%s: watch it (ls -l --time-style=full-iso) "
                                "and, if it is the primary CNI, stop it from rewriting (e.g. Cilium: cni.exclusive=false)",
                                rt->conf_dir, first);
                } else
                        summary(rep, c, "no sign of a rival writer (mtimes)");
        }
}

/* ---- 5. limits and security ---- */

/* inotify instances and watches of this uid, from /proc/<pid>/fd and fdinfo. */
static void inotify_usage(unsigned *instances, unsigned *watches) {
        _cleanup_closedir_ DIR *proc = opendir("/proc");
        struct dirent *de;
        uid_t uid = getuid();

        *instances = *watches = 0;
        while (proc && (de = readdir(proc))) {
                char p[300];
                struct stat st;
                if (de->d_name[0] < '1' || de->d_name[0] > '9')
                        continue;
                snprintf(p, sizeof p, "/proc/%s", de->d_name);
                if (stat(p, &st) < 0 || st.st_uid != uid)
                        continue;
                snprintf(p, sizeof p, "/proc/%s/fd", de->d_name);
                _cleanup_closedir_ DIR *fds = opendir(p);
                struct dirent *fe;
                while (fds && (fe = readdir(fds))) {
                        char lp[600], target[64];
                        ssize_t k;
                        if (fe->d_name[0] == '.')
                                continue;
                        snprintf(lp, sizeof lp, "/proc/%s/fd/%s", de->d_name, fe->d_name);
                        k = readlink(lp, target, sizeof target - 1);
                        if (k <= 0)
                                continue;
                        target[k] = 0;
                        if (!streq(target, "anon_inode:inotify"))
                                continue;
                        (*instances)++;
                        _cleanup_free_ char *info = NULL;
                        snprintf(lp, sizeof lp, "/proc/%s/fdinfo/%s", de->d_name, fe->d_name);
                        if (fileio_read_file(lp, 16 << 20, &info, NULL) >= 0)
                                for (char *s = info; (s = strstr(s, "inotify wd:")); s++)
                                        (*watches)++;
                }
        }
}

/* This process's LSM context (SELinux label, or AppArmor profile with its mode). Test hook:
 * CNIBOX_TEST_SELF_CONTEXT stands in for it, as no test can relabel itself. */
static void self_context(char *buf, size_t size, bool apparmor) {
        const char *t = getenv("CNIBOX_TEST_SELF_CONTEXT");
        buf[0] = 0;
        if (t) {
                snprintf(buf, size, "%s", t);
                return;
        }
        if (!apparmor || read_line("/proc/self/attr/apparmor/current", buf, size) < 0)
                (void)read_line("/proc/self/attr/current", buf, size);
}

static void check_limits(const struct doctor_opts *o, struct doctor_report *rep) {
        struct doctor_check *c = check_new(rep, "limits.inotify");
        long fs_inst = read_long("/proc/sys/fs/inotify/max_user_instances");
        long fs_watch = read_long("/proc/sys/fs/inotify/max_user_watches");
        long us_inst = read_long("/proc/sys/user/max_inotify_instances");
        long us_watch = read_long("/proc/sys/user/max_inotify_watches");
        unsigned inst, watches;

        inotify_usage(&inst, &watches);
        evidence(rep, c, "fs.inotify.max_user_instances %ld, max_user_watches %ld", fs_inst, fs_watch);
        evidence(rep, c, "user.max_inotify_instances %ld, max_inotify_watches %ld (this user namespace)", us_inst, us_watch);
        evidence(rep, c, "in use by uid %u: %u instances, %u watches", (unsigned)getuid(), inst, watches);
        /* install-cni needs one instance and a handful of watches (its dirs and files). */
        long lim_i = us_inst >= 0 && (fs_inst < 0 || us_inst < fs_inst) ? us_inst : fs_inst;
        long lim_w = us_watch >= 0 && (fs_watch < 0 || us_watch < fs_watch) ? us_watch : fs_watch;
        const char *which_i = lim_i == us_inst && us_inst != fs_inst ? "user.max_inotify_instances" : "fs.inotify.max_user_instances";
        const char *which_w = lim_w == us_watch && us_watch != fs_watch ? "user.max_inotify_watches" : "fs.inotify.max_user_watches";
        if (lim_i >= 0 && lim_i - (long)inst < 1) {
                verdict(rep, c, DOCTOR_FAIL, "sysctl -w %s=1024 (persist it in /etc/sysctl.d/); until then install-cni polls "
                        "instead of watching (CNIBOX_FORCE_POLL)", streq(which_i, "user.max_inotify_instances") ? "user.max_inotify_instances" : "fs.inotify.max_user_instances");
                summary(rep, c, "no inotify instance left (%s %ld, %u in use)", which_i, lim_i, inst);
        } else if (lim_w >= 0 && lim_w - (long)watches < 16) {
                verdict(rep, c, DOCTOR_FAIL, "sysctl -w %s=524288 (persist it in /etc/sysctl.d/)", which_w);
                summary(rep, c, "inotify watches exhausted (%s %ld, %u in use)", which_w, lim_w, watches);
        } else if (lim_i >= 0 && lim_i - (long)inst < 8) {
                verdict(rep, c, DOCTOR_WARN, "sysctl -w %s=1024 (persist it in /etc/sysctl.d/)", which_i);
                summary(rep, c, "few inotify instances left (%ld of %ld)", lim_i - (long)inst, lim_i);
        } else {
                summary(rep, c, "inotify headroom: %ld instances, %ld watches", lim_i - (long)inst, lim_w - (long)watches);
        }

        c = check_new(rep, "security.selinux");
        char buf[256] = "";
        if (read_line("/sys/fs/selinux/enforce", buf, sizeof buf) < 0) {
                summary(rep, c, "SELinux is off (no /sys/fs/selinux)");
        } else {
                char ctx[256] = "";
                bool enforcing = streq(buf, "1");
                self_context(ctx, sizeof ctx, false);
                evidence(rep, c, "/sys/fs/selinux/enforce: %s; this process runs as %s", buf, ctx[0] ? ctx : "?");
                if (enforcing && strstr(ctx, ":container_t:")) {
                        summary(rep, c, "SELinux enforcing, and this container runs confined (container_t)");
                        verdict(rep, c, DOCTOR_WARN, "the istio-cni DaemonSet must run as spc_t to write the host's CNI dirs: "
                                "keep the chart's seLinuxOptions (type spc_t; %s --set seLinuxOptions.type=spc_t)", HELM);
                } else {
                        summary(rep, c, "SELinux %s; the DaemonSet needs seLinuxOptions type spc_t (the chart's default)",
                                enforcing ? "enforcing" : "permissive");
                }
        }

        c = check_new(rep, "security.apparmor");
        if (read_line("/sys/module/apparmor/parameters/enabled", buf, sizeof buf) < 0 || !streq(buf, "Y")) {
                summary(rep, c, "AppArmor is off");
        } else {
                char prof[256] = "";
                self_context(prof, sizeof prof, true);
                evidence(rep, c, "AppArmor enabled; this process: %s", prof[0] ? prof : "?");
                struct stat st;
                if (stat("/sys/kernel/security/apparmor", &st) == 0)
                        evidence(rep, c, "/sys/kernel/security/apparmor present");
                if (strstr(prof, "(enforce)") && !strstr(prof, "unconfined")) {
                        summary(rep, c, "this process is confined by AppArmor profile %s", prof);
                        verdict(rep, c, DOCTOR_WARN, "run the istio-cni DaemonSet unconfined (securityContext.appArmorProfile "
                                "type Unconfined): the runtime's default profile denies mounts and some /proc writes");
                } else
                        summary(rep, c, "AppArmor enabled; this process is unconfined");
        }

        c = check_new(rep, "host.shell");
        char p[4096];
        struct stat st;
        bool sh = stat(under(o, "/bin/sh", p, sizeof p), &st) == 0 || stat(under(o, "/usr/bin/sh", p, sizeof p), &st) == 0;
        summary(rep, c, "the host has %s; cnibox never needs one", sh ? "a shell" : "no shell");
        evidence(rep, c, "%s/bin/sh: %s", streq(o->root, "/") ? "" : o->root, sh ? "present" : "absent");
}

/* ---- 6. a pod ---- */

struct probe_ctx {
        const struct validate_opts *vo;
        uint32_t uid, gid;
        int wfd;
};

/* In a forked child, inside the pod's netns, as the proxy uid (as istio-validation runs). */
static int probe_in_netns(void *userdata) {
        struct probe_ctx *p = userdata;
        struct validate_result res = {};
        if (setgroups(0, NULL) < 0 || setresgid(p->gid, p->gid, p->gid) < 0 || setresuid(p->uid, p->uid, p->uid) < 0) {
                res.reason = VALIDATE_INTERNAL;
                snprintf(res.detail, sizeof res.detail, "cannot become uid %u: %s", p->uid, strerror(errno));
        } else
                (void)validate_run(p->vo, &res);
        if (write(p->wfd, &res, sizeof res) != (ssize_t)sizeof res)
                return -EIO;
        return 0;
}

static int run_probe(const char *netns_path, const struct validate_opts *vo, uint32_t uid, struct validate_result *ret) {
        int pfd[2];
        pid_t pid;
        int st;

        if (pipe2(pfd, O_CLOEXEC) < 0)
                return -errno;
        pid = fork();
        if (pid < 0) {
                close(pfd[0]);
                close(pfd[1]);
                return -errno;
        }
        if (pid == 0) {
                close(pfd[0]);
                int fd = netns_open(netns_path);
                struct probe_ctx p = { vo, uid, uid, pfd[1] };
                _exit(fd >= 0 && netns_run(fd, probe_in_netns, &p) >= 0 ? 0 : 1);
        }
        close(pfd[1]);
        ssize_t k = read(pfd[0], ret, sizeof *ret);
        close(pfd[0]);
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
        return k == (ssize_t)sizeof *ret ? 0 : -EIO;
}

static void check_pod(const struct doctor_opts *o, struct doctor_report *rep) {
        struct doctor_check *c = check_new(rep, "pod.rules");
        struct capture_report cr = {};
        char err[1200] = "";
        int r;

        if (o->pod_source)
                evidence(rep, c, "%s", o->pod_source);
        if (o->pod_error) {
                summary(rep, c, "cannot find the pod");
                evidence(rep, c, "%s", o->pod_error);
                verdict(rep, c, DOCTOR_FAIL, "give the pod as NAMESPACE/NAME of a pod on this node, with a kubeconfig that "
                        "may get pods (--kubeconfig), or its netns directly (--pod-netns PATH or --pid PID)");
                return;
        }
        if (o->pod_skip) {
                summary(rep, c, "the plugin does not capture this pod: %s", o->pod_skip);
                return;
        }
        evidence(rep, c, "netns %s", o->pod_netns);
        r = podnetns_apply(o->pod_netns, o->pod_cfg, true, &cr, err, sizeof err);
        for (unsigned i = 0; i < cr.n_notes; i++)
                evidence(rep, c, "%s", cr.notes[i]);
        if (r == 0) {
                summary(rep, c, "the pod's redirect rules are exactly what its config builds");
        } else if (r == -ENOENT && strstr(err, "redirect rules missing or drifted")) {
                summary(rep, c, "the pod's redirect rules drifted from what its config builds");
                evidence(rep, c, "%s", err);
                verdict(rep, c, DOCTOR_FAIL, "re-create the pod (the CNI ADD programs its rules again), or let cni-repair "
                        "repair it (REPAIR_REPAIR_PODS=true); by hand: nsenter --net=%s cnibox istio-iptables <the pod's "
                        "flags> --reconcile", o->pod_netns);
        } else {
                summary(rep, c, "cannot check the pod's rules");
                evidence(rep, c, "%s", err[0] ? err : strerror(-r));
                verdict(rep, c, DOCTOR_FAIL, "give a netns file doctor can open (--pod-netns /var/run/netns/<id> or "
                        "--pid <a pid of the pod>) and run doctor as root with CAP_SYS_ADMIN and CAP_NET_ADMIN");
        }

        if (!o->pod_probe)
                return;
        c = check_new(rep, "pod.redirect_probe");
        struct validate_opts vo;
        struct validate_result res = {};
        validate_opts_init(&vo);
        vo.outbound_port = o->pod_cfg->proxy_port;
        vo.inbound_port = o->pod_cfg->inbound_capture_port;
        vo.probe_port = o->pod_cfg->probe_port;
        vo.timeout_usec = 2000000;
        uint32_t uid = 1337;
        for (size_t i = 0; i < o->pod_cfg->proxy_uid.n; i++)
                if (!o->pod_cfg->proxy_uid.v[i].is_name) {
                        uid = o->pod_cfg->proxy_uid.v[i].id;
                        break;
                }
        vo.proxy_uid = uid;
        r = run_probe(o->pod_netns, &vo, uid, &res);
        if (r < 0) {
                summary(rep, c, "the probe could not run");
                verdict(rep, c, DOCTOR_WARN, "run doctor as root (it forks into the pod's netns as uid %u)", uid);
                return;
        }
        evidence(rep, c, "%s: %s", validate_reason_to_string(res.reason), res.detail);
        if (res.reason == VALIDATE_OK)
                summary(rep, c, "traffic of uid %u to 127.0.0.6:%u is redirected to the proxy's port", uid, vo.probe_port);
        else if (res.reason == VALIDATE_BIND_FAILED) {
                summary(rep, c, "not probed: the pod's proxy holds its ports (bind-failed)");
        } else {
                summary(rep, c, "the redirect probe failed: %s", validate_reason_to_string(res.reason));
                verdict(rep, c, DOCTOR_FAIL, "the pod's istio-validation would fail with reason %s: re-create the pod, or "
                        "let cni-repair handle it; the rules check above shows what differs",
                        validate_reason_to_string(res.reason));
        }
}

int doctor_run(const struct doctor_opts *o, struct doctor_report *rep) {
        struct kfacts k = {};

        if (o->sections & DOCTOR_KERNEL)
                check_kernel(o, rep, &k);
        if (o->sections & DOCTOR_NODE)
                check_node(o, rep);
        if (o->sections & DOCTOR_CNI) {
                struct runtimecfg *rt = NULL;
                size_t n = 0;
                if (runtimecfg_find(o->root, &rt, &n) < 0)
                        return -ENOMEM;
                check_paths(o, rep, rt, n);
                check_config(o, rep, &rt[0]);
                runtimecfg_list_free(rt, n);
        }
        if (o->sections & DOCTOR_LIMITS)
                check_limits(o, rep);
        if ((o->sections & DOCTOR_POD) && ((o->pod_netns && o->pod_cfg) || o->pod_error || o->pod_skip))
                check_pod(o, rep);
        return rep->oom ? -ENOMEM : 0;
}

/* ---- rendering ---- */

int doctor_render_text(const struct doctor_report *rep, char **ret) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        unsigned n[3] = {};

        if (!f)
                return -ENOMEM;
        for (size_t i = 0; i < rep->n; i++) {
                const struct doctor_check *c = &rep->checks[i];
                n[c->status]++;
                fprintf(f, "%-4s  %-26s %s\n", doctor_status_to_string(c->status), c->id, c->summary ? c->summary : "");
                for (size_t j = 0; j < c->n_evidence; j++)
                        fprintf(f, "      - %s\n", c->evidence[j]);
                if (c->fix) {
                        const char *s = c->fix;
                        while (*s) {
                                size_t l = strcspn(s, "\n");
                                fprintf(f, "      fix: %.*s\n", (int)l, s);
                                s += l + (s[l] == '\n');
                        }
                }
        }
        fprintf(f, "%u ok, %u warn, %u fail\n", n[0], n[1], n[2]);
        if (fclose(f) != 0) {
                free(buf);
                return -ENOMEM;
        }
        *ret = buf;
        return 0;
}

int doctor_render_json(const struct doctor_report *rep, char **ret) {
        cJSON *root = cJSON_CreateObject(), *checks, *sum;
        unsigned n[3] = {};
        char *s;

        if (!root)
                return -ENOMEM;
        cJSON_AddNumberToObject(root, "version", 1);
        checks = cJSON_AddArrayToObject(root, "checks");
        for (size_t i = 0; checks && i < rep->n; i++) {
                const struct doctor_check *c = &rep->checks[i];
                cJSON *o = cJSON_CreateObject(), *ev;
                n[c->status]++;
                if (!o)
                        break;
                cJSON_AddItemToArray(checks, o);
                cJSON_AddStringToObject(o, "id", c->id ? c->id : "");
                cJSON_AddStringToObject(o, "status", doctor_status_to_string(c->status));
                cJSON_AddStringToObject(o, "summary", c->summary ? c->summary : "");
                ev = cJSON_AddArrayToObject(o, "evidence");
                for (size_t j = 0; ev && j < c->n_evidence; j++)
                        cJSON_AddItemToArray(ev, cJSON_CreateString(c->evidence[j]));
                if (c->fix)
                        cJSON_AddStringToObject(o, "fix", c->fix);
                else
                        cJSON_AddNullToObject(o, "fix");
        }
        sum = cJSON_AddObjectToObject(root, "summary");
        if (sum) {
                cJSON_AddNumberToObject(sum, "ok", n[0]);
                cJSON_AddNumberToObject(sum, "warn", n[1]);
                cJSON_AddNumberToObject(sum, "fail", n[2]);
                cJSON_AddStringToObject(sum, "status", doctor_status_to_string(doctor_worst(rep)));
        }
        s = cJSON_Print(root);
        cJSON_Delete(root);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}
