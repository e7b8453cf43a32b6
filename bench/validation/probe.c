/* SPDX-License-Identifier: Apache-2.0 */
/* probe.c: the smallest whole process around validate_run() (spec istio-iptables.md §6), for
 * bench/validation/run.sh: what istio-validation costs without option parsing or logging.
 * Usage: probe [--ipv6]; exit 0 ok, 126 failed. */
#include <stdio.h>
#include <string.h>

#include "kernel/validate.h"

int main(int argc, char **argv) {
        struct validate_opts o;
        struct validate_result r;

        validate_opts_init(&o);
        o.ipv6 = argc > 1 && strcmp(argv[1], "--ipv6") == 0;
        if (validate_run(&o, &r) < 0) {
                fprintf(stderr, "%s: %s\n", validate_reason_to_string(r.reason), r.detail);
                return 126;
        }
        return 0;
}
