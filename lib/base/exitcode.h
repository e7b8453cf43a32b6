/* SPDX-License-Identifier: Apache-2.0 */
/* exitcode.h: every process exit code cnibox uses, in one place.
 * istio-iptables codes match Istio (spec istio-iptables.md §1). */
#pragma once

enum {
        EXIT_OK = 0,
        EXIT_RUNTIME = 1,          /* config, environment, apply failure (Istio: 1) */
        EXIT_USAGE = 2,            /* usage error of a cnibox-only applet */
        EXIT_DOCTOR_WARN = 2,      /* doctor: warnings, no failure (its bad command line: 255) */
        EXIT_VALIDATION = 126,     /* --run-validation failed (Istio: 126) */
        EXIT_UNKNOWN_APPLET = 127, /* toybox/BusyBox convention */
        EXIT_BAD_CMDLINE = 255,    /* istio-iptables: unknown flag / unparsable value (Istio: os.Exit(-1)) */
};
