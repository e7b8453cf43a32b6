#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Writes charts/istio-cni/values.schema.json (docs/helm.md "values.schema.json").
#
#   gen-helm-schema.py > charts/istio-cni/values.schema.json
#
# The schema rejects unknown keys at every level this chart reads, so a typo (repair.repairpods,
# cniBinDIR) fails `helm template`/`helm install` instead of being ignored. It accepts:
#   - every key of Istio's cni chart, at the top level, under `cni:` (the istioctl-era layout, plus
#     its legacy keys) and under `_internal_defaults_do_not_set`;
#   - the keys of Istio's other charts and of the IstioOperator values (global.*, meshConfig, pilot,
#     ...), unchecked, so one values file can serve all of Istio's charts;
#   - integers and strings alike where `--set` may produce either: env values, quantities,
#     maxUnavailable/maxSurge, resourceQuotas.pods, tags.
#   - any scalar where the template quotes it (file names, label values, revision).
# Booleans must be booleans: the templates test them with `if`, where the string "false" is true.
import json
import sys

STR = {"type": "string"}
BOOL = {"type": "boolean"}
INT = {"type": "integer"}
INT_OR_STR = {"type": ["integer", "string"]}
TAG = {"type": ["string", "number"]}
# Rendered through quote/toString: `--set x=123` (an integer) or `--set x=true` (a boolean) renders
# the same as the string.
SCALAR = {"type": ["string", "number", "boolean"]}
ANY = {}


def nullable(s):
    s = dict(s)
    t = s.get("type")
    if t is None:
        return s
    s["type"] = (t if isinstance(t, list) else [t]) + ["null"]
    return s


def obj(props, extra=False):
    return {"type": ["object", "null"], "properties": props, "additionalProperties": extra}


FREE_OBJ = {"type": ["object", "null"]}
FREE_LIST = {"type": ["array", "null"]}
STR_MAP = {"type": ["object", "null"], "additionalProperties": {"type": "string"}}
QUANTITY = {"type": ["string", "number", "null"]}
QUANTITIES = {"type": ["object", "null"], "additionalProperties": QUANTITY}
RESOURCES = obj({"limits": QUANTITIES, "requests": QUANTITIES})
ENV = {"type": ["object", "null"], "additionalProperties": {"type": ["string", "number", "boolean"]}}

REPAIR = {
    "enabled": BOOL, "hub": STR, "tag": TAG, "labelPods": BOOL, "deletePods": BOOL,
    "repairPods": BOOL, "initContainerName": SCALAR, "brokenPodLabelKey": SCALAR,
    "brokenPodLabelValue": SCALAR,
    # IstioOperator-era keys, read by nothing: accepted so old files still install.
    "image": STR, "createEvents": {"type": ["string", "boolean"]},
}
AMBIENT = {
    "enabled": BOOL, "enablementSelectors": {"type": ["array", "null"], "items": {"type": "object"}},
    "configDir": STR, "dnsCapture": BOOL, "ipv6": BOOL, "reconcileIptablesOnStartup": BOOL,
    "shareHostNetworkNamespace": BOOL, "enableAmbientDetectionRetry": BOOL,
}
UPDATE_STRATEGY = obj({
    "type": {"enum": ["RollingUpdate", "OnDelete"]},
    "rollingUpdate": obj({"maxUnavailable": INT_OR_STR, "maxSurge": INT_OR_STR}),
})

# Keys of global.* that other Istio charts and the IstioOperator API read (GlobalConfig of
# operator/pkg/apis/values_types.proto and every chart's values.yaml): accepted, not checked.
GLOBAL_FOREIGN = """
agentgateway arch caAddress caName certSigners configCluster configValidation defaultNodeSelector
defaultPodDisruptionBudget defaultTolerations enableReaderRBAC externalIstiod ipFamilies
ipFamilyPolicy istioNamespace istiod jwtPolicy meshID meshNetworks mountMtlsCerts multiCluster
network omitSidecarInjectorConfigMap operatorManageWebhooks pilotCertProvider podDNSSearchNamespaces
priorityClassName proxy proxy_init readerServiceAccount remotePilotAddress revision sds sts tracer
trustBundleName waypoint
""".split()

GLOBAL = {
    "hub": STR, "tag": TAG, "variant": STR, "imagePullPolicy": STR,
    "logging": obj({"level": STR}), "logAsJson": BOOL,
    "networkPolicy": obj({"enabled": BOOL}),
    "imagePullSecrets": {"type": ["array", "null"], "items": STR},
    "defaultResources": RESOURCES, "nativeNftables": BOOL,
    "resourceScope": {"enum": ["all", "cluster", "namespace"]},
    "platform": STR, "profile": STR,
}
GLOBAL.update({k: ANY for k in GLOBAL_FOREIGN})

CHART = {
    "hub": STR, "tag": TAG, "variant": STR, "image": STR,
    "pullPolicy": {"enum": ["", "Always", "IfNotPresent", "Never", None]},
    "logging": obj({"level": STR}),
    "cniBinDir": nullable(STR), "cniConfDir": STR, "cniConfFileName": nullable(SCALAR),
    "cniNetnsDir": STR, "istioOwnedCNIConfigFileName": SCALAR, "istioOwnedCNIConfig": BOOL,
    "excludeNamespaces": {"type": ["array", "null"], "items": STR},
    "affinity": FREE_OBJ, "daemonSetLabels": STR_MAP, "podAnnotations": STR_MAP, "podLabels": STR_MAP,
    "chained": BOOL, "provider": STR,
    "ambient": obj(AMBIENT), "repair": obj(REPAIR),
    "seccompProfile": FREE_OBJ, "seLinuxOptions": FREE_OBJ, "useAppArmorAnnotation": BOOL,
    "resources": RESOURCES,
    "resourceQuotas": obj({"enabled": BOOL, "pods": INT_OR_STR}),
    "tolerations": {"type": ["array", "null"], "items": {"type": "object"}},
    "updateStrategy": UPDATE_STRATEGY,
    "terminationGracePeriodSeconds": INT,
    "revision": SCALAR, "ownerName": SCALAR,
    "global": obj(GLOBAL),
    "env": ENV,
}

# The istioctl-era `cni:` section (CNIConfig in values_types.proto): the chart's keys plus keys
# that only istioctl read.
CNI_LEGACY = {
    "enabled": BOOL, "psp_cluster_role": STR, "logLevel": STR, "privileged": BOOL,
    "rollingMaxUnavailable": INT_OR_STR, "resource_quotas": FREE_OBJ,
}

# Top-level keys of Istio's other charts and of the IstioOperator values (Values in
# values_types.proto; istiod's, base's, ztunnel's and the gateways' values.yaml; profile files):
# a values file shared with them installs here; these keys are ignored.
TOP_FOREIGN = """
additionalContainers annotations autoscaleBehavior autoscaleEnabled autoscaleMax autoscaleMin base
caAddress configMap cpu defaultRevision deploymentAnnotations deploymentLabels dnsConfig dnsPolicy
envVarFrom experimental extraContainerArgs gatewayClasses gateways imagePullPolicy imagePullSecrets
initContainers ipFamilies ipFamilyPolicy istioNamespace istio_cni istiodRemote
jwksResolverExtraRootCA keepaliveMaxServerConnectionAge labels logAsJson logLevel memory meshConfig
multiCluster network nodeSelector pdb peerCaCrl pilot replicaCount resourceName resourceScope
revisionTags rollingMaxSurge rollingMaxUnavailable serviceAccountAnnotations serviceAnnotations
sidecarInjectorWebhook sidecarInjectorWebhookAnnotations taint telemetry topologySpreadConstraints
traceSampling trustedZtunnelName trustedZtunnelNamespace volumeMounts volumes xdsAddress ztunnel
""".split()


def main():
    top = dict(CHART)
    top["_internal_defaults_do_not_set"] = obj(CHART)
    top["cni"] = obj({**CHART, **CNI_LEGACY})
    top["profile"] = STR
    top["platform"] = STR
    top["compatibilityVersion"] = TAG
    # Refused by the templates with Istio's own message ("Setting with .default prefix found").
    top["defaults"] = ANY
    for k in TOP_FOREIGN:
        top.setdefault(k, ANY)
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "cnibox istio-cni chart values (generated by tests/tools/gen-helm-schema.py)",
        "type": "object",
        "properties": top,
        "additionalProperties": False,
    }
    json.dump(schema, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
