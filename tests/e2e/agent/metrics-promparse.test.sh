#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# metrics-promparse.test.sh: the metrics registry's text (lib/agent/metrics.c) reads back through a
# real Prometheus parser (Debian's python3-prometheus-client, text format 0.0.4) with the same
# families, types, help texts, label values (escapes included) and values. Skips (77) without it.
set -uo pipefail
BUILDDIR=${BUILDDIR:?}
PY=/usr/bin/python3     # Debian's interpreter: the Debian module is not on other pythons' path
"$PY" -c 'import prometheus_client.parser' 2>/dev/null || { echo "SKIP: python3-prometheus-client not installed"; exit 77; }
[ -x "$BUILDDIR/test_metrics" ] || { echo "SKIP: $BUILDDIR/test_metrics not built (CNIBOX_TESTS=OFF)"; exit 77; }
text=$("$BUILDDIR/test_metrics" --render-sample) || { echo "FAIL - test_metrics --render-sample"; exit 1; }
printf '%s\n' "$text" | "$PY" -c '
import sys
from prometheus_client.parser import text_string_to_metric_families
fams = {f.name: f for f in text_string_to_metric_families(sys.stdin.read())}
fails = 0
def check(what, got, want):
    global fails
    ok = got == want
    print(("ok   - " if ok else "FAIL - ") + what + ("" if ok else ": got %r want %r" % (got, want)))
    fails += not ok
def samples(fam):
    return sorted((s.name, tuple(sorted(s.labels.items())), s.value) for s in fam.samples)
# The client strips _total from a counter family name; the sample keeps the exported name.
check("families", sorted(fams), sorted(["istio_cni_install_ready", "istio_cni_installs",
      "cnibox_plugin_add_stage_seconds", "cnibox_install_pass_seconds"]))
check("ready type", fams["istio_cni_install_ready"].type, "gauge")
check("ready", samples(fams["istio_cni_install_ready"]), [("istio_cni_install_ready", (), 1.0)])
check("installs type", fams["istio_cni_installs"].type, "counter")
check("installs", samples(fams["istio_cni_installs"]), sorted([
      ("istio_cni_installs_total", (("result", "SUCCESS"),), 3.0),
      ("istio_cni_installs_total", (("result", "COPY_BINARIES_FAILURE"),), 1.0)]))
h = fams["cnibox_plugin_add_stage_seconds"]
check("histogram type", h.type, "histogram")
check("help escapes", h.documentation, "Per-stage time of the plugin'"'"'s ADD\nas reported \\ over the log socket")
odd = "pod \"lookup\"\n\\"
got = {(s.name, s.labels.get("stage"), s.labels.get("le")): s.value for s in h.samples}
les = ["0.001", "0.0025", "0.005", "0.01", "0.05", "0.25", "1", "+Inf"]
check("rules buckets", [got[("cnibox_plugin_add_stage_seconds_bucket", "rules", le)] for le in les],
      [1, 1, 2, 2, 2, 2, 2, 3])
check("rules sum", got[("cnibox_plugin_add_stage_seconds_sum", "rules", None)], 3.0045)
check("rules count", got[("cnibox_plugin_add_stage_seconds_count", "rules", None)], 3)
check("escaped label value", got.get(("cnibox_plugin_add_stage_seconds_count", odd, None)), 1)
check("escaped +Inf bucket", got.get(("cnibox_plugin_add_stage_seconds_bucket", odd, "+Inf")), 1)
check("no-bucket histogram", samples(fams["cnibox_install_pass_seconds"]), sorted([
      ("cnibox_install_pass_seconds_bucket", (("le", "+Inf"),), 1.0),
      ("cnibox_install_pass_seconds_count", (), 1.0),
      ("cnibox_install_pass_seconds_sum", (), 0.125)]))
print("%d failed" % fails)
sys.exit(1 if fails else 0)
'
