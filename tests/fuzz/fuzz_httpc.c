/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_httpc.c: libFuzzer target for the HTTP/1.1 response parser (lib/kube/httpc.c:
 * httpc_parser_feed / httpc_parser_eof; RFC 9112 status line, headers, Content-Length, chunked,
 * close-delimited bodies). Spec: istio-cni.md §2.5 (the plugin's and the agent's API client).
 *
 * The parser is incremental: the network hands it bytes in arbitrary pieces. So beyond "no crash",
 * the target checks that the outcome (error, status, state, keep-alive, bytes consumed, decoded
 * body, verdict at end of stream) is the same whether the response arrives in one piece, byte by
 * byte, or in pieces of a size the input picks. First input byte: bit 0 = response to HEAD,
 * bits 1-7 = piece size for the third run; the rest is the response. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kube/httpc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct outcome {
        ssize_t err;            /* first negative feed result, or 0 */
        size_t consumed;
        int status;
        enum httpc_parse_state state;
        bool keep_alive;
        int eof;                /* httpc_parser_eof() after the input, when no error */
        int header_cbs;         /* callbacks with len 0 (headers complete) */
        char *body;
        size_t body_len;
};

struct sink {
        struct outcome *o;
        size_t cap;
};

static int sink_cb(void *userdata, int status, const char *d, size_t len) {
        struct sink *s = userdata;
        if (status < 100 || status > 999)
                abort();
        if (len == 0) {
                s->o->header_cbs++;
                return 0;
        }
        if (s->o->body_len + len > s->cap) {
                size_t cap = (s->o->body_len + len) * 2;
                char *b = realloc(s->o->body, cap);
                if (!b)
                        return -ENOMEM;
                s->o->body = b;
                s->cap = cap;
        }
        memcpy(s->o->body + s->o->body_len, d, len);
        s->o->body_len += len;
        return 0;
}

/* Feeds msg in pieces of `piece` bytes (0: all at once) until the message is done or fails. */
static void run(const char *msg, size_t len, bool head, size_t piece, struct outcome *o) {
        struct httpc_parser p;
        struct sink s = { .o = o };
        size_t off = 0;

        *o = (struct outcome){};
        httpc_parser_init(&p, head);
        while (off < len && p.state != HTTPC_PS_DONE) {
                size_t n = piece && piece < len - off ? piece : len - off;
                /* Each piece in its own exact-size heap buffer: ASan sees any read past it. */
                char *b = malloc(n);
                if (!b)
                        abort();
                memcpy(b, msg + off, n);
                int stop = -1;
                ssize_t k = httpc_parser_feed(&p, b, n, sink_cb, &s, &stop);
                free(b);
                if (k == -ENOMEM)
                        abort();
                if (k < 0) {
                        o->err = k;
                        break;
                }
                if ((size_t)k > n || stop != 0)
                        abort();
                if ((size_t)k < n && p.state != HTTPC_PS_DONE)
                        abort();        /* it stops early only at the end of the message */
                off += (size_t)k;
        }
        o->consumed = off;
        o->status = p.status;
        o->state = p.state;
        o->keep_alive = p.keep_alive;
        if (!o->err)
                o->eof = httpc_parser_eof(&p);
        if (o->state == HTTPC_PS_DONE && !o->err && (p.status < 200 || o->header_cbs != 1))
                abort();
        if (o->header_cbs > 1)
                abort();
        if (o->body_len > len)
                abort();        /* decoding never makes more bytes than came in */
}

static void same(const struct outcome *a, const struct outcome *b) {
        if (a->err != b->err)
                abort();
        if (a->err)
                return;         /* where an error is noticed may differ; that it is, may not */
        if (a->consumed != b->consumed || a->status != b->status || a->state != b->state ||
            a->keep_alive != b->keep_alive || a->eof != b->eof || a->header_cbs != b->header_cbs ||
            a->body_len != b->body_len || (a->body_len && memcmp(a->body, b->body, a->body_len) != 0))
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 1)
                return 0;
        bool head = data[0] & 1;
        size_t piece = (size_t)(data[0] >> 1) + 1;
        const char *msg = (const char *)data + 1;
        size_t len = size - 1;
        struct outcome whole, bytewise, pieces;

        run(msg, len, head, 0, &whole);
        run(msg, len, head, 1, &bytewise);
        run(msg, len, head, piece, &pieces);
        same(&whole, &bytewise);
        same(&whole, &pieces);
        free(whole.body);
        free(bytewise.body);
        free(pieces.body);
        return 0;
}
