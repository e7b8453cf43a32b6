/* SPDX-License-Identifier: Apache-2.0 */
/* applets.h: the entry point of every applet (one cmd/<applet>.c each). */
#pragma once

int istio_iptables_main(int argc, char **argv);
/* istio-iptables with fixed extra flags and another --help (the wrapper applets). */
int istio_iptables_run_as(int argc, char **argv, const char *help, const char *const *extra);
int istio_clean_iptables_main(int argc, char **argv);
int istio_validation_main(int argc, char **argv);
int istio_cni_main(int argc, char **argv);
int cni_podcache_main(int argc, char **argv);
int cni_repair_main(int argc, char **argv);
int doctor_main(int argc, char **argv);
int install_cni_main(int argc, char **argv);
