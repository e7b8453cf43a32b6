/* SPDX-License-Identifier: Apache-2.0 */
/* k8s.c: Kubernetes API client over lib/httpc (dlopen()ed libssl) (spec istio-cni.md §2.5, §2.4 step 11,
 * §5.2). See k8s.h for the error convention and the retry/proxy decisions. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "kube/httpc.h"
#include "kube/k8s.h"
#include "base/errbuf.h"
#include "base/macro.h"

#define K8S_DEFAULT_TIMEOUT_USEC (5 * 1000000ULL)
#define K8S_DEFAULT_CONNECT_USEC (3 * 1000000ULL)
#define K8S_DEFAULT_BACKOFF_USEC (1000000ULL)
#define K8S_DEFAULT_WATCH_USEC (300 * 1000000ULL)
/* A body larger than this is refused rather than buffered (a runaway or hostile server must not
 * exhaust the plugin's memory). Watch events are bounded per line. */
#define K8S_MAX_BODY (64u << 20)
#define K8S_MAX_EVENT (16u << 20)
#define K8S_MAX_TOKEN (64u << 10)

DEFINE_TRIVIAL_CLEANUP_FUNC(cJSON *, cJSON_Delete);

struct k8s_client {
        struct httpc *http;
        /* Only what each request needs: the CA, certificate and key went into the TLS context
         * in httpc_new(), so no private key is kept in this struct. */
        struct {
                char *server, *token, *token_file;
        } kc;
        struct k8s_options o;
        char *user_agent;
        char *proxy;            /* from the environment when honour_proxy_env, else NULL */
        void (*watch_started)(void *userdata);
        void *watch_started_userdata;
};

static void sleep_usec(uint64_t usec) {
        struct timespec ts = { .tv_sec = (time_t)(usec / 1000000), .tv_nsec = (long)(usec % 1000000) * 1000 };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* ---- small helpers ---- */

bool k8s_name_is_valid(const char *s) {
        size_t n;

        if (!s || !(n = strlen(s)) || n > 253)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
                if (!alnum && c != '-' && c != '.')
                        return false;
                if ((i == 0 || i == n - 1) && !alnum)
                        return false;
        }
        return true;
}

char *k8s_escape(const char *s) {
        static const char hex[] = "0123456789ABCDEF";
        size_t n = strlen(s);
        char *out = malloc(n * 3 + 1), *p = out;

        if (!out)
                return NULL;
        for (; *s; s++) {
                unsigned char c = (unsigned char)*s;
                if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '.' || c == '_' || c == '~')
                        *p++ = (char)c;
                else {
                        *p++ = '%';
                        *p++ = hex[c >> 4];
                        *p++ = hex[c & 15];
                }
        }
        *p = 0;
        return out;
}

const cJSON *k8s_obj_child(const cJSON *obj, const char *name) {
        if (!cJSON_IsObject(obj) || !name)
                return NULL;
        return cJSON_GetObjectItemCaseSensitive(obj, name);
}

const cJSON *k8s_obj_path(const cJSON *obj, const char *path) {
        char name[256];

        if (!path)
                return NULL;
        while (obj) {
                const char *dot = strchr(path, '.');
                size_t n = dot ? (size_t)(dot - path) : strlen(path);
                if (n == 0 || n >= sizeof name)
                        return NULL;
                memcpy(name, path, n);
                name[n] = 0;
                obj = k8s_obj_child(obj, name);
                if (!dot)
                        return obj;
                path = dot + 1;
        }
        return NULL;
}

const char *k8s_obj_string(const cJSON *obj, const char *path) {
        const cJSON *v = k8s_obj_path(obj, path);
        return cJSON_IsString(v) ? v->valuestring : NULL;
}

const cJSON *k8s_obj_object(const cJSON *obj, const char *path) {
        const cJSON *v = k8s_obj_path(obj, path);
        return cJSON_IsObject(v) ? v : NULL;
}

const cJSON *k8s_obj_array(const cJSON *obj, const char *path) {
        const cJSON *v = k8s_obj_path(obj, path);
        return cJSON_IsArray(v) ? v : NULL;
}

int k8s_obj_int(const cJSON *obj, const char *path, int64_t min, int64_t max, int64_t *ret) {
        const cJSON *v = k8s_obj_path(obj, path);
        double d;

        if (!v || cJSON_IsNull(v))
                return -ENOENT;
        if (!cJSON_IsNumber(v))
                return -EBADMSG;
        d = v->valuedouble;
        /* Compare as doubles first: converting an out-of-range double to int64_t is undefined. */
        if (!(d >= (double)min && d <= (double)max) || d != (double)(int64_t)d)
                return -EBADMSG;
        if ((int64_t)d < min || (int64_t)d > max)
                return -EBADMSG;
        *ret = (int64_t)d;
        return 0;
}

const char *k8s_obj_annotation(const cJSON *obj, const char *key) {
        const cJSON *v = k8s_obj_child(k8s_obj_object(obj, "metadata.annotations"), key);
        return cJSON_IsString(v) ? v->valuestring : NULL;
}

const char *k8s_obj_label(const cJSON *obj, const char *key) {
        const cJSON *v = k8s_obj_child(k8s_obj_object(obj, "metadata.labels"), key);
        return cJSON_IsString(v) ? v->valuestring : NULL;
}

int k8s_watch_event_parse(const char *line, size_t len, cJSON **ret_event, const char **ret_type, cJSON **ret_obj) {
        _cleanup_(cJSON_Deletep) cJSON *ev = NULL;
        const char *end = NULL;
        cJSON *type, *obj;

        if (!line || len == 0 || memchr(line, '\0', len))
                return -EBADMSG;
        ev = cJSON_ParseWithLengthOpts(line, len, &end, false);
        if (!ev || !cJSON_IsObject(ev))
                return -EBADMSG;
        while (end && (size_t)(end - line) < len && strchr(" \t\r\n", *end))
                end++;
        if (!end || (size_t)(end - line) != len)
                return -EBADMSG;
        type = cJSON_GetObjectItemCaseSensitive(ev, "type");
        obj = cJSON_GetObjectItemCaseSensitive(ev, "object");
        if (!cJSON_IsString(type) || !type->valuestring[0] || !cJSON_IsObject(obj))
                return -EBADMSG;
        *ret_type = type->valuestring;
        *ret_obj = obj;
        *ret_event = TAKE_PTR(ev);
        return 0;
}

/* ---- client ---- */

static bool no_proxy_match(const char *list, const char *host) {
        size_t hl = strlen(host);

        if (!list)
                return false;
        while (*list) {
                while (*list == ',' || *list == ' ')
                        list++;
                const char *e = list + strcspn(list, ", ");
                size_t n = (size_t)(e - list);
                const char *t = list;
                if (n == 1 && *t == '*')
                        return true;
                if (n > 0 && *t == '.') {
                        t++;
                        n--;
                }
                if (n > 0 && n <= hl && strncasecmp(host + hl - n, t, n) == 0 &&
                    (n == hl || host[hl - n - 1] == '.'))
                        return true;
                list = e;
        }
        return false;
}

/* The proxy for the server URL from the environment (curl's variables and precedence), NULL
 * for none. Bracketed IPv6 hosts are compared without brackets. */
static int proxy_from_env(const char *server, char **ret) {
        bool https = strncmp(server, "https://", 8) == 0;
        const char *hs = strstr(server, "://"), *p = NULL, *np;
        _cleanup_free_ char *host = NULL;

        *ret = NULL;
        if (!hs)
                return 0;
        hs += 3;
        if (*hs == '[')
                host = strndup(hs + 1, strcspn(hs + 1, "]"));
        else
                host = strndup(hs, strcspn(hs, ":/"));
        if (!host)
                return -ENOMEM;
        np = getenv("no_proxy");
        if (!np)
                np = getenv("NO_PROXY");
        if (no_proxy_match(np, host))
                return 0;
        if (https && !((p = getenv("https_proxy")) && *p))
                p = getenv("HTTPS_PROXY");
        if (!https)
                p = getenv("http_proxy"); /* lowercase only: HTTP_PROXY is CGI-controlled */
        if (!p || !*p)
                p = getenv("all_proxy");
        if (!p || !*p)
                p = getenv("ALL_PROXY");
        if (!p || !*p)
                return 0;
        if (strstr(p, "://"))
                *ret = strdup(p);
        else if (asprintf(ret, "http://%s", p) < 0)
                *ret = NULL;
        return *ret ? 0 : -ENOMEM;
}

int k8s_client_new(const struct kubeconfig *kc, const struct k8s_options *o, struct k8s_client **ret,
                   char *err, size_t errsz) {
        struct k8s_client *c;
        int r;

        if (err && errsz)
                err[0] = 0;
        if (!kc || !kc->server || !ret) {
                return errbuf_set(err, errsz, -EINVAL, "kubeconfig has no server");
        }
        c = calloc(1, sizeof *c);
        if (!c)
                return -ENOMEM;
        if (o)
                c->o = *o;
        c->o.user_agent = NULL;
        if (!c->o.timeout_usec)
                c->o.timeout_usec = K8S_DEFAULT_TIMEOUT_USEC;
        if (!c->o.connect_timeout_usec)
                c->o.connect_timeout_usec = c->o.timeout_usec < K8S_DEFAULT_CONNECT_USEC ? c->o.timeout_usec
                                                                                     : K8S_DEFAULT_CONNECT_USEC;
        if (!c->o.max_attempts)
                c->o.max_attempts = 1;
        if (!c->o.backoff_usec)
                c->o.backoff_usec = K8S_DEFAULT_BACKOFF_USEC;
        r = -ENOMEM;
        if (!(c->kc.server = strdup(kc->server)) || (kc->token && !(c->kc.token = strdup(kc->token))) ||
            (kc->token_file && !(c->kc.token_file = strdup(kc->token_file))))
                goto fail;
        if (o && o->user_agent)
                c->user_agent = strdup(o->user_agent);
        else
                c->user_agent = strdup("cnibox/" CNIBOX_VERSION);
        if (!c->user_agent || strpbrk(c->user_agent, "\r\n")) {
                r = c->user_agent ? -EINVAL : -ENOMEM;
                goto fail;
        }
        if (c->o.honour_proxy_env) {
                r = proxy_from_env(c->kc.server, &c->proxy);
                if (r < 0)
                        goto fail;
        }
        struct httpc_config hc = {
                .server = kc->server,
                .tls_server_name = kc->tls_server_name,
                .insecure_skip_verify = kc->insecure_skip_tls_verify,
                .ca_data = kc->ca_data,
                .ca_len = kc->ca_data_len,
                .ca_file = kc->ca_file,
                .cert_data = kc->client_cert_data,
                .cert_len = kc->client_cert_data_len,
                .cert_file = kc->client_cert_file,
                .key_data = kc->client_key_data,
                .key_len = kc->client_key_data_len,
                .key_file = kc->client_key_file,
                .proxy = c->proxy,
        };
        r = httpc_new(&hc, &c->http, err, errsz);
        if (r < 0)
                goto fail;
        *ret = c;
        return 0;
fail:
        k8s_client_free(c);
        return r;
}

struct k8s_client *k8s_client_free(struct k8s_client *c) {
        if (!c)
                return NULL;
        httpc_free(c->http);
        free(c->kc.server);
        if (c->kc.token)
                explicit_bzero(c->kc.token, strlen(c->kc.token));
        free(c->kc.token);
        free(c->kc.token_file);
        free(c->user_agent);
        free(c->proxy);
        free(c);
        return NULL;
}

void k8s_response_done(struct k8s_response *r) {
        if (!r)
                return;
        free(r->body);
        cJSON_Delete(r->json);
        *r = (struct k8s_response){};
}

/* ---- one HTTP exchange ---- */

struct watch_state {
        k8s_watch_cb cb;
        void *userdata;
        char *rv;
        size_t rvsz;
        bool started;           /* a 200 answer arrived: the stream is live, no more retries */
        void (*on_started)(void *userdata);
        void *started_userdata;
        int result;             /* first error / stop request from the stream */
        char *err;
        size_t errsz;
};

struct xfer {
        struct httpc_body b;
        struct watch_state *w; /* non-NULL for watch streams */
};

static void set_rv(struct watch_state *w, const cJSON *obj) {
        const char *rv = k8s_obj_string(obj, "metadata.resourceVersion");
        if (rv && w->rv && strlen(rv) < w->rvsz)
                strcpy(w->rv, rv);
}

static int watch_line(struct watch_state *w, const char *line, size_t len) {
        _cleanup_(cJSON_Deletep) cJSON *ev = NULL;
        const char *type;
        cJSON *obj;
        int r;

        while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' '))
                len--;
        if (len == 0)
                return 0;
        r = k8s_watch_event_parse(line, len, &ev, &type, &obj);
        if (r < 0) {
                return errbuf_set(w->err, w->errsz, r, "malformed watch event");
        }
        if (streq(type, "BOOKMARK")) {
                set_rv(w, obj);
                return 0;
        }
        if (streq(type, "ERROR")) {
                int64_t code = 0;
                const char *msg = k8s_obj_string(obj, "message");
                (void)k8s_obj_int(obj, "code", 0, 999, &code);
                errbuf_set(w->err, w->errsz, 0, "watch ERROR event: code %lld: %s", (long long)code, msg ? msg : "");
                return code == 410 ? -ESTALE : -EIO;
        }
        if (!streq(type, "ADDED") && !streq(type, "MODIFIED") && !streq(type, "DELETED")) {
                return errbuf_set(w->err, w->errsz, -EBADMSG, "unknown watch event type '%.32s'", type);
        }
        set_rv(w, obj);
        r = w->cb(type, obj, w->userdata);
        if (r > 0)
                return 1;
        return r;
}

static int on_data(void *ud, int status, const char *ptr, size_t n) {
        struct xfer *x = ud;
        int r;

        if (x->w && !x->w->started && status >= 200 && status < 300) {
                x->w->started = true;
                if (x->w->on_started)
                        x->w->on_started(x->w->started_userdata);
        }
        if (n == 0)
                return 0;
        if (!x->w || !x->w->started)
                return httpc_body_append(&x->b, ptr, n);

        /* Stream: split on newlines, keeping a partial last line buffered. */
        for (size_t i = 0; i < n;) {
                const char *nl = memchr(ptr + i, '\n', n - i);
                size_t chunk = nl ? (size_t)(nl - (ptr + i)) : n - i;
                if (httpc_body_append(&x->b, ptr + i, chunk) < 0) {
                        x->w->result = x->b.too_big ? -EBADMSG : -ENOMEM;
                        errbuf_set(x->w->err, x->w->errsz, 0, "watch event too large");
                        return x->w->result;
                }
                i += chunk;
                if (!nl)
                        break;
                i++;
                r = watch_line(x->w, x->b.buf, x->b.len);
                x->b.len = 0;
                if (r < 0) {
                        x->w->result = r;
                        return r;
                }
                if (r > 0)
                        return 1; /* the callback asked to stop: ends the stream cleanly */
        }
        return 0;
}

static int status_to_errno(long st) {
        if (st >= 200 && st < 300)
                return 0;
        switch (st) {
        case 404: return -ENOENT;
        case 401: case 403: return -EACCES;
        case 410: return -ESTALE;
        case 409: return -EEXIST;
        case 400: case 422: return -EINVAL;
        case 429: return -EAGAIN;
        default: return -EIO;
        }
}

/* Reads the token file on every request: kubelet rotates projected tokens (FIELD-NOTES 22).
 * Not fileio_read_all(): it grows its buffer by realloc(), which would leave copies of the secret
 * in freed memory; one fixed buffer is wiped with explicit_bzero() before it is freed. */
static int read_token(const char *path, char **ret) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        _cleanup_free_ char *buf = NULL;
        size_t n = 0;

        if (fd < 0)
                return -errno;
        buf = malloc(K8S_MAX_TOKEN + 1);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t k = read(fd, buf + n, K8S_MAX_TOKEN - n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                if (k == 0)
                        break;
                n += (size_t)k;
                if (n == K8S_MAX_TOKEN)
                        return -EFBIG;
        }
        /* client-go trims surrounding white space of a token file. */
        while (n > 0 && strchr(" \t\r\n", buf[n - 1]))
                n--;
        size_t s = 0;
        while (s < n && strchr(" \t\r\n", buf[s]))
                s++;
        if (s == n)
                return -ENODATA;
        for (size_t i = s; i < n; i++)
                if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
                        return -EBADMSG; /* would break the header line */
        *ret = strndup(buf + s, n - s);
        explicit_bzero(buf, n);
        return *ret ? 0 : -ENOMEM;
}

static void free_secret(char **s) {
        if (*s) {
                explicit_bzero(*s, strlen(*s));
                free(*s);
        }
}

/* Message from a Status body ("pods \"x\" not found"), or a short body excerpt. */
static void describe_body(const struct k8s_response *resp, char *out, size_t outsz) {
        const char *msg = resp->json ? k8s_obj_string(resp->json, "message") : NULL;
        out[0] = 0;
        if (msg)
                snprintf(out, outsz, ": %.200s", msg);
}

struct attempt {
        const char *method;
        const char *path;
        const char *content_type;
        const char *body;
        const char *want_kind;  /* non-NULL: a 2xx body must be a JSON object of this kind */
        uint64_t timeout_usec;
        struct watch_state *w;
};

/* One attempt. Fills resp; returns 0 or -errno with err describing it. */
static int do_attempt(struct k8s_client *c, const struct attempt *at, struct k8s_response *resp,
                      char *err, size_t errsz) {
        _cleanup_free_ char *hdr_ua = NULL, *hdr_ct = NULL;
        _cleanup_(free_secret) char *token = NULL, *hdr_auth = NULL;
        struct xfer x = { .b.max = at->w ? K8S_MAX_EVENT : K8S_MAX_BODY, .w = at->w };
        const char *hdrs[6];
        size_t nh = 0;
        char herr[256] = "";
        int status = 0, r;

        k8s_response_done(resp);
        if (c->kc.token_file) {
                r = read_token(c->kc.token_file, &token);
                if (r < 0) {
                        return errbuf_set(err, errsz, -ENOKEY, "cannot read token file '%s': %s", c->kc.token_file,
                               r == -ENODATA ? "empty" : strerror(-r));
                }
        } else if (c->kc.token && !(token = strdup(c->kc.token)))
                return -ENOMEM;
        if (token && strpbrk(token, "\r\n")) {
                return errbuf_set(err, errsz, -ENOKEY, "bearer token contains a line break");
        }

        if (asprintf(&hdr_ua, "User-Agent: %s", c->user_agent) < 0) {
                hdr_ua = NULL;
                return -ENOMEM;
        }
        hdrs[nh++] = hdr_ua;
        hdrs[nh++] = "Accept: application/json";
        if (token) {
                if (asprintf(&hdr_auth, "Authorization: Bearer %s", token) < 0) {
                        hdr_auth = NULL;
                        return -ENOMEM;
                }
                hdrs[nh++] = hdr_auth;
        }
        if (at->body) {
                if (asprintf(&hdr_ct, "Content-Type: %s", at->content_type ? at->content_type : "application/json") < 0) {
                        hdr_ct = NULL;
                        return -ENOMEM;
                }
                hdrs[nh++] = hdr_ct;
        }
        hdrs[nh] = NULL;

        struct httpc_request rq = {
                .method = at->method,
                .path = at->path,
                .headers = hdrs,
                .body = at->body,
                .body_len = at->body ? strlen(at->body) : 0,
                .timeout_usec = at->timeout_usec,
                .connect_timeout_usec = c->o.connect_timeout_usec,
        };
        r = httpc_request(c->http, &rq, on_data, &x, &status, herr, sizeof herr);

        resp->http_status = status;
        if (at->w && at->w->started) {
                /* Stream ended: by the server, our deadline, a stream error or the callback. */
                free(x.b.buf);
                if (at->w->result < 0)
                        return at->w->result;
                return 0;
        }
        resp->body = x.b.buf ? x.b.buf : strdup("");
        resp->body_len = x.b.len;
        x.b.buf = NULL;
        if (!resp->body)
                return -ENOMEM;
        if (x.b.too_big) {
                return errbuf_set(err, errsz, -EFBIG, "%s %s%s: response larger than %u bytes", at->method, c->kc.server, at->path,
                       (unsigned)x.b.max);
        }
        if (r < 0) {
                return errbuf_set(err, errsz, r, "%s %s%s: %s", at->method, c->kc.server, at->path,
                       herr[0] ? herr : strerror(-r));
        }
        resp->json = cJSON_ParseWithLength(resp->body, resp->body_len);
        r = status_to_errno(status);
        if (r < 0) {
                char detail[256];
                describe_body(resp, detail, sizeof detail);
                return errbuf_set(err, errsz, r, "%s %s%s: HTTP %d%s", at->method, c->kc.server, at->path, status, detail);
        }
        if (at->want_kind) {
                const char *k = k8s_obj_string(resp->json, "kind");
                if (!cJSON_IsObject(resp->json) || (k && !streq(k, at->want_kind))) {
                        return errbuf_set(err, errsz, -EBADMSG, "%s %s%s: HTTP %d: %s", at->method, c->kc.server, at->path, status,
                               !resp->json ? "malformed JSON body" : "not a JSON object of the expected kind");
                }
        }
        return 0;
}

static bool is_retriable(const struct k8s_client *c, int r) {
        switch (r) {
        case -ENOMEM: case -ENOKEY: case -ELIBACC: case -EFBIG: case -ECANCELED:
                return false;
        case -ETIMEDOUT: case -ECONNREFUSED: case -ECONNRESET: case -EPROTO: case -EAGAIN: case -EIO:
                return true;
        case -EINVAL:
                return false;
        default:
                return c->o.retry == K8S_RETRY_ALL;
        }
}

/* Runs attempts with the client's retry policy and deadlines. */
static int run(struct k8s_client *c, struct attempt *at, struct k8s_response *resp, char *err, size_t errsz) {
        uint64_t start = now_usec(), deadline = UINT64_MAX;
        unsigned tries = 0;
        int r = -EIO;

        if (c->o.total_timeout_usec)
                deadline = start + c->o.total_timeout_usec;
        if (c->o.deadline_usec && c->o.deadline_usec < deadline)
                deadline = c->o.deadline_usec;
        if (start >= deadline) {
                return errbuf_set(err, errsz, -ETIMEDOUT, "%s %s%s: deadline already passed, not sent", at->method, c->kc.server, at->path);
        }
        for (unsigned i = 0; i < c->o.max_attempts; i++) {
                uint64_t now = now_usec(), t = at->timeout_usec;
                if (i > 0) {
                        if (now >= deadline)
                                break;
                        uint64_t b = c->o.backoff_usec;
                        if (b > deadline - now)
                                b = deadline - now;
                        sleep_usec(b);
                        now = now_usec();
                        if (now >= deadline)
                                break;
                }
                if (deadline != UINT64_MAX && t > deadline - now)
                        t = deadline - now;
                if (t < 1000)
                        t = 1000;
                struct attempt a = *at;
                a.timeout_usec = t;
                tries++;
                r = do_attempt(c, &a, resp, err, errsz);
                if (r >= 0)
                        return r;
                if (at->w && at->w->started)
                        return r; /* a live stream failed: no retry, the caller resumes */
                if (!is_retriable(c, r))
                        return r;
                /* A malformed 2xx body is only retried in RETRY_ALL mode (by the callers). */
        }
        if (c->o.max_attempts > 1 && err && errsz) {
                size_t l = strlen(err);
                snprintf(err + l, errsz - l, " (after %u attempt%s%s)", tries, tries > 1 ? "s" : "",
                         tries < c->o.max_attempts ? ", total deadline reached" : "");
        }
        return r;
}

static bool method_ok(const char *m) {
        return m && (streq(m, "GET") || streq(m, "POST") || streq(m, "PUT") || streq(m, "PATCH") ||
                     streq(m, "DELETE"));
}

int k8s_request(struct k8s_client *c, const char *method, const char *path_and_query, const char *content_type,
                const char *body, struct k8s_response *ret, char *err, size_t errsz) {
        if (ret)
                *ret = (struct k8s_response){};
        if (err && errsz)
                err[0] = 0;
        if (!c || !ret || !method_ok(method) || !path_and_query || path_and_query[0] != '/' ||
            strpbrk(path_and_query, " \r\n")) {
                return errbuf_set(err, errsz, -EINVAL, "invalid request arguments");
        }
        struct attempt at = { .method = method, .path = path_and_query, .content_type = content_type,
                              .body = body, .timeout_usec = c->o.timeout_usec };
        return run(c, &at, ret, err, errsz);
}

/* A request whose 2xx answer must be a JSON object (of the given kind when it names one).
 * A malformed body counts as a failed attempt (-EBADMSG), retried only under K8S_RETRY_ALL. */
static int request_object(struct k8s_client *c, const char *method, const char *path, const char *ctype,
                          const char *body, const char *kind, cJSON **ret, char *err, size_t errsz) {
        struct k8s_response resp = {};
        int r;

        if (err && errsz)
                err[0] = 0;
        struct attempt at = { .method = method, .path = path, .content_type = ctype, .body = body,
                              .want_kind = kind, .timeout_usec = c->o.timeout_usec };
        r = run(c, &at, &resp, err, errsz);
        if (r >= 0 && ret)
                *ret = TAKE_PTR(resp.json);
        k8s_response_done(&resp);
        return r < 0 ? r : 0;
}

static int pod_path(const char *ns, const char *name, char **ret, char *err, size_t errsz) {
        if (!k8s_name_is_valid(ns) || !k8s_name_is_valid(name)) {
                return errbuf_set(err, errsz, -EINVAL, "invalid pod namespace/name '%.64s/%.64s'", ns ? ns : "", name ? name : "");
        }
        if (asprintf(ret, "/api/v1/namespaces/%s/pods/%s", ns, name) < 0) {
                *ret = NULL;
                return -ENOMEM;
        }
        return 0;
}

int k8s_get_pod(struct k8s_client *c, const char *ns, const char *name, cJSON **ret_pod, char *err, size_t errsz) {
        _cleanup_free_ char *path = NULL;
        int r = pod_path(ns, name, &path, err, errsz);
        if (r < 0)
                return r;
        return request_object(c, "GET", path, NULL, NULL, "Pod", ret_pod, err, errsz);
}

int k8s_get_namespace(struct k8s_client *c, const char *name, cJSON **ret_ns, char *err, size_t errsz) {
        _cleanup_free_ char *path = NULL;
        if (!k8s_name_is_valid(name)) {
                return errbuf_set(err, errsz, -EINVAL, "invalid namespace name '%.64s'", name ? name : "");
        }
        if (asprintf(&path, "/api/v1/namespaces/%s", name) < 0)
                return -ENOMEM;
        return request_object(c, "GET", path, NULL, NULL, "Namespace", ret_ns, err, errsz);
}

int k8s_patch_pod(struct k8s_client *c, const char *ns, const char *name, const char *merge_patch_json,
                  cJSON **ret_pod, char *err, size_t errsz) {
        _cleanup_free_ char *path = NULL;
        int r = pod_path(ns, name, &path, err, errsz);
        if (r < 0)
                return r;
        if (!merge_patch_json) {
                return errbuf_set(err, errsz, -EINVAL, "no patch");
        }
        return request_object(c, "PATCH", path, "application/merge-patch+json", merge_patch_json, "Pod", ret_pod,
                              err, errsz);
}

int k8s_delete_pod(struct k8s_client *c, const char *ns, const char *name, char *err, size_t errsz) {
        _cleanup_free_ char *path = NULL;
        struct k8s_response resp = {};
        int r = pod_path(ns, name, &path, err, errsz);
        if (r < 0)
                return r;
        r = k8s_request(c, "DELETE", path, NULL, NULL, &resp, err, errsz);
        k8s_response_done(&resp);
        return r;
}

/* Builds "/api/v1[/namespaces/ns]/pods?k=v&…" with escaped selector values. */
static int pods_query(const char *ns, const char *fs, const char *ls, const char *extra, char **ret, char *err,
                      size_t errsz) {
        _cleanup_free_ char *efs = NULL, *els = NULL, *nsp = NULL;

        if (ns && !k8s_name_is_valid(ns)) {
                return errbuf_set(err, errsz, -EINVAL, "invalid namespace '%.64s'", ns);
        }
        if ((fs && !(efs = k8s_escape(fs))) || (ls && !(els = k8s_escape(ls))))
                return -ENOMEM;
        if (ns && asprintf(&nsp, "/namespaces/%s", ns) < 0)
                return -ENOMEM;
        if (asprintf(ret, "/api/v1%s/pods?%s%s%s%s%s", nsp ? nsp : "", efs ? "fieldSelector=" : "", efs ? efs : "",
                     els ? (efs ? "&labelSelector=" : "labelSelector=") : "", els ? els : "",
                     extra ? extra : "") < 0) {
                *ret = NULL;
                return -ENOMEM;
        }
        return 0;
}

int k8s_list_pods(struct k8s_client *c, const char *ns_or_null, const char *field_selector,
                  const char *label_selector, cJSON **ret_list, char *ret_rv, size_t rvsz, char *err, size_t errsz) {
        _cleanup_free_ char *path = NULL;
        _cleanup_(cJSON_Deletep) cJSON *list = NULL;
        int r;

        r = pods_query(ns_or_null, field_selector, label_selector, NULL, &path, err, errsz);
        if (r < 0)
                return r;
        r = request_object(c, "GET", path, NULL, NULL, "PodList", &list, err, errsz);
        if (r < 0)
                return r;
        const cJSON *items = k8s_obj_path(list, "items");
        if (items && !cJSON_IsArray(items) && !cJSON_IsNull(items)) {
                return errbuf_set(err, errsz, -EBADMSG, "GET %s%s: PodList without an items array", c->kc.server, path);
        }
        if (ret_rv) {
                const char *rv = k8s_obj_string(list, "metadata.resourceVersion");
                if (!rv)
                        rv = "";
                if (strlen(rv) >= rvsz) {
                        return errbuf_set(err, errsz, -ERANGE, "resourceVersion too long");
                }
                strcpy(ret_rv, rv);
        }
        if (ret_list)
                *ret_list = TAKE_PTR(list);
        return 0;
}

void k8s_client_set_watch_started(struct k8s_client *c, void (*fn)(void *userdata), void *userdata) {
        c->watch_started = fn;
        c->watch_started_userdata = userdata;
}

void k8s_client_interrupt(struct k8s_client *c) {
        if (c)
                httpc_interrupt(c->http);
}

int k8s_watch_pods(struct k8s_client *c, const char *ns_or_null, const char *field_selector,
                   const char *label_selector, const char *resource_version, uint64_t timeout_usec,
                   k8s_watch_cb on_event, void *userdata, char *ret_rv, size_t rvsz, char *err, size_t errsz) {
        _cleanup_free_ char *path = NULL, *extra = NULL, *erv = NULL;
        struct k8s_response resp = {};
        int r;

        if (err && errsz)
                err[0] = 0;
        if (!c || !on_event || !ret_rv || rvsz == 0) {
                return errbuf_set(err, errsz, -EINVAL, "invalid watch arguments");
        }
        if (!timeout_usec)
                timeout_usec = K8S_DEFAULT_WATCH_USEC;
        /* Server side ends the stream at timeoutSeconds; our request deadline adds a grace period
         * so a normal end is the server's, and a hung server still cannot hold us forever. */
        uint64_t secs = (timeout_usec + 999999) / 1000000;
        if (resource_version && resource_version[0] && !(erv = k8s_escape(resource_version)))
                return -ENOMEM;
        if (resource_version != ret_rv) {
                if (resource_version && strlen(resource_version) >= rvsz)
                        return -ERANGE;
                snprintf(ret_rv, rvsz, "%s", resource_version ? resource_version : "");
        }
        if (asprintf(&extra, "%swatch=1&allowWatchBookmarks=true&timeoutSeconds=%llu%s%s",
                     (field_selector || label_selector) ? "&" : "", (unsigned long long)secs,
                     erv ? "&resourceVersion=" : "", erv ? erv : "") < 0) {
                extra = NULL;
                return -ENOMEM;
        }
        r = pods_query(ns_or_null, field_selector, label_selector, extra, &path, err, errsz);
        if (r < 0)
                return r;

        struct watch_state w = { .cb = on_event, .userdata = userdata, .rv = ret_rv, .rvsz = rvsz,
                                 .err = err, .errsz = errsz, .on_started = c->watch_started,
                                 .started_userdata = c->watch_started_userdata };
        struct attempt at = { .method = "GET", .path = path, .timeout_usec = secs * 1000000 + 5000000, .w = &w };
        r = run(c, &at, &resp, err, errsz);
        k8s_response_done(&resp);
        if (w.started) {
                if (w.result < 0)
                        return w.result;
                if (err && errsz)
                        err[0] = 0;
                return 0; /* server closed, deadline, or callback stop */
        }
        return r;
}
