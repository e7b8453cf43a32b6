#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Compares two `helm template` outputs as objects, not text (docs/helm.md "Checking against Istio").
#
#   helm-semdiff.py [--cnibox-vs-istio] OURS.yaml THEIRS.yaml
#
# Objects are matched by apiVersion/kind/namespace/name; key order, quoting and comments do not
# count. With --cnibox-vs-istio, the intended differences of cnibox's chart (docs/helm.md) are
# taken out of OURS first: the image and version fields, the default resources and the extra
# DaemonSet rule of the istio-cni ClusterRole. Exit 0 when equal, 1 with a list of differences.
import sys
import yaml


def load(path):
    objs = {}
    with open(path) as f:
        for doc in yaml.safe_load_all(f):
            if not doc:
                continue
            md = doc.get("metadata", {})
            key = (doc.get("apiVersion"), doc.get("kind"), md.get("namespace"), md.get("name"))
            if key in objs:
                sys.exit(f"helm-semdiff: {path}: {key} twice")
            objs[key] = doc
    return objs


def diff(a, b, path, out):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            if k not in a:
                out.append(f"{path}.{k}: only in theirs: {b[k]!r}")
            elif k not in b:
                out.append(f"{path}.{k}: only in ours: {a[k]!r}")
            else:
                diff(a[k], b[k], f"{path}.{k}", out)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            diff(x, y, f"{path}[{i}]", out)
    elif a != b:
        out.append(f"{path}: ours {a!r} != theirs {b!r}")


def neutralise(ours, theirs):
    """Replace the intended differences in ours by theirs' values (docs/helm.md)."""
    for key, o in ours.items():
        t = theirs.get(key)
        if t is None:
            continue
        for obj in (o, t):
            labels = obj.get("metadata", {}).get("labels") or {}
            for lbl in ("helm.sh/chart", "app.kubernetes.io/version"):
                labels.pop(lbl, None)
        kind = o.get("kind")
        if kind == "DaemonSet":
            for obj in (o, t):
                tl = obj["spec"]["template"]["metadata"].get("labels") or {}
                for lbl in ("helm.sh/chart", "app.kubernetes.io/version"):
                    tl.pop(lbl, None)
            oc = o["spec"]["template"]["spec"]["containers"][0]
            tc = t["spec"]["template"]["spec"]["containers"][0]
            oc["image"] = tc.get("image")
            if "resources" in tc:
                oc["resources"] = tc["resources"]
        elif kind == "ConfigMap":
            o["data"]["CURRENT_AGENT_VERSION"] = t["data"].get("CURRENT_AGENT_VERSION")
        elif kind == "ClusterRole" and o["metadata"]["name"] == "istio-cni":
            extra = {"apiGroups": ["apps"], "resources": ["daemonsets"],
                     "resourceNames": ["istio-cni-node"], "verbs": ["get"]}
            if extra not in o["rules"]:
                print("helm-semdiff: ClusterRole istio-cni lacks the daemonsets rule", file=sys.stderr)
                sys.exit(1)
            o["rules"] = [r for r in o["rules"] if r != extra]


def main(argv):
    vs_istio = "--cnibox-vs-istio" in argv
    args = [a for a in argv if a != "--cnibox-vs-istio"]
    if len(args) != 2:
        sys.exit(__doc__ or "usage: helm-semdiff.py [--cnibox-vs-istio] OURS THEIRS")
    ours, theirs = load(args[0]), load(args[1])
    if vs_istio:
        neutralise(ours, theirs)
    out = []
    for key in sorted(set(ours) | set(theirs), key=str):
        if key not in ours:
            out.append(f"{key}: only in theirs")
        elif key not in theirs:
            out.append(f"{key}: only in ours")
        else:
            diff(ours[key], theirs[key], "/".join(str(k) for k in key[1:]), out)
    for line in out:
        print(line)
    return 1 if out else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
