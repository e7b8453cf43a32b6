/* SPDX-License-Identifier: Apache-2.0 */
/* nftbatch.c: typed rules → nf_tables objects in one nfnetlink batch (libnftnl, over kernel/mnl).
 * Spec: istio-iptables.md §7; docs/nftables.md.
 *
 * Decisions:
 * - The expressions are the ones nft 1.0.6 generates for the text of rules-nft.c (checked with
 *   `nft --debug=netlink`), dependencies included (meta nfproto before ip/ip6 payloads, meta
 *   l4proto before a port payload when the rule has no such match yet), so `nft list ruleset`
 *   reads back the text renderer's rules; the equivalence test proves it per golden scenario.
 * - Inserts are resolved here, in memory, to their final place (the text renderer's rule: an
 *   insert into a chain with fewer rules so far is an append), and every rule is appended in
 *   that order: same ruleset, no rule handles or position ids needed.
 * - Every object message has its own sequence number, which maps a refusal back to the object
 *   ("rule 7 of chain istio-output"): nfnetlink answers every refused message, ACK flag or not.
 *   Only the first and the last object message ask for an ACK (NLM_F_ACK); nfnetlink answers in
 *   batch order after the commit, so the last one proves the whole batch was read and committed.
 *   The first one tells a commit error from a refusal of the first object: nfnetlink reports a
 *   commit error against the first message after BATCH_BEGIN, before the queued answers, so that
 *   message then gets two answers (the error, then its ACK); a refused message gets one. One ACK
 *   per message cost the kernel an skb each and us the reads (~9 % of a 5,000-rule apply).
 *   nfnetlink processes the whole batch inside sendmsg(), so all answers are queued when it
 *   returns. */
#include "kernel/nftbatch.h"
#include "kernel/nftdump.h"
#include "base/netns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kernel/mnl.h"
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>

#include "base/fileio.h"
#include "base/idname.h"
#include "base/macro.h"
#include "rules/rules-nft.h"

/* Room reserved in the batch buffer before each message: the largest rule (64 owner groups and
 * the other matches, ~100 bytes an expression) needs under 10 KiB. */
#define MSG_ROOM (64u * 1024u)
/* The anonymous set of a multiport match; the kernel names it (__set0, ...), the batch refers
 * to it by NFTA_SET_ID. nft's own spelling. */
#define ANON_SET_NAME "__set%d"
/* nft's TYPE_INET_SERVICE (src/datatype.h): the key type a port set lists as "dport { 53 }". */
#define NFT_TYPE_INET_SERVICE 13

/* What each message of the batch creates, to name it when the kernel refuses it. */
enum obj_kind { OBJ_BATCH, OBJ_TABLE_ADD, OBJ_TABLE_DEL, OBJ_TABLE_FLUSH, OBJ_CHAIN, OBJ_SET, OBJ_ELEMS, OBJ_RULE };

struct obj {
        uint8_t kind;
        uint8_t table; /* index into rules_nft_tables() */
        const char *chain;
        unsigned rule; /* 1-based position in its chain */
};

struct batch {
        char *buf;
        size_t len, cap;
        uint32_t seq0, seq;
        struct obj *objs; /* objs[seq - seq0] */
        size_t n_objs, cap_objs;
        size_t first_obj, last_obj; /* offsets of the messages that get NLM_F_ACK */
        uint32_t set_id;
        char *error; /* why building failed (an owner name), for ret_error */
};

static void batch_done(struct batch *b) {
        free(b->buf);
        free(b->objs);
        free(b->error);
        *b = (struct batch){};
}

/* A large batch buffer is written front to back, a page at a time: one page fault each, and
 * a fault is dear in a VM (~12 % of a 5,000-rule apply was faults). MADV_POPULATE_WRITE (Linux
 * 5.14) maps the pages in one call instead; where it is not supported the faults happen as
 * before. Small buffers come from the heap already mapped. */
static void prefault(char *p, size_t n) {
        const uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE); /* 4 KiB here; 16/64 KiB on some arm64 */
        uintptr_t a = ((uintptr_t)p + pg - 1) & ~(pg - 1), e = ((uintptr_t)p + n) & ~(pg - 1);

        if (n >= 256u * 1024u && e > a)
                (void)madvise((void *)a, e - a, MADV_POPULATE_WRITE);
}

static int batch_room_for(struct batch *b, size_t want) {
        if (b->cap - b->len >= want)
                return 0;
        size_t cap = b->cap ? b->cap * 2 : 4 * MSG_ROOM;
        while (cap - b->len < want)
                cap *= 2;
        char *p = realloc(b->buf, cap);
        if (!p)
                return -ENOMEM;
        /* No zeroing needed: libmnl clears the headers it puts and every attribute's padding. */
        b->buf = p;
        b->cap = cap;
        prefault(p + b->len, cap - b->len);
        return 0;
}

static int batch_room(struct batch *b) { return batch_room_for(b, MSG_ROOM); }

/* Starts the next message: its header at the end of the buffer, its object recorded under its seq. */
static struct nlmsghdr *batch_msg(struct batch *b, uint16_t type, uint16_t flags, struct obj o) {
        if (batch_room(b) < 0)
                return NULL;
        if (b->n_objs == b->cap_objs) {
                size_t n = b->cap_objs ? b->cap_objs * 2 : 64;
                struct obj *v = realloc(b->objs, n * sizeof *v);
                if (!v)
                        return NULL;
                b->objs = v;
                b->cap_objs = n;
        }
        if (!b->n_objs)
                b->first_obj = b->len;
        b->objs[b->n_objs++] = o;
        b->last_obj = b->len;
        return nftnl_nlmsg_build_hdr(b->buf + b->len, type, NFPROTO_INET, flags, ++b->seq);
}

static void batch_end_msg(struct batch *b, struct nlmsghdr *nlh) { b->len += NLMSG_ALIGN(nlh->nlmsg_len); }

/* --- expressions ---------------------------------------------------------------------------- */

/* Appends an expression; false (rule marked broken) when out of memory. */
static struct nftnl_expr *expr(struct nftnl_rule *r, const char *name, bool *oom) {
        struct nftnl_expr *e = nftnl_expr_alloc(name);
        if (!e) {
                *oom = true;
                return NULL;
        }
        nftnl_rule_add_expr(r, e);
        return e;
}

static void e_meta_load(struct nftnl_rule *r, uint32_t key, bool *oom) {
        struct nftnl_expr *e = expr(r, "meta", oom);
        if (!e)
                return;
        nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
        nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
}

static void e_meta_set(struct nftnl_rule *r, uint32_t key, bool *oom) {
        struct nftnl_expr *e = expr(r, "meta", oom);
        if (!e)
                return;
        nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
        nftnl_expr_set_u32(e, NFTNL_EXPR_META_SREG, NFT_REG_1);
}

static void e_ct_load(struct nftnl_rule *r, uint32_t key, bool *oom) {
        struct nftnl_expr *e = expr(r, "ct", oom);
        if (!e)
                return;
        nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, key);
        nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
}

static void e_ct_set(struct nftnl_rule *r, uint32_t key, bool *oom) {
        struct nftnl_expr *e = expr(r, "ct", oom);
        if (!e)
                return;
        nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, key);
        nftnl_expr_set_u32(e, NFTNL_EXPR_CT_SREG, NFT_REG_1);
}

static void e_cmp(struct nftnl_rule *r, bool neq, const void *data, uint32_t len, bool *oom) {
        struct nftnl_expr *e = expr(r, "cmp", oom);
        if (!e)
                return;
        nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
        nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, neq ? NFT_CMP_NEQ : NFT_CMP_EQ);
        nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
}

static void e_payload(struct nftnl_rule *r, uint32_t base, uint32_t offset, uint32_t len, bool *oom) {
        struct nftnl_expr *e = expr(r, "payload", oom);
        if (!e)
                return;
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
        nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
}

static void e_bitwise(struct nftnl_rule *r, const void *mask, uint32_t len, bool *oom) {
        static const uint8_t zero[16];
        struct nftnl_expr *e = expr(r, "bitwise", oom);
        if (!e)
                return;
        nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
        nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
        nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
        nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, len);
        nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, zero, len);
}

static void e_imm_data(struct nftnl_rule *r, const void *data, uint32_t len, bool *oom) {
        struct nftnl_expr *e = expr(r, "immediate", oom);
        if (!e)
                return;
        nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_1);
        nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, data, len);
}

static void e_verdict(struct nftnl_rule *r, int verdict, const char *chain, bool *oom) {
        struct nftnl_expr *e = expr(r, "immediate", oom);
        if (!e)
                return;
        nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
        nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)verdict);
        if (chain)
                nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, chain);
}

static void e_counter(struct nftnl_rule *r, bool *oom) { (void)expr(r, "counter", oom); }

/* --- one rule ------------------------------------------------------------------------------- */

/* What the rule has established so far, as nft's protocol context: a dependency is emitted only
 * when the rule does not already imply it. */
struct ctx {
        uint8_t nfproto; /* NFPROTO_IPV4/6 or 0 */
        uint8_t l4;      /* IPPROTO_TCP/UDP or 0 */
};

static void dep_nfproto(struct nftnl_rule *r, struct ctx *cx, int family, bool *oom) {
        uint8_t p = family == AF_INET6 ? NFPROTO_IPV6 : NFPROTO_IPV4;
        if (cx->nfproto == p)
                return;
        e_meta_load(r, NFT_META_NFPROTO, oom);
        e_cmp(r, false, &p, 1, oom);
        cx->nfproto = p;
}

static void dep_l4(struct nftnl_rule *r, struct ctx *cx, uint8_t proto, bool *oom) {
        if (cx->l4 == proto)
                return;
        e_meta_load(r, NFT_META_L4PROTO, oom);
        e_cmp(r, false, &proto, 1, oom);
        cx->l4 = proto;
}

/* ip/ip6 saddr/daddr CIDR, as nft does: a byte-aligned prefix loads only its bytes; any other
 * prefix loads the whole address and masks it. */
static void m_addr(struct nftnl_rule *r, struct ctx *cx, const struct rules_match *m, bool *oom) {
        bool v6 = m->cidr.ip.family == AF_INET6;
        uint32_t alen = v6 ? 16 : 4;
        uint32_t off = v6 ? (m->kind == RULES_MATCH_SRC ? 8 : 24) : (m->kind == RULES_MATCH_SRC ? 12 : 16);
        const uint8_t *a = v6 ? m->cidr.ip.v6.s6_addr : (const uint8_t *)&m->cidr.ip.v4;
        unsigned plen = m->cidr.prefixlen;
        uint8_t mask[16] = {}, val[16] = {};

        dep_nfproto(r, cx, m->cidr.ip.family, oom);
        if (plen > 0 && plen % 8 == 0) {
                e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, off, plen / 8, oom);
                e_cmp(r, m->neg, a, plen / 8, oom);
                return;
        }
        for (unsigned i = 0; i < alen; i++) {
                unsigned bits = plen > i * 8 ? plen - i * 8 : 0;
                mask[i] = bits >= 8 ? 0xff : (uint8_t)(0xff00u >> bits);
                val[i] = a[i] & mask[i];
        }
        e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, off, alen, oom);
        e_bitwise(r, mask, alen, oom);
        e_cmp(r, m->neg, val, alen, oom);
}

/* iifname/oifname: an exact name compares IFNAMSIZ bytes (NUL-padded), iptables' "eth+" the
 * prefix only, as nft's "eth*". */
static int m_ifname(struct nftnl_rule *r, uint32_t key, const struct rules_match *m, bool *oom) {
        char name[IFNAMSIZ] = {};
        size_t n = strnlen(m->ifname, IFNAMSIZ - 1);

        memcpy(name, m->ifname, n);
        e_meta_load(r, key, oom);
        if (n && name[n - 1] == '+') {
                if (n == 1)
                        return -EINVAL; /* "+" alone: nft has no such wildcard; config refuses it */
                e_cmp(r, m->neg, name, (uint32_t)(n - 1), oom);
        } else
                e_cmp(r, m->neg, name, IFNAMSIZ, oom);
        return 0;
}

static int owner_id(const struct config_owner *o, bool group, uint32_t *ret, struct batch *b) {
        int r;

        if (!o->is_name) {
                *ret = o->id;
                return 0;
        }
        r = idname_lookup(o->name, group, ret);
        if (r < 0 && asprintf(&b->error, "unknown %s '%s': %s", group ? "group" : "user", o->name,
                              r == -ENOENT ? "no such name" : strerror(-r)) < 0)
                b->error = NULL;
        return r;
}

/* The anonymous constant set of a multiport match (NEWSET + NEWSETELEM before the rule). */
static int add_port_set(struct batch *b, const char *table, const struct rules_match *m, struct obj o,
                        uint32_t *ret_id) {
        struct nftnl_set *s = nftnl_set_alloc();
        struct nlmsghdr *nlh;
        int r = -ENOMEM;

        if (!s)
                return -ENOMEM;
        *ret_id = ++b->set_id;
        nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
        nftnl_set_set_str(s, NFTNL_SET_TABLE, table);
        nftnl_set_set_str(s, NFTNL_SET_NAME, ANON_SET_NAME);
        nftnl_set_set_u32(s, NFTNL_SET_ID, *ret_id);
        nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_ANONYMOUS | NFT_SET_CONSTANT);
        nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, NFT_TYPE_INET_SERVICE);
        nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, 2);
        nftnl_set_set_u32(s, NFTNL_SET_DESC_SIZE, m->ports.n);
        for (unsigned i = 0; i < m->ports.n; i++) {
                struct nftnl_set_elem *e = nftnl_set_elem_alloc();
                uint16_t port = htons(m->ports.v[i]);
                if (!e)
                        goto out;
                nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, &port, sizeof port);
                nftnl_set_elem_add(s, e);
        }
        o.kind = OBJ_SET;
        nlh = batch_msg(b, NFT_MSG_NEWSET, NLM_F_CREATE, o);
        if (!nlh)
                goto out;
        nftnl_set_nlmsg_build_payload(nlh, s);
        batch_end_msg(b, nlh);
        o.kind = OBJ_ELEMS;
        nlh = batch_msg(b, NFT_MSG_NEWSETELEM, NLM_F_CREATE, o);
        if (!nlh)
                goto out;
        nftnl_set_elems_nlmsg_build_payload(nlh, s);
        batch_end_msg(b, nlh);
        r = 0;
out:
        nftnl_set_free(s);
        return r;
}

static int build_rule(struct batch *b, const char *table, const struct rules_rule *rr, struct obj o) {
        const struct rules_target *t = &rr->target;
        struct nftnl_rule *r = nftnl_rule_alloc();
        struct ctx cx = {};
        struct nlmsghdr *nlh;
        bool oom = false;
        int k = 0;

        if (!r)
                return -ENOMEM;
        nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
        nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table);
        nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, o.chain);

        for (unsigned i = 0; i < rr->n_matches && k >= 0 && !oom; i++) {
                const struct rules_match *m = &rr->matches[i];
                uint32_t v;
                uint16_t port;

                switch (m->kind) {
                case RULES_MATCH_PROTO:
                        e_meta_load(r, NFT_META_L4PROTO, &oom);
                        e_cmp(r, m->neg, &m->proto, 1, &oom);
                        if (!m->neg)
                                cx.l4 = m->proto;
                        break;
                case RULES_MATCH_IIF:
                        k = m_ifname(r, NFT_META_IIFNAME, m, &oom);
                        break;
                case RULES_MATCH_OIF:
                        k = m_ifname(r, NFT_META_OIFNAME, m, &oom);
                        break;
                case RULES_MATCH_SRC:
                case RULES_MATCH_DST:
                        m_addr(r, &cx, m, &oom);
                        break;
                case RULES_MATCH_DPORT:
                case RULES_MATCH_SPORT:
                        dep_l4(r, &cx, m->proto, &oom);
                        port = htons(m->port);
                        e_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, m->kind == RULES_MATCH_DPORT ? 2 : 0, 2, &oom);
                        e_cmp(r, m->neg, &port, 2, &oom);
                        break;
                case RULES_MATCH_DPORTS: {
                        uint32_t id = 0;
                        struct nftnl_expr *e;

                        /* The set's messages go before the rule's, which is built last. */
                        k = add_port_set(b, table, m, o, &id);
                        if (k < 0)
                                break;
                        dep_l4(r, &cx, m->proto, &oom);
                        e_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, &oom);
                        e = expr(r, "lookup", &oom);
                        if (!e)
                                break;
                        nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
                        nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, ANON_SET_NAME);
                        nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, id);
                        if (m->neg)
                                nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
                        break;
                }
                case RULES_MATCH_UID_OWNER:
                case RULES_MATCH_GID_OWNER: {
                        bool group = m->kind == RULES_MATCH_GID_OWNER;
                        k = owner_id(&m->owner, group, &v, b);
                        if (k < 0)
                                break;
                        e_meta_load(r, group ? NFT_META_SKGID : NFT_META_SKUID, &oom);
                        e_cmp(r, m->neg, &v, 4, &oom);
                        break;
                }
                case RULES_MATCH_CTSTATE: {
                        static const uint32_t zero = 0;
                        v = 0;
                        if (m->ctstate & RULES_CTSTATE_INVALID)
                                v |= NF_CT_STATE_INVALID_BIT;
                        if (m->ctstate & RULES_CTSTATE_ESTABLISHED)
                                v |= NF_CT_STATE_BIT(IP_CT_ESTABLISHED);
                        if (m->ctstate & RULES_CTSTATE_RELATED)
                                v |= NF_CT_STATE_BIT(IP_CT_RELATED);
                        e_ct_load(r, NFT_CT_STATE, &oom);
                        e_bitwise(r, &v, 4, &oom);
                        e_cmp(r, !m->neg, &zero, 4, &oom);
                        break;
                }
                case RULES_MATCH_MARK:
                        e_meta_load(r, NFT_META_MARK, &oom);
                        e_cmp(r, m->neg, &m->mark, 4, &oom);
                        break;
                case RULES_MATCH_CONNMARK:
                        e_ct_load(r, NFT_CT_MARK, &oom);
                        e_cmp(r, m->neg, &m->mark, 4, &oom);
                        break;
                }
        }

        if (k >= 0 && !oom) {
                uint16_t port = htons(t->port);
                struct nftnl_expr *e;

                switch (t->kind) {
                case RULES_TARGET_RETURN:
                        e_counter(r, &oom);
                        e_verdict(r, NFT_RETURN, NULL, &oom);
                        break;
                case RULES_TARGET_ACCEPT:
                        e_counter(r, &oom);
                        e_verdict(r, NF_ACCEPT, NULL, &oom);
                        break;
                case RULES_TARGET_DROP:
                        e_counter(r, &oom);
                        e_verdict(r, NF_DROP, NULL, &oom);
                        break;
                case RULES_TARGET_JUMP:
                        e_counter(r, &oom);
                        e_verdict(r, NFT_JUMP, rules_chain_nft_name(t->chain), &oom);
                        break;
                case RULES_TARGET_REDIRECT:
                        e_counter(r, &oom);
                        e_imm_data(r, &port, 2, &oom);
                        e = expr(r, "redir", &oom);
                        if (!e)
                                break;
                        nftnl_expr_set_u32(e, NFTNL_EXPR_REDIR_REG_PROTO_MIN, NFT_REG_1);
                        nftnl_expr_set_u32(e, NFTNL_EXPR_REDIR_FLAGS, NF_NAT_RANGE_PROTO_SPECIFIED);
                        break;
                case RULES_TARGET_TPROXY: {
                        int fam = rr->family == AF_INET6 ? AF_INET6 : AF_INET;
                        dep_nfproto(r, &cx, fam, &oom);
                        e_imm_data(r, &port, 2, &oom);
                        e = expr(r, "tproxy", &oom);
                        if (!e)
                                break;
                        nftnl_expr_set_u32(e, NFTNL_EXPR_TPROXY_FAMILY, fam == AF_INET6 ? NFPROTO_IPV6 : NFPROTO_IPV4);
                        nftnl_expr_set_u32(e, NFTNL_EXPR_TPROXY_REG_PORT, NFT_REG_1);
                        e_imm_data(r, &t->mark, 4, &oom);
                        e_meta_set(r, NFT_META_MARK, &oom);
                        e_counter(r, &oom);
                        e_verdict(r, NF_ACCEPT, NULL, &oom);
                        break;
                }
                case RULES_TARGET_MARK:
                        e_counter(r, &oom);
                        e_imm_data(r, &t->mark, 4, &oom);
                        e_meta_set(r, NFT_META_MARK, &oom);
                        break;
                case RULES_TARGET_CONNMARK_SAVE:
                        e_counter(r, &oom);
                        e_meta_load(r, NFT_META_MARK, &oom);
                        e_ct_set(r, NFT_CT_MARK, &oom);
                        break;
                case RULES_TARGET_CONNMARK_RESTORE:
                        e_counter(r, &oom);
                        e_ct_load(r, NFT_CT_MARK, &oom);
                        e_meta_set(r, NFT_META_MARK, &oom);
                        break;
                case RULES_TARGET_CT_ZONE:
                        e_counter(r, &oom);
                        e_imm_data(r, &t->zone, 2, &oom);
                        e_ct_set(r, NFT_CT_ZONE, &oom);
                        break;
                }
        }
        if (k >= 0 && oom)
                k = -ENOMEM;
        if (k >= 0) {
                o.kind = OBJ_RULE;
                nlh = batch_msg(b, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND, o);
                if (nlh) {
                        nftnl_rule_nlmsg_build_payload(nlh, r);
                        batch_end_msg(b, nlh);
                } else
                        k = -ENOMEM;
        }
        nftnl_rule_free(r);
        return k;
}

/* --- tables and chains ---------------------------------------------------------------------- */

static int table_msg(struct batch *b, uint16_t type, uint16_t flags, size_t ti, const char *name, enum obj_kind kind) {
        struct nftnl_table *t = nftnl_table_alloc();
        struct nlmsghdr *nlh;

        if (!t)
                return -ENOMEM;
        nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
        nftnl_table_set_str(t, NFTNL_TABLE_NAME, name);
        nlh = batch_msg(b, type, flags, (struct obj){ .kind = (uint8_t)kind, .table = (uint8_t)ti });
        if (nlh) {
                nftnl_table_nlmsg_build_payload(nlh, t);
                batch_end_msg(b, nlh);
        }
        nftnl_table_free(t);
        return nlh ? 0 : -ENOMEM;
}

static int chain_msg(struct batch *b, size_t ti, const char *table, const struct rules_nft_chain *spec,
                     const char *name) {
        struct nftnl_chain *c = nftnl_chain_alloc();
        struct nlmsghdr *nlh;

        if (!c)
                return -ENOMEM;
        nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
        nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, table);
        nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
        if (spec && spec->type) {
                nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM,
                                    streq(spec->hook, "prerouting") ? NF_INET_PRE_ROUTING : NF_INET_LOCAL_OUT);
                nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, spec->priority);
                nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, spec->type);
        }
        nlh = batch_msg(b, NFT_MSG_NEWCHAIN, NLM_F_CREATE, (struct obj){ .kind = OBJ_CHAIN, .table = (uint8_t)ti, .chain = name });
        if (nlh) {
                nftnl_chain_nlmsg_build_payload(nlh, c);
                batch_end_msg(b, nlh);
        }
        nftnl_chain_free(c);
        return nlh ? 0 : -ENOMEM;
}

/* One table's objects, if the configuration uses it: add, flush, chains, rules in final order. */
static int build_table(struct batch *b, const struct rules_list *l, size_t ti, const struct rules_nft_table *tab) {
        _cleanup_free_ const struct rules_rule **order = NULL;
        size_t count[RULES_CHAIN_MAX] = {}, start[RULES_CHAIN_MAX] = {}, total = 0;
        int r;

        for (size_t i = 0; i < l->n; i++)
                if (l->v[i].table == tab->table) {
                        count[l->v[i].chain]++;
                        total++;
                }
        if (!total)
                return 0;

        /* Each chain's rules in their final order: a slice of order[] per chain, filled as the
         * text renderer's transaction would leave them (an insert at index N when the chain has
         * more than N rules so far, else an append). */
        order = calloc(total, sizeof *order);
        if (!order)
                return -ENOMEM;
        for (size_t ch = 1; ch < RULES_CHAIN_MAX; ch++)
                start[ch] = start[ch - 1] + count[ch - 1];
        memset(count, 0, sizeof count);
        for (size_t i = 0; i < l->n; i++) {
                const struct rules_rule *rule = &l->v[i];
                if (rule->table != tab->table)
                        continue;
                const struct rules_rule **v = order + start[rule->chain];
                size_t n = count[rule->chain], idx = rule->position ? rule->position - 1 : 0;
                if (rule->position && n > 0 && idx < n) {
                        memmove(v + idx + 1, v + idx, (n - idx) * sizeof *v);
                        v[idx] = rule;
                } else
                        v[n] = rule;
                count[rule->chain]++;
        }

        r = table_msg(b, NFT_MSG_NEWTABLE, NLM_F_CREATE, ti, tab->name, OBJ_TABLE_ADD);
        if (r >= 0)
                r = table_msg(b, NFT_MSG_DELRULE, 0, ti, tab->name, OBJ_TABLE_FLUSH);
        for (size_t k = 0; r >= 0 && tab->chains[k].chain != RULES_CHAIN_MAX; k++)
                if (count[tab->chains[k].chain])
                        r = chain_msg(b, ti, tab->name, &tab->chains[k], rules_chain_nft_name(tab->chains[k].chain));
        for (size_t k = 0; r >= 0 && tab->chains[k].chain != RULES_CHAIN_MAX; k++) {
                enum rules_chain ch = tab->chains[k].chain;
                for (size_t i = 0; r >= 0 && i < count[ch]; i++)
                        r = build_rule(b, tab->name, order[start[ch] + i],
                                       (struct obj){ .table = (uint8_t)ti, .chain = rules_chain_nft_name(ch),
                                                     .rule = (unsigned)i + 1 });
        }
        return r;
}

/* The fault hook: a chain whose rule jumps to a chain that does not exist (ENOENT at the end of
 * the batch, after every real object). */
/* Test hook: an anonymous set no rule uses. Each object is accepted; the commit refuses the
 * batch ("unbound set", -EINVAL), which is how a commit error is provoked. */
static int build_unbound_set(struct batch *b, size_t ti, const char *table) {
        struct rules_match m = { .kind = RULES_MATCH_DPORTS, .proto = IPPROTO_TCP, .ports = { .n = 1, .v = { 53 } } };
        uint32_t id;

        return add_port_set(b, table, &m, (struct obj){ .table = (uint8_t)ti, .chain = "-", .rule = 0 }, &id);
}

static int build_fault(struct batch *b, size_t ti, const char *table) {
        struct nftnl_rule *r;
        struct nlmsghdr *nlh;
        bool oom = false;
        int k;

        k = table_msg(b, NFT_MSG_NEWTABLE, NLM_F_CREATE, ti, table, OBJ_TABLE_ADD);
        if (k >= 0)
                k = chain_msg(b, ti, table, NULL, "istio-fault-inject");
        if (k < 0)
                return k;
        r = nftnl_rule_alloc();
        if (!r)
                return -ENOMEM;
        nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
        nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table);
        nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, "istio-fault-inject");
        e_counter(r, &oom);
        e_verdict(r, NFT_JUMP, "istio-fault-missing", &oom);
        nlh = oom ? NULL
                  : batch_msg(b, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND,
                              (struct obj){ .kind = OBJ_RULE, .table = (uint8_t)ti, .chain = "istio-fault-inject", .rule = 1 });
        if (nlh) {
                nftnl_rule_nlmsg_build_payload(nlh, r);
                batch_end_msg(b, nlh);
        }
        nftnl_rule_free(r);
        return nlh ? 0 : -ENOMEM;
}

/* --- the socket ------------------------------------------------------------------------------ */

static int nl_open(struct mnl_socket **ret) {
        struct mnl_socket *nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
        int one = 1;

        if (!nl)
                return -errno;
        if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
                int r = -errno;
                mnl_socket_close(nl);
                return r;
        }
        /* Small ACKs: without this each one carries a copy of the message it answers. */
        (void)mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &one, sizeof one);
        *ret = nl;
        return 0;
}

/* Socket buffers sized for the batch and its answers (at worst one error skb per message); FORCE needs
 * CAP_NET_ADMIN, which an apply has; otherwise the plain option (capped by the sysctl). */
static void nl_size_buffers(struct mnl_socket *nl, size_t send_len, size_t n_msgs) {
        int fd = mnl_socket_get_fd(nl);
        int snd = (int)(send_len + 4096 > INT32_MAX / 2 ? INT32_MAX / 2 : send_len + 4096);
        int rcv = (int)(n_msgs * 1024 + 65536 > INT32_MAX / 2 ? INT32_MAX / 2 : n_msgs * 1024 + 65536);

        if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &snd, sizeof snd) < 0)
                (void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &snd, sizeof snd);
        if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof rcv) < 0)
                (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
}

static char *describe(const struct batch *b, uint32_t seq, int err) {
        size_t n;
        const struct rules_nft_table *tabs = rules_nft_tables(&n);
        const char *why = strerror(err);
        char *s = NULL;
        int k;

        if (seq <= b->seq0 || seq - b->seq0 > b->n_objs) {
                k = asprintf(&s, "the batch (commit): %s", why);
                return k < 0 ? NULL : s;
        }
        const struct obj *o = &b->objs[seq - b->seq0 - 1];
        const char *tn = o->table < n ? tabs[o->table].name : "?";
        switch (o->kind) {
        case OBJ_TABLE_ADD:
                k = asprintf(&s, "add table inet %s: %s", tn, why);
                break;
        case OBJ_TABLE_DEL:
                k = asprintf(&s, "delete table inet %s: %s", tn, why);
                break;
        case OBJ_TABLE_FLUSH:
                k = asprintf(&s, "flush table inet %s: %s", tn, why);
                break;
        case OBJ_CHAIN:
                k = asprintf(&s, "chain %s (table inet %s): %s", o->chain, tn, why);
                break;
        case OBJ_SET:
        case OBJ_ELEMS:
                k = asprintf(&s, "the port set of rule %u of chain %s (table inet %s): %s", o->rule, o->chain, tn, why);
                break;
        default:
                k = asprintf(&s, "rule %u of chain %s (table inet %s): %s", o->rule, o->chain, tn, why);
                break;
        }
        return k < 0 ? NULL : s;
}

/* Sends the batch and reads every answer. 0, or the first refusal (lowest seq) as -EINVAL with
 * *ret_error naming the object. */
#define RECV_VLEN 256
#define RECV_SLOT 1024 /* an ACK is 36 bytes (NETLINK_CAP_ACK); an error with extack attributes more */
struct rx {
        struct mmsghdr hdr[RECV_VLEN];
        struct iovec iov[RECV_VLEN];
        char buf[RECV_VLEN][RECV_SLOT] __attribute__((aligned(8)));
};

static struct rx *rx_new(void) {
        struct rx *rx = calloc(1, sizeof *rx);
        if (!rx)
                return NULL;
        for (int i = 0; i < RECV_VLEN; i++) {
                rx->iov[i] = (struct iovec){ rx->buf[i], RECV_SLOT };
                rx->hdr[i].msg_hdr.msg_iov = &rx->iov[i];
                rx->hdr[i].msg_hdr.msg_iovlen = 1;
        }
        return rx;
}

static int batch_send(struct batch *b, char **ret_error) {
        _cleanup_free_ struct rx *rx = NULL;
        struct mnl_socket *nl = NULL;
        struct nlmsghdr *nlh;
        uint32_t bad_seq = 0, portid, first_seq = b->seq0 + 1, last_seq;
        int bad_err = 0, first_err = 0, r;
        bool confirmed = false, last_answered = false, first_acked = false;

        if (!b->n_objs)
                return 0; /* nothing to change */
        ((struct nlmsghdr *)(b->buf + b->first_obj))->nlmsg_flags |= NLM_F_ACK;
        ((struct nlmsghdr *)(b->buf + b->last_obj))->nlmsg_flags |= NLM_F_ACK;
        last_seq = b->seq;
        /* BATCH_END (its room was reserved by the last message or here). */
        if (batch_room(b) < 0)
                return -ENOMEM;
        nlh = nftnl_batch_end(b->buf + b->len, ++b->seq);
        b->len += NLMSG_ALIGN(nlh->nlmsg_len);

        rx = rx_new();
        if (!rx)
                return -ENOMEM;
        r = nl_open(&nl);
        if (r < 0)
                return r;
        portid = mnl_socket_get_portid(nl);
        nl_size_buffers(nl, b->len, b->n_objs);
        if (mnl_socket_sendto(nl, b->buf, b->len) < 0) {
                r = -errno;
                mnl_socket_close(nl);
                if (ret_error && asprintf(ret_error, "sending the batch (%zu bytes): %s", b->len, strerror(-r)) < 0)
                        *ret_error = NULL;
                return r;
        }
        /* nfnetlink handled the batch inside sendmsg(): every answer is queued now: the refusals
         * and the last message's ACK (a refusal itself if that message was refused), and a commit
         * error against the batch header. Read RECV_VLEN at a time (recvmmsg): after a refusal
         * there may be one answer per message. */
        for (;;) {
                int k = recvmmsg(mnl_socket_get_fd(nl), rx->hdr, RECV_VLEN, MSG_DONTWAIT, NULL);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN || errno == EWOULDBLOCK)
                                break;
                        r = -errno; /* ENOBUFS: answers lost; the outcome is unknown */
                        mnl_socket_close(nl);
                        if (ret_error && asprintf(ret_error, "reading the kernel's answers: %s", strerror(-r)) < 0)
                                *ret_error = NULL;
                        return r;
                }
                for (int m = 0; m < k; m++) {
                        int len = (int)rx->hdr[m].msg_len;
                        for (nlh = (struct nlmsghdr *)rx->buf[m]; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
                                if (nlh->nlmsg_pid != portid || nlh->nlmsg_type != NLMSG_ERROR)
                                        continue;
                                const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
                                if (nlh->nlmsg_seq == first_seq) {
                                        if (e->error)
                                                first_err = -e->error;
                                        else
                                                first_acked = true;
                                }
                                if (nlh->nlmsg_seq == last_seq) {
                                        last_answered = true;
                                        if (!e->error)
                                                confirmed = true;
                                }
                                if (e->error && (!bad_seq || nlh->nlmsg_seq < bad_seq)) {
                                        bad_seq = nlh->nlmsg_seq;
                                        bad_err = -e->error;
                                }
                        }
                }
                if (k < RECV_VLEN)
                        break; /* drained: everything was queued before the first read */
        }
        mnl_socket_close(nl);
        /* The first message refused and acknowledged: the objects were all taken, the commit
         * failed (nfnetlink acks that error against the first message). Refused with no answer
         * for the last message: nfnetlink gave up on the whole batch (out of memory, a signal)
         * and reported it against the first message too. Either way the batch, not an object. */
        if (first_err && first_acked) {
                if (ret_error)
                        *ret_error = describe(b, b->seq0, first_err);
                return -EINVAL;
        }
        if (first_err && !last_answered && last_seq != first_seq) {
                if (ret_error && asprintf(ret_error, "the batch (the kernel stopped reading it): %s", strerror(first_err)) < 0)
                        *ret_error = NULL;
                return -EINVAL;
        }
        if (bad_seq) {
                if (ret_error)
                        *ret_error = describe(b, bad_seq, bad_err);
                return -EINVAL;
        }
        if (!confirmed) {
                if (ret_error && asprintf(ret_error, "the kernel did not confirm the batch (%zu messages): outcome unknown", b->n_objs) < 0)
                        *ret_error = NULL;
                return -EIO;
        }
        return 0;
}

static int batch_begin(struct batch *b) {
        struct nlmsghdr *nlh;

        *b = (struct batch){};
        if (batch_room(b) < 0)
                return -ENOMEM;
        /* Sequence numbers start at the time, as nft does, so that a stale answer on a reused
         * port id cannot be taken for ours. */
        b->seq0 = b->seq = (uint32_t)time(NULL);
        nlh = nftnl_batch_begin(b->buf, b->seq);
        b->len = NLMSG_ALIGN(nlh->nlmsg_len);
        return 0;
}

int nftbatch_apply(const struct ruleset *rs, unsigned drop_mask, unsigned flags, char **ret_error) {
        size_t n;
        const struct rules_nft_table *tabs = rules_nft_tables(&n);
        struct batch b;
        int r;

        if (ret_error)
                *ret_error = NULL;
        if (rs->flavor != RULES_FLAVOR_NFT)
                return -EINVAL;
        r = batch_begin(&b);
        /* One allocation for the common case: a rule message is 200-400 bytes. */
        if (r >= 0)
                r = batch_room_for(&b, rs->fam[0].n * 512 + MSG_ROOM);
        /* Deleting first drops what a flush keeps (a table or chain the new configuration does
         * not use); "add" first makes the delete succeed whatever happened since the dump. */
        for (size_t ti = 0; r >= 0 && ti < n; ti++)
                if (drop_mask & (1u << ti)) {
                        r = table_msg(&b, NFT_MSG_NEWTABLE, NLM_F_CREATE, ti, tabs[ti].name, OBJ_TABLE_ADD);
                        if (r >= 0)
                                r = table_msg(&b, NFT_MSG_DELTABLE, 0, ti, tabs[ti].name, OBJ_TABLE_DEL);
                }
        if (r >= 0 && (flags & NFTBATCH_FAULT_FIRST_RULE))
                r = build_fault(&b, 0, tabs[0].name);
        for (size_t ti = 0; r >= 0 && ti < n; ti++)
                r = build_table(&b, &rs->fam[0], ti, &tabs[ti]);
        if (r >= 0 && (flags & NFTBATCH_FAULT_LAST_RULE))
                r = build_fault(&b, 0, tabs[0].name);
        if (r >= 0 && (flags & NFTBATCH_FAULT_COMMIT))
                r = build_unbound_set(&b, 0, tabs[0].name);
        if (r >= 0)
                r = batch_send(&b, ret_error);
        else if (ret_error && b.error)
                *ret_error = TAKE_PTR(b.error);
        batch_done(&b);
        return r;
}

int nftbatch_cleanup(char **ret_error) {
        size_t n;
        const struct rules_nft_table *tabs = rules_nft_tables(&n);
        struct batch b;
        int r;

        if (ret_error)
                *ret_error = NULL;
        r = batch_begin(&b);
        for (size_t ti = 0; r >= 0 && ti < n; ti++) {
                r = table_msg(&b, NFT_MSG_NEWTABLE, NLM_F_CREATE, ti, tabs[ti].name, OBJ_TABLE_ADD);
                if (r >= 0)
                        r = table_msg(&b, NFT_MSG_DELTABLE, 0, ti, tabs[ti].name, OBJ_TABLE_DEL);
        }
        if (r >= 0)
                r = batch_send(&b, ret_error);
        batch_done(&b);
        return r;
}

/* --- reading --------------------------------------------------------------------------------- */

struct present_ctx {
        const struct rules_nft_table *tabs;
        size_t n;
        unsigned mask;
};

static void present_cb(const char *name, void *data) {
        struct present_ctx *p = data;

        for (size_t i = 0; i < p->n; i++)
                if (streq(name, p->tabs[i].name))
                        p->mask |= 1u << i;
}

int nftbatch_tables_present(unsigned *ret_mask) {
        struct present_ctx p = {};
        int r;

        p.tabs = rules_nft_tables(&p.n);
        r = nftdump_tables(NFPROTO_INET, present_cb, &p);
        if (r < 0)
                return r;
        *ret_mask = p.mask;
        return 0;
}

static int nl_dump(struct nlmsghdr *req, mnl_cb_t cb, void *data);

/* --- state: our tables as canonical text, read over netlink ---------------------------------- */

/* One dump request (already built in req) on its own socket; cb gets each object. -EAGAIN when
 * the kernel says the dump was interrupted by a change (the caller starts over). */
static int nl_dump(struct nlmsghdr *req, mnl_cb_t cb, void *data) {
        char buf[MNL_SOCKET_BUFFER_SIZE * 4] __attribute__((aligned(8)));
        struct mnl_socket *nl = NULL;
        uint32_t portid;
        int r;

        r = nl_open(&nl);
        if (r < 0)
                return r;
        portid = mnl_socket_get_portid(nl);
        if (mnl_socket_sendto(nl, req, req->nlmsg_len) < 0) {
                r = -errno;
                goto out;
        }
        for (;;) {
                ssize_t len = mnl_socket_recvfrom(nl, buf, sizeof buf);
                if (len < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        goto out;
                }
                r = mnl_cb_run(buf, (size_t)len, req->nlmsg_seq, portid, cb, data);
                if (r < 0) {
                        r = errno == EINTR ? -EAGAIN : errno == ENOENT ? 0 : -errno;
                        goto out;
                }
                if (r == MNL_CB_STOP)
                        break;
        }
        r = 0;
out:
        mnl_socket_close(nl);
        return r;
}

struct set_text {
        char table[64], name[64];
        char *elems; /* "{ 0035 3aa0 }": key bytes in hex, in the kernel's order */
};

struct dump {
        const struct rules_nft_table *tabs;
        size_t n;
        FILE *out[8];  /* per table; 8 >= ELEMENTSOF(tables) */
        char *buf[8];
        size_t len[8];
        struct set_text *sets;
        size_t n_sets;
        int error;
};

static int table_index(const struct dump *d, const char *name) {
        for (size_t i = 0; name && i < d->n; i++)
                if (streq(name, d->tabs[i].name))
                        return (int)i;
        return -1;
}

static int chain_cb(const struct nlmsghdr *nlh, void *data) {
        struct dump *d = data;
        struct nftnl_chain *c = nftnl_chain_alloc();
        int ti;

        if (!c)
                return MNL_CB_ERROR;
        if (nftnl_chain_nlmsg_parse(nlh, c) == 0 && nftnl_chain_get_u32(c, NFTNL_CHAIN_FAMILY) == NFPROTO_INET &&
            (ti = table_index(d, nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE))) >= 0) {
                FILE *f = d->out[ti];
                fprintf(f, "chain %s", nftnl_chain_get_str(c, NFTNL_CHAIN_NAME) ?: "?");
                if (nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM))
                        fprintf(f, " type %s hook %u priority %d policy %u", nftnl_chain_get_str(c, NFTNL_CHAIN_TYPE) ?: "?",
                                nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM), nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO),
                                nftnl_chain_get_u32(c, NFTNL_CHAIN_POLICY));
                fputc('\n', f);
        }
        nftnl_chain_free(c);
        return MNL_CB_OK;
}

static int set_cb(const struct nlmsghdr *nlh, void *data) {
        struct dump *d = data;
        struct nftnl_set *s = nftnl_set_alloc();
        const char *tn, *name;

        if (!s)
                return MNL_CB_ERROR;
        if (nftnl_set_nlmsg_parse(nlh, s) == 0 && table_index(d, tn = nftnl_set_get_str(s, NFTNL_SET_TABLE)) >= 0 &&
            (name = nftnl_set_get_str(s, NFTNL_SET_NAME))) {
                struct set_text *v = realloc(d->sets, (d->n_sets + 1) * sizeof *v);
                if (!v) {
                        nftnl_set_free(s);
                        return MNL_CB_ERROR;
                }
                d->sets = v;
                v[d->n_sets] = (struct set_text){};
                snprintf(v[d->n_sets].table, sizeof v->table, "%s", tn);
                snprintf(v[d->n_sets].name, sizeof v->name, "%s", name);
                d->n_sets++;
        }
        nftnl_set_free(s);
        return MNL_CB_OK;
}

static int elem_hex(struct nftnl_set_elem *e, void *data) {
        FILE *f = data;
        uint32_t len = 0;
        const uint8_t *k = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len);

        fputc(' ', f);
        for (uint32_t i = 0; k && i < len; i++)
                fprintf(f, "%02x", k[i]);
        return 0;
}

static int elems_cb(const struct nlmsghdr *nlh, void *data) {
        struct nftnl_set *s = data;
        return nftnl_set_elems_nlmsg_parse(nlh, s) < 0 ? MNL_CB_ERROR : MNL_CB_OK;
}

/* Fills each set's element text. */
static int dump_elems(struct set_text *st) {
        char req[MNL_SOCKET_BUFFER_SIZE] __attribute__((aligned(8)));
        struct nftnl_set *s = nftnl_set_alloc();
        struct nlmsghdr *nlh;
        char *buf = NULL;
        size_t len = 0;
        FILE *f;
        int r;

        if (!s)
                return -ENOMEM;
        nftnl_set_set_str(s, NFTNL_SET_TABLE, st->table);
        nftnl_set_set_str(s, NFTNL_SET_NAME, st->name);
        nlh = nftnl_nlmsg_build_hdr(req, NFT_MSG_GETSETELEM, NFPROTO_INET, NLM_F_DUMP, (uint32_t)time(NULL));
        nftnl_set_elems_nlmsg_build_payload(nlh, s);
        r = nl_dump(nlh, elems_cb, s);
        if (r >= 0) {
                f = open_memstream(&buf, &len);
                if (!f)
                        r = -ENOMEM;
                else {
                        fputc('{', f);
                        nftnl_set_elem_foreach(s, elem_hex, f);
                        fputs(" }", f);
                        r = memstream_finish(f, &buf, 0, &st->elems);
                }
        }
        nftnl_set_free(s);
        return r;
}

struct rule_print {
        struct dump *d;
        FILE *f;
        const char *table;
};

static int expr_print(struct nftnl_expr *e, void *data) {
        struct rule_print *p = data;
        const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
        char buf[1024];

        if (streq(name, "counter")) {
                /* Its values are traffic, not configuration. */
                fputs(" [counter]", p->f);
                return 0;
        }
        if (streq(name, "lookup")) {
                /* The anonymous set by content: its kernel name depends on creation order. */
                const char *set = nftnl_expr_get_str(e, NFTNL_EXPR_LOOKUP_SET);
                const char *elems = "{ ? }";
                for (size_t i = 0; set && i < p->d->n_sets; i++)
                        if (streq(p->d->sets[i].table, p->table) && streq(p->d->sets[i].name, set))
                                elems = p->d->sets[i].elems ?: elems;
                fprintf(p->f, " [lookup reg %u %s flags 0x%x]", nftnl_expr_get_u32(e, NFTNL_EXPR_LOOKUP_SREG), elems,
                        nftnl_expr_get_u32(e, NFTNL_EXPR_LOOKUP_FLAGS));
                return 0;
        }
        int n = nftnl_expr_snprintf(buf, sizeof buf, e, NFTNL_OUTPUT_DEFAULT, 0);
        if (n < 0)
                n = 0;
        if ((size_t)n >= sizeof buf)
                n = (int)sizeof buf - 1;
        while (n > 0 && buf[n - 1] == ' ')
                n--;
        buf[n] = '\0';
        fprintf(p->f, " [%s %s]", name, buf);
        return 0;
}

static int rule_cb(const struct nlmsghdr *nlh, void *data) {
        struct dump *d = data;
        struct nftnl_rule *r = nftnl_rule_alloc();
        int ti;

        if (!r)
                return MNL_CB_ERROR;
        if (nftnl_rule_nlmsg_parse(nlh, r) == 0 && nftnl_rule_get_u32(r, NFTNL_RULE_FAMILY) == NFPROTO_INET &&
            (ti = table_index(d, nftnl_rule_get_str(r, NFTNL_RULE_TABLE))) >= 0) {
                struct rule_print p = { d, d->out[ti], d->tabs[ti].name };
                fprintf(p.f, "rule %s:", nftnl_rule_get_str(r, NFTNL_RULE_CHAIN) ?: "?");
                nftnl_expr_foreach(r, expr_print, &p);
                fputc('\n', p.f);
        }
        nftnl_rule_free(r);
        return MNL_CB_OK;
}

static void dump_done(struct dump *d) {
        for (size_t i = 0; i < ELEMENTSOF(d->out); i++) {
                if (d->out[i])
                        fclose(d->out[i]);
                free(d->buf[i]);
        }
        for (size_t i = 0; i < d->n_sets; i++)
                free(d->sets[i].elems);
        free(d->sets);
}

static int dump_once(char **ret_text) {
        char req[MNL_SOCKET_BUFFER_SIZE] __attribute__((aligned(8)));
        struct dump d = {};
        unsigned present = 0;
        char *buf = NULL;
        size_t len = 0;
        FILE *f;
        int r;

        d.tabs = rules_nft_tables(&d.n);
        r = nftbatch_tables_present(&present);
        if (r < 0)
                return r;
        for (size_t i = 0; i < d.n; i++) {
                d.out[i] = open_memstream(&d.buf[i], &d.len[i]);
                if (!d.out[i]) {
                        r = -ENOMEM;
                        goto out;
                }
        }
        /* Sets first: a rule's lookup prints its set's elements. */
        r = nl_dump(nftnl_nlmsg_build_hdr(req, NFT_MSG_GETSET, NFPROTO_INET, NLM_F_DUMP, (uint32_t)time(NULL)), set_cb, &d);
        for (size_t i = 0; r >= 0 && i < d.n_sets; i++)
                r = dump_elems(&d.sets[i]);
        if (r >= 0)
                r = nl_dump(nftnl_nlmsg_build_hdr(req, NFT_MSG_GETCHAIN, NFPROTO_INET, NLM_F_DUMP, (uint32_t)time(NULL)),
                            chain_cb, &d);
        if (r >= 0)
                r = nl_dump(nftnl_nlmsg_build_hdr(req, NFT_MSG_GETRULE, NFPROTO_INET, NLM_F_DUMP, (uint32_t)time(NULL)),
                            rule_cb, &d);
        if (r < 0)
                goto out;
        f = open_memstream(&buf, &len);
        if (!f) {
                r = -ENOMEM;
                goto out;
        }
        for (size_t i = 0; i < d.n; i++) {
                if (!(present & (1u << i)))
                        continue;
                fflush(d.out[i]);
                fprintf(f, "table inet %s\n%s", d.tabs[i].name, d.buf[i] ?: "");
        }
        r = memstream_finish(f, &buf, 0, ret_text);
out:
        dump_done(&d);
        return r;
}

int nftbatch_dump(char **ret_text) {
        int r = -EAGAIN;

        /* A dump that a concurrent change interrupted is taken again, a few times. */
        for (int i = 0; i < 5 && r == -EAGAIN; i++)
                r = dump_once(ret_text);
        return r;
}

/* fn's failure codes in nftbatch_state()'s scratch namespace. */
enum { SCRATCH_APPLY = 1, SCRATCH_DUMP = 2 };

/* In the scratch netns: the same batch into an empty ruleset, read back. */
static int scratch_apply_dump(void *userdata, char **ret_text) {
        if (nftbatch_apply(userdata, 0, 0, NULL) < 0)
                return SCRATCH_APPLY;
        return nftbatch_dump(ret_text) < 0 ? SCRATCH_DUMP : 0;
}

int nftbatch_state(const struct ruleset *rs, bool *ret_in_sync, char **ret_error) {
        _cleanup_free_ char *current = NULL, *expected = NULL;
        int r, code = 0;

        if (ret_error)
                *ret_error = NULL;
        r = nftbatch_dump(&current);
        if (r < 0)
                return r;
        r = netns_scratch_output(scratch_apply_dump, (void *)rs, &expected, &code);
        if (r < 0) {
                const char *why = r == -EPERM                ? "cannot create a scratch network namespace (needs CAP_SYS_ADMIN)"
                                  : r != -ECANCELED          ? "the scratch child died"
                                  : code == SCRATCH_APPLY    ? "the expected rules do not apply to an empty ruleset"
                                                             : "cannot read the scratch ruleset";
                if (ret_error)
                        *ret_error = strdup(why);
                return r == -EPERM ? -EPERM : -EIO;
        }
        *ret_in_sync = streq(current, expected);
        return 0;
}
