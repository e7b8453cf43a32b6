/* SPDX-License-Identifier: Apache-2.0 */
/* applets.h: the entry point of every applet (one cmd/<applet>.c each). */
#pragma once

int istio_iptables_main(int argc, char **argv);
int istio_clean_iptables_main(int argc, char **argv);
int istio_validation_main(int argc, char **argv);
int istio_cni_main(int argc, char **argv);
int cni_podcache_main(int argc, char **argv);
int install_cni_main(int argc, char **argv);
