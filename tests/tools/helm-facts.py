#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# The facts of spec istio-cni.md §5.6 and §6.3-§6.6 asserted on the rendered chart, so that the
# goldens (our own output) are not their only check. Used by tests/e2e/helm/facts.test.sh.
#
#   helm-facts.py RENDER_DIR     (RENDER_DIR/<case>.yaml for the cases of tests/helm/matrix.txt)
import os
import sys

import yaml

FAILS = []
CHECKS = 0


def check(case, cond, msg):
    global CHECKS
    CHECKS += 1
    if not cond:
        FAILS.append(f"{case}: {msg}")


def load(d, case):
    objs = {}
    for o in yaml.safe_load_all(open(os.path.join(d, case + ".yaml"))):
        if o:
            objs[(o["kind"], o["metadata"]["name"])] = o
    return objs


def rules(objs, name):
    o = objs.get(("ClusterRole", name))
    return None if o is None else o["rules"]


BASE = {"apiGroups": [""], "resources": ["pods", "nodes", "namespaces"], "verbs": ["get", "list", "watch"]}
DS_GET = {"apiGroups": ["apps"], "resources": ["daemonsets"], "resourceNames": ["istio-cni-node"], "verbs": ["get"]}
SCC = {"apiGroups": ["security.openshift.io"], "resources": ["securitycontextconstraints"],
       "resourceNames": ["privileged"], "verbs": ["use"]}
REPAIR = [{"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]},
          {"apiGroups": [""], "resources": ["pods"], "verbs": ["watch", "get", "list"]}]
DELETE = {"apiGroups": [""], "resources": ["pods"], "verbs": ["delete"]}
LABEL = {"apiGroups": [""], "resources": ["pods/status"], "verbs": ["patch", "update"]}
AMBIENT = [LABEL, DS_GET]
CM_KEYS = {"CURRENT_AGENT_VERSION", "AMBIENT_ENABLED", "AMBIENT_ENABLEMENT_SELECTOR", "AMBIENT_DNS_CAPTURE",
           "AMBIENT_IPV6", "AMBIENT_RECONCILE_POD_RULES_ON_STARTUP", "ENABLE_AMBIENT_DETECTION_RETRY",
           "ISTIO_OWNED_CNI_CONFIG", "CHAINED_CNI_PLUGIN", "EXCLUDE_NAMESPACES", "REPAIR_ENABLED",
           "REPAIR_LABEL_PODS", "REPAIR_DELETE_PODS", "REPAIR_REPAIR_PODS", "REPAIR_INIT_CONTAINER_NAME",
           "REPAIR_BROKEN_POD_LABEL_KEY", "REPAIR_BROKEN_POD_LABEL_VALUE", "NATIVE_NFTABLES"}
ENV = ["REPAIR_NODE_NAME", "REPAIR_RUN_AS_DAEMON", "REPAIR_SIDECAR_ANNOTATION", "ALLOW_SWITCH_TO_HOST_NS",
       "NODE_NAME", "GOMEMLIMIT", "POD_NAME", "POD_NAMESPACE"]


def container(objs):
    return objs[("DaemonSet", "istio-cni-node")]["spec"]["template"]["spec"]["containers"][0]


def podspec(objs):
    return objs[("DaemonSet", "istio-cni-node")]["spec"]["template"]["spec"]


def hostpaths(objs):
    return {v["name"]: v["hostPath"]["path"] for v in podspec(objs)["volumes"]}


def main(d):
    # RBAC per repair mode (§5.6), and the one addition (DS_GET) in istio-cni.
    modes = {"defaults": [], "repair-pods-wins": [], "repair-delete": [DELETE], "repair-label": [LABEL],
             "repair-none-selected": []}
    for case, extra in modes.items():
        o = load(d, case)
        check(case, rules(o, "istio-cni") == [BASE, DS_GET], f"istio-cni rules {rules(o, 'istio-cni')}")
        check(case, rules(o, "istio-cni-repair-role") == REPAIR + extra,
              f"repair rules {rules(o, 'istio-cni-repair-role')}")
        check(case, rules(o, "istio-cni-ambient") is None, "ambient role outside ambient")
    o = load(d, "repair-off")
    check("repair-off", rules(o, "istio-cni-repair-role") is None, "repair role with repair off")
    check("repair-off", ("ClusterRoleBinding", "istio-cni-repair-rolebinding") not in o, "repair binding with repair off")
    check("repair-off", o[("ConfigMap", "istio-cni-config")]["data"]["REPAIR_ENABLED"] == "false", "REPAIR_ENABLED")
    o = load(d, "platform-openshift")
    check("platform-openshift", rules(o, "istio-cni") == [BASE, DS_GET, SCC], "openshift SCC rule")
    for case in ("profile-ambient", "compat-1.25-ambient"):
        o = load(d, case)
        check(case, rules(o, "istio-cni-ambient") == AMBIENT, "ambient role")
        mounts = {m["name"] for m in container(o)["volumeMounts"]}
        check(case, {"cni-netns-dir", "cni-ztunnel-sock-dir", "cni-host-procfs"} <= mounts, f"ambient mounts {mounts}")
    o = load(d, "compat-1.25-ambient")
    check("compat-1.25-ambient", podspec(o).get("hostNetwork") is True, "1.25 shares the host netns")
    check("compat-1.25-ambient", "ALLOW_SWITCH_TO_HOST_NS" not in [e["name"] for e in container(o)["env"]], "env")
    check("compat-1.25-ambient",
          o[("ConfigMap", "istio-cni-config")]["data"]["AMBIENT_RECONCILE_POD_RULES_ON_STARTUP"] == "false", "1.25")
    # Every binding binds its role to istio-system/istio-cni.
    for case in ("defaults", "profile-ambient"):
        for (kind, name), b in load(d, case).items():
            if kind == "ClusterRoleBinding":
                check(case, b["subjects"] == [{"kind": "ServiceAccount", "name": "istio-cni", "namespace": "istio-system"}],
                      f"{name} subjects")
                check(case, b["roleRef"]["kind"] == "ClusterRole" and ("ClusterRole", b["roleRef"]["name"]) in load(d, case),
                      f"{name} roleRef")

    # The default objects, names and DaemonSet (§6.3, §6.5, §6.6).
    o = load(d, "defaults")
    check("defaults", set(o) == {("ServiceAccount", "istio-cni"), ("ConfigMap", "istio-cni-config"),
                                 ("ClusterRole", "istio-cni"), ("ClusterRole", "istio-cni-repair-role"),
                                 ("ClusterRoleBinding", "istio-cni"),
                                 ("ClusterRoleBinding", "istio-cni-repair-rolebinding"),
                                 ("DaemonSet", "istio-cni-node")}, f"objects {sorted(o)}")
    ds = o[("DaemonSet", "istio-cni-node")]
    ps, c = podspec(o), container(o)
    check("defaults", ds["spec"]["selector"]["matchLabels"] == {"k8s-app": "istio-cni-node"}, "selector")
    for k, v in {"k8s-app": "istio-cni-node", "release": "istio-cni", "istio.io/rev": "default",
                 "install.operator.istio.io/owning-resource": "unknown", "operator.istio.io/component": "Cni",
                 "app.kubernetes.io/name": "istio-cni", "app.kubernetes.io/part-of": "istio"}.items():
        check("defaults", ds["metadata"]["labels"].get(k) == v, f"DaemonSet label {k}")
    tmd = ds["spec"]["template"]["metadata"]
    check("defaults", tmd["labels"].get("sidecar.istio.io/inject") == "false"
          and tmd["labels"].get("istio.io/dataplane-mode") == "none", "pod labels")
    check("defaults", tmd["annotations"].get("container.apparmor.security.beta.kubernetes.io/install-cni") == "unconfined"
          and tmd["annotations"].get("prometheus.io/port") == "15014", "pod annotations")
    check("defaults", ps["priorityClassName"] == "system-node-critical", "priority class")
    check("defaults", ps["nodeSelector"] == {"kubernetes.io/os": "linux"}, "nodeSelector")
    check("defaults", ps["serviceAccountName"] == "istio-cni" and ps["terminationGracePeriodSeconds"] == 30, "sa/grace")
    check("defaults", ps["tolerations"] == [{"effect": "NoSchedule", "operator": "Exists"},
                                            {"key": "CriticalAddonsOnly", "operator": "Exists"},
                                            {"effect": "NoExecute", "operator": "Exists"}], "tolerations")
    check("defaults", "hostNetwork" not in ps, "hostNetwork")
    check("defaults", c["name"] == "install-cni" and c["command"] == ["install-cni"]
          and c["args"] == ["--log_output_level=info"], f"command/args {c.get('command')} {c.get('args')}")
    check("defaults", c["image"] == "ghcr.io/cnibox/cnibox:0.1.0", f"image {c['image']}")
    check("defaults", "imagePullPolicy" not in c, "no pull policy")
    check("defaults", c["readinessProbe"] == {"httpGet": {"path": "/readyz", "port": 8000}}, "readiness")
    check("defaults", "livenessProbe" not in c, "no liveness probe")
    check("defaults", c["ports"] == [{"containerPort": 15014, "name": "metrics", "protocol": "TCP"}], "ports")
    sc = c["securityContext"]
    check("defaults", sc == {"privileged": False, "runAsGroup": 0, "runAsUser": 0, "runAsNonRoot": False,
                             "capabilities": {"drop": ["ALL"], "add": ["NET_ADMIN", "NET_RAW", "SYS_PTRACE",
                                                                       "SYS_ADMIN", "DAC_OVERRIDE"]}},
          f"securityContext {sc}")
    check("defaults", c["envFrom"] == [{"configMapRef": {"name": "istio-cni-config"}}], "envFrom")
    check("defaults", [e["name"] for e in c["env"]] == ENV, f"env {[e['name'] for e in c['env']]}")
    check("defaults", c["resources"] == {"requests": {"cpu": "1m", "memory": "20Mi"}}, f"resources {c['resources']}")
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    check("defaults", {k: m["mountPath"] for k, m in mounts.items()} == {
        "cni-bin-dir": "/host/opt/cni/bin", "cni-host-procfs": "/host/proc", "cni-net-dir": "/host/etc/cni/net.d",
        "cni-socket-dir": "/var/run/istio-cni"}, f"mounts {mounts}")
    check("defaults", mounts["cni-host-procfs"].get("readOnly") is True, "procfs read-only")
    check("defaults", hostpaths(o) == {"cni-bin-dir": "/opt/cni/bin", "cni-host-procfs": "/proc",
                                       "cni-net-dir": "/etc/cni/net.d", "cni-socket-dir": "/var/run/istio-cni",
                                       "cni-netns-dir": "/var/run/netns"}, f"hostPaths {hostpaths(o)}")
    data = o[("ConfigMap", "istio-cni-config")]["data"]
    check("defaults", set(data) == CM_KEYS, f"ConfigMap keys {sorted(set(data) ^ CM_KEYS)}")
    check("defaults", all(isinstance(v, str) for v in data.values()), "ConfigMap values are strings")
    check("defaults", data["EXCLUDE_NAMESPACES"] == "kube-system" and data["REPAIR_REPAIR_PODS"] == "true"
          and data["CHAINED_CNI_PLUGIN"] == "true" and data["NATIVE_NFTABLES"] == "false", "ConfigMap values")

    # repairPods off and no ambient: no /proc.
    o = load(d, "repair-delete")
    check("repair-delete", "cni-host-procfs" not in hostpaths(o), "/proc without repairPods")

    # Platforms (§6.7).
    plat = {"platform-k3s": ("/var/lib/rancher/k3s/data/cni", "/var/lib/rancher/k3s/agent/etc/cni/net.d", "/var/run/netns"),
            "platform-k3d": ("/bin", "/var/lib/rancher/k3s/agent/etc/cni/net.d", "/var/run/netns"),
            "platform-microk8s": ("/var/snap/microk8s/current/opt/cni/bin", "/var/snap/microk8s/current/args/cni-network", "/var/run/netns"),
            "platform-minikube": ("/opt/cni/bin", "/etc/cni/net.d", "/var/run/docker/netns"),
            "platform-openshift": ("/var/lib/cni/bin", "/etc/cni/multus/net.d", "/var/run/netns"),
            "platform-gke-detected": ("/home/kubernetes/bin", "/etc/cni/net.d", "/var/run/netns"),
            "platform-k3s-cni-override": ("/opt/k3s/cni", "/var/lib/rancher/k3s/agent/etc/cni/net.d", "/var/run/netns")}
    for case, (b, n, ns) in plat.items():
        hp = hostpaths(load(d, case))
        check(case, (hp["cni-bin-dir"], hp["cni-net-dir"], hp["cni-netns-dir"]) == (b, n, ns), f"paths {hp}")
    o = load(d, "platform-gke")
    check("platform-gke", ("ResourceQuota", "istio-cni-resource-quota") in o, "gke quota")
    o = load(d, "platform-openshift")
    data = o[("ConfigMap", "istio-cni-config")]["data"]
    check("platform-openshift", data["CHAINED_CNI_PLUGIN"] == "false" and data["CNI_CONF_NAME"] == "istio-cni.conf", "unchained")
    check("platform-openshift", container(o)["securityContext"].get("seLinuxOptions") == {"type": "spc_t"}, "spc_t")
    nad = o.get(("NetworkAttachmentDefinition", "istio-cni"))
    check("platform-openshift", nad is not None and nad["metadata"]["namespace"] == "default", "NAD in default")

    # The remaining matrix cases.
    o = load(d, "profile-demo")
    check("profile-demo", container(o)["resources"] == {"requests": {"cpu": "10m", "memory": "40Mi"}}, "demo resources")
    o = load(d, "nftables")
    check("nftables", o[("ConfigMap", "istio-cni-config")]["data"]["NATIVE_NFTABLES"] == "true", "NATIVE_NFTABLES")
    o = load(d, "unchained")
    data = o[("ConfigMap", "istio-cni-config")]["data"]
    check("unchained", data["CHAINED_CNI_PLUGIN"] == "false" and data["CNI_CONF_NAME"] == "istio-cni.conf", "unchained")
    o = load(d, "resource-quotas")
    q = o[("ResourceQuota", "istio-cni-resource-quota")]["spec"]
    check("resource-quotas", q == {"hard": {"pods": "100"}, "scopeSelector": {"matchExpressions": [
        {"operator": "In", "scopeName": "PriorityClass", "values": ["system-node-critical"]}]}}, f"quota {q}")
    o = load(d, "network-policy")
    np = o[("NetworkPolicy", "istio-cni")]["spec"]
    check("network-policy", np["podSelector"] == {"matchLabels": {"k8s-app": "istio-cni-node"}}
          and np["ingress"] == [{"ports": [{"protocol": "TCP", "port": 15014}]}, {"ports": [{"protocol": "TCP", "port": 8000}]}]
          and np["egress"] == [{}], f"policy {np}")
    o = load(d, "revision")
    check("revision", ("NetworkPolicy", "istio-cni-canary") in o, "policy name")
    check("revision", all(x["metadata"]["labels"].get("istio.io/rev") == "canary"
                          for k, x in o.items() if k[0] != "ResourceQuota"), "rev labels")
    check("revision", o[("DaemonSet", "istio-cni-node")]["metadata"]["labels"][
        "install.operator.istio.io/owning-resource"] == "istio-canary", "owner")
    o = load(d, "multus")
    check("multus", ("NetworkAttachmentDefinition", "istio-cni") in o, "NAD")
    kinds = lambda case: {k[0] for k in load(d, case)}
    check("scope-all", kinds("scope-all") == {"ServiceAccount", "ConfigMap", "ClusterRole", "ClusterRoleBinding", "DaemonSet",
                                              "ResourceQuota", "NetworkPolicy", "NetworkAttachmentDefinition"}, "all")
    check("scope-cluster", kinds("scope-cluster") == {"ClusterRole", "ClusterRoleBinding", "NetworkPolicy"}, "cluster")
    check("scope-namespace", kinds("scope-namespace") == {"ServiceAccount", "ConfigMap", "DaemonSet", "ResourceQuota",
                                                          "NetworkPolicy", "NetworkAttachmentDefinition"}, "namespace")
    o = load(d, "legacy-cni")
    hp, data = hostpaths(o), o[("ConfigMap", "istio-cni-config")]["data"]
    check("legacy-cni", hp["cni-bin-dir"] == "/var/lib/cni/bin" and hp["cni-net-dir"] == "/etc/cni/custom.d", f"paths {hp}")
    check("legacy-cni", data["CNI_CONF_NAME"] == "10-calico.conflist" and data["EXCLUDE_NAMESPACES"] == "kube-system,istio-system"
          and data["REPAIR_DELETE_PODS"] == "true", "cni.* values")
    check("legacy-cni", rules(o, "istio-cni-repair-role") == REPAIR + [DELETE], "cni.repair decides the RBAC")
    check("legacy-cni", container(o)["image"] == "docker.io/example/cnibox:1.2.3" and
          container(o)["args"] == ["--log_output_level=debug"], "cni.hub/tag/logging")
    check("legacy-cni", container(o)["resources"] == {"requests": {"cpu": "50m", "memory": "20Mi"}}, "merged resources")
    o = load(d, "shared-values")
    check("shared-values", container(o)["image"] == "ghcr.io/cnibox/cnibox:0.1.0", "shared values keep the cnibox image")
    o = load(d, "everything")
    c = container(o)
    check("everything", c["image"] == "registry.example.com/mirror/cnibox:9.9.9" and c["imagePullPolicy"] == "Always", "image")
    check("everything", c["securityContext"]["appArmorProfile"] == {"type": "Unconfined"}
          and "container.apparmor.security.beta.kubernetes.io/install-cni" not in
          o[("DaemonSet", "istio-cni-node")]["spec"]["template"]["metadata"]["annotations"], "apparmor")
    check("everything", c["resources"] == {"requests": {"memory": "32Mi"}, "limits": {"memory": "128Mi"}}, "zero cpu left out")
    data = o[("ConfigMap", "istio-cni-config")]["data"]
    check("everything", data["ISTIO_OWNED_CNI_CONF_FILENAME"] == "02-istio-owned.conflist" and data["EXTRA_INT"] == "3", "cm")
    check("everything", {"name": "EXTRA_BOOL", "value": "true"} in c["env"], "env entries on the container")
    o = load(d, "resources-null")
    check("resources-null", container(o)["resources"] == {"requests": {"cpu": "20m"}, "limits": {"memory": "64Mi"}},
          "global.defaultResources")

    o = load(d, "image-fallback")
    c = container(o)
    check("image-fallback", c["image"] == "docker.io/istio/cnibox:1.24.2-distroless" and c["imagePullPolicy"] == "IfNotPresent",
          f"global.hub/tag/variant fallback {c['image']}")
    check("image-fallback", o[("ConfigMap", "istio-cni-config")]["data"]["CURRENT_AGENT_VERSION"] == "1.24.2", "version")
    c = container(load(d, "profile-ambient"))
    check("profile-ambient", c["image"] == "ghcr.io/cnibox/cnibox:0.1.0-distroless", f"ambient variant {c['image']}")

    o = load(d, "scalars")
    data = o[("ConfigMap", "istio-cni-config")]["data"]
    check("scalars", data["CNI_CONF_NAME"] == "123" and data["QUOTED"] == 'say "hi"'
          and data["REPAIR_BROKEN_POD_LABEL_VALUE"] == "true", "scalars stay strings")
    check("scalars", all(x["metadata"]["labels"].get("istio.io/rev") == "2" for k, x in o.items()
                         if k[0] != "ResourceQuota" and k[0] != "NetworkAttachmentDefinition"), "integer revision label")
    check("scalars", ("NetworkPolicy", "istio-cni-2") in o, "policy name with an integer revision")

    for f in FAILS:
        print("FAIL", f)
    print(f"{CHECKS - len(FAILS)} passed, {len(FAILS)} failed")
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
