/* SPDX-License-Identifier: Apache-2.0 */
/* httpc.c: HTTP/1.1 client over dlopen()ed libssl, linked in the static build (see httpc.h).
 * Spec: istio-cni.md §2.5; RFC 9112 (message syntax, chunked coding); RFC 6125; RFC 6066 §3. */
#include <arpa/inet.h>
#ifndef CNIBOX_STATIC
#include <dlfcn.h>
#endif
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "kube/httpc.h"
#include "kube/resolve.h"
#include "base/errbuf.h"
#include "base/macro.h"

/* ---- libssl, loaded on first use ---- */

/* Function pointers typed from the OpenSSL headers (no link-time reference to libssl). */
#define SSL_FUNCS(X)                                                                              \
        X(TLS_client_method) X(SSL_CTX_new) X(SSL_CTX_free) X(SSL_CTX_set_verify)                 \
        X(SSL_CTX_get_cert_store) X(SSL_CTX_set_default_verify_paths)                             \
        X(SSL_CTX_load_verify_locations) X(SSL_CTX_use_certificate) X(SSL_CTX_use_PrivateKey)     \
        X(SSL_CTX_use_certificate_chain_file) X(SSL_CTX_use_PrivateKey_file)                      \
        X(SSL_CTX_check_private_key) X(SSL_CTX_ctrl) X(SSL_CTX_set_options)                       \
        X(SSL_CTX_set_alpn_protos) X(SSL_new) X(SSL_free) X(SSL_set_fd) X(SSL_connect)            \
        X(SSL_read) X(SSL_write) X(SSL_get_error) X(SSL_ctrl) X(SSL_get0_param)                   \
        X(SSL_get_verify_result) X(SSL_shutdown) X(OPENSSL_init_ssl)
#define CRYPTO_FUNCS(X)                                                                           \
        X(BIO_new_mem_buf) X(BIO_free) X(PEM_read_bio_X509) X(PEM_read_bio_PrivateKey)            \
        X(X509_free) X(EVP_PKEY_free) X(X509_STORE_add_cert) X(X509_VERIFY_PARAM_set1_host)       \
        X(X509_VERIFY_PARAM_set1_ip_asc) X(X509_VERIFY_PARAM_set_hostflags)                       \
        X(X509_verify_cert_error_string) X(ERR_get_error) X(ERR_error_string_n) X(ERR_clear_error)

static struct {
#define FIELD(f) __typeof__(f) *f;
        SSL_FUNCS(FIELD) CRYPTO_FUNCS(FIELD)
#undef FIELD
} ssl;
static int ssl_result;
static char ssl_error[256];
static pthread_once_t ssl_once = PTHREAD_ONCE_INIT;

static void ssl_load(void) {
#ifdef CNIBOX_STATIC
        /* The static build links OpenSSL (docs/building.md): a static binary cannot dlopen() it,
         * and there the start-up cost is only the pages touched, not a loader's relocations. */
#define DIRECT(f) ssl.f = f;
        SSL_FUNCS(DIRECT)
        CRYPTO_FUNCS(DIRECT)
#undef DIRECT
#else
        void *hs, *hc;

        /* RTLD_LOCAL and kept for the process lifetime (unloading OpenSSL at exit risks crashes
         * in its atexit handlers). OpenSSL 3 initialises itself on first use. */
        hs = dlopen("libssl.so.3", RTLD_NOW | RTLD_LOCAL);
        hc = hs ? dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL) : NULL;
        if (!hs || !hc) {
                snprintf(ssl_error, sizeof ssl_error, "cannot load libssl.so.3: %s", dlerror());
                ssl_result = -ELIBACC;
                return;
        }
#define LOAD(h, f)                                                                                \
        if (!(*(void **)&ssl.f = dlsym(h, #f))) {                                                 \
                snprintf(ssl_error, sizeof ssl_error, "OpenSSL lacks %s", #f);                     \
                ssl_result = -ELIBACC;                                                            \
                return;                                                                           \
        }
#define LOAD_SSL(f) LOAD(hs, f)
#define LOAD_CRYPTO(f) LOAD(hc, f)
        SSL_FUNCS(LOAD_SSL)
        CRYPTO_FUNCS(LOAD_CRYPTO)
#undef LOAD
#undef LOAD_SSL
#undef LOAD_CRYPTO
#endif
        /* DECISION: the system openssl.cnf is not read. Parsing it costs ≈1 ms per plugin start,
         * and the client must behave the same on every node: like client-go (Go's crypto/tls,
         * which never reads it), our TLS settings are the ones in this file.
         * NO_ATEXIT: OpenSSL's exit-time cleanup frees thousands of provider objects (≈0.5 ms
         * per plugin run); the kernel reclaims them faster, and the library is never unloaded. */
        /* NO_ADD_ALL_CIPHERS: OpenSSL 3's TLS fetches ciphers from the provider, and the legacy
         * cipher name table (EVP_add_cipher…) costs part of a millisecond on every plugin run.
         * The digest table stays: X.509 verification still looks digests up by name. */
        if (ssl.OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_CONFIG | OPENSSL_INIT_NO_ATEXIT | OPENSSL_INIT_NO_ADD_ALL_CIPHERS,
                                 NULL) != 1) {
                snprintf(ssl_error, sizeof ssl_error, "OpenSSL initialisation failed");
                ssl_result = -ELIBACC;
                return;
        }
        ssl_result = 0;
}

/* ---- helpers ---- */

static int ssl_load_once(char *err, size_t errsz) {
        pthread_once(&ssl_once, ssl_load);
        if (ssl_result < 0)
                errbuf_set(err, errsz, 0, "%s", ssl_error);
        return ssl_result;
}

/* The OpenSSL error queue's last entry as text (and the queue cleared). */
static void ssl_errstr(char *buf, size_t sz) {
        unsigned long e, last = 0;
        while ((e = ssl.ERR_get_error()))
                last = e;
        if (last)
                ssl.ERR_error_string_n(last, buf, sz);
        else
                snprintf(buf, sz, "TLS error");
}

/* ---- response parser ---- */

void httpc_parser_init(struct httpc_parser *p, bool head_request) {
        *p = (struct httpc_parser){ .no_body = head_request };
}

static bool is_ows(char c) {
        return c == ' ' || c == '\t';
}

/* Case-insensitive search for token tok in a comma-separated list. */
static bool list_has(const char *v, const char *tok) {
        size_t n = strlen(tok);
        while (*v) {
                while (*v == ',' || is_ows(*v))
                        v++;
                const char *e = v;
                while (*e && *e != ',')
                        e++;
                const char *t = e;
                while (t > v && is_ows(t[-1]))
                        t--;
                if ((size_t)(t - v) == n && strncasecmp(v, tok, n) == 0)
                        return true;
                v = e;
        }
        return false;
}

static int parse_status_line(struct httpc_parser *p, const char *l) {
        /* "HTTP/1.x SSS[ reason]" */
        if (strncmp(l, "HTTP/1.", 7) != 0 || (l[7] != '0' && l[7] != '1') || l[8] != ' ')
                return -EPROTO;
        for (int i = 9; i < 12; i++)
                if (l[i] < '0' || l[i] > '9')
                        return -EPROTO;
        if (l[12] != 0 && l[12] != ' ')
                return -EPROTO;
        p->status = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
        if (p->status < 100)
                return -EPROTO;
        p->http10 = l[7] == '0';
        p->chunked = p->have_len = p->conn_close = p->conn_keepalive = false;
        p->remaining = 0;
        p->state = HTTPC_PS_HEADER;
        return 0;
}

static int parse_header_line(struct httpc_parser *p, char *l) {
        char *colon = strchr(l, ':'), *v, *e;

        /* Obsolete line folding and header names with white space are rejected (RFC 9112 §5). */
        if (!colon || colon == l || is_ows(l[0]) || is_ows(colon[-1]))
                return -EPROTO;
        *colon = 0;
        for (v = colon + 1; is_ows(*v); v++)
                ;
        for (e = v + strlen(v); e > v && is_ows(e[-1]); e--)
                ;
        *e = 0;
        if (strcasecmp(l, "Content-Length") == 0) {
                uint64_t n = 0;
                if (!*v)
                        return -EPROTO;
                for (const char *s = v; *s; s++) {
                        if (*s < '0' || *s > '9' || n > (UINT64_MAX - 9) / 10)
                                return -EPROTO;
                        n = n * 10 + (uint64_t)(*s - '0');
                }
                if (p->have_len && p->remaining != n)
                        return -EPROTO; /* differing lengths: request smuggling territory */
                p->have_len = true;
                p->remaining = n;
        } else if (strcasecmp(l, "Transfer-Encoding") == 0) {
                /* We send no TE/Accept-Encoding, so "chunked" is the only coding we accept. */
                if (!list_has(v, "chunked") || strcasecmp(v, "chunked") != 0)
                        return -EPROTO;
                p->chunked = true;
        } else if (strcasecmp(l, "Connection") == 0) {
                if (list_has(v, "close"))
                        p->conn_close = true;
                if (list_has(v, "keep-alive"))
                        p->conn_keepalive = true;
        }
        return 0;
}

/* Headers complete: choose how the body is delimited (RFC 9112 §6.3). */
static int headers_done(struct httpc_parser *p) {
        p->keep_alive = !p->conn_close && (!p->http10 || p->conn_keepalive);
        if (p->no_body || p->status == 204 || p->status == 304) {
                p->state = HTTPC_PS_DONE;
                return 0;
        }
        if (p->chunked) {
                p->state = HTTPC_PS_CHUNK_SIZE;
                return 0;
        }
        if (p->have_len) {
                p->state = p->remaining ? HTTPC_PS_BODY_LEN : HTTPC_PS_DONE;
                return 0;
        }
        p->state = HTTPC_PS_BODY_CLOSE;
        p->keep_alive = false;
        return 0;
}

static int parse_chunk_size(struct httpc_parser *p, const char *l) {
        uint64_t n = 0;
        const char *s = l;

        for (; *s; s++) {
                int d;
                if (*s >= '0' && *s <= '9')
                        d = *s - '0';
                else if (*s >= 'a' && *s <= 'f')
                        d = *s - 'a' + 10;
                else if (*s >= 'A' && *s <= 'F')
                        d = *s - 'A' + 10;
                else
                        break;
                if (n >> 56)
                        return -EPROTO; /* absurd size */
                n = n * 16 + (uint64_t)d;
        }
        if (s == l)
                return -EPROTO;
        while (is_ows(*s))
                s++;
        if (*s && *s != ';')
                return -EPROTO; /* only chunk extensions may follow */
        p->remaining = n;
        p->state = n ? HTTPC_PS_CHUNK_DATA : HTTPC_PS_TRAILER;
        return 0;
}

/* One complete line (without CR LF) in the current state. */
static int parser_line(struct httpc_parser *p, httpc_data_cb cb, void *ud, int *stop) {
        char *l = p->line;
        int r;

        switch (p->state) {
        case HTTPC_PS_STATUS:
                return parse_status_line(p, l);
        case HTTPC_PS_HEADER:
                if (*l)
                        return parse_header_line(p, l);
                if (p->status < 200) {
                        /* 1xx interim answer: the real one follows (101 we never ask for). */
                        if (p->status == 101)
                                return -EPROTO;
                        p->state = HTTPC_PS_STATUS;
                        return 0;
                }
                r = headers_done(p);
                if (r < 0)
                        return r;
                if (cb) {
                        r = cb(ud, p->status, "", 0);
                        if (r < 0)
                                return r;
                        if (r > 0)
                                *stop = 1;
                }
                return 0;
        case HTTPC_PS_CHUNK_SIZE:
                return parse_chunk_size(p, l);
        case HTTPC_PS_CHUNK_CRLF:
                if (*l)
                        return -EPROTO;
                p->state = HTTPC_PS_CHUNK_SIZE;
                return 0;
        case HTTPC_PS_TRAILER:
                if (!*l)
                        p->state = HTTPC_PS_DONE;
                return 0;
        default:
                return -EPROTO;
        }
}

static bool state_is_line(enum httpc_parse_state s) {
        return s == HTTPC_PS_STATUS || s == HTTPC_PS_HEADER || s == HTTPC_PS_CHUNK_SIZE ||
               s == HTTPC_PS_CHUNK_CRLF || s == HTTPC_PS_TRAILER;
}

ssize_t httpc_parser_feed(struct httpc_parser *p, const char *data, size_t len, httpc_data_cb cb, void *ud,
                          int *ret_stop) {
        size_t i = 0;
        int stop = 0, r;

        while (i < len && p->state != HTTPC_PS_DONE && !stop) {
                if (state_is_line(p->state)) {
                        const char *nl = memchr(data + i, '\n', len - i);
                        size_t n = nl ? (size_t)(nl - (data + i)) : len - i;
                        bool in_head = p->state == HTTPC_PS_STATUS || p->state == HTTPC_PS_HEADER ||
                                       p->state == HTTPC_PS_TRAILER;
                        if (p->linelen + n >= sizeof p->line)
                                return -EFBIG;
                        if (in_head) {
                                p->header_bytes += n + (nl ? 1 : 0);
                                if (p->header_bytes > HTTPC_MAX_HEADERS)
                                        return -EFBIG;
                        }
                        memcpy(p->line + p->linelen, data + i, n);
                        p->linelen += n;
                        i += n;
                        if (!nl)
                                break;
                        i++;
                        /* CR LF, or a bare LF (tolerated as RFC 9112 §2.2 allows). */
                        if (p->linelen && p->line[p->linelen - 1] == '\r')
                                p->linelen--;
                        p->line[p->linelen] = 0;
                        if (memchr(p->line, '\0', p->linelen) || memchr(p->line, '\r', p->linelen))
                                return -EPROTO;
                        p->linelen = 0;
                        r = parser_line(p, cb, ud, &stop);
                        if (r < 0)
                                return r;
                        continue;
                }
                /* Body bytes. */
                size_t n = len - i;
                if (p->state != HTTPC_PS_BODY_CLOSE && n > p->remaining)
                        n = (size_t)p->remaining;
                if (cb) {
                        r = cb(ud, p->status, data + i, n);
                        if (r < 0)
                                return r;
                        if (r > 0)
                                stop = 1;
                }
                i += n;
                if (p->state == HTTPC_PS_BODY_CLOSE)
                        continue;
                p->remaining -= n;
                if (p->remaining == 0)
                        p->state = p->state == HTTPC_PS_BODY_LEN ? HTTPC_PS_DONE : HTTPC_PS_CHUNK_CRLF;
        }
        if (ret_stop)
                *ret_stop = stop;
        return (ssize_t)i;
}

int httpc_parser_eof(struct httpc_parser *p) {
        if (p->state == HTTPC_PS_BODY_CLOSE)
                p->state = HTTPC_PS_DONE;
        return p->state == HTTPC_PS_DONE ? 0 : -ECONNRESET;
}

int httpc_body_append(struct httpc_body *b, const char *p, size_t n) {
        if (b->len + n > b->max) {
                b->too_big = true;
                return -EFBIG;
        }
        if (b->len + n + 1 > b->cap) {
                size_t nc = b->cap ? b->cap : 4096;
                while (nc < b->len + n + 1)
                        nc *= 2;
                char *nb = realloc(b->buf, nc);
                if (!nb)
                        return -ENOMEM;
                b->buf = nb;
                b->cap = nc;
        }
        memcpy(b->buf + b->len, p, n);
        b->len += n;
        b->buf[b->len] = 0;
        return 0;
}

int httpc_body_cb(void *userdata, int status, const char *data, size_t len) {
        (void)status;
        return len ? httpc_body_append(userdata, data, len) : 0;
}

/* ---- client ---- */

struct httpc {
        bool https;
        char *host;             /* without brackets */
        char *port;
        char *prefix;           /* URL path prefix, "" or "/x" */
        char *authority;        /* Host header: host[:port] as in the URL (tls-server-name not used) */
        char *verify_name;      /* tls-server-name or host */
        char *proxy_host, *proxy_port;
        char *unix_socket;      /* connect here instead of host:port (http:// only) */
        SSL_CTX *ctx;
        bool insecure;
        /* the kept-alive connection */
        int fd;
        SSL *ssl;
        /* httpc_interrupt() from another thread: it may shut down only a connection published
         * here (under ilock), never an fd being opened or already closed. */
        pthread_mutex_t ilock;
        int published_fd;
        bool interrupted;
        char rbuf[16384];
};

/* Splits "scheme://host[:port][/prefix]". Userinfo, query and fragment are refused. */
static int parse_url(const char *url, bool *https, char **host, char **port, char **prefix) {
        const char *hs, *pe, *he, *ps;

        if (strncmp(url, "https://", 8) == 0) {
                *https = true;
                hs = url + 8;
        } else if (strncmp(url, "http://", 7) == 0) {
                *https = false;
                hs = url + 7;
        } else
                return -EINVAL;
        pe = hs + strcspn(hs, "/");
        if (strpbrk(hs, "?#@ \t\r\n"))
                return -EINVAL;
        if (*hs == '[') {
                he = memchr(hs, ']', (size_t)(pe - hs));
                if (!he)
                        return -EINVAL;
                *host = strndup(hs + 1, (size_t)(he - hs - 1));
                he++;
        } else {
                he = memchr(hs, ':', (size_t)(pe - hs));
                if (!he)
                        he = pe;
                *host = strndup(hs, (size_t)(he - hs));
        }
        if (!*host)
                return -ENOMEM;
        if (!**host)
                return -EINVAL;
        if (*he == ':') {
                ps = he + 1;
                if (ps == pe || (size_t)(pe - ps) > 5 || strspn(ps, "0123456789") < (size_t)(pe - ps))
                        return -EINVAL;
                *port = strndup(ps, (size_t)(pe - ps));
        } else if (he == pe)
                *port = strdup(*https ? "443" : "80");
        else
                return -EINVAL;
        if (!*port)
                return -ENOMEM;
        /* Drop a trailing '/' so prefix + "/api/…" does not double it. */
        size_t pl = strlen(pe);
        while (pl > 0 && pe[pl - 1] == '/')
                pl--;
        *prefix = strndup(pe, pl);
        return *prefix ? 0 : -ENOMEM;
}

static bool is_ip_literal(const char *s) {
        unsigned char b[sizeof(struct in6_addr)];
        return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

/* Loads PEM certificates from memory; the first one is returned (when ret_first is set) and the
 * rest go to add (store or chain). Returns the count. */
static int pem_certs(const void *data, size_t len, X509_STORE *store, SSL_CTX *chain_ctx, X509 **ret_first) {
        BIO *bio = ssl.BIO_new_mem_buf(data, (int)len);
        int n = 0;

        if (!bio)
                return -ENOMEM;
        for (;;) {
                X509 *x = ssl.PEM_read_bio_X509(bio, NULL, NULL, NULL);
                if (!x)
                        break;
                if (ret_first && n == 0)
                        *ret_first = x;
                else if (store) {
                        ssl.X509_STORE_add_cert(store, x);
                        ssl.X509_free(x);
                } else if (!ssl.SSL_CTX_ctrl(chain_ctx, SSL_CTRL_EXTRA_CHAIN_CERT, 0, x))
                        ssl.X509_free(x); /* on success the context owns x */
                n++;
        }
        ssl.ERR_clear_error(); /* the PEM reader's "no start line" at the end */
        ssl.BIO_free(bio);
        return n;
}

static int build_ctx(struct httpc *h, const struct httpc_config *cfg, char *err, size_t errsz) {
        char e[256];

        h->ctx = ssl.SSL_CTX_new(ssl.TLS_client_method());
        if (!h->ctx) {
                ssl_errstr(e, sizeof e);
                return errbuf_set(err, errsz, -ENOMEM, "SSL_CTX_new: %s", e);
        }
        ssl.SSL_CTX_ctrl(h->ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, TLS1_2_VERSION, NULL);
        /* A server that closes without close_notify ends the stream like a TCP FIN; whether the
         * body was complete is the HTTP parser's call (Content-Length / chunked framing). */
        ssl.SSL_CTX_set_options(h->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_COMPRESSION);
        static const unsigned char alpn[] = "\x08http/1.1";
        ssl.SSL_CTX_set_alpn_protos(h->ctx, alpn, sizeof alpn - 1);

        if (cfg->insecure_skip_verify)
                ssl.SSL_CTX_set_verify(h->ctx, SSL_VERIFY_NONE, NULL);
        else {
                ssl.SSL_CTX_set_verify(h->ctx, SSL_VERIFY_PEER, NULL);
                if (cfg->ca_data) {
                        /* Only the kubeconfig's CA is trusted, like client-go (the store starts empty). */
                        if (pem_certs(cfg->ca_data, cfg->ca_len, ssl.SSL_CTX_get_cert_store(h->ctx), NULL, NULL) <= 0) {
                                return errbuf_set(err, errsz, -EINVAL, "certificate-authority-data holds no PEM certificate");
                        }
                } else if (cfg->ca_file) {
                        if (ssl.SSL_CTX_load_verify_locations(h->ctx, cfg->ca_file, NULL) != 1) {
                                ssl_errstr(e, sizeof e);
                                return errbuf_set(err, errsz, -EINVAL, "cannot load CA file '%s': %s", cfg->ca_file, e);
                        }
                } else
                        ssl.SSL_CTX_set_default_verify_paths(h->ctx);
        }

        if (cfg->cert_data) {
                X509 *leaf = NULL;
                if (pem_certs(cfg->cert_data, cfg->cert_len, NULL, h->ctx, &leaf) <= 0 || !leaf) {
                        return errbuf_set(err, errsz, -EINVAL, "client-certificate-data holds no PEM certificate");
                }
                int ok = ssl.SSL_CTX_use_certificate(h->ctx, leaf);
                ssl.X509_free(leaf);
                if (ok != 1) {
                        ssl_errstr(e, sizeof e);
                        return errbuf_set(err, errsz, -EINVAL, "client certificate: %s", e);
                }
        } else if (cfg->cert_file && ssl.SSL_CTX_use_certificate_chain_file(h->ctx, cfg->cert_file) != 1) {
                ssl_errstr(e, sizeof e);
                return errbuf_set(err, errsz, -EINVAL, "cannot load client certificate '%s': %s", cfg->cert_file, e);
        }
        if (cfg->key_data) {
                BIO *bio = ssl.BIO_new_mem_buf(cfg->key_data, (int)cfg->key_len);
                EVP_PKEY *k = bio ? ssl.PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
                ssl.BIO_free(bio);
                int ok = k ? ssl.SSL_CTX_use_PrivateKey(h->ctx, k) : 0;
                ssl.EVP_PKEY_free(k);
                if (ok != 1) {
                        ssl_errstr(e, sizeof e);
                        return errbuf_set(err, errsz, -EINVAL, "client-key-data: %s", e);
                }
        } else if (cfg->key_file && ssl.SSL_CTX_use_PrivateKey_file(h->ctx, cfg->key_file, SSL_FILETYPE_PEM) != 1) {
                ssl_errstr(e, sizeof e);
                return errbuf_set(err, errsz, -EINVAL, "cannot load client key '%s': %s", cfg->key_file, e);
        }
        if ((cfg->cert_data || cfg->cert_file) && (cfg->key_data || cfg->key_file) &&
            ssl.SSL_CTX_check_private_key(h->ctx) != 1) {
                ssl_errstr(e, sizeof e);
                return errbuf_set(err, errsz, -EINVAL, "client key does not match the certificate: %s", e);
        }
        return 0;
}

static void conn_close(struct httpc *h) {
        pthread_mutex_lock(&h->ilock);
        h->published_fd = -1;
        pthread_mutex_unlock(&h->ilock);
        if (h->ssl) {
                ssl.SSL_free(h->ssl);
                h->ssl = NULL;
        }
        if (h->fd >= 0) {
                close(h->fd);
                h->fd = -1;
        }
}

struct httpc *httpc_free(struct httpc *h) {
        if (!h)
                return NULL;
        conn_close(h);
        if (h->ctx)
                ssl.SSL_CTX_free(h->ctx);
        free(h->host);
        free(h->port);
        free(h->prefix);
        free(h->authority);
        free(h->verify_name);
        free(h->proxy_host);
        free(h->proxy_port);
        free(h->unix_socket);
        pthread_mutex_destroy(&h->ilock);
        free(h);
        return NULL;
}

int httpc_new(const struct httpc_config *cfg, struct httpc **ret, char *err, size_t errsz) {
        struct httpc *h;
        int r;

        if (!cfg || !cfg->server || !ret) {
                return errbuf_set(err, errsz, -EINVAL, "no server URL");
        }
        h = calloc(1, sizeof *h);
        if (!h)
                return -ENOMEM;
        h->fd = h->published_fd = -1;
        pthread_mutex_init(&h->ilock, NULL);
        h->insecure = cfg->insecure_skip_verify;
        r = parse_url(cfg->server, &h->https, &h->host, &h->port, &h->prefix);
        if (r < 0) {
                errbuf_set(err, errsz, 0, "bad server URL '%s'", cfg->server);
                goto fail;
        }
        if (cfg->proxy) {
                bool phttps;
                _cleanup_free_ char *pprefix = NULL;
                r = parse_url(cfg->proxy, &phttps, &h->proxy_host, &h->proxy_port, &pprefix);
                if (r < 0 || phttps) {
                        errbuf_set(err, errsz, 0, "unsupported proxy URL '%s' (only http://host:port)", cfg->proxy);
                        r = -EINVAL;
                        goto fail;
                }
        }
        if (cfg->unix_socket) {
                if (h->https || cfg->proxy || !*cfg->unix_socket ||
                    strlen(cfg->unix_socket) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
                        errbuf_set(err, errsz, 0, "unix socket '%s': needs an http:// URL, no proxy, a path shorter than %zu",
                               cfg->unix_socket, sizeof(((struct sockaddr_un *)0)->sun_path));
                        r = -EINVAL;
                        goto fail;
                }
                h->unix_socket = strdup(cfg->unix_socket);
                if (!h->unix_socket) {
                        r = -ENOMEM;
                        goto fail;
                }
        }
        r = -ENOMEM;
        if (strchr(h->host, ':'))
                r = asprintf(&h->authority, "[%s]:%s", h->host, h->port);
        else
                r = asprintf(&h->authority, "%s:%s", h->host, h->port);
        if (r < 0) {
                h->authority = NULL;
                r = -ENOMEM;
                goto fail;
        }
        if (cfg->tls_server_name && strpbrk(cfg->tls_server_name, ":/[]@ \t\r\n")) {
                errbuf_set(err, errsz, 0, "bad tls-server-name '%s'", cfg->tls_server_name);
                r = -EINVAL;
                goto fail;
        }
        h->verify_name = strdup(cfg->tls_server_name ? cfg->tls_server_name : h->host);
        if (!h->verify_name) {
                r = -ENOMEM;
                goto fail;
        }
        if (h->https) {
                r = ssl_load_once(err, errsz);
                if (r < 0)
                        goto fail;
                r = build_ctx(h, cfg, err, errsz);
                if (r < 0)
                        goto fail;
        }
        *ret = h;
        return 0;
fail:
        httpc_free(h);
        return r;
}

/* Waits for events on fd until deadline. */
static int wait_fd(int fd, short events, uint64_t deadline) {
        for (;;) {
                uint64_t now = now_usec();
                if (now >= deadline)
                        return -ETIMEDOUT;
                uint64_t ms = (deadline - now + 999) / 1000;
                struct pollfd pfd = { .fd = fd, .events = events };
                int k = poll(&pfd, 1, ms > 60000 ? 60000 : (int)ms);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                if (k > 0)
                        return 0; /* errors/hangups surface on the next read/write */
        }
}

/* connect() on a non-blocking socket, finished within deadline: 0, -ETIMEDOUT or -errno. A full
 * AF_UNIX backlog is -EAGAIN at once (nothing is in progress then, so nothing to wait for). */
static int connect_wait(int fd, const struct sockaddr *sa, socklen_t len, uint64_t deadline) {
        int soerr = 0, r;
        socklen_t sl = sizeof soerr;

        if (connect(fd, sa, len) == 0)
                return 0;
        if (errno != EINPROGRESS)
                return -errno;
        r = wait_fd(fd, POLLOUT, deadline);
        if (r < 0)
                return r;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
                return -errno;
        return -soerr;
}

static int tcp_connect_one(const struct addrinfo *ai, uint64_t deadline, int *ret_fd) {
        _cleanup_close_ int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
        int one = 1, r;

        if (fd < 0)
                return -errno;
        /* Requests go out in one write; NODELAY keeps a small TLS record from waiting on an ACK. */
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        (void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
        r = connect_wait(fd, ai->ai_addr, ai->ai_addrlen, deadline);
        if (r < 0)
                return r;
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* Resolves host:port (IP literals through AI_NUMERICHOST, which never consults NSS; names
 * through kube/resolve: /etc/hosts, then DNS, within the deadline, as client-go's pure Go
 * resolver) and connects to the first address that answers. */
static int tcp_connect(const char *host, const char *port, uint64_t deadline, int *ret_fd, char *err, size_t errsz) {
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV }, *res = NULL;
        struct resolve_addr addrs[RESOLVE_MAX_ADDRS];
        struct sockaddr_storage ss[RESOLVE_MAX_ADDRS];
        struct addrinfo named[RESOLVE_MAX_ADDRS];
        int g, r = -ECONNREFUSED;

        g = getaddrinfo(host, port, &hints, &res);
        if (g == EAI_NONAME) {
                int n = resolve_host(host, deadline, addrs, ELEMENTSOF(addrs), err, errsz);
                if (n < 0)
                        return n == -ETIMEDOUT || n == -ENOMEM ? n : -ECONNREFUSED;
                for (int i = 0; i < n; i++) {
                        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss[i];
                        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss[i];
                        memset(&ss[i], 0, sizeof ss[i]);
                        if (addrs[i].family == AF_INET) {
                                *s4 = (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port)),
                                                            .sin_addr = addrs[i].v4 };
                        } else {
                                *s6 = (struct sockaddr_in6){ .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)atoi(port)),
                                                             .sin6_addr = addrs[i].v6 };
                        }
                        named[i] = (struct addrinfo){ .ai_family = addrs[i].family, .ai_socktype = SOCK_STREAM,
                                                      .ai_addr = (struct sockaddr *)&ss[i],
                                                      .ai_addrlen = addrs[i].family == AF_INET ? sizeof *s4 : sizeof *s6,
                                                      .ai_next = i + 1 < n ? &named[i + 1] : NULL };
                }
                g = 0;
        } else if (g != 0) {
                errbuf_set(err, errsz, 0, "cannot resolve '%s': %s", host, gai_strerror(g));
                return g == EAI_MEMORY ? -ENOMEM : -ECONNREFUSED;
        }
        for (struct addrinfo *ai = res ?: named; ai; ai = ai->ai_next) {
                r = tcp_connect_one(ai, deadline, ret_fd);
                if (r >= 0 || r == -ETIMEDOUT)
                        break;
        }
        if (res)
                freeaddrinfo(res);
        if (r == -ETIMEDOUT)
                errbuf_set(err, errsz, 0, "connection to %s port %s timed out", host, port);
        else if (r < 0) {
                errbuf_set(err, errsz, 0, "cannot connect to %s port %s: %s", host, port, strerror(-r));
                if (r != -ENOMEM)
                        r = -ECONNREFUSED;
        }
        return r;
}

/* Plain-socket I/O (before TLS, or for http://). */
static int raw_write_all(int fd, const char *p, size_t n, uint64_t deadline) {
        while (n > 0) {
                ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0 && errno == EAGAIN) {
                        int r = wait_fd(fd, POLLOUT, deadline);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (k < 0)
                        return (errno == EPIPE || errno == ECONNRESET) ? -ECONNRESET : -errno;
                p += k;
                n -= (size_t)k;
        }
        return 0;
}

static ssize_t raw_read(int fd, char *p, size_t n, uint64_t deadline) {
        for (;;) {
                ssize_t k = recv(fd, p, n, 0);
                if (k >= 0)
                        return k;
                if (errno == EINTR)
                        continue;
                if (errno != EAGAIN)
                        return errno == ECONNRESET ? -ECONNRESET : -errno;
                int r = wait_fd(fd, POLLIN, deadline);
                if (r < 0)
                        return r;
        }
}

/* Handles SSL_ERROR_WANT_*: waits, returns 1 to retry; otherwise an errno. */
static int ssl_wait(struct httpc *h, int ret, uint64_t deadline) {
        switch (ssl.SSL_get_error(h->ssl, ret)) {
        case SSL_ERROR_WANT_READ:
                return wait_fd(h->fd, POLLIN, deadline) < 0 ? -ETIMEDOUT : 1;
        case SSL_ERROR_WANT_WRITE:
                return wait_fd(h->fd, POLLOUT, deadline) < 0 ? -ETIMEDOUT : 1;
        case SSL_ERROR_ZERO_RETURN:
                return 0;
        case SSL_ERROR_SYSCALL:
                return -ECONNRESET;
        default:
                return -EPROTO;
        }
}

static int io_write_all(struct httpc *h, const char *p, size_t n, uint64_t deadline) {
        if (!h->ssl)
                return raw_write_all(h->fd, p, n, deadline);
        while (n > 0) {
                ssl.ERR_clear_error();
                int k = ssl.SSL_write(h->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
                if (k > 0) {
                        p += k;
                        n -= (size_t)k;
                        continue;
                }
                int r = ssl_wait(h, k, deadline);
                if (r <= 0)
                        return r == 0 ? -ECONNRESET : r;
        }
        return 0;
}

static ssize_t io_read(struct httpc *h, char *p, size_t n, uint64_t deadline, char *err, size_t errsz) {
        if (!h->ssl) {
                ssize_t k = raw_read(h->fd, p, n, deadline);
                if (k < 0 && k != -ETIMEDOUT)
                        errbuf_set(err, errsz, 0, "receive failure: %s", strerror((int)-k));
                return k;
        }
        for (;;) {
                ssl.ERR_clear_error();
                int k = ssl.SSL_read(h->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
                if (k > 0)
                        return k;
                int r = ssl_wait(h, k, deadline);
                if (r == 1)
                        continue;
                if (r == -EPROTO) {
                        /* e.g. a TLS 1.3 alert after the handshake: client certificate refused */
                        char e[256];
                        ssl_errstr(e, sizeof e);
                        errbuf_set(err, errsz, 0, "TLS receive failure: %s", e);
                } else if (r == -ECONNRESET)
                        errbuf_set(err, errsz, 0, "connection reset by peer");
                return r;
        }
}

/* CONNECT tunnel through an http:// proxy (before the TLS handshake). */
static int proxy_connect(struct httpc *h, uint64_t deadline, char *err, size_t errsz) {
        _cleanup_free_ char *req = NULL;
        struct httpc_parser p;
        int n;

        n = asprintf(&req, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", h->authority, h->authority);
        if (n < 0) {
                req = NULL;
                return -ENOMEM;
        }
        int r = raw_write_all(h->fd, req, (size_t)n, deadline);
        if (r < 0)
                return r;
        /* Headers only (a 2xx CONNECT answer has no body): read byte-wise so that nothing of the
         * TLS stream that follows is consumed. */
        httpc_parser_init(&p, true);
        while (p.state != HTTPC_PS_DONE) {
                char ch;
                ssize_t k = raw_read(h->fd, &ch, 1, deadline);
                if (k <= 0)
                        return k == 0 ? -ECONNRESET : (int)k;
                ssize_t f = httpc_parser_feed(&p, &ch, 1, NULL, NULL, NULL);
                if (f < 0)
                        return (int)f;
        }
        if (p.status / 100 != 2) {
                return errbuf_set(err, errsz, -ECONNREFUSED, "proxy CONNECT answered HTTP %d", p.status);
        }
        return 0;
}

/* A local server (the node agent): the peer must run as our own user, so a socket planted by
 * someone else in a shared directory can never answer for the API server. */
static int unix_connect(const char *path, uint64_t deadline, int *ret_fd, char *err, size_t errsz) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct ucred cred;
        socklen_t cl = sizeof cred;
        int r;

        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        r = connect_wait(fd, (struct sockaddr *)&sa, sizeof sa, deadline);
        if (r == -ETIMEDOUT) {
                return errbuf_set(err, errsz, r, "connection to %s timed out", path);
        }
        if (r < 0) {
                errbuf_set(err, errsz, 0, "cannot connect to %s: %s", path, strerror(-r));
                return r == -ENOMEM ? r : -ECONNREFUSED;
        }
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0 || cred.uid != geteuid()) {
                return errbuf_set(err, errsz, -EPERM, "%s: the server runs as uid %u, not as uid %u", path, (unsigned)cred.uid,
                       (unsigned)geteuid());
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}

static int conn_open(struct httpc *h, uint64_t deadline, char *err, size_t errsz) {
        char e[256];
        int r;

        if (h->unix_socket)
                return unix_connect(h->unix_socket, deadline, &h->fd, err, errsz);
        if (h->proxy_host) {
                r = tcp_connect(h->proxy_host, h->proxy_port, deadline, &h->fd, err, errsz);
                if (r < 0)
                        return r;
                r = proxy_connect(h, deadline, err, errsz);
                if (r < 0) {
                        if (r == -ETIMEDOUT)
                                errbuf_set(err, errsz, 0, "proxy CONNECT timed out");
                        else if (r != -ECONNREFUSED)
                                errbuf_set(err, errsz, 0, "proxy CONNECT failed: %s", strerror(-r));
                        return r == -ETIMEDOUT || r == -ENOMEM ? r : -ECONNREFUSED;
                }
        } else {
                r = tcp_connect(h->host, h->port, deadline, &h->fd, err, errsz);
                if (r < 0)
                        return r;
        }
        if (!h->https)
                return 0;

        h->ssl = ssl.SSL_new(h->ctx);
        if (!h->ssl || ssl.SSL_set_fd(h->ssl, h->fd) != 1)
                return -ENOMEM;
        bool ip = is_ip_literal(h->verify_name);
        /* SNI carries DNS names only (RFC 6066 §3). */
        if (!ip && !ssl.SSL_ctrl(h->ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, h->verify_name))
                return -ENOMEM;
        if (!h->insecure) {
                X509_VERIFY_PARAM *vp = ssl.SSL_get0_param(h->ssl);
                if (ip)
                        r = ssl.X509_VERIFY_PARAM_set1_ip_asc(vp, h->verify_name);
                else {
                        ssl.X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
                        r = ssl.X509_VERIFY_PARAM_set1_host(vp, h->verify_name, 0);
                }
                if (r != 1)
                        return -ENOMEM;
        }
        for (;;) {
                ssl.ERR_clear_error();
                int k = ssl.SSL_connect(h->ssl);
                if (k == 1)
                        return 0;
                long v = ssl.SSL_get_verify_result(h->ssl);
                if (!h->insecure && v != X509_V_OK) {
                        errbuf_set(err, errsz, 0, "server certificate verification failed: %s",
                               ssl.X509_verify_cert_error_string(v));
                        ssl.ERR_clear_error();
                        return -EKEYREJECTED;
                }
                r = ssl_wait(h, k, deadline);
                if (r == 1)
                        continue;
                if (r == -ETIMEDOUT) {
                        return errbuf_set(err, errsz, r, "TLS handshake timed out");
                }
                if (r == 0 || r == -ECONNRESET) {
                        return errbuf_set(err, errsz, -ECONNRESET, "connection closed during the TLS handshake");
                }
                ssl_errstr(e, sizeof e);
                return errbuf_set(err, errsz, -EPROTO, "TLS handshake failed: %s", e);
        }
}

/* A kept-alive connection the server has closed (or that holds unexpected bytes) is unusable. */
static bool conn_alive(struct httpc *h) {
        struct pollfd pfd = { .fd = h->fd, .events = POLLIN };
        int k;
        while ((k = poll(&pfd, 1, 0)) < 0 && errno == EINTR)
                ;
        return k == 0;
}

static int one_exchange(struct httpc *h, const char *req, size_t reqlen, const struct httpc_request *rq, bool head,
                        httpc_data_cb cb, void *ud, int *status, bool *ret_nothing, char *err, size_t errsz,
                        uint64_t deadline) {
        struct httpc_parser p;
        bool any = false;
        int r;

        *ret_nothing = false;
        r = io_write_all(h, req, reqlen, deadline);
        if (r == 0 && rq->body && rq->body_len)
                r = io_write_all(h, rq->body, rq->body_len, deadline);
        if (r < 0) {
                *ret_nothing = true;
                if (r == -ETIMEDOUT)
                        errbuf_set(err, errsz, 0, "timed out sending the request");
                else
                        errbuf_set(err, errsz, 0, "send failure: %s", strerror(-r));
                return r;
        }
        httpc_parser_init(&p, head);
        for (;;) {
                ssize_t k = io_read(h, h->rbuf, sizeof h->rbuf, deadline, err, errsz);
                if (k == -ETIMEDOUT) {
                        return errbuf_set(err, errsz, -ETIMEDOUT, "operation timed out after %llu ms",
                               (unsigned long long)(rq->timeout_usec / 1000));
                }
                if (k < 0) {
                        *ret_nothing = !any;
                        return (int)k;
                }
                if (k == 0) {
                        *ret_nothing = !any;
                        r = httpc_parser_eof(&p);
                        if (r < 0) {
                                return errbuf_set(err, errsz, r, any ? "connection closed before the response was complete"
                                                       : "empty reply from server");
                        }
                        break; /* close-delimited body complete */
                }
                any = true;
                int stop = 0;
                ssize_t f = httpc_parser_feed(&p, h->rbuf, (size_t)k, cb, ud, &stop);
                *status = p.status >= 200 ? p.status : 0;
                if (f < 0) {
                        if (f == -EPROTO || f == -EFBIG)
                                errbuf_set(err, errsz, 0, "malformed HTTP response%s", f == -EFBIG ? " (headers too large)" : "");
                        conn_close(h);
                        return (int)f;
                }
                if (stop) {
                        conn_close(h);
                        return 0;
                }
                if (p.state == HTTPC_PS_DONE) {
                        /* Bytes beyond the response (we never pipeline) make the connection suspect. */
                        if ((size_t)f != (size_t)k || !p.keep_alive)
                                conn_close(h);
                        return 0;
                }
        }
        conn_close(h);
        return 0;
}

/* conn_open, then publish the connection for httpc_interrupt(); an interrupt that came while
 * connecting wins. */
static int conn_open_published(struct httpc *h, uint64_t deadline, char *err, size_t errsz) {
        int r = conn_open(h, deadline, err, errsz);
        pthread_mutex_lock(&h->ilock);
        bool intr = h->interrupted;
        h->published_fd = r >= 0 && !intr ? h->fd : -1;
        pthread_mutex_unlock(&h->ilock);
        if (intr) {
                return errbuf_set(err, errsz, -ECANCELED, "interrupted");
        }
        return r;
}

void httpc_interrupt(struct httpc *h) {
        if (!h)
                return;
        pthread_mutex_lock(&h->ilock);
        h->interrupted = true;
        if (h->published_fd >= 0)
                shutdown(h->published_fd, SHUT_RDWR); /* wakes the poll() of a blocked read */
        pthread_mutex_unlock(&h->ilock);
}

int httpc_request(struct httpc *h, const struct httpc_request *rq, httpc_data_cb cb, void *ud, int *ret_status,
                  char *err, size_t errsz) {
        _cleanup_free_ char *req = NULL;
        size_t reqlen = 0;
        FILE *f;
        int r, status = 0;

        if (ret_status)
                *ret_status = 0;
        if (!h || !rq || !rq->method || !rq->path || rq->path[0] != '/' || strpbrk(rq->path, " \r\n") ||
            strpbrk(rq->method, " \r\n:/")) {
                return errbuf_set(err, errsz, -EINVAL, "invalid request");
        }
        pthread_mutex_lock(&h->ilock);
        bool intr = h->interrupted;
        pthread_mutex_unlock(&h->ilock);
        if (intr) {
                return errbuf_set(err, errsz, -ECANCELED, "interrupted");
        }
        uint64_t start = now_usec(), deadline = start + rq->timeout_usec;
        uint64_t cdeadline = start + (rq->connect_timeout_usec && rq->connect_timeout_usec < rq->timeout_usec
                                              ? rq->connect_timeout_usec : rq->timeout_usec);

        /* The request head, built in one buffer and sent in one write. */
        f = open_memstream(&req, &reqlen);
        if (!f)
                return -ENOMEM;
        fprintf(f, "%s %s%s HTTP/1.1\r\nHost: %s\r\n", rq->method, h->prefix, rq->path, h->authority);
        for (const char *const *hd = rq->headers; hd && *hd; hd++) {
                if (strpbrk(*hd, "\r\n")) {
                        fclose(f);
                        explicit_bzero(req, reqlen);
                        return errbuf_set(err, errsz, -EINVAL, "header with a line break");
                }
                fprintf(f, "%s\r\n", *hd);
        }
        if (rq->body || strcmp(rq->method, "POST") == 0 || strcmp(rq->method, "PUT") == 0 ||
            strcmp(rq->method, "PATCH") == 0)
                fprintf(f, "Content-Length: %zu\r\n", rq->body ? rq->body_len : 0);
        fputs("\r\n", f);
        if (fclose(f) != 0 || !req) {
                if (req)
                        explicit_bzero(req, reqlen);
                return -ENOMEM;
        }

        for (int attempt = 0;; attempt++) {
                bool reused = h->fd >= 0, nothing = false;
                if (reused && !conn_alive(h)) {
                        conn_close(h);
                        reused = false;
                }
                if (!reused) {
                        r = conn_open_published(h, cdeadline < deadline ? cdeadline : deadline, err, errsz);
                        if (r < 0) {
                                conn_close(h);
                                if (r == -ETIMEDOUT && now_usec() >= deadline) {
                                        /* Keep the step that ran out of time (e.g. name resolution). */
                                        char step[256];
                                        snprintf(step, sizeof step, "%s", err && errsz ? err : "");
                                        errbuf_set(err, errsz, 0, "operation timed out after %llu ms%s%s",
                                               (unsigned long long)(rq->timeout_usec / 1000), step[0] ? ": " : "", step);
                                }
                                break;
                        }
                }
                status = 0;
                r = one_exchange(h, req, reqlen, rq, strcmp(rq->method, "HEAD") == 0, cb, ud, &status, &nothing,
                                 err, errsz, deadline);
                if (r < 0)
                        conn_close(h);
                /* The server may close an idle kept-alive connection just as we reuse it: one
                 * retry on a fresh connection when nothing at all came back (as curl does). */
                if (r < 0 && reused && nothing && attempt == 0 && r != -ETIMEDOUT)
                        continue;
                break;
        }
        explicit_bzero(req, reqlen);
        if (ret_status)
                *ret_status = status;
        return r;
}
