/* SPDX-License-Identifier: Apache-2.0 */
/* nftapply.c: in-process nftables transactions through a dlopen()ed libnftables.
 * Spec: istio-iptables.md §7 (tables, atomic transaction, cleanup), §10.31; libnftables(3). */
#include "base/fileio.h"
#include "base/netns.h"
#include "kernel/nftapply.h"
#include "kernel/nftdump.h"
#include "rules/rules-nft.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/netfilter.h>

#include <nftables/libnftables.h>

#include "base/macro.h"

static const char *const table_names[] = { RULES_NFT_TABLE_NAT, RULES_NFT_TABLE_MANGLE, RULES_NFT_TABLE_RAW };

/* The symbols we use, resolved by name so that the binary has no DT_NEEDED on libnftables. */
static struct {
        void *dl;
        __typeof__(nft_ctx_new) *ctx_new;
        __typeof__(nft_ctx_free) *ctx_free;
        __typeof__(nft_run_cmd_from_buffer) *run_cmd_from_buffer;
        __typeof__(nft_run_cmd_from_filename) *run_cmd_from_filename;
        __typeof__(nft_ctx_buffer_output) *buffer_output;
        __typeof__(nft_ctx_buffer_error) *buffer_error;
        __typeof__(nft_ctx_get_output_buffer) *get_output_buffer;
        __typeof__(nft_ctx_get_error_buffer) *get_error_buffer;
        __typeof__(nft_ctx_output_set_flags) *output_set_flags;
        __typeof__(nft_ctx_set_dry_run) *set_dry_run;
} lib;

static const char *lib_soname = NULL; /* NULL: NFTAPPLY_LIBRARY */

static char *strdup_printf(const char *fmt, ...) _printf_(1, 2);
static char *strdup_printf(const char *fmt, ...) {
        va_list ap;
        char *s;

        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                s = NULL;
        va_end(ap);
        return s;
}

static void set_reason(char **ret, char *s) {
        if (ret)
                *ret = s;
        else
                free(s);
}

void nftapply_set_library(const char *soname) {
        /* The old handle stays mapped: callers may still hold pointers into it, and dlclose() of
         * libnftables (which registers xtables and gmp state) is not known to be safe. */
        memset(&lib, 0, sizeof(lib));
        lib_soname = soname;
}

int nftapply_load(char **ret_why) {
        const char *soname = lib_soname ?: NFTAPPLY_LIBRARY;
        void *dl;

        if (lib.dl)
                return 0;

        dl = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
        if (!dl) {
                const char *e = dlerror();
                set_reason(ret_why, strdup_printf("cannot load %s (install libnftables1, or use the iptables "
                                                  "backend): %s", soname, e ?: "unknown error"));
                return -ENOENT;
        }

#define RESOLVE(field, name)                                                                        \
        do {                                                                                        \
                lib.field = (__typeof__(lib.field))dlsym(dl, name);                                 \
                if (!lib.field) {                                                                   \
                        set_reason(ret_why, strdup_printf("%s has no symbol %s (libnftables too old?)", \
                                                          soname, name));                           \
                        memset(&lib, 0, sizeof(lib));                                               \
                        dlclose(dl);                                                                \
                        return -ENOSYS;                                                             \
                }                                                                                   \
        } while (0)

        RESOLVE(ctx_new, "nft_ctx_new");
        RESOLVE(ctx_free, "nft_ctx_free");
        RESOLVE(run_cmd_from_buffer, "nft_run_cmd_from_buffer");
        RESOLVE(run_cmd_from_filename, "nft_run_cmd_from_filename");
        RESOLVE(buffer_output, "nft_ctx_buffer_output");
        RESOLVE(buffer_error, "nft_ctx_buffer_error");
        RESOLVE(get_output_buffer, "nft_ctx_get_output_buffer");
        RESOLVE(get_error_buffer, "nft_ctx_get_error_buffer");
        RESOLVE(output_set_flags, "nft_ctx_output_set_flags");
        RESOLVE(set_dry_run, "nft_ctx_set_dry_run");
#undef RESOLVE

        lib.dl = dl;
        return 0;
}

/* Strips trailing newlines/spaces in place; nft's error buffer ends with one. */
static char *strip_trailing(char *s) {
        size_t n = strlen(s);

        while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
                s[--n] = '\0';
        return s;
}

/* nft 1.0.6 quotes line 1 of a buffer under every error, whatever line failed. To tell the operator
 * which operation was rejected, a failed transaction is replayed in check mode from a memfd, read
 * as a file, whose errors carry "file:line:col" and the right line. Failure path only; returns NULL
 * when the replay does not reproduce the error (e.g. a commit-time hook check) or cannot run. */
static char *locate_error(const char *text) {
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *msg = NULL;
        char path[64], *p;
        struct nft_ctx *ctx;
        size_t n = strlen(text), off = 0;
        int r;

        fd = memfd_create("cnibox-nft-transaction", MFD_CLOEXEC);
        if (fd < 0)
                return NULL;
        while (off < n) {
                ssize_t k = write(fd, text + off, n - off);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return NULL;
                off += (size_t)k;
        }
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);

        ctx = lib.ctx_new(NFT_CTX_DEFAULT);
        if (!ctx)
                return NULL;
        if (lib.buffer_output(ctx) < 0 || lib.buffer_error(ctx) < 0) {
                lib.ctx_free(ctx);
                return NULL;
        }
        lib.set_dry_run(ctx, true);
        r = lib.run_cmd_from_filename(ctx, path);
        msg = strdup(lib.get_error_buffer(ctx) ?: "");
        lib.ctx_free(ctx);
        if (r == 0 || !msg || !*strip_trailing(msg))
                return NULL;

        /* "/proc/self/fd/N:20:57-73: Error: ..." → "transaction:20:57-73: Error: ..." */
        while ((p = strstr(msg, path))) {
                size_t plen = strlen(path), tlen = strlen("transaction");
                memmove(p + tlen, p + plen, strlen(p + plen) + 1);
                memcpy(p, "transaction", tlen);
        }
        return TAKE_PTR(msg);
}

/* Runs one buffer of nft commands in a fresh context. Output and errors are captured, never
 * printed. 0, or -EINVAL when nft/the kernel rejected it (*ret_error: nft's message). */
static int run(const char *text, bool dry_run, unsigned output_flags, char **ret_output, char **ret_error) {
        _cleanup_free_ char *out = NULL, *err = NULL;
        struct nft_ctx *ctx;
        int r;

        r = nftapply_load(ret_error);
        if (r < 0)
                return r;

        ctx = lib.ctx_new(NFT_CTX_DEFAULT);
        if (!ctx)
                return -ENOMEM;

        if (lib.buffer_output(ctx) < 0 || lib.buffer_error(ctx) < 0) {
                lib.ctx_free(ctx);
                return -ENOMEM;
        }
        lib.output_set_flags(ctx, output_flags);
        lib.set_dry_run(ctx, dry_run);

        r = lib.run_cmd_from_buffer(ctx, text);

        out = strdup(lib.get_output_buffer(ctx) ?: "");
        err = strdup(lib.get_error_buffer(ctx) ?: "");
        lib.ctx_free(ctx);
        if (!out || !err)
                return -ENOMEM;

        if (r != 0) {
                char *located = strchr(text, '\n') ? locate_error(text) : NULL;

                if (located) {
                        free(err);
                        err = located;
                } else if (!*strip_trailing(err)) {
                        free(err);
                        err = strdup("nft rejected the transaction (no message)");
                }
                set_reason(ret_error, TAKE_PTR(err));
                return -EINVAL;
        }

        if (ret_output)
                *ret_output = TAKE_PTR(out);
        return 0;
}

/* Appends operations that pass nft's parser and evaluator but that the kernel rejects (ENOENT:
 * the jump target does not exist), so the whole batch must be rolled back. */
static int fault_inject(const char *text, char **ret) {
        static const char fault[] =
                "add table inet istio-proxy-nat\n"
                "add chain inet istio-proxy-nat istio-fault-inject\n"
                "add rule inet istio-proxy-nat istio-fault-inject counter jump istio-fault-missing\n";
        size_t n = strlen(text);
        char *s;

        s = strdup_printf("%s%s%s", text, n > 0 && text[n - 1] != '\n' ? "\n" : "", fault);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int nftapply_apply(const char *transaction_text, char **ret_error) {
        _cleanup_free_ char *faulty = NULL;
        const char *f;
        int r;

        f = secure_getenv(NFTAPPLY_FAULT_ENV);
        if (f && streq(f, NFTAPPLY_FAULT_LAST_RULE)) {
                r = fault_inject(transaction_text, &faulty);
                if (r < 0)
                        return r;
                transaction_text = faulty;
        }

        return run(transaction_text, false, 0, NULL, ret_error);
}

int nftapply_check(const char *transaction_text, char **ret_error) {
        return run(transaction_text, true, 0, NULL, ret_error);
}

int nftapply_cleanup_text(char **ret_text) {
        char *s;

        s = strdup_printf("add table inet %1$s\ndelete table inet %1$s\n"
                          "add table inet %2$s\ndelete table inet %2$s\n"
                          "add table inet %3$s\ndelete table inet %3$s\n",
                          table_names[0], table_names[1], table_names[2]);
        if (!s)
                return -ENOMEM;
        *ret_text = s;
        return 0;
}

int nftapply_cleanup(char **ret_error) {
        _cleanup_free_ char *text = NULL;
        int r;

        r = nftapply_cleanup_text(&text);
        if (r < 0)
                return r;
        return run(text, false, 0, NULL, ret_error);
}

static void table_to_mask(const char *name, void *userdata) {
        unsigned *mask = userdata;

        for (size_t i = 0; i < ELEMENTSOF(table_names); i++)
                if (streq(name, table_names[i]))
                        *mask |= 1u << i;
}

int nftapply_tables_present(unsigned *ret_mask) {
        /* One NFT_MSG_GETTABLE dump of family inet. libnftables' "list tables" costs a context
         * (it reads /etc/iproute2's tables) and a cache fill: 1.3-3 ms of a ~10 ms apply,
         * measured; the dump is one round trip. */
        unsigned mask = 0;
        int r;

        r = nftdump_tables(NFPROTO_INET, table_to_mask, &mask);
        if (r < 0)
                return r;
        *ret_mask = mask;
        return 0;
}

int nftapply_list(unsigned flags, char **ret_text) {
        unsigned oflags = (flags & NFTAPPLY_LIST_STATELESS) ? NFT_CTX_OUTPUT_STATELESS : 0;
        char cmd[64];
        unsigned mask;
        char *out = NULL;
        int r;

        if (!(flags & NFTAPPLY_LIST_OURS)) {
                r = run("list ruleset", false, oflags, &out, NULL);
                if (r < 0)
                        return r;
                *ret_text = out;
                return 0;
        }

        r = nftapply_tables_present(&mask);
        if (r < 0)
                return r;
        if (mask == 0) {
                out = strdup("");
                if (!out)
                        return -ENOMEM;
                *ret_text = out;
                return 0;
        }

        /* One list command per run: nft 1.0.6 fills its cache for the last "list table" of a
         * buffer only, so "list table A; list table B" fails on A. A table deleted between the
         * calls makes this fail (-EINVAL), which is the truth at that moment. */
        out = strdup("");
        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < ELEMENTSOF(table_names); i++) {
                _cleanup_free_ char *one = NULL;
                char *joined;

                if (!(mask & (1u << i)))
                        continue;
                snprintf(cmd, sizeof(cmd), "list table inet %s", table_names[i]);
                r = run(cmd, false, oflags, &one, NULL);
                if (r < 0) {
                        free(out);
                        return r;
                }
                joined = strdup_printf("%s%s", out, one);
                free(out);
                if (!joined)
                        return -ENOMEM;
                out = joined;
        }
        *ret_text = out;
        return 0;
}


/* fn's failure codes in nftapply_state()'s scratch namespace. */
enum { SCRATCH_APPLY = 1, SCRATCH_LIST = 2 };

/* In the scratch netns: the transaction into an empty ruleset, listed back. */
static int scratch_apply_list(void *userdata, char **ret_text) {
        if (run(userdata, false, 0, NULL, NULL) < 0)
                return SCRATCH_APPLY;
        return nftapply_list(NFTAPPLY_LIST_OURS | NFTAPPLY_LIST_STATELESS, ret_text) < 0 ? SCRATCH_LIST : 0;
}

int nftapply_state(const char *expected_text, bool *ret_in_sync, char **ret_error) {
        _cleanup_free_ char *current = NULL, *expected = NULL;
        int r, code = 0;

        r = nftapply_load(ret_error);
        if (r < 0)
                return r;
        r = nftapply_list(NFTAPPLY_LIST_OURS | NFTAPPLY_LIST_STATELESS, &current);
        if (r < 0)
                return r;
        r = netns_scratch_output(scratch_apply_list, (void *)expected_text, &expected, &code);
        if (r == -EPERM) {
                set_reason(ret_error, strdup("cannot create a scratch network namespace (needs CAP_SYS_ADMIN)"));
                return -EPERM;
        }
        if (r == -ECANCELED && code == SCRATCH_APPLY) {
                set_reason(ret_error, strdup("the expected transaction does not apply to an empty ruleset"));
                return -EINVAL;
        }
        if (r < 0) {
                set_reason(ret_error, strdup(r == -ECANCELED ? "cannot list the scratch ruleset" : "the state child died"));
                return -EIO;
        }
        *ret_in_sync = streq(current, expected);
        return 0;
}

int nftapply_probe(char **ret_why) {
        /* Everything our transactions use, in a throwaway table, validated by the kernel in check
         * mode: base chains of the three types and hooks, redirect (nft_redir/nft_nat), tproxy
         * (nft_tproxy), owner (meta skuid/skgid), conntrack state and marks, ct zone, anonymous
         * sets and both IP families. */
        static const char probe[] =
                "add table inet cnibox-probe\n"
                "add chain inet cnibox-probe nat-output { type nat hook output priority -100 ; }\n"
                "add chain inet cnibox-probe nat-prerouting { type nat hook prerouting priority -100 ; }\n"
                "add chain inet cnibox-probe mangle-prerouting { type filter hook prerouting priority -150 ; }\n"
                "add chain inet cnibox-probe mangle-output { type route hook output priority -150 ; }\n"
                "add chain inet cnibox-probe raw-prerouting { type filter hook prerouting priority -300 ; }\n"
                "add chain inet cnibox-probe istio-tproxy\n"
                "add rule inet cnibox-probe nat-output oifname lo meta l4proto tcp ip daddr != 127.0.0.1/32 "
                "tcp dport != { 53, 15008 } skuid 1337 counter redirect to :15001\n"
                "add rule inet cnibox-probe nat-output meta l4proto udp ip6 daddr ::1/128 udp dport 53 "
                "skgid != 1337 counter redirect to :15053\n"
                "add rule inet cnibox-probe nat-prerouting meta l4proto tcp counter redirect to :15006\n"
                "add rule inet cnibox-probe istio-tproxy meta l4proto tcp ip daddr != 127.0.0.1/32 "
                "tproxy ip to :15006 meta mark set 1337 counter accept\n"
                "add rule inet cnibox-probe mangle-prerouting meta l4proto tcp ct state related,established "
                "counter jump istio-tproxy\n"
                "add rule inet cnibox-probe mangle-prerouting meta l4proto tcp mark 1337 counter ct mark set mark\n"
                "add rule inet cnibox-probe mangle-output meta l4proto tcp ct mark 1337 counter meta mark set ct mark\n"
                "add rule inet cnibox-probe raw-prerouting meta l4proto udp udp sport 53 counter ct zone set 1\n";
        _cleanup_free_ char *err = NULL, *err2 = NULL;
        int r;

        r = nftapply_load(ret_why);
        if (r < 0)
                return r;

        r = run("list tables", false, 0, NULL, &err);
        if (r < 0) {
                set_reason(ret_why, strdup_printf("nf_tables is not usable in this network namespace "
                                                  "(list tables failed): %s", err ?: "?"));
                return -EOPNOTSUPP;
        }

        r = run(probe, true, 0, NULL, &err2);
        err = TAKE_PTR(err2);
        if (r < 0) {
                set_reason(ret_why, strdup_printf("the kernel rejected the nftables expressions istio needs "
                                                  "(nat/tproxy/owner/conntrack): %s", err ?: "?"));
                return -EOPNOTSUPP;
        }
        return 0;
}
