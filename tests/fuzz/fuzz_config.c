/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_config.c: libFuzzer target over istio-iptables' command-line/env parsing and the rule
 * builder and renderers (spec istio-iptables.md §2–§4, §7, §9). Touches no system state: the
 * derived inputs of §2.4 (IPv6, DNS servers, proxy uid) come from the input, not the machine.
 *
 * Input layout: byte 0 = control bits, then NUL-separated items.
 *   bits 0-2: how many of the LAST items are env entries ("K=V"); the rest are argv[1..]
 *   bit 3: enable_ipv6   bit 4: add DNS servers   bit 5: default proxy uid/gid when empty
 *   bit 6: cleanup-only rendering */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rules/config.h"
#include "rules/rules-ipt.h"
#include "rules/rules-nft.h"
#include "rules/rules.h"

#define MAX_ITEMS 64

static void render_all(const struct ruleset *rs, bool cleanup) {
        char *t = NULL;

        if (rs->flavor == RULES_FLAVOR_NFT) {
                if (rules_nft_render(rs, cleanup, &t) == 0)
                        free(t);
                return;
        }
        for (int f = 0; f < 2; f++) {
                if (rules_ipt_render(&rs->fam[f], &t) == 0)
                        free(t);
                if (rules_ipt_cleanup_commands(&rs->fam[f], &t) == 0)
                        free(t);
        }
        if (rules_ipt_dryrun_record(rs, cleanup, &t) == 0)
                free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *buf, *items[MAX_ITEMS];
        char *argv[MAX_ITEMS + 2], *envp[MAX_ITEMS + 1];
        size_t n = 0, n_env;
        struct capture_config c;
        struct config_error err;
        bool help = false;
        uint8_t ctl;

        if (size < 1 || size > 16384)
                return 0;
        ctl = data[0];
        buf = malloc(size); /* items + a final NUL */
        if (!buf)
                return 0;
        memcpy(buf, data + 1, size - 1);
        buf[size - 1] = 0;
        for (char *p = buf; p < buf + size - 1 && n < MAX_ITEMS;) {
                items[n++] = p;
                p += strlen(p) + 1;
        }

        n_env = ctl & 7;
        if (n_env > n)
                n_env = n;
        argv[0] = (char *)"istio-iptables";
        for (size_t i = 0; i < n - n_env; i++)
                argv[1 + i] = items[i];
        argv[1 + n - n_env] = NULL;
        for (size_t i = 0; i < n_env; i++)
                envp[i] = items[n - n_env + i];
        envp[n_env] = NULL;

        config_init(&c);
        if (config_parse(&c, (int)(1 + n - n_env), argv, envp, &help, &err) == 0 && !help) {
                c.enable_ipv6 = ctl & 8;
                if (ctl & 16)
                        (void)config_parse_resolv_conf("nameserver 10.0.0.53\nnameserver 2001:db8::53\nnameserver ::127.0.0.53\n",
                                                       &c.dns4, &c.dns6);
                if (ctl & 32) {
                        if (c.proxy_uid.n == 0)
                                (void)config_parse_owner_list("1337", &c.proxy_uid, NULL);
                        if (c.proxy_gid.n == 0)
                                (void)config_parse_owner_list("1337", &c.proxy_gid, NULL);
                }
                if (config_validate(&c, &err) == 0) {
                        for (int fl = 0; fl < 2; fl++) {
                                struct ruleset *rs = NULL;
                                if (rules_build(&c, fl ? RULES_FLAVOR_NFT : RULES_FLAVOR_IPTABLES, &rs) < 0)
                                        continue;
                                render_all(rs, ctl & 64);
                                rules_free(rs);
                        }
                }
        }
        config_done(&c);
        free(buf);
        return 0;
}
