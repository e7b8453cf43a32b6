/* SPDX-License-Identifier: Apache-2.0 */
/* test_httpc_tls.c: the TLS matrix lib/kube/httpc.c must handle, against `openssl s_server`
 * (Debian's CLI): TLS 1.2 and 1.3; RSA (PKCS#1 v1.5 and PSS) and ECDSA server certificates;
 * X25519, P-256, P-384; AES-GCM and ChaCha20-Poly1305; client keys as PKCS#1 RSA, SEC1 EC and
 * PKCS#8 (RSA and EC), from memory (kubeconfig *-data) and from files; a CA bundle of two CAs
 * (RSA and EC). The static build links the slimmed OpenSSL of tools/static-deps.sh
 * (docs/building.md): this test is what says its Configure options left enough in. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kube/httpc.h"

static char tmpdir[] = "/tmp/cnibox-httpc-tls.XXXXXX";

/* Certificates: CA "ca-ec" (P-256) signs the EC certificates, "ca-rsa" (RSA 2048) the RSA ones.
 * Server certificates carry IP:127.0.0.1. Client keys in every PEM form a kubeconfig may hold. */
static const char gen_script[] =
        "set -e\n"
        "cd \"$1\"\n"
        "umask 077\n"
        "ec() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:$1 -out $2; }\n"
        "rsa() { openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out $1; }\n"
        "ca() { openssl req -x509 -new -key $1.key -sha256 -days 2 -subj /CN=$1 "
        "  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign -out $1.crt; }\n"
        "sign() { # name ca ext\n"
        "  openssl req -new -key $1.key -subj /CN=$1 -out $1.csr\n"
        "  printf '%s\\n' basicConstraints=CA:FALSE \"$3\" > $1.ext\n"
        "  openssl x509 -req -in $1.csr -CA $2.crt -CAkey $2.key -CAcreateserial -sha256 -days 2 "
        "    -extfile $1.ext -out $1.crt; }\n"
        "ec P-256 ca-ec.key; ca ca-ec; rsa ca-rsa.key; ca ca-rsa\n"
        "cat ca-rsa.crt ca-ec.crt > bundle.crt\n"
        "ec P-256 srv-ec.key; sign srv-ec ca-ec subjectAltName=IP:127.0.0.1\n"
        "rsa srv-rsa.key; sign srv-rsa ca-rsa subjectAltName=IP:127.0.0.1\n"
        /* PKCS#1 RSA (kubeadm's and kind's client keys) */
        "rsa cl-rsa1.p8; openssl pkey -in cl-rsa1.p8 -traditional -out cl-rsa1.key; sign cl-rsa1 ca-rsa extendedKeyUsage=clientAuth\n"
        "rsa cl-rsa8.key; sign cl-rsa8 ca-rsa extendedKeyUsage=clientAuth\n"
        /* SEC1 EC (BEGIN EC PRIVATE KEY) on P-384, PKCS#8 EC on P-256 */
        "ec P-384 cl-ec1.p8; openssl pkey -in cl-ec1.p8 -traditional -out cl-ec1.key; sign cl-ec1 ca-ec extendedKeyUsage=clientAuth\n"
        "ec P-256 cl-ec8.key; sign cl-ec8 ca-ec extendedKeyUsage=clientAuth\n"
        "grep -q 'BEGIN RSA PRIVATE KEY' cl-rsa1.key && grep -q 'BEGIN EC PRIVATE KEY' cl-ec1.key\n"
        "grep -q 'BEGIN PRIVATE KEY' cl-rsa8.key && grep -q 'BEGIN PRIVATE KEY' cl-ec8.key\n"
        "echo tls-ok > hello.txt\n";

/* s_server settings: each pins the version, the key exchange group, the cipher and so the
 * signature scheme the handshake must use. In TLS 1.2 the groups also bound the curves of EC
 * client certificates (RFC 8422 §5.1.1), hence P-384 in those lists; the client prefers X25519,
 * then P-256, so the handshake still uses the first group named. */
static const struct server_case {
        const char *name, *cert;
        const char *args[6];
} servers[] = {
        { "1.3 ECDSA X25519 AES-256-GCM", "srv-ec", { "-tls1_3", "-groups", "X25519", NULL } },
        { "1.3 ECDSA P-384 ChaCha20", "srv-ec",
          { "-tls1_3", "-groups", "P-384", "-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256", NULL } },
        { "1.3 RSA-PSS P-256 AES-128-GCM", "srv-rsa",
          { "-tls1_3", "-groups", "P-256", "-ciphersuites", "TLS_AES_128_GCM_SHA256", NULL } },
        { "1.2 ECDHE-ECDSA P-256 AES-128-GCM", "srv-ec",
          { "-tls1_2", "-groups", "P-256:P-384", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256", NULL } },
        { "1.2 ECDHE-ECDSA X25519 ChaCha20", "srv-ec",
          { "-tls1_2", "-groups", "X25519:P-256:P-384", "-cipher", "ECDHE-ECDSA-CHACHA20-POLY1305", NULL } },
        { "1.2 ECDHE-RSA PKCS#1 AES-256-GCM", "srv-rsa",
          { "-tls1_2", "-sigalgs", "RSA+SHA256:ECDSA+SHA256:ECDSA+SHA384", "-cipher", "ECDHE-RSA-AES256-GCM-SHA384",
            NULL } },
};

/* Client key + certificate: name, and whether httpc gets them as data (kubeconfig *-data) or files. */
static const struct client_case {
        const char *name;
        bool from_file;
} clients[] = {
        { "cl-rsa1", false }, /* PKCS#1 RSA */
        { "cl-ec1", false },  /* SEC1 EC P-384 */
        { "cl-ec8", true },   /* PKCS#8 EC P-256 */
        { "cl-rsa8", true },  /* PKCS#8 RSA */
};

static int run_wait(pid_t p) {
        int st;
        if (p < 0 || waitpid(p, &st, 0) < 0)
                return -1;
        return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *slurp(const char *name, size_t *len) {
        char p[256];
        snprintf(p, sizeof p, "%s/%s", tmpdir, name);
        FILE *f = fopen(p, "re");
        ck_assert_msg(f, "%s", p);
        char *buf = malloc(65536);
        ck_assert_ptr_nonnull(buf);
        *len = fread(buf, 1, 65535, f);
        buf[*len] = 0;
        fclose(f);
        return buf;
}

/* Starts s_server on a free port; returns its pid and the port (from its "ACCEPT" line). */
static pid_t start_server(const struct server_case *sc, int row, int *port) {
        char cert[256], key[256], ca[256], out[256];
        snprintf(cert, sizeof cert, "%s/%s.crt", tmpdir, sc->cert);
        snprintf(key, sizeof key, "%s/%s.key", tmpdir, sc->cert);
        snprintf(ca, sizeof ca, "%s/bundle.crt", tmpdir);
        snprintf(out, sizeof out, "%s/s_server.%d.out", tmpdir, row);
        pid_t p = fork();
        ck_assert_int_ge(p, 0);
        if (p == 0) {
                const char *argv[32] = { "openssl", "s_server", "-accept", "127.0.0.1:0", "-cert", cert, "-key", key,
                                         "-CAfile", ca, "-Verify", "1", "-WWW" };
                size_t n = 13;
                for (size_t i = 0; sc->args[i]; i++)
                        argv[n++] = sc->args[i];
                int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0 || chdir(tmpdir) < 0)
                        _exit(127);
                execvp("openssl", (char **)argv);
                _exit(127);
        }
        *port = 0;
        for (int i = 0; i < 100 && !*port; i++) { /* at most 10 s */
                char line[256];
                FILE *f = fopen(out, "re");
                while (f && fgets(line, sizeof line, f))
                        if (sscanf(line, "ACCEPT 127.0.0.1:%d", port) == 1)
                                break;
                if (f)
                        fclose(f);
                if (!*port)
                        usleep(100000);
        }
        ck_assert_msg(*port > 0, "%s: s_server did not start (see %s)", sc->name, out);
        return p;
}

START_TEST(test_matrix) {
        const struct server_case *sc = &servers[_i];
        int port;
        pid_t srv = start_server(sc, _i, &port);
        char url[64], ca[256], certf[256], keyf[256];
        size_t ca_len;
        char *ca_data = slurp("bundle.crt", &ca_len);
        snprintf(url, sizeof url, "https://127.0.0.1:%d", port);
        snprintf(ca, sizeof ca, "%s/bundle.crt", tmpdir);
        for (size_t i = 0; i < sizeof clients / sizeof *clients; i++) {
                const struct client_case *cc = &clients[i];
                struct httpc_config c = { .server = url, .ca_data = ca_data, .ca_len = ca_len };
                char *cd = NULL, *kd = NULL, name[64], err[512];
                size_t cl, kl;
                if (cc->from_file) {
                        snprintf(certf, sizeof certf, "%s/%s.crt", tmpdir, cc->name);
                        snprintf(keyf, sizeof keyf, "%s/%s.key", tmpdir, cc->name);
                        c.cert_file = certf;
                        c.key_file = keyf;
                        c.ca_data = NULL;
                        c.ca_file = ca; /* the file path of the trust anchors, too */
                } else {
                        snprintf(name, sizeof name, "%s.crt", cc->name);
                        cd = slurp(name, &cl);
                        snprintf(name, sizeof name, "%s.key", cc->name);
                        kd = slurp(name, &kl);
                        c.cert_data = cd;
                        c.cert_len = cl;
                        c.key_data = kd;
                        c.key_len = kl;
                }
                struct httpc *h = NULL;
                ck_assert_msg(httpc_new(&c, &h, err, sizeof err) == 0, "%s / %s: %s", sc->name, cc->name, err);
                struct httpc_body b = { .max = 4096 };
                struct httpc_request rq = { .method = "GET", .path = "/hello.txt", .timeout_usec = 10000000 };
                int status = 0, r = httpc_request(h, &rq, httpc_body_cb, &b, &status, err, sizeof err);
                ck_assert_msg(r == 0, "%s / %s: %d %s", sc->name, cc->name, r, err);
                ck_assert_int_eq(status, 200);
                ck_assert_msg(b.buf && strcmp(b.buf, "tls-ok\n") == 0, "%s / %s: body %s", sc->name, cc->name,
                              b.buf ? b.buf : "(none)");
                free(b.buf);
                httpc_free(h);
                free(cd);
                free(kd);
        }
        free(ca_data);
        kill(srv, SIGTERM);
        run_wait(srv);
}
END_TEST

int main(void) {
        pid_t p;
        int failed;

        p = fork();
        if (p == 0) {
                execlp("openssl", "openssl", "version", (char *)NULL);
                _exit(127);
        }
        if (run_wait(p) != 0) {
                fprintf(stderr, "SKIP: needs the openssl command\n");
                return 77;
        }
        if (!mkdtemp(tmpdir))
                return 1;
        p = fork();
        if (p == 0) {
                int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
                dup2(fd, 2);
                execlp("bash", "bash", "-c", gen_script, "gen", tmpdir, (char *)NULL);
                _exit(127);
        }
        if (run_wait(p) != 0) {
                fprintf(stderr, "FAIL: cannot make the test certificates\n");
                failed = 1;
        } else {
                Suite *s = suite_create("httpc_tls");
                TCase *tc = tcase_create("matrix");
                tcase_set_timeout(tc, 30);
                tcase_add_loop_test(tc, test_matrix, 0, (int)(sizeof servers / sizeof *servers));
                suite_add_tcase(s, tc);
                SRunner *sr = srunner_create(s);
                srunner_run_all(sr, CK_NORMAL);
                failed = srunner_ntests_failed(sr);
                srunner_free(sr);
        }
        if (!getenv("KEEP_TMP")) {
                p = fork();
                if (p == 0) {
                        execlp("rm", "rm", "-rf", tmpdir, (char *)NULL);
                        _exit(127);
                }
                run_wait(p);
        }
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
