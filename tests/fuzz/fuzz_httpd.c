/* SPDX-License-Identifier: Apache-2.0 */
/* fuzz_httpd.c: libFuzzer target for the node agent's HTTP/1.1 request parser
 * (lib/agent/httpd.c, httpd_parse_request; RFC 9112). Every input is either incomplete (0), a
 * request whose parts are consistent with the input, or refused with one of the statuses the
 * server answers; a prefix of a complete request is never refused for a reason its completion
 * would not have. The response formatter gets the parsed parts back as a body.
 *
 * Input: the first byte picks max_body (0 → the 1 MiB default, else byte × 16); the rest is the
 * raw request. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/httpd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_complete(const struct httpd_parsed *p, size_t len) {
        const struct httpd_request *q = &p->req;
        if (!q->method || !*q->method || !q->path || q->path[0] != '/' || !q->body || q->body_len > len ||
            q->body[q->body_len] != 0 || q->conn_fd != -1 || q->peer_known)
                abort();
        if (strchr(q->path, '?') || strchr(q->path, ' ') || (q->query && strchr(q->query, ' ')))
                abort();
        /* a response carrying the parts formats to an exact Content-Length */
        struct httpd_response resp = { .status = 200, .body = (char *)q->body, .body_len = q->body_len };
        char *out = NULL;
        size_t n = 0;
        if (httpd_format_response(&resp, &out, &n) == 0) {
                const char *sep = strstr(out, "\r\n\r\n");
                if (!sep || (size_t)(out + n - (sep + 4)) != q->body_len || memcmp(sep + 4, q->body, q->body_len) != 0)
                        abort();
                free(out);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 1)
                return 0;
        size_t max_body = (size_t)data[0] * 16, len = size - 1;
        /* an exact-size copy, so that a read past len is caught by ASan */
        char *buf = malloc(len ? len : 1);
        if (!buf)
                return 0;
        memcpy(buf, data + 1, len);
        struct httpd_parsed p;
        int r = httpd_parse_request(buf, len, max_body, &p);
        if (r == 1)
                check_complete(&p, len);
        else if (r == -EBADMSG) {
                int s = p.error_status;
                if (!p.error || p.storage || (s != 400 && s != 413 && s != 431 && s != 501 && s != 505))
                        abort();
        } else if (r != 0 && r != -ENOMEM)
                abort();
        httpd_parsed_done(&p);
        /* incomplete input stays incomplete or becomes an answer, never a crash, when cut anywhere */
        if (len > 1) {
                struct httpd_parsed q;
                int r2 = httpd_parse_request(buf, len / 2, max_body, &q);
                if (r == 0 && r2 != 0 && r2 != -EBADMSG && r2 != -ENOMEM)
                        abort();
                httpd_parsed_done(&q);
        }
        free(buf);
        return 0;
}
