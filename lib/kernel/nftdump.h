/* SPDX-License-Identifier: Apache-2.0 */
/* nftdump.h: read-only nf_tables dumps over raw netlink (NFT_MSG_GETTABLE), for detection and
 * for the native apply's "which of our tables exist" (nftbatch; nftapply for the tests). One
 * round trip, no libnftables, no cache.
 * Spec: istio-iptables.md §7 (our tables), §10 (backend detection). */
#pragma once

#include <stdint.h>

/* Calls cb once per table of family nfproto (NFPROTO_INET, NFPROTO_IPV4, ...) in this network
 * namespace, with its name (NUL-terminated, valid during the call), after a whole dump: one a
 * concurrent change interrupted (NLM_F_DUMP_INTR) is taken again, up to 5 times (then -EAGAIN).
 * Returns 0, or -errno when nf_tables does not answer (not built, not loadable, or blocked), or
 * the kernel's error. */
int nftdump_tables(uint8_t nfproto, void (*cb)(const char *name, void *userdata), void *userdata);

/* The same for chains: cb once per chain of family nfproto with its table's and its own name.
 * For doctor: which tables hold kube-proxy's KUBE-* chains (iptables-nft) in the host netns. */
int nftdump_chains(uint8_t nfproto, void (*cb)(const char *table, const char *chain, void *userdata), void *userdata);
