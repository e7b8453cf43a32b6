/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_mnl: libFuzzer target over lib/kernel/mnl.c's message and attribute walkers: the input is
 * a netlink stream (what the kernel could send) run through mnl_cb_run(), and every data message's
 * attributes walked, validated as some type and descended into when nested. Not through libnftnl's
 * own parsers: they call exit() ("ABI breakage") on an attribute of the wrong size, by design,
 * since they trust the kernel (docs/nftables.md). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>


#include <linux/netfilter/nfnetlink.h>

#include "kernel/mnl.h"

static int count_attr(const struct nlattr *a, void *data) {
        unsigned *n = data;

        (*n)++;
        if (mnl_attr_type_valid(a, 64) < 0)
                return MNL_CB_OK;
        (void)mnl_attr_validate(a, (enum mnl_attr_data_type)(mnl_attr_get_type(a) % MNL_TYPE_MAX));
        if (a->nla_type & NLA_F_NESTED)
                (void)mnl_attr_parse_nested(a, count_attr, data);
        return MNL_CB_OK;
}

static int on_msg(const struct nlmsghdr *nlh, void *data) {
        unsigned n = 0;
        (void)data;

        (void)mnl_attr_parse(nlh, sizeof(struct nfgenmsg), count_attr, &n);
        return MNL_CB_OK;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        /* Netlink messages are 4-byte aligned in a kernel buffer; give the walker the same. */
        uint32_t *buf = malloc(size + 4);

        if (!buf)
                return 0;
        memcpy(buf, data, size);
        (void)mnl_cb_run(buf, size, 0, 0, on_msg, NULL);
        free(buf);
        return 0;
}
