/* SPDX-License-Identifier: Apache-2.0 */
/* istio-iptables: program the sidecar redirect rules into this network namespace.
 * Spec: ../shared/spec/istio-iptables.md (flags §2, rules §3–§4, apply §5, validation §6,
 * nftables §7, dry-run record §9). Drop-in for `pilot-agent istio-iptables`. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "applets.h"
#include "kernel/capture.h"
#include "rules/config.h"
#include "base/exitcode.h"
#include "base/log.h"
#include "base/macro.h"
#include "rules/rules-ipt.h"
#include "rules/rules-nft.h"
#include "rules/rules.h"
#include "kernel/validate.h"

extern char **environ;

static const char help_text[] =
        "Usage: istio-iptables [flags]\n"
        "Program Istio's sidecar traffic capture (iptables or nftables) in this network namespace.\n"
        "Every flag except -p also reads the env var named after it (upper case, '-' -> '_').\n\n"
        "  -p, --envoy-port PORT                      outbound capture port (default 15001)\n"
        "  -z, --inbound-capture-port PORT            inbound capture port (default 15006)\n"
        "  -e, --inbound-tunnel-port PORT             HBONE tunnel port, never captured (default 15008)\n"
        "  -u, --proxy-uid UIDS                       uids not captured (default: uid of $ENVOY_USER, else 1337)\n"
        "  -g, --proxy-gid GIDS                       gids not captured (default: the proxy uids)\n"
        "  -m, --istio-inbound-interception-mode M    REDIRECT (default) or TPROXY\n"
        "  -b, --istio-inbound-ports PORTS|*          inbound ports to capture ('' = none)\n"
        "  -d, --istio-local-exclude-ports PORTS      inbound ports not captured (with -b '*')\n"
        "  -c, --istio-exclude-interfaces IFACES      interfaces never captured\n"
        "  -i, --istio-service-cidr CIDRS|*           outbound destinations to capture\n"
        "  -x, --istio-service-exclude-cidr CIDRS     outbound destinations never captured\n"
        "  -q, --istio-outbound-ports PORTS           outbound TCP ports always captured\n"
        "  -o, --istio-local-outbound-ports-exclude PORTS  outbound ports never captured\n"
        "  -k, --kube-virt-interfaces IFACES          KubeVirt interfaces (inbound treated as outbound)\n"
        "  -t, --istio-inbound-tproxy-mark MARK       TPROXY mark (default 1337)\n"
        "  -r, --istio-inbound-tproxy-route-table N   TPROXY route table (default 133)\n"
        "  -n, --dry-run                              print the rules, apply nothing\n"
        "      --redirect-dns                         capture DNS to the agent on 15053\n"
        "      --capture-all-dns                      with --redirect-dns: all port-53 traffic\n"
        "      --drop-invalid                         drop conntrack-INVALID packets\n"
        "      --dual-stack                           IPv6 if any interface has an IPv6 address\n"
        "      --native-nftables                      use the nftables backend (in-process)\n"
        "      --force-iptables-binary legacy|nft     override backend detection\n"
        "      --reconcile                            converge a namespace holding other rules of ours\n"
        "      --cleanup-only                         remove the rules of this configuration\n"
        "      --force-apply                          apply even when the rules look present\n"
        "      --skip-rule-apply                      program nothing (with --run-validation)\n"
        "      --run-validation                       prove the redirect works (exit 126 if not)\n"
        "      --iptables-probe-port PORT             validation probe port (default 15002)\n"
        "      --probe-timeout DURATION               validation deadline (default 5s)\n"
        "      --network-namespace PATH               netns path (lock file in --cni-mode)\n"
        "      --cni-mode                             running for the CNI plugin\n"
        "      --log_output_level LEVEL               debug, info, warn, error, none (or scope:level,…)\n"
        "      --log_as_json                          JSON log lines\n"
        "  -h, --help                                 this text\n"
        "Env only: ISTIO_OUTBOUND_OWNER_GROUPS, ISTIO_OUTBOUND_OWNER_GROUPS_EXCLUDE,\n"
        "ISTIO_OUTBOUND_IPV4_LOOPBACK_CIDR, DRY_RUN_FILE_PATH, ENVOY_USER,\n"
        "TERMINATION_MESSAGE_PATH (validation failure reason; default /dev/termination-log if it exists).\n";

/* Writes the dry-run record. Istio opens without O_TRUNC and leaves stale bytes of a longer
 * older file behind; we truncate (DECISION, docs/istio-iptables.md). */
static int write_file(const char *path, const char *text) {
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        size_t len = strlen(text);
        if (fd < 0)
                return -errno;
        while (len > 0) {
                ssize_t n = write(fd, text, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                text += n;
                len -= (size_t)n;
        }
        return 0;
}

/* Prints the rules to stdout and, when ret_record is non-NULL, returns the DRY_RUN_FILE_PATH
 * record (Istio's golden format). */
static int dry_run_print(const struct capture_config *c, const struct ruleset *rs, char **ret_record) {
        _cleanup_free_ char *record = NULL;
        int r;

        if (rs->flavor == RULES_FLAVOR_NFT) {
                r = rules_nft_render(rs, c->cleanup_only, &record);
                if (r < 0)
                        return log_errno(r, "Failed to render the nftables transaction");
                fputs(record, stdout);
        } else {
                for (int f = 0; f < 2; f++) {
                        _cleanup_free_ char *text = NULL;
                        if (f == 1 && !rs->enable_ipv6)
                                break;
                        r = c->cleanup_only ? rules_ipt_cleanup_commands(&rs->fam[f], &text)
                                            : rules_ipt_render(&rs->fam[f], &text);
                        if (r < 0)
                                return log_errno(r, "Failed to render the iptables rules");
                        printf("# %s (%s)\n", f ? "IPv6" : "IPv4",
                               c->cleanup_only ? "cleanup commands" : "iptables-restore --noflush input");
                        fputs(text, stdout);
                }
                if (ret_record) {
                        r = rules_ipt_dryrun_record(rs, c->cleanup_only, &record);
                        if (r < 0)
                                return log_errno(r, "Failed to render the dry-run record");
                }
        }
        if (fflush(stdout) != 0)
                return log_errno(-EIO, "Failed to write the rules to stdout");
        if (ret_record)
                *ret_record = TAKE_PTR(record);
        return 0;
}

static int dry_run(const struct capture_config *c) {
        _cleanup_free_ char *record = NULL;
        const char *path = getenv("DRY_RUN_FILE_PATH");
        struct ruleset *rs = NULL;
        int r;

        r = rules_build(c, c->native_nftables ? RULES_FLAVOR_NFT : RULES_FLAVOR_IPTABLES, &rs);
        if (r < 0)
                return log_errno(r, "Failed to build the rules");
        r = dry_run_print(c, rs, path && *path ? &record : NULL);
        rules_free(rs);
        if (r < 0)
                return r;
        if (path && *path) {
                r = write_file(path, record);
                if (r < 0)
                        return log_errno(r, "Failed to write DRY_RUN_FILE_PATH '%s'", path);
        }
        return 0;
}

/* Spec §6, plus a reason for every failure (docs/istio-validation.md). */
static int run_validation(const struct capture_config *c) {
        struct validate_opts o;
        struct validate_result res = {};
        const char *tlog = getenv("TERMINATION_MESSAGE_PATH");
        int r;

        validate_opts_init(&o);
        o.outbound_port = c->proxy_port;
        o.inbound_port = c->inbound_capture_port;
        o.probe_port = c->probe_port;
        o.timeout_usec = c->probe_timeout_usec;
        /* The family follows the host IP, not EnableIPv6 (quirk 29). */
        o.ipv6 = c->host_ip.family == AF_INET6;
        o.proxy_uid_known = false;
        for (size_t i = 0; i < c->proxy_uid.n; i++)
                if (!c->proxy_uid.v[i].is_name) {
                        o.proxy_uid = c->proxy_uid.v[i].id;
                        o.proxy_uid_known = true;
                        break;
                }
        log_info("Starting iptables validation. This check verifies that iptables rules are properly established for the network.");
        r = validate_run(&o, &res);
        if (r >= 0) {
                log_info("Validation passed, iptables rules established (%.1f ms)", (double)res.elapsed_usec / 1000.0);
                return EXIT_OK;
        }
        log_error("Validation failed: %s: %s", validate_reason_to_string(res.reason), res.detail);
        log_error("iptables validation failed; workload is not ready for Istio.\n"
                  "When using Istio CNI, this can occur if a pod is scheduled before the node is ready.\n\n"
                  "If installed with 'cni.repair.deletePods=true', this pod should automatically be deleted and retry.\n"
                  "Otherwise, this pod will need to be manually removed so that it is scheduled on a node with istio-cni running, allowing iptables rules to be established.");
        /* Kubernetes creates /dev/termination-log; outside a pod we must not create it. */
        if (!tlog || !*tlog)
                tlog = access(VALIDATE_TERMINATION_LOG_DEFAULT, W_OK) == 0 ? VALIDATE_TERMINATION_LOG_DEFAULT : NULL;
        if (tlog) {
                int k = validate_write_termination_message(tlog, &res);
                if (k < 0)
                        log_warn_errno(k, "Failed to write the termination message to '%s', ignoring", tlog);
        }
        return EXIT_VALIDATION;
}

static int apply(const struct capture_config *c) {
        struct capture_opts o = { .lock_fd = -1 };
        _cleanup_close_ int nsfd = -1;
        struct capture_report rep;
        int r;

        /* --cni-mode: the pod's netns is the xtables lock (Istio's sandbox). Opened here, without
         * O_CREAT: a netns that is gone is an error, never a stray file in its place. */
        if (c->cni_mode && c->network_namespace && *c->network_namespace) {
                nsfd = open(c->network_namespace, O_RDONLY | O_CLOEXEC);
                if (nsfd < 0)
                        return log_errno(-errno, "Failed to open --network-namespace '%s' (the xtables lock in --cni-mode)",
                                         c->network_namespace);
                o.lock_fd = nsfd;
        }
        r = capture_run(c, &o, &rep);
        for (unsigned i = 0; i < rep.n_notes; i++)
                log_info("%s", rep.notes[i]);
        if (r < 0) {
                log_error("%s", rep.error);
                return r;
        }
        return 0;
}

int istio_iptables_main(int argc, char **argv) {
        struct capture_config c;
        struct config_error err;
        bool help = false;
        int r, ret = EXIT_OK;

        config_init(&c);
        log_setup("istio-iptables", STDERR_FILENO, LOG_LEVEL_INFO, false);

        r = config_parse(&c, argc, argv, environ, &help, &err);
        if (r < 0) {
                /* Istio: cobra prints "Error: …" and pilot-agent exits -1 (255) for command-line
                 * errors; configuration errors are exit 1. */
                fprintf(stderr, "Error: %s\n", err.msg);
                ret = err.kind == CONFIG_ERR_CMDLINE ? EXIT_BAD_CMDLINE : EXIT_RUNTIME;
                goto out;
        }
        if (help) {
                fputs(help_text, stdout);
                goto out;
        }
        log_setup("istio-iptables", STDERR_FILENO, (enum log_level)c.log_level, c.log_as_json);

        r = config_fill_environment(&c, "/etc/resolv.conf", &err);
        if (r >= 0)
                r = config_validate(&c, &err);
        if (r < 0) {
                log_error("%s", err.msg);
                ret = EXIT_RUNTIME;
                goto out;
        }
        if (c.redirect_dns && !c.capture_all_dns && c.dns4.n == 0 && c.dns6.n == 0)
                log_warn("REDIRECT_DNS is set, but CAPTURE_ALL_DNS is false, and no DNS servers provided. DNS capture disabled.");

        /* Istio's nft path ignores --skip-rule-apply; honouring it keeps the unprivileged
         * validation container from trying to program rules (DECISION). */
        if (c.skip_rule_apply)
                log_info("Skipping rule application (--skip-rule-apply)");
        else {
                /* capture_run() builds the rules itself, once, for the backend it picks. */
                r = c.dry_run ? dry_run(&c) : apply(&c);
                if (r < 0) {
                        ret = EXIT_RUNTIME;
                        goto out;
                }
        }
        if (c.run_validation)
                ret = run_validation(&c);
out:
        config_done(&c);
        return ret;
}

/* The wrapper applets (istio-validation, istio-clean-iptables): istio-iptables with fixed extra
 * flags in front, and their own --help. The same parser decides what is a request for help, so
 * -h, --help and --help=true agree with istio-iptables. */
int istio_iptables_run_as(int argc, char **argv, const char *help, const char *const *extra) {
        _cleanup_free_ char **args = NULL;
        struct capture_config c;
        struct config_error err;
        bool want_help = false;
        int n = 0;

        config_init(&c);
        if (config_parse(&c, argc, argv, environ, &want_help, &err) == 0 && want_help) {
                config_done(&c);
                fputs(help, stdout);
                return EXIT_OK;
        }
        config_done(&c);
        while (extra[n])
                n++;
        args = calloc((size_t)argc + (size_t)n + 1, sizeof *args);
        if (!args) {
                fprintf(stderr, "%s: out of memory\n", argv[0]);
                return EXIT_RUNTIME;
        }
        args[0] = argv[0];
        for (int i = 0; i < n; i++)
                args[i + 1] = (char *)extra[i];
        for (int i = 1; i < argc; i++)
                args[i + n] = argv[i];
        return istio_iptables_main(argc + n, args);
}
