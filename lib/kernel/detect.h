/* SPDX-License-Identifier: Apache-2.0 */
/* detect.h: choose the iptables backend for one family from kernel facts, with one explanation.
 * Spec: istio-iptables.md §5.2 (Istio's probe, which this replaces), §10 quirk 23.
 * The decision rule is documented in docs/backends.md. */
#pragma once

#include <stdbool.h>

enum detect_backend {
        DETECT_NONE,       /* nothing usable (only in an error result) */
        DETECT_LEGACY,     /* in-process libiptc (ip_tables / ip6_tables) */
        DETECT_IPTNFT,     /* exec ip[6]tables-nft-restore (lib/kernel/iptnft.h) */
        DETECT_NATIVE_NFT, /* in-process nf_tables, no binary (--native-nftables style backend) */
};

enum detect_force { DETECT_FORCE_NONE, DETECT_FORCE_LEGACY, DETECT_FORCE_NFT };

/* What the kernel (and PATH) said, for the explanation and for tests. */
struct detect_facts {
        unsigned legacy_tables;      /* DETECT_TABLE_* bits listed in /proc/net/ip{,6}_tables_names */
        unsigned legacy_rules;       /* rules + user chains over all legacy tables */
        bool legacy_nat_probed;      /* we opened the legacy nat table (may instantiate it) */
        bool legacy_nat_usable;      /* the legacy nat table can be taken in this netns */
        int legacy_nat_error;        /* -errno of the failed probe, 0 otherwise */
        bool nft_works;              /* nf_tables answered a table dump in this netns */
        int nft_error;               /* -errno of the failed dump, 0 otherwise */
        unsigned nft_xt_tables;      /* DETECT_TABLE_* bits: xtables-named tables in family ip/ip6 */
        bool nft_binary;             /* ip[6]tables-nft-restore found in PATH */
};

#define DETECT_TABLE_FILTER (1u << 0)
#define DETECT_TABLE_MANGLE (1u << 1)
#define DETECT_TABLE_NAT    (1u << 2)
#define DETECT_TABLE_RAW    (1u << 3)
#define DETECT_TABLE_OTHER  (1u << 4) /* security, or anything else */

#define DETECT_WHY_MAX 256

struct detect_result {
        enum detect_backend backend;
        struct detect_facts facts;
        /* One line, no newline, e.g. "IPv4: iptables-nft: nf_tables already holds xtables tables
         * (nat); legacy: no tables". Filled in on success and on failure. */
        char why[DETECT_WHY_MAX];
};

/* Decides the backend for family (AF_INET/AF_INET6) in the current network namespace. ret is
 * always filled in. Returns 0, or -ENOENT (forced nft without ip[6]tables-nft-restore in PATH),
 * -EOPNOTSUPP (forced backend the kernel cannot serve, or nothing usable at all), other -errno.
 * The legacy nat table is opened only when the decision could pick legacy, because opening it
 * instantiates it in the netns (quirk 23).
 * Test hook: CNIBOX_TEST_DETECT_UNUSABLE=legacy|nft|legacy,nft treats those as unusable. */
int detect_backend(int family, enum detect_force force, struct detect_result *ret);
/* DETECT_NO_EXEC: only the in-process backends (legacy, native nf_tables) may be chosen. The CNI
 * plugin runs on the host, where no iptables binary may be exec'd (minimal node OSes have none). */
#define DETECT_NO_EXEC (1u << 0)
int detect_backend_flags(int family, enum detect_force force, unsigned flags, struct detect_result *ret);

/* The pure rule over gathered facts (for unit tests). Same returns as detect_backend(). */
int detect_decide(int family, enum detect_force force, const struct detect_facts *facts,
                  struct detect_result *ret);

/* "legacy", "iptables-nft", "native-nft", "none". */
const char *detect_backend_to_string(enum detect_backend b);
/* Parses --force-iptables-binary: "" → none, "legacy", "nft". -EINVAL otherwise. */
int detect_force_from_string(const char *s, enum detect_force *ret);
