/* SPDX-License-Identifier: Apache-2.0 */
/* test_mnl.c: unit tests for lib/kernel/mnl.c, the libmnl functions libnftnl runs on: attribute
 * put/get/parse with alignment and nesting, validation lengths and errno, batches with overflow,
 * and mnl_cb_run's handling of data, ACK, error, DONE, sequence and interrupted dumps. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/mnl.h"

static uint32_t buf[1024];

static struct nlmsghdr *new_msg(uint16_t type, uint32_t seq) {
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);

        nlh->nlmsg_type = type;
        nlh->nlmsg_seq = seq;
        return nlh;
}

struct seen {
        uint16_t types[16];
        unsigned n;
};

static int collect(const struct nlattr *a, void *data) {
        struct seen *s = data;

        s->types[s->n++] = mnl_attr_get_type(a);
        return MNL_CB_OK;
}

START_TEST(test_put_parse) {
        struct nlmsghdr *nlh = new_msg(16, 1);
        struct nlattr *nest;
        struct seen top = { 0 }, inner = { 0 };
        const struct nlattr *a;

        mnl_nlmsg_put_extra_header(nlh, 4);
        mnl_attr_put_u8(nlh, 1, 0xab);       /* 1 byte: padded to 4 */
        mnl_attr_put_strz(nlh, 2, "istio");  /* 6 bytes with the NUL: padded to 8 */
        mnl_attr_put_u64(nlh, 3, 0x0102030405060708ULL);
        nest = mnl_attr_nest_start(nlh, 4);
        mnl_attr_put_u32(nlh, 1, 1337);
        mnl_attr_put_u16(nlh, 2, 15001);
        mnl_attr_nest_end(nlh, nest);
        ck_assert_uint_eq(nlh->nlmsg_len % 4, 0);
        ck_assert_uint_eq(nlh->nlmsg_len, 16 + 4 + 8 + 12 + 12 + (4 + 8 + 8));
        ck_assert_uint_eq(nest->nla_type, NLA_F_NESTED | 4);

        ck_assert_int_eq(mnl_attr_parse(nlh, 4, collect, &top), MNL_CB_OK);
        ck_assert_uint_eq(top.n, 4);
        ck_assert_uint_eq(top.types[0], 1);
        ck_assert_uint_eq(top.types[3], 4); /* NLA_F_NESTED is not part of the type */

        a = mnl_nlmsg_get_payload_offset(nlh, 4);
        ck_assert_uint_eq(mnl_attr_get_u8(a), 0xab);
        a = mnl_attr_next(a);
        ck_assert_str_eq(mnl_attr_get_str(a), "istio");
        ck_assert_int_eq(mnl_attr_validate(a, MNL_TYPE_NUL_STRING), 0);
        a = mnl_attr_next(a);
        ck_assert(mnl_attr_get_u64(a) == 0x0102030405060708ULL);
        a = mnl_attr_next(a);
        ck_assert_int_eq(mnl_attr_parse_nested(a, collect, &inner), MNL_CB_OK);
        ck_assert_uint_eq(inner.n, 2);
        ck_assert_uint_eq(mnl_attr_get_u32(mnl_attr_get_payload(a)), 1337);
}
END_TEST

START_TEST(test_validate) {
        struct nlmsghdr *nlh = new_msg(16, 1);
        const struct nlattr *a;

        mnl_attr_put_u16(nlh, 1, 7);
        mnl_attr_put(nlh, 2, 3, "abc");  /* a string without its NUL */
        mnl_attr_put(nlh, 3, 0, NULL);
        a = mnl_nlmsg_get_payload(nlh);
        ck_assert_int_eq(mnl_attr_validate(a, MNL_TYPE_U16), 0);
        errno = 0;
        ck_assert_int_eq(mnl_attr_validate(a, MNL_TYPE_U32), -1);
        ck_assert_int_eq(errno, ERANGE);
        ck_assert_int_eq(mnl_attr_validate(a, MNL_TYPE_U8), -1); /* longer than a u8 */
        a = mnl_attr_next(a);
        ck_assert_int_eq(mnl_attr_validate(a, MNL_TYPE_STRING), 0);
        ck_assert_int_eq(mnl_attr_validate(a, MNL_TYPE_NUL_STRING), -1);
        ck_assert_int_eq(errno, EINVAL);
        a = mnl_attr_next(a);
        ck_assert_int_eq(mnl_attr_validate(a, MNL_TYPE_FLAG), 0);
        ck_assert_int_eq(mnl_attr_validate(a, MNL_TYPE_NESTED), 0);
        ck_assert_int_eq(mnl_attr_validate(a, MNL_TYPE_STRING), -1);
        ck_assert_int_eq(mnl_attr_validate(a, MNL_TYPE_MAX), -1);
        ck_assert_int_eq(errno, EINVAL);
        ck_assert_int_eq(mnl_attr_type_valid(a, 2), -1);
        ck_assert_int_eq(errno, EOPNOTSUPP);
        ck_assert_int_eq(mnl_attr_type_valid(a, 3), 1);
}
END_TEST

START_TEST(test_truncated_attr_stops_walk) {
        struct nlmsghdr *nlh = new_msg(16, 1);
        struct nlattr *a;
        struct seen s = { 0 };

        mnl_attr_put_u32(nlh, 1, 1);
        mnl_attr_put_u32(nlh, 2, 2);
        a = mnl_attr_next(mnl_nlmsg_get_payload(nlh));
        a->nla_len = 200; /* claims more than the message holds */
        ck_assert_int_eq(mnl_attr_parse(nlh, 0, collect, &s), MNL_CB_OK);
        ck_assert_uint_eq(s.n, 1);
}
END_TEST

START_TEST(test_batch) {
        char bbuf[256] __attribute__((aligned(4)));
        struct mnl_nlmsg_batch *b = mnl_nlmsg_batch_start(bbuf, 64);
        struct nlmsghdr *nlh;

        ck_assert_ptr_nonnull(b);
        ck_assert(mnl_nlmsg_batch_is_empty(b));
        for (int i = 0; i < 2; i++) {
                nlh = mnl_nlmsg_put_header(mnl_nlmsg_batch_current(b));
                mnl_attr_put_u64(nlh, 1, (uint64_t)i); /* 16 + 12 = 28 bytes */
                ck_assert(mnl_nlmsg_batch_next(b));
        }
        ck_assert_uint_eq(mnl_nlmsg_batch_size(b), 56);
        nlh = mnl_nlmsg_put_header(mnl_nlmsg_batch_current(b));
        mnl_attr_put_u64(nlh, 1, 2);
        ck_assert(!mnl_nlmsg_batch_next(b)); /* 84 > 64: overflow, the message stays current */
        ck_assert_uint_eq(mnl_nlmsg_batch_size(b), 56);
        mnl_nlmsg_batch_reset(b);           /* the overflowed message moves to the head */
        ck_assert_uint_eq(mnl_nlmsg_batch_size(b), 28);
        ck_assert_ptr_eq(mnl_nlmsg_batch_head(b), bbuf);
        ck_assert(mnl_attr_get_u64(mnl_nlmsg_get_payload((struct nlmsghdr *)bbuf)) == 2);
        mnl_nlmsg_batch_stop(b);
}
END_TEST

static int count_data(const struct nlmsghdr *nlh, void *data) {
        (void)nlh;
        (*(int *)data)++;
        return MNL_CB_OK;
}

/* Appends a message of type with seq at off in stream; returns the new offset. */
static size_t put(char *stream, size_t off, uint16_t type, uint32_t seq, int error, uint16_t flags) {
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(stream + off);

        nlh->nlmsg_type = type;
        nlh->nlmsg_seq = seq;
        nlh->nlmsg_flags = flags;
        if (type == NLMSG_ERROR) {
                struct nlmsgerr *e = mnl_nlmsg_put_extra_header(nlh, sizeof *e);
                e->error = error;
        }
        return off + nlh->nlmsg_len;
}

START_TEST(test_cb_run) {
        char s[512] __attribute__((aligned(4)));
        size_t n;
        int count = 0;

        /* data, data, DONE: both data messages seen, then STOP */
        n = put(s, 0, 16, 5, 0, 0);
        n = put(s, n, 16, 5, 0, 0);
        n = put(s, n, NLMSG_DONE, 5, 0, 0);
        ck_assert_int_eq(mnl_cb_run(s, n, 5, 0, count_data, &count), MNL_CB_STOP);
        ck_assert_int_eq(count, 2);

        /* an ACK (error 0) stops; an error is MNL_CB_ERROR with errno */
        n = put(s, 0, NLMSG_ERROR, 5, 0, 0);
        ck_assert_int_eq(mnl_cb_run(s, n, 5, 0, NULL, NULL), MNL_CB_STOP);
        n = put(s, 0, NLMSG_ERROR, 5, -EOPNOTSUPP, 0);
        ck_assert_int_eq(mnl_cb_run(s, n, 5, 0, NULL, NULL), MNL_CB_ERROR);
        ck_assert_int_eq(errno, EOPNOTSUPP);

        /* another request's answer, or an interrupted dump */
        n = put(s, 0, 16, 6, 0, 0);
        ck_assert_int_eq(mnl_cb_run(s, n, 5, 0, count_data, &count), -1);
        ck_assert_int_eq(errno, EPROTO);
        n = put(s, 0, 16, 5, 0, NLM_F_DUMP_INTR);
        ck_assert_int_eq(mnl_cb_run(s, n, 5, 0, count_data, &count), -1);
        ck_assert_int_eq(errno, EINTR);

        /* a length over 2 GiB is not a message (libmnl's int cast took it as one: fuzz_mnl) */
        count = 0;
        n = put(s, 0, 16, 5, 0, 0);
        ((struct nlmsghdr *)s)->nlmsg_len = 0xffffff30u;
        ck_assert_int_eq(mnl_cb_run(s, n, 5, 0, count_data, &count), MNL_CB_OK);
        ck_assert_int_eq(count, 0);
        ck_assert(!mnl_nlmsg_ok((struct nlmsghdr *)s, (int)n));

        /* a short NLMSG_ERROR is refused, not read past */
        n = put(s, 0, NLMSG_ERROR, 5, 0, 0);
        ((struct nlmsghdr *)s)->nlmsg_len = 16;
        ck_assert_int_eq(mnl_cb_run(s, 16, 5, 0, NULL, NULL), MNL_CB_ERROR);
        ck_assert_int_eq(errno, EBADMSG);
}
END_TEST

int main(void) {
        Suite *s = suite_create("mnl");
        TCase *tc = tcase_create("core");
        SRunner *sr;
        int failed;

        tcase_add_test(tc, test_put_parse);
        tcase_add_test(tc, test_validate);
        tcase_add_test(tc, test_truncated_attr_stops_walk);
        tcase_add_test(tc, test_batch);
        tcase_add_test(tc, test_cb_run);
        suite_add_tcase(s, tc);
        sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
