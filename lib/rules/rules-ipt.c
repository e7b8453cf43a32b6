/* SPDX-License-Identifier: Apache-2.0 */
/* rules-ipt.c: render typed rules as iptables-restore text (spec istio-iptables.md §4, §5.6, §9). */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "base/macro.h"
#include "rules/rules-ipt.h"

static const char *proto_name(uint8_t p) { return p == IPPROTO_UDP ? "udp" : "tcp"; }

static void fmt_match(FILE *f, const struct rules_match *m) {
        char buf[NETADDR_CIDR_STRLEN];
        const char *neg = m->neg ? "! " : "";

        switch (m->kind) {
        case RULES_MATCH_PROTO:
                fprintf(f, " %s-p %s", neg, proto_name(m->proto));
                break;
        case RULES_MATCH_IIF:
                fprintf(f, " %s-i %s", neg, m->ifname);
                break;
        case RULES_MATCH_OIF:
                fprintf(f, " %s-o %s", neg, m->ifname);
                break;
        case RULES_MATCH_SRC:
                fprintf(f, " %s-s %s", neg, netaddr_cidr_to_string(&m->cidr, buf, sizeof buf));
                break;
        case RULES_MATCH_DST:
                fprintf(f, " %s-d %s", neg, netaddr_cidr_to_string(&m->cidr, buf, sizeof buf));
                break;
        case RULES_MATCH_DPORT:
                fprintf(f, " %s--dport %u", neg, m->port);
                break;
        case RULES_MATCH_SPORT:
                fprintf(f, " %s--sport %u", neg, m->port);
                break;
        case RULES_MATCH_DPORTS:
                fprintf(f, " -m multiport %s--dports ", neg);
                for (unsigned i = 0; i < m->ports.n; i++)
                        fprintf(f, "%s%u", i ? "," : "", m->ports.v[i]);
                break;
        case RULES_MATCH_UID_OWNER:
        case RULES_MATCH_GID_OWNER:
                fprintf(f, " -m owner %s--%s-owner %s", neg, m->kind == RULES_MATCH_UID_OWNER ? "uid" : "gid",
                        config_owner_to_string(&m->owner, buf, sizeof buf));
                break;
        case RULES_MATCH_CTSTATE: {
                const char *sep = "";
                fprintf(f, " -m conntrack %s--ctstate ", neg);
                if (m->ctstate & RULES_CTSTATE_INVALID) {
                        fprintf(f, "%sINVALID", sep);
                        sep = ",";
                }
                if (m->ctstate & RULES_CTSTATE_RELATED) {
                        fprintf(f, "%sRELATED", sep);
                        sep = ",";
                }
                if (m->ctstate & RULES_CTSTATE_ESTABLISHED)
                        fprintf(f, "%sESTABLISHED", sep);
                break;
        }
        case RULES_MATCH_MARK:
                fprintf(f, " -m mark %s--mark %u", neg, m->mark);
                break;
        case RULES_MATCH_CONNMARK:
                fprintf(f, " -m connmark %s--mark %u", neg, m->mark);
                break;
        }
}

static void fmt_target(FILE *f, const struct rules_target *t) {
        switch (t->kind) {
        case RULES_TARGET_RETURN:
                fputs(" -j RETURN", f);
                break;
        case RULES_TARGET_ACCEPT:
                fputs(" -j ACCEPT", f);
                break;
        case RULES_TARGET_DROP:
                fputs(" -j DROP", f);
                break;
        case RULES_TARGET_JUMP:
                fprintf(f, " -j %s", rules_chain_name(t->chain));
                break;
        case RULES_TARGET_REDIRECT:
                fprintf(f, " -j REDIRECT --to-port%s %u", t->to_port_singular ? "" : "s", t->port);
                break;
        case RULES_TARGET_TPROXY:
                fprintf(f, " -j TPROXY --tproxy-mark %u/0xffffffff --on-port %u", t->mark, t->port);
                break;
        case RULES_TARGET_MARK:
                fprintf(f, " -j MARK --set-mark %u", t->mark);
                break;
        case RULES_TARGET_CONNMARK_SAVE:
                fputs(" -j CONNMARK --save-mark", f);
                break;
        case RULES_TARGET_CONNMARK_RESTORE:
                fputs(" -j CONNMARK --restore-mark", f);
                break;
        case RULES_TARGET_CT_ZONE:
                fprintf(f, " -j CT --zone %u", t->zone);
                break;
        }
}

int rules_ipt_format_args(FILE *f, const struct rules_rule *r) {
        /* Every fragment starts with a space; drop the first one. */
        char *buf = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&buf, &len);
        if (!m)
                return -ENOMEM;
        for (unsigned i = 0; i < r->n_matches; i++)
                fmt_match(m, &r->matches[i]);
        fmt_target(m, &r->target);
        if (fclose(m) != 0) {
                free(buf);
                return -ENOMEM;
        }
        fputs(len ? buf + 1 : "", f);
        free(buf);
        return 0;
}

int rules_ipt_format_rule(FILE *f, const struct rules_rule *r) {
        if (r->position)
                fprintf(f, "-I %s %u ", rules_chain_name(r->chain), r->position);
        else
                fprintf(f, "-A %s ", rules_chain_name(r->chain));
        return rules_ipt_format_args(f, r);
}

static void declare(enum rules_chain ch, void *userdata) { fprintf(userdata, "-N %s\n", rules_chain_name(ch)); }

static int render_to(FILE *f, const struct rules_list *l) {
        int r;
        for (int t = 0; t < RULES_TABLE_MAX; t++) {
                bool any = false;
                for (size_t i = 0; i < l->n && !any; i++)
                        any = l->v[i].table == (enum rules_table)t;
                if (!any)
                        continue;
                fprintf(f, "* %s\n", rules_table_name((enum rules_table)t));
                rules_foreach_declared_chain(l, (enum rules_table)t, declare, f);
                for (size_t i = 0; i < l->n; i++) {
                        if (l->v[i].table != (enum rules_table)t)
                                continue;
                        r = rules_ipt_format_rule(f, &l->v[i]);
                        if (r < 0)
                                return r;
                        fputc('\n', f);
                }
                fputs("COMMIT\n", f);
        }
        return 0;
}

int rules_ipt_render(const struct rules_list *l, char **ret_text) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f)
                return -ENOMEM;
        return memstream_finish(f, &buf, render_to(f, l), ret_text);
}

static int cleanup_to(FILE *f, const struct rules_list *l, const char *prefix) {
        bool seen[RULES_TABLE_MAX][RULES_CHAIN_MAX] = {};
        int r;

        /* Reverse order: delete rules (but not rules inside our own chains, which go with the
         * chain, unless they jump to one of ours), then flush and delete each chain. */
        for (size_t i = l->n; i-- > 0;) {
                const struct rules_rule *rule = &l->v[i];
                bool own = !rules_chain_is_builtin(rule->chain);
                if (own && !rules_rule_jumps_to_istio(rule))
                        continue;
                fprintf(f, "%s-t %s -D %s ", prefix, rules_table_name(rule->table), rules_chain_name(rule->chain));
                r = rules_ipt_format_args(f, rule);
                if (r < 0)
                        return r;
                fputc('\n', f);
        }
        for (size_t i = l->n; i-- > 0;) {
                const struct rules_rule *rule = &l->v[i];
                if (rules_chain_is_builtin(rule->chain) || seen[rule->table][rule->chain])
                        continue;
                seen[rule->table][rule->chain] = true;
                fprintf(f, "%s-t %s -F %s\n", prefix, rules_table_name(rule->table), rules_chain_name(rule->chain));
                fprintf(f, "%s-t %s -X %s\n", prefix, rules_table_name(rule->table), rules_chain_name(rule->chain));
        }
        return 0;
}

int rules_ipt_cleanup_commands(const struct rules_list *l, char **ret_text) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f)
                return -ENOMEM;
        return memstream_finish(f, &buf, cleanup_to(f, l, ""), ret_text);
}

int rules_ipt_dryrun_record(const struct ruleset *rs, bool cleanup_only, char **ret_text) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        int r = 0;

        if (!f)
                return -ENOMEM;
        /* State verification always reads both families (quirk 3). */
        fputs("iptables-save\nip6tables-save\n", f);
        for (int fam = 0; fam < 2 && r >= 0; fam++) {
                if (fam == 1 && !rs->enable_ipv6)
                        break;
                if (cleanup_only)
                        r = cleanup_to(f, &rs->fam[fam], fam ? "ip6tables " : "iptables ");
                else
                        r = render_to(f, &rs->fam[fam]);
        }
        fputs("iptables-save\n", f);
        if (rs->enable_ipv6)
                fputs("ip6tables-save\n", f);
        return memstream_finish(f, &buf, r, ret_text);
}
