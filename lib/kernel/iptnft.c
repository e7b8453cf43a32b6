/* SPDX-License-Identifier: Apache-2.0 */
/* iptnft.c: the iptables-nft backend: run iptables-nft-restore/-save/iptables-nft directly
 * (payload on stdin, bounded), and our state model on top: compare, apply, cleanup, rollback.
 * Spec: istio-iptables.md §4, §5.1, §5.3, §5.4, §5.6. See docs/backends.md. */
#include "kernel/iptnft.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "base/macro.h"
#include "rules/rules-ipt.h"
#include "rules/rules.h"

extern char **environ;

/* Save output of a pod's tables is small; this only guards against a runaway child. */
#define STDOUT_MAX (16u << 20)

static unsigned timeout_ms = IPTNFT_TIMEOUT_MS;

void iptnft_set_timeout_ms(unsigned ms) {
        timeout_ms = ms ? ms : IPTNFT_TIMEOUT_MS;
}

const char *iptnft_restore_program(int family) {
        return family == AF_INET ? "iptables-nft-restore" : family == AF_INET6 ? "ip6tables-nft-restore" : NULL;
}

const char *iptnft_save_program(int family) {
        return family == AF_INET ? "iptables-nft-save" : family == AF_INET6 ? "ip6tables-nft-save" : NULL;
}

const char *iptnft_program(int family) {
        return family == AF_INET ? "iptables-nft" : family == AF_INET6 ? "ip6tables-nft" : NULL;
}

/* A running child: our ends of its stdin (a socket), stdout and stderr; -1 once closed. */
struct child {
        pid_t pid;
        int in, out, err;
        uint64_t deadline;
        bool killed;
};

/* What goes in and comes out: stdin bytes, stdout (kept only when keep_out), bounded stderr. */
struct child_io {
        const char *in;
        size_t inlen, written;
        bool keep_out;
        char *out;
        size_t outlen, outcap;
        struct iptnft_error *err;
        size_t errlen;
};

static void close_fd(int *fd) {
        if (*fd >= 0) {
                close(*fd);
                *fd = -1;
        }
}

/* Starts argv[0] from PATH with its stdin, stdout and stderr connected to c. */
static int child_spawn(char *const argv[], struct child *c) {
        /* stdin is a socketpair rather than a pipe: send(MSG_NOSIGNAL) gives EPIPE instead of a
         * process-wide SIGPIPE when the child exits early, and lib/ must not touch signal state. */
        int sin[2] = { -1, -1 }, sout[2] = { -1, -1 }, serr[2] = { -1, -1 };
        posix_spawn_file_actions_t fa;
        int r;

        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sin) < 0 || pipe2(sout, O_CLOEXEC) < 0 ||
            pipe2(serr, O_CLOEXEC) < 0)
                r = -errno;
        else if ((r = posix_spawn_file_actions_init(&fa)) != 0)
                r = -r;
        else {
                /* dup2 clears O_CLOEXEC on the child's 0/1/2; every other fd of ours stays CLOEXEC. */
                posix_spawn_file_actions_adddup2(&fa, sin[1], 0);
                posix_spawn_file_actions_adddup2(&fa, sout[1], 1);
                posix_spawn_file_actions_adddup2(&fa, serr[1], 2);
                r = -posix_spawnp(&c->pid, argv[0], &fa, NULL, argv, environ); /* ENOENT: not in PATH */
                posix_spawn_file_actions_destroy(&fa);
        }
        close_fd(&sin[1]);
        close_fd(&sout[1]);
        close_fd(&serr[1]);
        if (r < 0) {
                close_fd(&sin[0]);
                close_fd(&sout[0]);
                close_fd(&serr[0]);
                return r;
        }
        c->in = sin[0];
        c->out = sout[0];
        c->err = serr[0];
        return 0;
}

/* Writes what the child takes of stdin; closes it when done or when the child stops reading
 * (EPIPE: it reports why on stderr). */
static void pump_stdin(struct child *c, struct child_io *io) {
        ssize_t k = send(c->in, io->in + io->written, io->inlen - io->written, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (k > 0)
                io->written += (size_t)k;
        if ((k < 0 && errno != EAGAIN && errno != EINTR) || io->written == io->inlen)
                close_fd(&c->in);
}

static int pump_stdout(struct child *c, struct child_io *io) {
        char buf[4096];
        ssize_t k = read(c->out, buf, sizeof buf);

        if (k < 0 && errno == EINTR)
                return 0;
        if (k <= 0) {
                close_fd(&c->out);
                return 0;
        }
        if (!io->keep_out || io->outlen + (size_t)k > STDOUT_MAX)
                return 0;
        if (io->outlen + (size_t)k + 1 > io->outcap) {
                size_t ncap = io->outcap ? io->outcap * 2 : 8192;
                while (ncap < io->outlen + (size_t)k + 1)
                        ncap *= 2;
                char *t = realloc(io->out, ncap);
                if (!t)
                        return -ENOMEM;
                io->out = t;
                io->outcap = ncap;
        }
        memcpy(io->out + io->outlen, buf, (size_t)k);
        io->outlen += (size_t)k;
        return 0;
}

static void pump_stderr(struct child *c, struct child_io *io) {
        char buf[1024];
        ssize_t k = read(c->err, buf, sizeof buf);

        if (k < 0 && errno == EINTR)
                return;
        if (k <= 0) {
                close_fd(&c->err);
                return;
        }
        if (io->err && io->errlen < sizeof io->err->stderr_text - 1) {
                size_t n = sizeof io->err->stderr_text - 1 - io->errlen;
                if ((size_t)k < n)
                        n = (size_t)k;
                memcpy(io->err->stderr_text + io->errlen, buf, n);
                io->errlen += n;
                io->err->stderr_text[io->errlen] = '\0';
        }
}

/* Feeds stdin and drains stdout and stderr until the child closes them or the deadline passes
 * (then it is killed). Returns 0 or -errno (the child is killed then too). */
static int child_pump(struct child *c, struct child_io *io) {
        int r = 0;

        if (!io->in || io->inlen == 0)
                close_fd(&c->in);
        else
                fcntl(c->in, F_SETFL, O_NONBLOCK);
        while (r >= 0 && (c->out >= 0 || c->err >= 0)) {
                struct pollfd p[3] = {
                        { .fd = c->out, .events = POLLIN },
                        { .fd = c->err, .events = POLLIN },
                        { .fd = c->in, .events = POLLOUT },
                };
                uint64_t now = now_usec();
                if (now >= c->deadline) {
                        kill(c->pid, SIGKILL);
                        c->killed = true;
                        break;
                }
                if (poll(p, 3, (int)((c->deadline - now + 999) / 1000)) < 0) {
                        if (errno != EINTR)
                                r = -errno;
                        continue;
                }
                if (p[2].revents & (POLLOUT | POLLERR | POLLHUP))
                        pump_stdin(c, io);
                if (p[0].revents & (POLLIN | POLLHUP | POLLERR))
                        r = pump_stdout(c, io);
                if (p[1].revents & (POLLIN | POLLHUP | POLLERR))
                        pump_stderr(c, io);
        }
        if (r < 0)
                kill(c->pid, SIGKILL);
        close_fd(&c->in);
        close_fd(&c->out);
        close_fd(&c->err);
        return r;
}

/* Waits for the child (bounded by the deadline: a child still running is killed) and fills in
 * err. Returns 0 (see *ret_status) or -errno. */
static int child_reap(struct child *c, struct child_io *io, int *ret_status) {
        int status = 0;

        for (;;) {
                pid_t w = waitpid(c->pid, &status, c->killed ? 0 : WNOHANG);
                if (w == c->pid)
                        break;
                if (w < 0 && errno != EINTR)
                        return -errno;
                if (w == 0) {
                        if (now_usec() >= c->deadline) {
                                kill(c->pid, SIGKILL);
                                c->killed = true;
                                continue;
                        }
                        usleep(1000);
                }
        }
        if (io->err) {
                struct iptnft_error *e = io->err;
                while (io->errlen > 0 && (e->stderr_text[io->errlen - 1] == '\n' || e->stderr_text[io->errlen - 1] == '\r'))
                        e->stderr_text[--io->errlen] = '\0';
                e->timed_out = c->killed;
                e->exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
                e->signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
        }
        *ret_status = status;
        return 0;
}

/* Runs argv[0] from PATH with in (may be NULL) on stdin; collects stdout into *ret_out when
 * ret_out is non-NULL (else discards it) and a bounded stderr into err: spawn, pump, reap. */
static int spawn_run(char *const argv[], const char *in, size_t inlen, char **ret_out, struct iptnft_error *err) {
        struct child c = { .in = -1, .out = -1, .err = -1 };
        struct child_io io = { .in = in, .inlen = inlen, .keep_out = ret_out != NULL, .err = err };
        _cleanup_free_ char *out = NULL;
        int r, k, status = 0;

        r = child_spawn(argv, &c);
        if (r < 0)
                return r;
        c.deadline = now_usec() + timeout_ms * 1000ULL;
        r = child_pump(&c, &io);
        out = io.out;
        /* The pipes are closed: a child still running is killed above or exits on its own. */
        k = child_reap(&c, &io, &status);
        if (r < 0 || k < 0)
                return r < 0 ? r : k;
        if (c.killed)
                return -ETIMEDOUT;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return -EIO;
        if (ret_out) {
                if (!out) {
                        out = strdup("");
                        if (!out)
                                return -ENOMEM;
                } else
                        out[io.outlen] = '\0';
                *ret_out = TAKE_PTR(out);
        }
        return 0;
}

static void err_init(struct iptnft_error *err, const char *program) {
        if (!err)
                return;
        memset(err, 0, sizeof(*err));
        err->exit_status = -1;
        if (program)
                snprintf(err->program, sizeof(err->program), "%s", program);
}

int iptnft_restore(int family, const char *payload, size_t len, bool noflush, struct iptnft_error *err) {
        const char *prog = iptnft_restore_program(family);
        err_init(err, prog);
        if (!prog)
                return -EAFNOSUPPORT;
        char *argv[] = { (char *)prog, noflush ? (char *)"--noflush" : NULL, NULL };
        return spawn_run(argv, payload, len, NULL, err);
}

int iptnft_save(int family, char **ret_text, struct iptnft_error *err) {
        const char *prog = iptnft_save_program(family);
        err_init(err, prog);
        if (!prog)
                return -EAFNOSUPPORT;
        if (!ret_text)
                return -EINVAL;
        char *argv[] = { (char *)prog, NULL };
        return spawn_run(argv, NULL, 0, ret_text, err);
}

int iptnft_run(int family, char *const argv[], struct iptnft_error *err) {
        const char *prog = iptnft_program(family);
        _cleanup_free_ char **full = NULL;
        size_t n = 0;

        err_init(err, prog);
        if (!prog)
                return -EAFNOSUPPORT;
        if (!argv)
                return -EINVAL;
        /* Sized from the arguments: a rule with many owner matches is long, and the kernel's own
         * limit (ARG_MAX) is what posix_spawnp() reports as E2BIG if it is ever reached. */
        while (argv[n])
                n++;
        full = calloc(n + 2, sizeof *full);
        if (!full)
                return -ENOMEM;
        full[0] = (char *)prog;
        memcpy(full + 1, argv, n * sizeof *full);
        return spawn_run(full, NULL, 0, NULL, err);
}

/* ---- the state model: compare, apply, cleanup, rollback (mirrors lib/kernel/iptlegacy) ------- */

/* What iptables-nft-save shows of ours, per table. */
struct saved {
        bool chain[RULES_TABLE_MAX][RULES_CHAIN_MAX];
        unsigned count[RULES_TABLE_MAX][RULES_CHAIN_MAX];
        char **jumps[RULES_TABLE_MAX]; /* "-A BUILTIN … -j ISTIO_X" lines */
        size_t n_jumps[RULES_TABLE_MAX];
        unsigned tables; /* bit (1 << enum rules_table) per table listed */
        bool any;
};

/* One family: the listing from before this transaction's first commit, parsed. */
struct family_snapshot {
        char *save;       /* NULL until read */
        struct saved s;
        unsigned tables;  /* bit (1 << enum rules_table) per table a committed payload touched */
};

struct iptnft_txn {
        struct family_snapshot fam[2]; /* AF_INET, AF_INET6 */
        int order[2];                  /* families in first-commit order, for a newest-first rollback */
        unsigned n_order, commits;
        char err[IPTNFT_ERR_MAX];
};

static int fam_index(int family) { return family == AF_INET6 ? 1 : family == AF_INET ? 0 : -1; }

static void saved_done(struct saved *s) {
        for (int t = 0; t < RULES_TABLE_MAX; t++) {
                for (size_t i = 0; i < s->n_jumps[t]; i++)
                        free(s->jumps[t][i]);
                free(s->jumps[t]);
        }
        *s = (struct saved){};
}

static int saved_add_jump(struct saved *s, int table, char **line) {
        char **nv = realloc(s->jumps[table], (s->n_jumps[table] + 1) * sizeof *nv);
        if (!nv)
                return -ENOMEM;
        s->jumps[table] = nv;
        nv[s->n_jumps[table]++] = TAKE_PTR(*line);
        s->any = true;
        return 0;
}

static int saved_parse(const char *text, struct saved *s) {
        int table = -1, r;

        for (const char *p = text; *p;) {
                const char *eol = strchrnul(p, '\n');
                _cleanup_free_ char *line = strndup(p, (size_t)(eol - p));
                enum rules_chain ch;
                enum rules_table t;
                char name[64];

                if (!line)
                        return -ENOMEM;
                p = *eol ? eol + 1 : eol;
                if (line[0] == '*') {
                        table = rules_table_from_name(line + 1, &t) == 0 ? (int)t : -1;
                        if (table >= 0)
                                s->tables |= 1u << table;
                        continue;
                }
                if (table < 0)
                        continue;
                if (line[0] == ':' && sscanf(line + 1, "%63s", name) == 1 && strncmp(name, "ISTIO", 5) == 0) {
                        if (rules_chain_from_name(name, &ch) == 0)
                                s->chain[table][ch] = true;
                        s->any = true;
                        continue;
                }
                if (strncmp(line, "-A ", 3) != 0 || sscanf(line + 3, "%63s", name) != 1 ||
                    rules_chain_from_name(name, &ch) != 0)
                        continue;
                if (!rules_chain_is_builtin(ch))
                        s->count[table][ch]++;
                else if (strstr(line, " -j ISTIO_")) {
                        r = saved_add_jump(s, table, &line);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* Splits s in place at spaces into argv[first…], NULL-terminated; argv[0..first) are left for
 * the caller. Our rendered tokens never contain spaces: every value is a typed, validated value. */
static int split_words(char *s, size_t first, char ***ret_argv, size_t *ret_n) {
        size_t n = first, words = 0;
        char **argv;

        for (const char *p = s; *p; p++)
                if (*p != ' ' && (p == s || p[-1] == ' '))
                        words++;
        argv = calloc(first + words + 1, sizeof *argv);
        if (!argv)
                return -ENOMEM;
        for (char *save = NULL, *tok = strtok_r(s, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
                argv[n++] = tok;
        *ret_argv = argv;
        *ret_n = n;
        return 0;
}

/* The rule's arguments after "-A CHAIN", as iptables-restore reads them. */
static int format_args(const struct rules_rule *rule, char **ret) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        int r;

        if (!f)
                return -ENOMEM;
        r = rules_ipt_format_args(f, rule);
        return memstream_finish(f, &buf, r, ret);
}

/* Runs `ip[6]tables-nft -t T -C CHAIN args…`: 1 if the rule exists, 0 if not. */
static int rule_exists(int family, const struct rules_rule *rule) {
        _cleanup_free_ char *args = NULL;
        _cleanup_free_ char **argv = NULL;
        struct iptnft_error err;
        size_t n;
        int r;

        r = format_args(rule, &args);
        if (r < 0)
                return r;
        r = split_words(args, 4, &argv, &n);
        if (r < 0)
                return r;
        argv[0] = (char *)"-t";
        argv[1] = (char *)rules_table_name(rule->table);
        argv[2] = (char *)"-C";
        argv[3] = (char *)rules_chain_name(rule->chain);
        r = iptnft_run(family, argv, &err);
        if (r == -EIO && err.exit_status == 1)
                return 0;
        return r < 0 ? r : 1;
}

/* 1 if iptables-nft holds exactly l (Istio's §5.4 check: chain presence and rule counts, every
 * rule found with -C), 0 otherwise (why in buf). */
static int identical(int family, const struct rules_list *l, const struct saved *s, char *why, size_t sz) {
        unsigned want[RULES_TABLE_MAX][RULES_CHAIN_MAX] = {};
        int r;

        for (size_t i = 0; i < l->n; i++)
                want[l->v[i].table][l->v[i].chain]++;
        for (int t = 0; t < RULES_TABLE_MAX; t++)
                for (int ch = RULES_CHAIN_FIRST_ISTIO; ch < RULES_CHAIN_MAX; ch++) {
                        bool wanted = want[t][ch] > 0;
                        if (wanted != s->chain[t][ch] || (wanted && want[t][ch] != s->count[t][ch])) {
                                snprintf(why, sz, "%s chain %s: %u rules present, %u expected",
                                         rules_table_name((enum rules_table)t), rules_chain_name((enum rules_chain)ch),
                                         s->count[t][ch], want[t][ch]);
                                return 0;
                        }
                }
        for (size_t i = 0; i < l->n; i++) {
                r = rule_exists(family, &l->v[i]);
                if (r <= 0) {
                        snprintf(why, sz, "a %s rule in %s is missing or different", rules_table_name(l->v[i].table),
                                 rules_chain_name(l->v[i].chain));
                        return r;
                }
        }
        return 1;
}

/* Whether rule is one of ours in a built-in chain of table t that is not a jump: such rules
 * survive the flush of our chains and are deleted one by one. */
static bool builtin_rule(const struct rules_rule *rule, enum rules_table t) {
        return rule->table == t && rules_chain_is_builtin(rule->chain) && !rules_rule_jumps_to_istio(rule);
}

/* Emits "-D CHAIN args" for rule if present (checked with -C) and not emitted before (a residue
 * rule may equal one of l's). seen collects the emitted lines. */
static int delete_if_present(FILE *f, int family, const struct rules_rule *rule, char ***seen, size_t *n_seen) {
        _cleanup_free_ char *line = NULL;
        char **nv;
        int r;

        r = format_args(rule, &line);
        if (r < 0)
                return r;
        for (size_t i = 0; i < *n_seen; i++)
                if (streq((*seen)[i], line))
                        return 0;
        r = rule_exists(family, rule);
        if (r <= 0)
                return r;
        nv = realloc(*seen, (*n_seen + 1) * sizeof *nv);
        if (!nv)
                return -ENOMEM;
        *seen = nv;
        fprintf(f, "-D %s %s\n", rules_chain_name(rule->chain), line);
        nv[(*n_seen)++] = TAKE_PTR(line);
        return 0;
}

/* Deletes our built-in-chain rules of table t that are present, l's and the residue's (they
 * survive the chain flush), then, unless cleaning up, adds every rule of t in configuration
 * order, so the result is exactly what a fresh apply gives, rule order included. */
static int replace_rules(FILE *f, int family, const struct rules_list *l, const struct rules_list *residue,
                         enum rules_table t, bool cleanup) {
        const struct rules_list *lists[2] = { l, residue };
        char **seen = NULL;
        size_t n_seen = 0;
        int r = 0;

        for (int k = 0; k < 2 && r >= 0; k++)
                for (size_t i = 0; lists[k] && i < lists[k]->n && r >= 0; i++)
                        if (builtin_rule(&lists[k]->v[i], t))
                                r = delete_if_present(f, family, &lists[k]->v[i], &seen, &n_seen);
        for (size_t i = 0; i < n_seen; i++)
                free(seen[i]);
        free(seen);
        for (size_t i = 0; i < l->n && r >= 0 && !cleanup; i++) {
                if (l->v[i].table != t)
                        continue;
                r = rules_ipt_format_rule(f, &l->v[i]);
                fputc('\n', f);
        }
        return r < 0 ? r : 0;
}

/* One iptables-nft-restore payload that replaces our state atomically per table: declaring a
 * user chain flushes it, our old jumps are deleted, obsolete chains removed, our rules added.
 * *ret_tables gets the tables it touches. */
static int replace_payload(int family, const struct rules_list *l, const struct rules_list *residue,
                           const struct saved *s, bool cleanup, char **ret, unsigned *ret_tables) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        unsigned tables = 0;
        int r = 0;

        if (!f)
                return -ENOMEM;
        for (int t = 0; t < RULES_TABLE_MAX && r >= 0; t++) {
                bool want[RULES_CHAIN_MAX] = {}, any = s->n_jumps[t] > 0;
                for (size_t i = 0; i < l->n; i++)
                        if (l->v[i].table == (enum rules_table)t) {
                                want[l->v[i].chain] = !cleanup;
                                any = true;
                        }
                for (int ch = RULES_CHAIN_FIRST_ISTIO; ch < RULES_CHAIN_MAX; ch++)
                        any = any || s->chain[t][ch];
                /* A table holding no chain of ours may still hold an earlier configuration's
                 * built-in-chain rules (DNS capture's in raw). */
                for (size_t i = 0; residue && i < residue->n && !any; i++)
                        any = (s->tables & (1u << t)) && builtin_rule(&residue->v[i], (enum rules_table)t);
                if (!any)
                        continue;
                tables |= 1u << t;
                fprintf(f, "*%s\n", rules_table_name((enum rules_table)t));
                for (int ch = RULES_CHAIN_FIRST_ISTIO; ch < RULES_CHAIN_MAX; ch++)
                        if (want[ch] || s->chain[t][ch])
                                fprintf(f, ":%s - [0:0]\n", rules_chain_name((enum rules_chain)ch));
                for (size_t i = 0; i < s->n_jumps[t]; i++)
                        fprintf(f, "-D%s\n", s->jumps[t][i] + 2);
                r = replace_rules(f, family, l, residue, (enum rules_table)t, cleanup);
                for (int ch = RULES_CHAIN_FIRST_ISTIO; ch < RULES_CHAIN_MAX; ch++)
                        if (s->chain[t][ch] && !want[ch])
                                fprintf(f, "-X %s\n", rules_chain_name((enum rules_chain)ch));
                fputs("COMMIT\n", f);
        }
        r = memstream_finish(f, &buf, r, ret);
        if (r >= 0)
                *ret_tables = tables;
        return r;
}

/* Tables (bits) a fresh-apply payload of l touches. */
static unsigned tables_of(const struct rules_list *l) {
        unsigned tables = 0;
        for (size_t i = 0; i < l->n; i++)
                tables |= 1u << l->v[i].table;
        return tables;
}

static int txn_fail(iptnft_txn *t, int r, const char *fmt, ...) _printf_(3, 4);
static int txn_fail(iptnft_txn *t, int r, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(t->err, sizeof t->err, fmt, ap);
        va_end(ap);
        return r < 0 ? r : -EIO;
}

/* iptables-restore parses each line into an argv of at most 255 entries: its own name, "-t",
 * the table and the line's words (iptables 1.8.9 fails with "Parser cannot handle more
 * arguments" past that). Refuse such a payload up front, naming the limit. */
static int check_words(iptnft_txn *t, int family, const char *payload) {
        for (const char *p = payload; *p;) {
                const char *eol = strchrnul(p, '\n');
                size_t words = 0;
                for (const char *q = p; q < eol; q++)
                        if (*q != ' ' && (q == p || q[-1] == ' '))
                                words++;
                if (words > IPTNFT_RESTORE_MAX_WORDS)
                        return txn_fail(t, -E2BIG,
                                        "a rule of %zu words is longer than %s accepts (%d words per line; fewer "
                                        "owner groups, or the legacy or nftables backend, avoid it); nothing was changed",
                                        words, iptnft_restore_program(family), IPTNFT_RESTORE_MAX_WORDS);
                p = *eol ? eol + 1 : eol;
        }
        return 0;
}

/* Reads the family's listing once per transaction: the state compared, and the rollback target. */
static int snapshot(iptnft_txn *t, int family, struct family_snapshot **ret) {
        int i = fam_index(family);
        struct family_snapshot *fs;
        struct iptnft_error err;
        int r;

        if (i < 0)
                return -EAFNOSUPPORT;
        fs = &t->fam[i];
        if (!fs->save) {
                r = iptnft_save(family, &fs->save, &err);
                if (r < 0)
                        return txn_fail(t, r, "%s failed: %s", err.program, err.stderr_text[0] ? err.stderr_text : strerror(-r));
                r = saved_parse(fs->save, &fs->s);
                if (r < 0)
                        return txn_fail(t, r, "parsing %s output: %s", err.program, strerror(-r));
        }
        *ret = fs;
        return 0;
}

int iptnft_txn_begin(iptnft_txn **ret) {
        iptnft_txn *t = calloc(1, sizeof *t);
        if (!t)
                return -ENOMEM;
        *ret = t;
        return 0;
}

iptnft_txn *iptnft_txn_free(iptnft_txn *t) {
        if (!t)
                return NULL;
        for (int i = 0; i < 2; i++) {
                free(t->fam[i].save);
                saved_done(&t->fam[i].s);
        }
        free(t);
        return NULL;
}

const char *iptnft_txn_error(const iptnft_txn *t) { return t ? t->err : ""; }

unsigned iptnft_txn_commits(const iptnft_txn *t) { return t ? t->commits : 0; }

int iptnft_compare(iptnft_txn *t, int family, const struct rules_list *l, struct iptnft_status *ret) {
        struct family_snapshot *fs;
        int r;

        r = snapshot(t, family, &fs);
        if (r < 0)
                return r;
        *ret = (struct iptnft_status){ .state = IPTNFT_CLEAN };
        if (!fs->s.any)
                return 0;
        r = identical(family, l, &fs->s, ret->why, sizeof ret->why);
        if (r < 0)
                return txn_fail(t, r, "checking the current rules: %s", strerror(-r));
        ret->state = r ? IPTNFT_IDENTICAL : IPTNFT_DRIFTED;
        return 0;
}

/* Applies (cleanup false) or removes our state, as one payload for the family. */
static int commit(iptnft_txn *t, int family, const struct rules_list *l, const struct rules_list *residue,
                  bool cleanup) {
        _cleanup_free_ char *payload = NULL;
        struct family_snapshot *fs;
        struct iptnft_error err;
        unsigned tables = 0;
        int r;

        r = snapshot(t, family, &fs);
        if (r < 0)
                return r;
        if (!fs->s.any && !cleanup) {
                /* Clean: Istio's own payload (-N chains, --noflush). */
                r = rules_ipt_render(l, &payload);
                tables = tables_of(l);
        } else
                r = replace_payload(family, l, residue, &fs->s, cleanup, &payload, &tables);
        if (r < 0)
                return txn_fail(t, r, "rendering the rules: %s", strerror(-r));
        if (!*payload)
                return 0;
        r = check_words(t, family, payload);
        if (r < 0)
                return r;
        r = iptnft_restore(family, payload, strlen(payload), true, &err);
        if (r < 0)
                return txn_fail(t, r, "%s failed (exit %d): %s", err.program, err.exit_status,
                                err.stderr_text[0] ? err.stderr_text : strerror(-r));
        if (!fs->tables && t->n_order < ELEMENTSOF(t->order))
                t->order[t->n_order++] = family;
        fs->tables |= tables;
        t->commits++;
        return 0;
}

int iptnft_apply(iptnft_txn *t, int family, const struct rules_list *l, const struct rules_list *residue) {
        return commit(t, family, l, residue, false);
}

int iptnft_cleanup(iptnft_txn *t, int family, const struct rules_list *l, const struct rules_list *residue) {
        return commit(t, family, l, residue, true);
}

/* The rollback payload: each touched table as it was listed before (a restore without --noflush
 * replaces a table with exactly the listed chains and rules), or emptied if it was not listed. */
static int rollback_payload(const struct family_snapshot *fs, char **ret) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);

        if (!f)
                return -ENOMEM;
        for (int t = 0; t < RULES_TABLE_MAX; t++) {
                char head[32];
                const char *b, *e;
                if (!(fs->tables & (1u << t)))
                        continue;
                snprintf(head, sizeof head, "\n*%s\n", rules_table_name((enum rules_table)t));
                if (strncmp(fs->save, head + 1, strlen(head + 1)) == 0)
                        b = fs->save;
                else if ((b = strstr(fs->save, head)))
                        b++;
                e = b ? strstr(b, "\nCOMMIT\n") : NULL;
                if (b && e)
                        fwrite(b, 1, (size_t)(e - b) + strlen("\nCOMMIT\n"), f);
                else
                        fprintf(f, "*%s\nCOMMIT\n", rules_table_name((enum rules_table)t));
        }
        return memstream_finish(f, &buf, 0, ret);
}

int iptnft_rollback(iptnft_txn *t) {
        int first = 0;

        for (unsigned k = t->n_order; k-- > 0;) {
                int family = t->order[k];
                struct family_snapshot *fs = &t->fam[fam_index(family)];
                _cleanup_free_ char *payload = NULL;
                struct iptnft_error err = {};
                int r;

                if (!fs->tables)
                        continue;
                r = rollback_payload(fs, &payload);
                if (r >= 0)
                        r = iptnft_restore(family, payload, strlen(payload), false, &err);
                if (r < 0 && first == 0) {
                        first = r;
                        txn_fail(t, r, "restoring the previous %s rules: %s", family == AF_INET6 ? "IPv6" : "IPv4",
                                 err.stderr_text[0] ? err.stderr_text : strerror(-r));
                }
                if (r >= 0)
                        fs->tables = 0;
        }
        return first;
}
