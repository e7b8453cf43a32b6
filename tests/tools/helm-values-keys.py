#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# The chart's keys, for tests/e2e/helm/schema.test.sh.
#
#   helm-values-keys.py VALUES_YAML README_MD
#
# Prints "<key>\t<value as JSON>" for every key documented in the README's values table, with
# values.yaml's default as the value (a sample for the implicit keys: profile, platform, ...).
# Fails, naming the key, when a key of values.yaml is documented neither by itself nor by an
# ancestor, or when the README documents a key that values.yaml does not have.
import json
import re
import sys

import yaml

IMPLICIT = {
    "profile": "demo", "global.profile": "demo", "platform": "k3s", "global.platform": "k3s",
    "compatibilityVersion": "1.25", "cni.*": None,
}


def leaves(d, prefix=""):
    for k, v in d.items():
        path = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            yield path, v, False
            yield from leaves(v, path + ".")
        else:
            yield path, v, True


def main():
    values = yaml.safe_load(open(sys.argv[1]))["_internal_defaults_do_not_set"]
    all_paths = {p: v for p, v, _ in leaves(values)}
    leaf_paths = [p for p, _, leaf in leaves(values) if leaf]
    table = False
    documented = []
    for line in open(sys.argv[2]):
        if line.startswith("| Key |"):
            table = True
            continue
        if table and not line.startswith("|"):
            break
        if table and not line.startswith("|---"):
            first = line.split("|")[1]
            documented += re.findall(r"`([^`]+)`", first)
    errors = []
    for key in documented:
        if key not in all_paths and key not in IMPLICIT:
            errors.append(f"README documents `{key}`, which values.yaml does not have")
    for path in leaf_paths:
        parts = path.split(".")
        if not any(".".join(parts[:i]) in documented for i in range(1, len(parts) + 1)):
            errors.append(f"values.yaml key `{path}` is not in the README's values table")
    if errors:
        sys.exit("\n".join(errors))
    for key in documented:
        if key == "cni.*":
            continue
        v = IMPLICIT.get(key, all_paths.get(key))
        print(f"{key}\t{json.dumps(v)}")


if __name__ == "__main__":
    main()
