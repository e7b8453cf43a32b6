#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Offline validation of Kubernetes objects against the API's own schema (docs/helm.md
# "Valid Kubernetes, offline").
#
#   k8s-validate.py MODELS_DIR FILE.yaml...
#
# MODELS_DIR comes from tests/tools/fetch-k8s-models.sh: the models and API classes that
# openapi-generator produced from Kubernetes' OpenAPI spec for the official JavaScript client.
# Every object is checked as the API server would decode it with strict field validation:
#   - apiVersion/kind is served (an API class of that group/version creates that kind), and
#     metadata.namespace is set exactly when the kind is namespaced;
#   - every field is known (no unknown field at any depth), of its type (string, integer, number,
#     boolean, int-or-string, quantity, list, map, nested object), and every required field is set;
#   - and some of the server's semantic checks: object and container names, label keys/values,
#     annotation values are strings, ConfigMap keys, env var names, every volumeMount names a volume,
#     the DaemonSet selector matches its template labels, port names.
# Objects of kinds the core API does not serve (the NetworkAttachmentDefinition CRD) are checked
# against the CRD's own schema, written out below. Exit 0 if all are valid, 1 listing each error.
import json
import os
import re
import sys

import yaml

MODELS = {}    # model name -> {field: (type, format)}, or None (no such model)
REQUIRED = {}  # model name -> set of required fields
KINDS = {}     # (apiVersion, kind) -> (model, namespaced)


def group_api_class(api_version):
    group, _, version = api_version.rpartition("/")
    name = "Core" if group == "" else "".join(p.capitalize() for p in group.replace(".k8s.io", "").split("."))
    return name + version.capitalize() + "Api"


def model_fields(name):
    """The fields of model `name` as {field: (type, format)}, or None; read on first use."""
    if name not in MODELS:
        path = os.path.join(MODELS_DIR, "models", name + ".js")
        if not re.match(r"^\w+$", name) or not os.path.exists(path):
            MODELS[name] = None
            return None
        text = open(path).read()
        m = re.search(r"\n%s\.attributeTypeMap = (\[.*?\n\]);" % re.escape(name), text, re.S)
        attrs = json.loads(m.group(1)) if m else []
        MODELS[name] = {a["baseName"]: (a["type"], a.get("format", "")) for a in attrs}
        dts = open(path[:-3] + ".d.ts").read()
        REQUIRED[name] = set(re.findall(r"^\s+'([^']+)': ", dts, re.M))
    return MODELS[name]


def kind_of(api_version, kind):
    key = (api_version, kind)
    if key in KINDS:
        return KINDS[key]
    path = os.path.join(MODELS_DIR, "apis", group_api_class(api_version) + ".js")
    found = None
    if os.path.exists(path):
        text = open(path).read()
        for ns in (True, False):
            fn = "create" + ("Namespaced" if ns else "") + kind
            m = re.search(r"\n\s+async %s\(.*?ObjectSerializer\.serialize\(body, \"(\w+)\"" % fn, text, re.S)
            if m and not re.search(r"\n\s+async \w+\(", text[m.start() + 10:m.start(1)]):
                found = (m.group(1), ns)
                break
    KINDS[key] = found
    return found


DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
CM_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
QUANTITY = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)(([KMGTPE]i)|[numkMGTPE]|([eE][+-]?[0-9]+))?$")
QUANTITY_FIELDS = {"limits", "requests", "hard", "divisor", "capacity", "allocatable", "sizeLimit"}


class Checker:
    def __init__(self, where):
        self.where = where
        self.errors = []

    def err(self, path, msg):
        self.errors.append(f"{self.where}: {path}: {msg}")

    def value(self, v, typ, fmt, path, field):
        if v is None:
            return  # null is "unset" for the API server
        if typ.startswith("Array<") and typ.endswith(">"):
            if not isinstance(v, list):
                return self.err(path, f"want a list, got {v!r}")
            for i, x in enumerate(v):
                self.value(x, typ[6:-1], fmt, f"{path}[{i}]", field)
        elif typ.startswith("{ [key: string]: ") and typ.endswith("; }"):
            if not isinstance(v, dict):
                return self.err(path, f"want a map, got {v!r}")
            inner = typ[len("{ [key: string]: "):-3]
            for k, x in v.items():
                if not isinstance(k, str):
                    self.err(path, f"map key {k!r} is not a string")
                self.value(x, inner, fmt, f"{path}.{k}", field)
        elif typ == "string":
            if field in QUANTITY_FIELDS and isinstance(v, (int, float)) and not isinstance(v, bool):
                return
            if not isinstance(v, str):
                return self.err(path, f"want a string, got {v!r}")
            if field in QUANTITY_FIELDS and not QUANTITY.match(v):
                self.err(path, f"{v!r} is not a quantity")
        elif typ == "number":
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                return self.err(path, f"want a number, got {v!r}")
            if fmt in ("int32", "int64") and not isinstance(v, int):
                self.err(path, f"want an integer, got {v!r}")
            if fmt == "int32" and not -2**31 <= v < 2**31:
                self.err(path, f"{v} out of int32 range")
        elif typ == "boolean":
            if not isinstance(v, bool):
                self.err(path, f"want a boolean, got {v!r}")
        elif typ == "IntOrString":
            if isinstance(v, bool) or not isinstance(v, (int, str)):
                self.err(path, f"want an integer or a string, got {v!r}")
        elif typ == "Date":
            if not isinstance(v, str):
                self.err(path, f"want a time string, got {v!r}")
        elif typ in ("any", "object"):
            pass
        elif model_fields(typ) is not None:
            self.model(v, typ, path)
        else:
            self.err(path, f"unknown type {typ} in the models")

    def model(self, v, name, path):
        if not isinstance(v, dict):
            return self.err(path, f"want an object ({name}), got {v!r}")
        fields = model_fields(name)
        for k, x in v.items():
            if k not in fields:
                self.err(f"{path}.{k}", f"unknown field (not in {name})")
            else:
                self.value(x, fields[k][0], fields[k][1], f"{path}.{k}", k)
        for r in sorted(REQUIRED.get(name, ())):
            if r not in v or v[r] is None:
                self.err(path, f"required field {r} missing ({name})")


def semantic(c, obj):
    md = obj.get("metadata") or {}
    name = md.get("name", "")
    if not DNS1123_SUBDOMAIN.match(name or "") or len(name) > 253:
        c.err("metadata.name", f"{name!r} is not a DNS-1123 subdomain")
    if "namespace" in md and not DNS1123_LABEL.match(str(md["namespace"])):
        c.err("metadata.namespace", f"{md['namespace']!r} is not a DNS-1123 label")

    def labels(path, d):
        for k, v in (d or {}).items():
            prefix, _, n = str(k).rpartition("/")
            if (prefix and not DNS1123_SUBDOMAIN.match(prefix)) or not LABEL_NAME.match(n) or len(n) > 63:
                c.err(path, f"bad label key {k!r}")
            if not isinstance(v, str) or (v and (not LABEL_NAME.match(v) or len(v) > 63)):
                c.err(path, f"bad label value {k}={v!r}")

    def annotations(path, d):
        for k, v in (d or {}).items():
            if not isinstance(v, str):
                c.err(path, f"annotation {k} is not a string: {v!r}")

    labels("metadata.labels", md.get("labels"))
    annotations("metadata.annotations", md.get("annotations"))
    kind = obj.get("kind")
    if kind == "ConfigMap":
        for k, v in (obj.get("data") or {}).items():
            if not CM_KEY.match(k):
                c.err("data", f"bad key {k!r}")
    if kind == "DaemonSet":
        spec = obj.get("spec") or {}
        tmpl = spec.get("template") or {}
        tl = (tmpl.get("metadata") or {}).get("labels") or {}
        labels("spec.template.metadata.labels", tl)
        annotations("spec.template.metadata.annotations", (tmpl.get("metadata") or {}).get("annotations"))
        for k, v in ((spec.get("selector") or {}).get("matchLabels") or {}).items():
            if tl.get(k) != v:
                c.err("spec.selector", f"{k}={v} does not match the template's labels")
        ps = tmpl.get("spec") or {}
        vols = [v.get("name") for v in ps.get("volumes") or []]
        if len(vols) != len(set(vols)):
            c.err("spec.template.spec.volumes", "duplicate volume names")
        for v in vols:
            if not DNS1123_LABEL.match(v or ""):
                c.err("spec.template.spec.volumes", f"bad volume name {v!r}")
        for ct in ps.get("containers") or []:
            cn = ct.get("name", "")
            if not DNS1123_LABEL.match(cn):
                c.err("containers", f"bad container name {cn!r}")
            for m in ct.get("volumeMounts") or []:
                if m.get("name") not in vols:
                    c.err(f"containers[{cn}].volumeMounts", f"{m.get('name')!r} names no volume")
            for e in ct.get("env") or []:
                if not ENV_NAME.match(str(e.get("name", ""))):
                    c.err(f"containers[{cn}].env", f"bad variable name {e.get('name')!r}")
            for p in ct.get("ports") or []:
                if "name" in p and (len(p["name"]) > 15 or not DNS1123_LABEL.match(p["name"])):
                    c.err(f"containers[{cn}].ports", f"bad port name {p['name']!r}")


# The NetworkAttachmentDefinition CRD (k8s.cni.cncf.io/v1, Multus): its openAPIV3Schema has
# spec.config, a string, and nothing else; spec itself is optional.
def nad(c, obj):
    for k in obj:
        if k not in ("apiVersion", "kind", "metadata", "spec"):
            c.err(k, "unknown field (not in NetworkAttachmentDefinition)")
    c.model(obj.get("metadata") or {}, "V1ObjectMeta", "metadata")
    spec = obj.get("spec")
    if spec is not None:
        if not isinstance(spec, dict) or set(spec) - {"config"} or not isinstance(spec.get("config", ""), str):
            c.err("spec", f"not a NetworkAttachmentDefinition spec: {spec!r}")
    if "namespace" not in (obj.get("metadata") or {}):
        c.err("metadata.namespace", "missing: the kind is namespaced")


def main(argv):
    global MODELS_DIR
    if len(argv) < 2:
        sys.exit("usage: k8s-validate.py MODELS_DIR FILE.yaml...")
    MODELS_DIR = argv[0]
    if model_fields("V1DaemonSet") is None:
        sys.exit(f"k8s-validate: no models in {MODELS_DIR}")
    errors, count = [], 0
    for f in argv[1:]:
        for i, obj in enumerate(yaml.safe_load_all(open(f))):
            if obj is None:
                continue
            count += 1
            av, kind = obj.get("apiVersion", ""), obj.get("kind", "")
            c = Checker(f"{os.path.basename(f)}: {kind}/{(obj.get('metadata') or {}).get('name')}")
            if (av, kind) == ("k8s.cni.cncf.io/v1", "NetworkAttachmentDefinition"):
                nad(c, obj)
            else:
                k = kind_of(av, kind)
                if k is None:
                    c.err("apiVersion", f"{av} {kind} is not served")
                else:
                    model, namespaced = k
                    c.model(obj, model, kind)
                    if namespaced != ("namespace" in (obj.get("metadata") or {})):
                        c.err("metadata.namespace", "set on a cluster-scoped kind" if not namespaced
                              else "missing: the kind is namespaced")
                    semantic(c, obj)
            errors += c.errors
    for e in errors:
        print(e)
    print(f"k8s-validate: {count} objects, {len(errors)} errors", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
