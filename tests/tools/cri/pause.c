/* SPDX-License-Identifier: Apache-2.0 */
/* pause.c: the pod sandbox's only process for the runtime e2e tests (what k8s' pause image runs):
 * holds the sandbox namespaces open, sleeps in pause(), exits 0 on SIGTERM/SIGINT. Built with
 * `cc -static` at test time into a one-file OCI image (tests/e2e/runtime/lib.sh), since no image
 * can be pulled. As pid 1 of its pid namespace it gets no default signal actions, hence handlers. */
#include <signal.h>
#include <unistd.h>

static void on_term(int sig) {
        (void) sig;
        _exit(0);
}

int main(void) {
        struct sigaction sa = { .sa_handler = on_term };

        sigemptyset(&sa.sa_mask);
        if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0)
                return 1;
        for (;;)
                pause();
}
