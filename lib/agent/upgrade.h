/* SPDX-License-Identifier: Apache-2.0 */
/* upgrade.h: on SIGTERM, is this an uninstall or a restart? (issue 12 item 9; Istio makes the
 * same call only in ambient mode, ShouldStopCleanup, without the affinity check.)
 *
 * The agent reads its own DaemonSet (istio-cni-node in its namespace) with a fresh GET:
 *   present, not being deleted, and its pod template still schedules onto this node
 *      → a rolling update or a node reboot: KEEP the config entry, binary and kubeconfig, so pods
 *        started meanwhile are still captured (the plugin falls back to its direct API path);
 *   404, being deleted, 401/403 (the RBAC went with the uninstall), or no longer for this node
 *      → an uninstall: REMOVE everything as Istio does;
 *   API unreachable, 5xx, or no answer in time → KEEP: a leftover entry only captures pods that
 *      ask for it, while a wrong removal breaks pods.
 * RBAC: get on apps/daemonsets named istio-cni-node (and get on nodes, which the istio-cni
 * ClusterRole already grants, for the affinity check). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "kube/k8s.h"

#define UPGRADE_DAEMONSET_NAME "istio-cni-node"

enum upgrade_verdict { UPGRADE_KEEP, UPGRADE_REMOVE };

/* Does the DaemonSet's pod template (spec.template.spec.nodeSelector and
 * affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution) select this Node?
 * -EBADMSG with the reason in why for a term we cannot evaluate (e.g. a bad Gt value). */
int upgrade_node_matches(const cJSON *ds, const cJSON *node, bool *ret, char *why, size_t whysz);

/* The verdict from fresh GETs of the DaemonSet and (when it is present) the Node. Never fails:
 * every error is a verdict with its reason in why. */
enum upgrade_verdict upgrade_decide(struct k8s_client *c, const char *ns, const char *node_name, char *why,
                                    size_t whysz);
