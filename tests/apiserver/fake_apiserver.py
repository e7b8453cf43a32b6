#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""fake_apiserver.py: a stand-in Kubernetes API server (core/v1 pods) for cnibox tests.

Serves what the istio-cni plugin and the repair controller use (spec istio-cni.md §2.5 GET pod,
§5.2 list+watch with fieldSelector spec.nodeName, §5.4 DELETE with preconditions and PATCH
pods/status) closely enough that the real kubectl works against it. Standard library only.
See tests/apiserver/README.md for flags, admin endpoints, fault switches and known differences.
"""

import argparse
import base64
import copy
import datetime
import json
import os
import re
import signal
import socket
import ssl
import sys
import threading
import time
import uuid
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit, unquote

SERVER_VERSION = {
    "major": "1", "minor": "32", "gitVersion": "v1.32.4-cnibox-fake",
    "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.23.0", "compiler": "gc",
    "platform": "linux/amd64",
}

# Field labels the real apiserver accepts for pods (pkg/registry/core/pod/strategy.go).
POD_FIELDS = {
    "metadata.name": lambda p: p["metadata"].get("name", ""),
    "metadata.namespace": lambda p: p["metadata"].get("namespace", ""),
    "spec.nodeName": lambda p: p.get("spec", {}).get("nodeName", ""),
    "spec.restartPolicy": lambda p: p.get("spec", {}).get("restartPolicy", ""),
    "spec.schedulerName": lambda p: p.get("spec", {}).get("schedulerName", ""),
    "spec.serviceAccountName": lambda p: p.get("spec", {}).get("serviceAccountName", ""),
    "spec.hostNetwork": lambda p: "true" if p.get("spec", {}).get("hostNetwork") else "false",
    "status.phase": lambda p: p.get("status", {}).get("phase", ""),
    "status.podIP": lambda p: p.get("status", {}).get("podIP", ""),
    "status.nominatedNodeName": lambda p: p.get("status", {}).get("nominatedNodeName", ""),
}
GENERIC_FIELDS = {
    "metadata.name": lambda o: o["metadata"].get("name", ""),
    "metadata.namespace": lambda o: o["metadata"].get("namespace", ""),
}

POD_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class ApiError(Exception):
    """An error answered as a Kubernetes Status object."""

    def __init__(self, code, reason, message, details=None):
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details

    def status(self):
        s = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
             "message": self.message, "reason": self.reason, "code": self.code}
        if self.details is not None:
            s["details"] = self.details
        return s


def not_found(kind, name):
    return ApiError(404, "NotFound", '%s "%s" not found' % (kind, name), {"name": name, "kind": kind})


def bad_request(msg):
    return ApiError(400, "BadRequest", msg)


# ---------------------------------------------------------------------------------------------
# Selectors

def parse_field_selector(sel, fields):
    """Returns a list of (field, op, value); op is '=' or '!='. Raises ApiError(400)."""
    reqs = []
    if not sel:
        return reqs
    for term in sel.split(","):
        if term == "":
            continue
        if "!=" in term:
            k, v = term.split("!=", 1)
            op = "!="
        elif "==" in term:
            k, v = term.split("==", 1)
            op = "="
        elif "=" in term:
            k, v = term.split("=", 1)
            op = "="
        else:
            raise bad_request('invalid field selector: invalid selector: \'%s\'; can\'t understand \'%s\''
                              % (sel, term))
        k = k.strip()
        if k not in fields:
            raise bad_request('field label not supported: %s' % k)
        reqs.append((k, op, v))
    return reqs


def match_fields(obj, reqs, fields):
    for k, op, v in reqs:
        got = fields[k](obj)
        if (got == v) != (op == "="):
            return False
    return True


_LABEL_KEY = r"[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?"
_LABEL_VAL = r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?"


def parse_label_selector(sel):
    """Returns a list of (key, op, values). ops: in notin exists !exists = != (like apimachinery)."""
    reqs = []
    if not sel or not sel.strip():
        return reqs
    # Split on commas that are not inside parentheses.
    terms, depth, cur = [], 0, ""
    for ch in sel:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            terms.append(cur)
            cur = ""
        else:
            cur += ch
    terms.append(cur)
    for raw in terms:
        t = raw.strip()
        if not t:
            raise bad_request("unable to parse requirement: found '', expected: identifier")
        m = re.fullmatch(r"(?P<k>%s)\s+(?P<op>in|notin)\s*\((?P<vals>[^)]*)\)" % _LABEL_KEY, t)
        if m:
            vals = [v.strip() for v in m.group("vals").split(",")]
            for v in vals:
                if not re.fullmatch(_LABEL_VAL, v):
                    raise bad_request("unable to parse requirement: invalid label value: %r" % v)
            reqs.append((m.group("k"), m.group("op"), set(vals)))
            continue
        m = re.fullmatch(r"(?P<k>%s)\s*(?P<op>==|!=|=)\s*(?P<v>%s)" % (_LABEL_KEY, _LABEL_VAL), t)
        if m:
            op = {"==": "=", "=": "=", "!=": "!="}[m.group("op")]
            reqs.append((m.group("k"), op, {m.group("v") or ""}))
            continue
        m = re.fullmatch(r"!\s*(%s)" % _LABEL_KEY, t)
        if m:
            reqs.append((m.group(1), "!exists", set()))
            continue
        m = re.fullmatch(_LABEL_KEY, t)
        if m:
            reqs.append((t, "exists", set()))
            continue
        raise bad_request("unable to parse requirement: %s" % t)
    return reqs


def match_labels(obj, reqs):
    labels = obj.get("metadata", {}).get("labels") or {}
    for k, op, vals in reqs:
        has = k in labels
        v = labels.get(k)
        if op == "exists" and not has:
            return False
        if op == "!exists" and has:
            return False
        if op in ("=", "in") and (not has or v not in vals):
            return False
        if op in ("!=", "notin") and has and v in vals:
            return False
    return True


# ---------------------------------------------------------------------------------------------
# Patches

def merge_patch(target, patch):
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    out = dict(target)
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def strategic_merge_patch(target, patch):
    """Merge patch, plus merge-by-"name" for lists of named objects (containers, env, ports...)
    and the $patch: replace/delete directive on maps. Enough for what tests and kubectl send."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: v for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    if not isinstance(target, dict):
        target = {}
    out = dict(target)
    for k, v in patch.items():
        if k.startswith("$"):
            continue
        if v is None:
            out.pop(k, None)
        elif isinstance(v, list) and isinstance(out.get(k), list) and v and \
                all(isinstance(e, dict) and "name" in e for e in v) and \
                all(isinstance(e, dict) and "name" in e for e in out[k]):
            cur = [copy.deepcopy(e) for e in out[k]]
            for e in v:
                idx = next((i for i, c in enumerate(cur) if c["name"] == e["name"]), None)
                if e.get("$patch") == "delete":
                    if idx is not None:
                        cur.pop(idx)
                elif idx is None:
                    cur.append({a: b for a, b in e.items() if not a.startswith("$")})
                else:
                    cur[idx] = strategic_merge_patch(cur[idx], e)
            out[k] = cur
        else:
            r = strategic_merge_patch(out.get(k), v)
            if r is None:
                out.pop(k, None)
            else:
                out[k] = r
    return out


def _ptr(path):
    if path == "":
        return []
    if not path.startswith("/"):
        raise bad_request("invalid JSON pointer %r" % path)
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc, parts):
    cur = doc
    for p in parts:
        if isinstance(cur, list):
            try:
                cur = cur[int(p)]
            except (ValueError, IndexError):
                raise ApiError(422, "Invalid", "jsonpatch: index %r out of range" % p)
        elif isinstance(cur, dict):
            if p not in cur:
                raise ApiError(422, "Invalid", "jsonpatch: missing key %r" % p)
            cur = cur[p]
        else:
            raise ApiError(422, "Invalid", "jsonpatch: cannot descend into %r" % p)
    return cur


def _jp_add(doc, parts, value):
    if not parts:
        return value
    parent = _walk(doc, parts[:-1])
    last = parts[-1]
    if isinstance(parent, list):
        if last == "-":
            parent.append(value)
        else:
            i = int(last)
            if i < 0 or i > len(parent):
                raise ApiError(422, "Invalid", "jsonpatch add: index out of range")
            parent.insert(i, value)
    elif isinstance(parent, dict):
        parent[last] = value
    else:
        raise ApiError(422, "Invalid", "jsonpatch add: bad parent")
    return doc


def _jp_remove(doc, parts):
    if not parts:
        raise ApiError(422, "Invalid", "jsonpatch remove: cannot remove root")
    parent = _walk(doc, parts[:-1])
    last = parts[-1]
    try:
        if isinstance(parent, list):
            return parent.pop(int(last))
        return parent.pop(last)
    except (KeyError, ValueError, IndexError):
        raise ApiError(422, "Invalid",
                       "the server rejected our request due to an error in our request")


def json_patch(doc, ops):
    if not isinstance(ops, list):
        raise bad_request("json patch must be an array")
    doc = copy.deepcopy(doc)
    for op in ops:
        kind, parts = op.get("op"), _ptr(op.get("path", ""))
        if kind == "add":
            doc = _jp_add(doc, parts, copy.deepcopy(op.get("value")))
        elif kind == "remove":
            _jp_remove(doc, parts)
        elif kind == "replace":
            _walk(doc, parts)  # must exist
            if parts:
                _jp_remove(doc, parts)
            doc = _jp_add(doc, parts, copy.deepcopy(op.get("value")))
        elif kind == "test":
            if _walk(doc, parts) != op.get("value"):
                raise ApiError(422, "Invalid", "jsonpatch test operation does not apply")
        elif kind in ("move", "copy"):
            src = _ptr(op.get("from", ""))
            val = copy.deepcopy(_walk(doc, src))
            if kind == "move":
                _jp_remove(doc, src)
            doc = _jp_add(doc, parts, val)
        else:
            raise bad_request("unexpected json patch op %r" % kind)
    return doc


# ---------------------------------------------------------------------------------------------
# Store

class Store:
    """All objects, the global resourceVersion and a bounded event history.

    History entries are (rv, type, kind, key, obj, prev): prev is the object before the change,
    so a consistent snapshot at any rv still in the history can be rebuilt (for continue tokens)."""

    def __init__(self, history, state_file=None):
        self.lock = threading.Condition()
        self.rv = 1
        self.objs = {"pods": {}, "events": {}, "daemonsets": {}, "nodes": {}}
        self.history = deque(maxlen=history)
        self.history_max = history
        self.compacted_rv = 1  # events with rv <= this are no longer available
        self.watch_gen = 0  # bumped by /__admin/expire-watches: running watches get a 410
        self.state_file = state_file
        self.namespaces = {"default", "kube-system", "kube-public", "istio-system"}
        self.ns_meta = {}

    # -- helpers (caller holds lock) --
    def _next_rv(self):
        self.rv += 1
        return self.rv

    def _record(self, etype, kind, key, obj, prev):
        if len(self.history) == self.history.maxlen and self.history:
            self.compacted_rv = self.history[0][0]
        self.history.append((self.rv, etype, kind, key, copy.deepcopy(obj), prev))
        self.lock.notify_all()
        self._save()

    def _save(self):
        if not self.state_file:
            return
        data = {"resourceVersion": self.rv, "pods": list(self.objs["pods"].values())}
        tmp = self.state_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump(data, f)
        os.replace(tmp, self.state_file)

    def oldest_rv(self):
        """Smallest rv a watch may start from (exclusive)."""
        return self.compacted_rv

    def compact(self, keep=0):
        with self.lock:
            while len(self.history) > keep:
                self.compacted_rv = self.history.popleft()[0]
            if keep == 0:
                self.compacted_rv = self.rv

    def _fill_new(self, kind, obj, ns):
        md = obj.setdefault("metadata", {})
        if not md.get("name") and md.get("generateName"):
            md["name"] = md["generateName"] + uuid.uuid4().hex[:5]
        if not md.get("name"):
            raise ApiError(422, "Invalid", "%s \"\" is invalid: metadata.name: Required value: name or "
                                           "generateName is required" % ("Pod" if kind == "pods" else kind))
        if kind == "nodes":  # cluster-scoped
            md.pop("namespace", None)
            md["uid"] = md.get("uid") or str(uuid.uuid4())
            md["creationTimestamp"] = md.get("creationTimestamp") or now_rfc3339()
            obj["kind"], obj["apiVersion"] = "Node", "v1"
            return obj
        if ns is not None:
            if md.get("namespace") and md["namespace"] != ns:
                raise bad_request("the namespace of the provided object does not match the namespace "
                                  "sent on the request")
            md["namespace"] = ns
        md.setdefault("namespace", "default")
        md["uid"] = md.get("uid") or str(uuid.uuid4())
        md["creationTimestamp"] = md.get("creationTimestamp") or now_rfc3339()
        if kind == "pods":
            obj["kind"], obj["apiVersion"] = "Pod", "v1"
            obj.setdefault("spec", {})
            obj.setdefault("status", {}).setdefault("phase", "Pending")
        elif kind == "daemonsets":
            obj["kind"], obj["apiVersion"] = "DaemonSet", "apps/v1"
            obj.setdefault("spec", {})
            obj.setdefault("status", {})
        else:
            obj["kind"], obj["apiVersion"] = "Event", "v1"
        self.namespaces.add(md["namespace"])
        return obj

    # -- operations --
    def create(self, kind, obj, ns=None, replace_ok=False):
        with self.lock:
            obj = self._fill_new(kind, copy.deepcopy(obj), ns)
            key = (obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
            prev = self.objs[kind].get(key)
            if prev is not None and not replace_ok:
                raise ApiError(409, "AlreadyExists", '%s "%s" already exists' % (kind, key[1]),
                               {"name": key[1], "kind": kind})
            if prev is not None:
                obj["metadata"]["uid"] = obj["metadata"].get("uid") or prev["metadata"]["uid"]
            obj["metadata"]["resourceVersion"] = str(self._next_rv())
            self.objs[kind][key] = obj
            self._record("MODIFIED" if prev else "ADDED", kind, key, obj, prev)
            return copy.deepcopy(obj)

    def get(self, kind, ns, name):
        with self.lock:
            o = self.objs[kind].get((ns, name))
            if o is None:
                raise not_found(kind, name)
            return copy.deepcopy(o)

    def update(self, kind, ns, name, fn, check_rv=None):
        """fn(old_copy) -> new object. Keeps identity fields, bumps rv, emits MODIFIED."""
        with self.lock:
            key = (ns, name)
            old = self.objs[kind].get(key)
            if old is None:
                raise not_found(kind, name)
            new = fn(copy.deepcopy(old))
            md = new.setdefault("metadata", {})
            want_rv = check_rv if check_rv is not None else md.get("resourceVersion")
            if want_rv and want_rv != old["metadata"]["resourceVersion"]:
                raise ApiError(409, "Conflict",
                               'Operation cannot be fulfilled on %s "%s": the object has been modified; '
                               'please apply your changes to the latest version and try again'
                               % (kind, name), {"name": name, "kind": kind})
            if md.get("name", name) != name or md.get("namespace", ns) != ns:
                raise bad_request("metadata.name and metadata.namespace are immutable")
            for f in ("name", "namespace", "uid", "creationTimestamp"):
                md[f] = old["metadata"][f]
            new["kind"], new["apiVersion"] = old["kind"], old["apiVersion"]
            if new == old or _same_but_rv(new, old):
                return copy.deepcopy(old)  # no-op patches do not bump the rv (like the real one)
            md["resourceVersion"] = str(self._next_rv())
            self.objs[kind][key] = new
            self._record("MODIFIED", kind, key, new, old)
            return copy.deepcopy(new)

    def delete(self, kind, ns, name, uid=None, rv=None):
        with self.lock:
            key = (ns, name)
            old = self.objs[kind].get(key)
            if old is None:
                raise not_found(kind, name)
            if uid is not None and uid != old["metadata"]["uid"]:
                raise ApiError(409, "Conflict",
                               "Precondition failed: UID in precondition: %s, UID in object meta: %s"
                               % (uid, old["metadata"]["uid"]), {"name": name, "kind": kind})
            if rv is not None and rv != old["metadata"]["resourceVersion"]:
                raise ApiError(409, "Conflict",
                               "Precondition failed: ResourceVersion in precondition: %s, "
                               "ResourceVersion in object meta: %s"
                               % (rv, old["metadata"]["resourceVersion"]), {"name": name, "kind": kind})
            if kind == "daemonsets" and old["metadata"].get("finalizers"):
                # Like the real one: an object with finalizers is only marked for deletion.
                if old["metadata"].get("deletionTimestamp"):
                    return copy.deepcopy(old)
                new = copy.deepcopy(old)
                new["metadata"]["deletionTimestamp"] = now_rfc3339()
                new["metadata"]["deletionGracePeriodSeconds"] = 0
                new["metadata"]["resourceVersion"] = str(self._next_rv())
                self.objs[kind][key] = new
                self._record("MODIFIED", kind, key, new, old)
                return copy.deepcopy(new)
            del self.objs[kind][key]
            gone = copy.deepcopy(old)
            gone["metadata"]["resourceVersion"] = str(self._next_rv())
            self._record("DELETED", kind, key, gone, old)
            return gone

    def snapshot(self, kind, at_rv):
        """Objects of kind as they were at at_rv (caller holds lock). None if compacted."""
        if at_rv < self.compacted_rv:
            return None
        cur = dict(self.objs[kind])
        for (rv, _et, k, key, _obj, prev) in reversed(self.history):
            if rv <= at_rv:
                break
            if k != kind:
                continue
            if prev is None:
                cur.pop(key, None)
            else:
                cur[key] = prev
        return cur


def _same_but_rv(a, b):
    a = copy.deepcopy(a)
    b = copy.deepcopy(b)
    a["metadata"].pop("resourceVersion", None)
    b["metadata"].pop("resourceVersion", None)
    return a == b


# ---------------------------------------------------------------------------------------------
# Tables (kubectl get asks for meta.k8s.io/v1 Table)

def human_duration(secs):
    """k8s.io/apimachinery/pkg/util/duration.HumanDuration."""
    secs = max(0, int(secs))
    if secs < 120:
        return "%ds" % secs
    mins = secs // 60
    if mins < 10:
        s = secs % 60
        return "%dm%ds" % (mins, s) if s else "%dm" % mins
    if mins < 180:
        return "%dm" % mins
    hours = secs // 3600
    if hours < 8:
        m = mins % 60
        return "%dh%dm" % (hours, m) if m else "%dh" % hours
    if hours < 48:
        return "%dh" % hours
    if hours < 24 * 8:
        h = hours % 24
        return "%dd%dh" % (hours // 24, h) if h else "%dd" % (hours // 24)
    if hours < 24 * 365 * 2:
        return "%dd" % (hours // 24)
    return "%dy" % (hours // (24 * 365))


def _age(obj):
    ts = obj.get("metadata", {}).get("creationTimestamp")
    if not ts:
        return "<unknown>"
    try:
        t = datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        return "<unknown>"
    return human_duration((datetime.datetime.now(datetime.timezone.utc) - t).total_seconds())


def pod_status_reason(pod):
    """A reduced version of printPod() in pkg/printers/internalversion/printers.go."""
    st = pod.get("status", {})
    reason = st.get("reason") or st.get("phase") or "Unknown"
    init_specs = pod.get("spec", {}).get("initContainers") or []
    initializing = False
    for i, cs in enumerate(st.get("initContainerStatuses") or []):
        state = cs.get("state", {})
        term, wait = state.get("terminated"), state.get("waiting")
        if term and term.get("exitCode", 0) == 0:
            continue
        if term:
            reason = "Init:" + (term.get("reason") or ("Signal:%d" % term["signal"] if term.get("signal")
                                                      else "ExitCode:%d" % term.get("exitCode", 0)))
        elif wait and wait.get("reason") and wait["reason"] != "PodInitializing":
            reason = "Init:" + wait["reason"]
        else:
            reason = "Init:%d/%d" % (i, len(init_specs))
        initializing = True
        break
    if not initializing:
        for cs in reversed(st.get("containerStatuses") or []):
            state = cs.get("state", {})
            if state.get("waiting", {}).get("reason"):
                reason = state["waiting"]["reason"]
            elif state.get("terminated", {}).get("reason"):
                reason = state["terminated"]["reason"]
    if pod.get("metadata", {}).get("deletionTimestamp"):
        reason = "Terminating"
    return reason


def pod_row(pod):
    st = pod.get("status", {})
    cstat = st.get("containerStatuses") or []
    total = len(pod.get("spec", {}).get("containers") or [])
    ready = sum(1 for c in cstat if c.get("ready"))
    allstat = cstat + (st.get("initContainerStatuses") or [])
    restarts = sum(c.get("restartCount", 0) for c in allstat)
    last = max((c.get("lastState", {}).get("terminated", {}).get("finishedAt") or "" for c in allstat),
               default="")
    if restarts and last:  # printPod shows "N (5m ago)" when a container has terminated before
        restarts = "%d (%s ago)" % (restarts, _age({"metadata": {"creationTimestamp": last}}))
    return [pod["metadata"]["name"], "%d/%d" % (ready, total), pod_status_reason(pod), restarts,
            _age(pod), st.get("podIP") or "<none>", pod.get("spec", {}).get("nodeName") or "<none>",
            st.get("nominatedNodeName") or "<none>", "<none>"]


POD_COLUMNS = [
    ("Name", "string", "name", 0, "Name must be unique within a namespace."),
    ("Ready", "string", "", 0, "The aggregate readiness state of this pod for accepting traffic."),
    ("Status", "string", "", 0, "The aggregate status of the containers in this pod."),
    ("Restarts", "string", "", 0, "The number of times the containers in this pod have been restarted."),
    ("Age", "string", "", 0, "CreationTimestamp is a timestamp representing the server time when this "
                             "object was created."),
    ("IP", "string", "", 1, "IP address allocated to the pod."),
    ("Node", "string", "", 1, "NodeName is a request to schedule this pod onto a specific node."),
    ("Nominated Node", "string", "", 1, "nominatedNodeName is set when this pod preempts other pods."),
    ("Readiness Gates", "string", "", 1, "If specified, all readiness gates will be evaluated for pod "
                                         "readiness."),
]
GENERIC_COLUMNS = [
    ("Name", "string", "name", 0, "Name must be unique within a namespace."),
    ("Created At", "date", "", 0, "CreationTimestamp is a timestamp representing the server time when "
                                  "this object was created."),
]


def table_columns(kind):
    cols = POD_COLUMNS if kind == "pods" else GENERIC_COLUMNS
    return [{"name": n, "type": t, "format": f, "description": d, "priority": p}
            for (n, t, f, p, d) in cols]


def table_row(kind, obj, include):
    if kind == "pods":
        cells = pod_row(obj)
    else:
        cells = [obj["metadata"]["name"], obj["metadata"].get("creationTimestamp")]
    row = {"cells": cells}
    if include == "Object":
        row["object"] = obj
    elif include != "None":
        row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                         "metadata": obj["metadata"]}
    return row


# ---------------------------------------------------------------------------------------------
# Faults and request log

class Faults:
    def __init__(self):
        self.lock = threading.Lock()
        self.rules = []

    def set(self, rules):
        with self.lock:
            self.rules = []
            for r in rules:
                r = dict(r)
                if "path_regex" in r:
                    re.compile(r["path_regex"])
                self.rules.append(r)

    def get(self):
        with self.lock:
            return copy.deepcopy(self.rules)

    def take(self, method, target):
        """First matching rule with count left; decrements its count."""
        with self.lock:
            for r in self.rules:
                if r.get("count") is not None and r["count"] <= 0:
                    continue
                if r.get("path_regex") and not re.search(r["path_regex"], target):
                    continue
                if r.get("method") and r["method"].upper() != method:
                    continue
                if r.get("count") is not None:
                    r["count"] -= 1
                r["hits"] = r.get("hits", 0) + 1
                return dict(r)
        return None


class RequestLog:
    HEADERS = ("Accept", "Content-Type", "User-Agent", "Content-Length", "Transfer-Encoding")

    def __init__(self, cap=10000):
        self.lock = threading.Lock()
        self.items = deque(maxlen=cap)
        self.seq = 0

    def add(self, entry):
        with self.lock:
            self.seq += 1
            entry["seq"] = self.seq
            self.items.append(entry)

    def get(self):
        with self.lock:
            return list(self.items)

    def clear(self):
        with self.lock:
            self.items.clear()


# ---------------------------------------------------------------------------------------------
# HTTP

class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, handler, args, store):
        super().__init__(addr, handler)
        self.args = args
        self.store = store
        self.faults = Faults()
        self.reqlog = RequestLog()
        self.ssl_ctx = None
        self.stopping = threading.Event()
        self.rbac_mode = args.rbac
        self.rbac = rbac_rules(args.rbac)

    def get_request(self):
        # TLS handshake happens in the worker thread (do_handshake_on_connect=False), so a slow
        # or stuck client cannot block accept().
        sock, addr = self.socket.accept()
        # Headers and body go out in separate writes; without NODELAY, Nagle plus the client's
        # delayed ACK adds ~40 ms to every keep-alive request.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock = self.ssl_ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr



# RBAC as the istio-cni chart grants it (spec istio-cni.md §5.6, §6.4), per repair mode. With
# --rbac unset every authenticated request is allowed (as for system:masters).
RBAC_USER = "system:serviceaccount:istio-system:istio-cni"
RBAC_BASE = {
    ("", "pods", ""): {"get", "list", "watch"},
    ("", "nodes", ""): {"get", "list", "watch"},
    ("", "namespaces", ""): {"get", "list", "watch"},
    ("apps", "daemonsets", ""): {"get", "list", "watch"},
    ("", "events", ""): {"create", "patch"},
}
RBAC_MODES = {
    "repair": {},
    "delete": {("", "pods", ""): {"delete"}},
    "label": {("", "pods", "status"): {"patch", "update"}},
    # nothing beyond reading pods, nodes and namespaces: not even Events
    "readonly": None,
}


def rbac_rules(mode):
    if mode is None:
        return None
    rules = {k: set(v) for k, v in RBAC_BASE.items()}
    extra = RBAC_MODES[mode]
    if extra is None:
        del rules[("", "events", "")]
        rules.pop(("apps", "daemonsets", ""), None)
        return rules
    for k, v in extra.items():
        rules.setdefault(k, set()).update(v)
    return rules


def rbac_allowed(rules, group, resource, sub, verb, name=None):
    if rules is None:
        return True
    if isinstance(rules, list):
        # Kubernetes PolicyRules (a rendered ClusterRole's, /__admin/rbac {"rules": [...]}), matched as
        # the RBAC authorizer does: group, "resource/subresource", verb, "*" wildcards, and
        # resourceNames, which only a request naming one object can satisfy.
        res = resource + ("/" + sub if sub else "")
        for r in rules:
            if (group in r.get("apiGroups", []) or "*" in r.get("apiGroups", [])) and \
                    (res in r.get("resources", []) or "*" in r.get("resources", [])) and \
                    (verb in r.get("verbs", []) or "*" in r.get("verbs", [])) and \
                    (not r.get("resourceNames") or (name and name in r["resourceNames"])):
                return True
        return False
    return verb in rules.get((group, resource, sub or ""), set())


def forbidden(verb, group, resource, sub, name, ns):
    res = resource + ("/" + sub if sub else "")
    who = '%s "%s" is forbidden' % (res, name) if name else "%s is forbidden" % res
    where = 'in the namespace "%s"' % ns if ns else "at the cluster scope"
    return ApiError(403, "Forbidden", '%s: User "%s" cannot %s resource "%s" in API group "%s" %s'
                    % (who, RBAC_USER, verb, res, group, where),
                    {"name": name, "kind": resource} if name else {"kind": resource})


PATH_RE = re.compile(r"^/api/v1(?:/namespaces/(?P<ns>[^/]+))?/(?P<res>pods|events)"
                     r"(?:/(?P<name>[^/]+)(?:/(?P<sub>status))?)?$")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "cnibox-fake-apiserver"
    sys_version = ""

    def setup(self):
        self.request.settimeout(30)
        try:
            self.request.do_handshake()
        except (ssl.SSLError, OSError):
            self.close_connection = True
            self._handshake_failed = True
        else:
            self._handshake_failed = False
        super().setup()

    def handle(self):
        if self._handshake_failed:
            return
        try:
            super().handle()
        except (ConnectionError, ssl.SSLError, socket.timeout, BrokenPipeError):
            pass

    def log_message(self, fmt, *args):
        if self.server.args.verbose:
            sys.stderr.write("fake-apiserver: %s %s\n" % (self.address_string(), fmt % args))

    # -- plumbing --
    def _send_json(self, code, obj, ctype="application/json", raw=None):
        body = raw if raw is not None else json.dumps(obj, separators=(",", ":")).encode() + b"\n"
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Content-Length", str(len(body)))
        # Headers and body in one write (one TLS record, one segment): a real apiserver answers
        # a pod GET in well under 1 ms on loopback, and a stand-in must not be the bottleneck.
        self._headers_buffer.append(b"\r\n")
        if self.command != "HEAD":
            self._headers_buffer.append(body)
        self.flush_headers()
        self._logentry["code"] = code

    def _err(self, e):
        self._send_json(e.code, e.status())

    def _read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                line = self.rfile.readline(1024)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline(1024)
                    break
                data += self.rfile.read(size)
                self.rfile.readline(1024)
            return data
        return self.rfile.read(n) if n > 0 else b""

    def _json_body(self, raw):
        if not raw.strip():
            return None
        try:
            return json.loads(raw)
        except ValueError as e:
            raise bad_request("error decoding request body: %s" % e)

    def _auth(self):
        hdr = self.headers.get("Authorization", "")
        if hdr.startswith("Bearer ") and hdr[7:].strip() == self.server.args.token:
            return "bearer"
        try:
            if self.request.getpeercert():
                return "cert"  # verified against the CA by the TLS layer
        except (ValueError, AttributeError):
            pass
        return "bearer-bad" if hdr else None

    def _dispatch(self):
        self._logentry = {"time": time.time()}
        url = urlsplit(self.path)
        path = unquote(url.path)
        self.query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        raw = b""
        if self.command in ("POST", "PUT", "PATCH", "DELETE"):
            raw = self._read_body()
        self._logentry.update({
            "method": self.command, "path": path, "query": self.query, "rawQuery": url.query,
            "headers": {h: self.headers[h] for h in RequestLog.HEADERS if self.headers.get(h)},
        })
        if raw:
            try:
                self._logentry["body"] = json.loads(raw)
            except ValueError:
                self._logentry["body"] = raw.decode("utf-8", "replace")[:4096]
        try:
            if path.startswith("/__admin/"):
                self._logentry["admin"] = True
                return self._admin(path, raw)
            auth = self._auth()
            self._logentry["auth"] = auth or "none"
            self.server.reqlog.add(self._logentry)
            fault = self.server.faults.take(self.command, path + ("?" + url.query if url.query else ""))
            if fault:
                self._logentry["fault"] = fault
                if fault.get("delay_ms"):
                    time.sleep(fault["delay_ms"] / 1000.0)
                if fault.get("drop"):
                    self.close_connection = True
                    try:
                        self.request.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return
                if fault.get("status"):
                    code = int(fault["status"])
                    reasons = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
                               409: "Conflict", 410: "Expired", 429: "TooManyRequests",
                               500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout"}
                    e = ApiError(code, reasons.get(code, "Unknown"),
                                 fault.get("message", "injected fault: HTTP %d" % code))
                    if code == 429 or code == 503:
                        self._retry_after = "1"
                    return self._err(e)
                if fault.get("malformed"):
                    return self._send_json(200, None, raw=b'{"kind":"Pod","apiVersion":"v1","metadata":{"na')
            if auth not in ("bearer", "cert"):
                return self._err(ApiError(401, "Unauthorized", "Unauthorized"))
            self._authorize(path)
            return self._route(path, raw)
        except ApiError as e:
            return self._err(e)

    def send_response(self, code, message=None):
        # Like Go's net/http: a Date header but no Server header.
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())
        if getattr(self, "_retry_after", None):
            self.send_header("Retry-After", self._retry_after)
            self._retry_after = None
        self.send_header("Audit-Id", str(uuid.uuid4()))
        self.send_header("X-Kubernetes-Pf-Flowschema-Uid", "00000000-0000-0000-0000-000000000000")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _dispatch

    # -- authorization (--rbac MODE or /__admin/rbac) --
    def _request_attrs(self, path):
        """(group, resource, subresource, name, namespace, verb) of a resource request, else None."""
        mm = PATH_RE.match(path)
        if mm:
            group, res, name, sub, ns = "", mm.group("res"), mm.group("name"), mm.group("sub"), mm.group("ns")
        else:
            mm = re.match(r"^/api/v1/(?P<res>namespaces|nodes)(?:/(?P<name>[^/]+))?$", path)
            if mm:
                group, res, name, sub, ns = "", mm.group("res"), mm.group("name"), None, None
            else:
                mm = re.match(r"^/apis/apps/v1/namespaces/(?P<ns>[^/]+)/daemonsets(?:/(?P<name>[^/]+))?$", path)
                if not mm:
                    return None
                group, res, name, sub, ns = "apps", "daemonsets", mm.group("name"), None, mm.group("ns")
        m = self.command
        if m in ("GET", "HEAD"):
            verb = "get" if name else ("watch" if self.query.get("watch") in ("1", "true") else "list")
        else:
            verb = {"POST": "create", "PUT": "update", "PATCH": "patch",
                    "DELETE": "delete" if name else "deletecollection"}.get(m, m.lower())
        return group, res, sub, name, ns, verb

    def _authorize(self, path):
        rules = self.server.rbac
        if rules is None:
            return
        attrs = self._request_attrs(path)
        if attrs is None:
            return  # discovery, health, SelfSubjectAccessReview: every authenticated user
        group, res, sub, name, ns, verb = attrs
        if not rbac_allowed(rules, group, res, sub, verb, name):
            self._logentry["forbidden"] = True
            raise forbidden(verb, group, res, sub, name, ns)

    def _ssar(self, raw):
        obj = self._json_body(raw)
        ra = ((obj or {}).get("spec") or {}).get("resourceAttributes") if isinstance(obj, dict) else None
        if not isinstance(ra, dict):
            raise ApiError(422, "Invalid", "SelfSubjectAccessReview.authorization.k8s.io \"\" is invalid: "
                                           "[spec.resourceAttributes: Invalid value: \"null\": exactly one of "
                                           "nonResourceAttributes or resourceAttributes must be specified]")
        allowed = rbac_allowed(self.server.rbac, ra.get("group", ""), ra.get("resource", ""),
                               ra.get("subresource", ""), ra.get("verb", ""), ra.get("name"))
        status = {"allowed": allowed}
        if allowed and self.server.rbac is not None:
            status["reason"] = 'RBAC: allowed by ClusterRoleBinding "istio-cni-repair-rolebinding"'
        out = {"kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
               "metadata": {"creationTimestamp": None}, "spec": obj.get("spec"), "status": status}
        return self._send_json(201, out)

    # -- routing --
    def _route(self, path, raw):
        m, cmd = self.command, self.command
        if path in ("/version", "/version/") and m in ("GET", "HEAD"):
            return self._send_json(200, SERVER_VERSION)
        if path in ("/healthz", "/readyz", "/livez"):
            body = b"ok"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            self._logentry["code"] = 200
            return
        if path == "/api" and m == "GET":
            host = "127.0.0.1:%d" % self.server.server_address[1]
            return self._send_json(200, {"kind": "APIVersions", "versions": ["v1"],
                                         "serverAddressByClientCIDRs": [
                                             {"clientCIDR": "0.0.0.0/0", "serverAddress": host}]})
        if path == "/apis" and m == "GET":
            gv = {"groupVersion": "apps/v1", "version": "v1"}
            return self._send_json(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": "apps", "versions": [gv], "preferredVersion": gv}]})
        if path == "/apis/apps/v1" and m == "GET":
            return self._send_json(200, {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "apps/v1",
                                         "resources": [{"name": "daemonsets", "singularName": "daemonset",
                                                        "namespaced": True, "kind": "DaemonSet",
                                                        "verbs": ["create", "delete", "deletecollection", "get",
                                                                  "list", "patch", "update", "watch"],
                                                        "shortNames": ["ds"], "categories": ["all"]}]})
        if path == "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews" and m == "POST":
            return self._ssar(raw)
        mm = re.match(r"^/apis/apps/v1/namespaces/(?P<ns>[^/]+)/daemonsets(?:/(?P<name>[^/]+))?$", path)
        if mm:
            return self._daemonsets(mm.group("ns"), mm.group("name"), raw)
        if path == "/api/v1" and m == "GET":
            return self._send_json(200, self._resource_list())
        if path.startswith("/openapi/"):
            # kubectl tolerates a missing OpenAPI document for get/label/annotate/patch/delete.
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        mm = re.match(r"^/api/v1/namespaces(?:/(?P<ns>[^/]+))?$", path)
        if mm and m == "GET":
            return self._namespaces(mm.group("ns"))
        mm = re.match(r"^/api/v1/nodes(?:/(?P<name>[^/]+))?$", path)
        if mm and m == "GET":
            return self._nodes(mm.group("name"))
        mm = PATH_RE.match(path)
        if not mm:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        ns, res, name, sub = mm.group("ns"), mm.group("res"), mm.group("name"), mm.group("sub")
        if name is None:
            if cmd == "GET":
                if self.query.get("watch") in ("1", "true"):
                    return self._watch(res, ns)
                return self._list(res, ns)
            if cmd == "POST":
                if ns is None:
                    raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on "
                                                            "the requested resource")
                obj = self._json_body(raw)
                if not isinstance(obj, dict):
                    raise bad_request("Object 'Kind' is missing in request body")
                if self.query.get("dryRun"):
                    return self._send_json(201, self.server.store._fill_new(res, obj, ns))
                return self._send_json(201, self.server.store.create(res, obj, ns))
            raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the "
                                                    "requested resource")
        if ns is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if cmd == "GET":
            obj = self.server.store.get(res, ns, name)
            return self._send_obj(res, obj)
        if cmd == "PATCH":
            return self._patch(res, ns, name, raw)
        if cmd == "PUT":
            obj = self._json_body(raw)
            if not isinstance(obj, dict):
                raise bad_request("Object 'Kind' is missing in request body")
            store = self.server.store
            out = store.update(res, ns, name, lambda old: obj,
                               check_rv=obj.get("metadata", {}).get("resourceVersion") or None)
            return self._send_json(200, out)
        if cmd == "DELETE" and sub is None:
            return self._delete(res, ns, name, raw)
        raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the "
                                                "requested resource")

    def _resource_list(self):
        def r(name, kind, namespaced, verbs, short=None, singular=""):
            d = {"name": name, "singularName": singular, "namespaced": namespaced, "kind": kind,
                 "verbs": verbs}
            if short:
                d["shortNames"] = short
            return d
        return {"kind": "APIResourceList", "groupVersion": "v1", "resources": [
            r("events", "Event", True, ["create", "delete", "deletecollection", "get", "list", "patch",
                                        "update", "watch"], ["ev"], "event"),
            r("namespaces", "Namespace", False, ["create", "delete", "get", "list", "patch", "update",
                                                 "watch"], ["ns"], "namespace"),
            r("nodes", "Node", False, ["create", "delete", "deletecollection", "get", "list", "patch",
                                       "update", "watch"], ["no"], "node"),
            dict(r("pods", "Pod", True, POD_VERBS, ["po"], "pod"), categories=["all"]),
            r("pods/status", "Pod", True, ["get", "patch", "update"]),
        ]}

    def _namespaces(self, name):
        store = self.server.store
        with store.lock:
            names = sorted(store.namespaces)
        def obj(n):
            return {"kind": "Namespace", "apiVersion": "v1",
                    "metadata": {"name": n, "uid": str(uuid.uuid5(uuid.NAMESPACE_DNS, "ns." + n)),
                                 "resourceVersion": "1", "creationTimestamp": "2026-01-01T00:00:00Z",
                                 "labels": {"kubernetes.io/metadata.name": n}},
                    "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}}
        if name:
            if name not in names:
                raise not_found("namespaces", name)
            return self._send_json(200, obj(name))
        items = [obj(n) for n in names]
        for i in items:
            del i["kind"], i["apiVersion"]
        return self._send_json(200, {"kind": "NamespaceList", "apiVersion": "v1",
                                     "metadata": {"resourceVersion": str(store.rv)}, "items": items})

    def _daemonsets(self, ns, name, raw):
        store, m = self.server.store, self.command
        if name is None:
            if m == "GET":
                with store.lock:
                    items = [copy.deepcopy(o) for (n, _), o in sorted(store.objs["daemonsets"].items()) if n == ns]
                for i in items:
                    del i["kind"], i["apiVersion"]
                return self._send_json(200, {"kind": "DaemonSetList", "apiVersion": "apps/v1",
                                             "metadata": {"resourceVersion": str(store.rv)}, "items": items})
            if m == "POST":
                obj = self._json_body(raw)
                if not isinstance(obj, dict):
                    raise bad_request("Object 'Kind' is missing in request body")
                return self._send_json(201, store.create("daemonsets", obj, ns))
        elif m == "GET":
            return self._send_obj("daemonsets", store.get("daemonsets", ns, name))
        elif m == "DELETE":
            return self._send_json(200, store.delete("daemonsets", ns, name))
        elif m == "PATCH":
            return self._patch("daemonsets", ns, name, raw)
        raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")

    def _nodes(self, name):
        store = self.server.store
        with store.lock:
            stored = {k[1]: copy.deepcopy(o) for k, o in store.objs["nodes"].items()}
            names = sorted(({p.get("spec", {}).get("nodeName") for p in store.objs["pods"].values()} |
                            set(stored)) - {None, ""})
        def obj(n):
            if n in stored:  # created through /__admin/nodes (labels under the test's control)
                return stored[n]
            return {"kind": "Node", "apiVersion": "v1",
                    "metadata": {"name": n, "uid": str(uuid.uuid5(uuid.NAMESPACE_DNS, "node." + n)),
                                 "resourceVersion": "1", "creationTimestamp": "2026-01-01T00:00:00Z",
                                 "labels": {"kubernetes.io/hostname": n, "kubernetes.io/os": "linux"}},
                    "spec": {}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}}
        if name:
            if name not in names:
                raise not_found("nodes", name)
            return self._send_json(200, obj(name))
        items = [obj(n) for n in names]
        for i in items:
            del i["kind"], i["apiVersion"]
        return self._send_json(200, {"kind": "NodeList", "apiVersion": "v1",
                                     "metadata": {"resourceVersion": str(store.rv)}, "items": items})

    def _want_table(self):
        """Content negotiation like the apiserver: Table if asked for; else JSON if acceptable."""
        accept = self.headers.get("Accept", "") or "*/*"
        json_ok = False
        for part in accept.split(","):
            params = [p.strip() for p in part.split(";")]
            mt, kv = params[0].lower(), dict(p.split("=", 1) for p in params[1:] if "=" in p)
            if mt in ("application/json", "application/*", "*/*"):
                if kv.get("as") == "Table" and kv.get("g") == "meta.k8s.io" and \
                        kv.get("v") in ("v1", "v1beta1"):
                    return kv["v"]
                if "as" not in kv:
                    json_ok = True
        if not json_ok:
            raise ApiError(406, "NotAcceptable",
                           "only the following media types are accepted: application/json, "
                           "application/yaml, application/vnd.kubernetes.protobuf")
        return None

    def _send_obj(self, res, obj):
        tv = self._want_table()
        if tv:
            inc = self.query.get("includeObject", "PartialObjectMetadata")
            return self._send_json(200, {"kind": "Table", "apiVersion": "meta.k8s.io/" + tv,
                                         "metadata": {"resourceVersion": obj["metadata"]["resourceVersion"]},
                                         "columnDefinitions": table_columns(res),
                                         "rows": [table_row(res, obj, inc)]})
        return self._send_json(200, obj)

    def _selectors(self, res, ns):
        fields = POD_FIELDS if res == "pods" else GENERIC_FIELDS
        freqs = parse_field_selector(self.query.get("fieldSelector", ""), fields)
        lreqs = parse_label_selector(self.query.get("labelSelector", ""))
        def ok(obj):
            if ns is not None and obj["metadata"].get("namespace") != ns:
                return False
            return match_fields(obj, freqs, fields) and match_labels(obj, lreqs)
        return ok

    def _list(self, res, ns):
        store = self.server.store
        ok = self._selectors(res, ns)
        table = self._want_table()
        try:
            limit = int(self.query.get("limit") or 0)
        except ValueError:
            raise bad_request("invalid limit")
        cont = self.query.get("continue")
        with store.lock:
            if cont:
                try:
                    tok = json.loads(base64.b64decode(cont + "=" * (-len(cont) % 4)))
                    at_rv, start = int(tok["rv"]), tok["start"]
                except (ValueError, KeyError, TypeError):
                    raise bad_request("continue key is not valid: incorrect encoded start "
                                      "resourceVersion (version meta.k8s.io/v1)")
                snap = store.snapshot(res, at_rv)
                if snap is None:
                    raise ApiError(410, "Expired",
                                   "The provided continue parameter is too old to display a consistent "
                                   "list result. You can start a new list without the continue parameter, "
                                   "or use the continue token in this response to retrieve the remainder "
                                   "of the results. Continuing with the provided token results in an "
                                   "inconsistent list - objects that were created, modified, or deleted "
                                   "between the time the first chunk was returned and now may show up in "
                                   "the list.")
            else:
                at_rv, start, snap = store.rv, "", dict(store.objs[res])
            keys = sorted(k for k in snap if "%s/%s" % k >= start)
            items, next_key = [], None
            for k in keys:
                o = snap[k]
                if not ok(o):
                    continue
                if limit and len(items) >= limit:
                    next_key = "%s/%s" % k
                    break
                items.append(copy.deepcopy(o))
        md = {"resourceVersion": str(at_rv)}
        if next_key is not None:
            md["continue"] = base64.b64encode(json.dumps(
                {"v": "meta.k8s.io/v1", "rv": at_rv, "start": next_key}).encode()).decode().rstrip("=")
            md["remainingItemCount"] = sum(1 for k in keys if "%s/%s" % k >= next_key and ok(snap[k]))
        if table:
            inc = self.query.get("includeObject", "PartialObjectMetadata")
            return self._send_json(200, {"kind": "Table", "apiVersion": "meta.k8s.io/" + table,
                                         "metadata": md, "columnDefinitions": table_columns(res),
                                         "rows": [table_row(res, o, inc) for o in items]})
        for o in items:  # list items carry no TypeMeta, as with the real server
            o.pop("kind", None)
            o.pop("apiVersion", None)
        kind = "PodList" if res == "pods" else "EventList"
        return self._send_json(200, {"kind": kind, "apiVersion": "v1", "metadata": md, "items": items})

    def _chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _watch(self, res, ns):
        store, args = self.server.store, self.server.args
        ok = self._selectors(res, ns)
        table = self._want_table()
        inc = self.query.get("includeObject", "PartialObjectMetadata")
        bookmarks = self.query.get("allowWatchBookmarks") in ("1", "true")
        try:
            timeout = float(self.query.get("timeoutSeconds") or args.watch_timeout)
        except ValueError:
            raise bad_request("invalid timeoutSeconds")
        rv_param = self.query.get("resourceVersion", "")
        deadline = time.monotonic() + timeout
        first_table = [True]
        kind = "Pod" if res == "pods" else "Event"

        def encode(etype, obj):
            if table and etype in ("ADDED", "MODIFIED", "DELETED"):
                t = {"kind": "Table", "apiVersion": "meta.k8s.io/" + table,
                     "metadata": {"resourceVersion": obj["metadata"]["resourceVersion"]},
                     "rows": [table_row(res, obj, inc)]}
                if first_table[0]:  # like the apiserver: column definitions only in the first event
                    t["columnDefinitions"] = table_columns(res)
                    first_table[0] = False
                obj = t
            return json.dumps({"type": etype, "object": obj}, separators=(",", ":")).encode() + b"\n"

        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "no-cache, private")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self._logentry["code"] = 200
        self.close_connection = True
        try:
            with store.lock:
                pending = []
                if rv_param in ("", "0"):
                    # Get State and Start at Most Recent / Start at Any: synthetic ADDED events.
                    last = store.rv
                    for k in sorted(store.objs[res]):
                        o = store.objs[res][k]
                        if ok(o):
                            pending.append(encode("ADDED", copy.deepcopy(o)))
                else:
                    try:
                        last = int(rv_param)
                    except ValueError:
                        raise bad_request("invalid resource version: %s" % rv_param)
                    if last < store.oldest_rv():
                        st = ApiError(410, "Expired", "too old resource version: %d (%d)"
                                      % (last, store.oldest_rv())).status()
                        pending.append(json.dumps({"type": "ERROR", "object": st},
                                                  separators=(",", ":")).encode() + b"\n")
                        last = None
            for data in pending:
                self._chunk(data)
            if last is None:
                self.wfile.write(b"0\r\n\r\n")
                return
            next_bookmark = time.monotonic() + args.bookmark_interval
            with store.lock:
                gen = store.watch_gen
            while not self.server.stopping.is_set():
                out = []
                with store.lock:
                    if gen != store.watch_gen:
                        # as when the watch cache drops a lagging watcher after a compaction
                        st = ApiError(410, "Expired", "too old resource version: %d (%d)"
                                      % (last, store.rv)).status()
                        out.append(json.dumps({"type": "ERROR", "object": st}).encode() + b"\n")
                        last = None
                    elif last < store.oldest_rv():
                        st = ApiError(410, "Expired", "too old resource version: %d (%d)"
                                      % (last, store.oldest_rv())).status()
                        out.append(json.dumps({"type": "ERROR", "object": st}).encode() + b"\n")
                        last = None
                    else:
                        for (rv, etype, k, _key, obj, prev) in store.history:
                            if rv <= last or k != res:
                                continue
                            now_ok, was_ok = ok(obj), prev is not None and ok(prev)
                            # Selector transitions become ADDED/DELETED like the watch cache does.
                            if etype == "MODIFIED" and now_ok and not was_ok:
                                etype = "ADDED"
                            elif etype == "MODIFIED" and was_ok and not now_ok:
                                etype = "DELETED"
                            elif not now_ok and not (etype == "DELETED" and was_ok):
                                continue
                            out.append(encode(etype, copy.deepcopy(obj)))
                        last = max(last, store.rv)
                        if not out:
                            wait = min(deadline, next_bookmark if bookmarks else deadline) - time.monotonic()
                            if wait > 0:
                                store.lock.wait(min(wait, 0.5))
                for data in out:
                    self._chunk(data)
                if last is None:
                    break
                now = time.monotonic()
                if now >= deadline:
                    break
                if bookmarks and now >= next_bookmark:
                    with store.lock:
                        brv = store.rv
                    self._chunk(json.dumps({"type": "BOOKMARK", "object": {
                        "kind": kind, "apiVersion": "v1",
                        "metadata": {"resourceVersion": str(brv), "creationTimestamp": None},
                        "spec": {"containers": None} if res == "pods" else {}, "status": {}}},
                        separators=(",", ":")).encode() + b"\n")
                    next_bookmark = now + args.bookmark_interval
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (ConnectionError, ssl.SSLError, socket.timeout, OSError):
            self.close_connection = True

    def _patch(self, res, ns, name, raw):
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        body = self._json_body(raw)
        if body is None:
            raise bad_request("the body of the request was in an unknown format - accepted media "
                              "types include: application/json-patch+json, application/merge-patch+json, "
                              "application/apply-patch+yaml, application/strategic-merge-patch+json")
        if ctype == "application/merge-patch+json":
            fn = lambda old: merge_patch(old, body)
        elif ctype == "application/strategic-merge-patch+json":
            fn = lambda old: strategic_merge_patch(old, body)
        elif ctype == "application/json-patch+json":
            fn = lambda old: json_patch(old, body)
        else:
            raise ApiError(415, "UnsupportedMediaType",
                           "the body of the request was in an unknown format - accepted media types "
                           "include: application/json-patch+json, application/merge-patch+json, "
                           "application/apply-patch+yaml, application/strategic-merge-patch+json")

        def guarded(old):
            new = fn(old)
            if not isinstance(new, dict):
                raise bad_request("patch result is not an object")
            return new
        # A resourceVersion inside a merge/strategic patch is an optimistic-lock precondition.
        prv = body.get("metadata", {}).get("resourceVersion") if isinstance(body, dict) else None
        out = self.server.store.update(res, ns, name, guarded, check_rv=prv or "")
        return self._send_json(200, out)

    def _delete(self, res, ns, name, raw):
        opts = self._json_body(raw) or {}
        pre = opts.get("preconditions") or {}
        grace = self.query.get("gracePeriodSeconds", opts.get("gracePeriodSeconds"))
        if grace is not None:
            try:
                int(grace)
            except (ValueError, TypeError):
                raise bad_request("invalid gracePeriodSeconds")
        self._logentry["gracePeriodSeconds"] = grace
        gone = self.server.store.delete(res, ns, name, uid=pre.get("uid"), rv=pre.get("resourceVersion"))
        return self._send_json(200, gone)

    # -- admin --
    def _admin(self, path, raw):
        store, m = self.server.store, self.command
        body = self._json_body(raw) if raw else None
        if path == "/__admin/faults":
            if m == "GET":
                return self._send_json(200, self.server.faults.get())
            if m == "DELETE":
                self.server.faults.set([])
                return self._send_json(200, [])
            if m in ("POST", "PUT"):
                rules = body if isinstance(body, list) else ([body] if body else [])
                try:
                    self.server.faults.set(rules)
                except re.error as e:
                    raise bad_request("bad path_regex: %s" % e)
                return self._send_json(200, self.server.faults.get())
        if path == "/__admin/rbac":
            if m in ("POST", "PUT"):
                mode = (body or {}).get("mode")
                rules = (body or {}).get("rules")
                if rules is not None:
                    if mode is not None or not isinstance(rules, list) or \
                            not all(isinstance(r, dict) for r in rules):
                        raise bad_request("rules: want a list of PolicyRules, without mode")
                    self.server.rbac, self.server.rbac_mode = rules, "rules"
                    return self._send_json(200, {"mode": "rules", "rules": len(rules)})
                if mode is not None and mode not in RBAC_MODES:
                    raise bad_request("unknown rbac mode %r (want one of %s, or null)" % (mode, sorted(RBAC_MODES)))
                self.server.rbac = rbac_rules(mode)
                self.server.rbac_mode = mode
            return self._send_json(200, {"mode": self.server.rbac_mode})
        if path == "/__admin/requests":
            if m == "GET":
                return self._send_json(200, self.server.reqlog.get())
            if m == "DELETE":
                self.server.reqlog.clear()
                return self._send_json(200, [])
        if path == "/__admin/state" and m == "GET":
            with store.lock:
                return self._send_json(200, {"resourceVersion": store.rv, "oldestWatchRV": store.oldest_rv(),
                                             "historyLen": len(store.history),
                                             "pods": sorted(store.objs["pods"].values(),
                                                            key=lambda o: (o["metadata"]["namespace"],
                                                                           o["metadata"]["name"])),
                                             "events": list(store.objs["events"].values())})
        if path == "/__admin/expire-watches" and m == "POST":
            with store.lock:
                store.watch_gen += 1
                store.compacted_rv = store.rv
                store.history.clear()
                store.lock.notify_all()
            return self._send_json(200, {"resourceVersion": store.rv, "oldestWatchRV": store.oldest_rv()})
        if path == "/__admin/compact" and m == "POST":
            store.compact(int((body or {}).get("keep", 0)))
            return self._send_json(200, {"resourceVersion": store.rv, "oldestWatchRV": store.oldest_rv()})
        if path == "/__admin/pods" and m == "POST":
            objs = body.get("items") if isinstance(body, dict) and "items" in body else \
                (body if isinstance(body, list) else [body])
            out = [store.create("pods", o, None, replace_ok=True) for o in objs]
            return self._send_json(200, out[0] if len(out) == 1 else out)
        if path in ("/__admin/nodes", "/__admin/daemonsets") and m == "POST":
            kind = path.rsplit("/", 1)[1]
            objs = body if isinstance(body, list) else [body]
            out = [store.create(kind, o, None, replace_ok=True) for o in objs]
            return self._send_json(200, out[0] if len(out) == 1 else out)
        mm = re.match(r"^/__admin/daemonsets/([^/]+)/([^/]+)$", path)
        if mm and m == "DELETE":  # removes it for good (finalizers or not)
            with store.lock:
                store.objs["daemonsets"].pop(mm.groups(), None)
            return self._send_json(200, {})
        mm = re.match(r"^/__admin/pods/([^/]+)/([^/]+)$", path)
        if mm:
            ns, name = mm.groups()
            if m == "GET":
                return self._send_json(200, store.get("pods", ns, name))
            if m == "PATCH":
                return self._send_json(200, store.update("pods", ns, name,
                                                         lambda old: merge_patch(old, body or {}), ""))
            if m == "DELETE":
                return self._send_json(200, store.delete("pods", ns, name))
        raise ApiError(404, "NotFound", "unknown admin endpoint %s %s" % (m, path))


def load_pods(path):
    if os.path.isdir(path):
        out = []
        for f in sorted(os.listdir(path)):
            if f.endswith(".json"):
                out.extend(load_pods(os.path.join(path, f)))
        return out
    with open(path) as f:
        data = json.load(f)
    if isinstance(data, list):
        return data
    if isinstance(data, dict) and "items" in data:
        return data["items"]
    return [data]


def main():
    ap = argparse.ArgumentParser(description="Fake Kubernetes API server for cnibox tests")
    ap.add_argument("--port", type=int, required=True, help="TCP port on 127.0.0.1 (0 = pick a free one)")
    ap.add_argument("--tls-dir", required=True, help="dir with ca.crt, server.crt, server.key")
    ap.add_argument("--token", required=True, help="accepted bearer token")
    ap.add_argument("--state", help="JSON state file: loaded at start if present, rewritten on change")
    ap.add_argument("--pods", action="append", default=[], help="pod fixture: file (Pod, PodList, array) "
                                                                  "or dir of *.json; repeatable")
    ap.add_argument("--ready-file", help="written (with the port number) once listening")
    ap.add_argument("--history", type=int, default=1000, help="watch event history length")
    ap.add_argument("--bookmark-interval", type=float, default=5.0, help="seconds between BOOKMARKs")
    ap.add_argument("--watch-timeout", type=float, default=1800.0,
                    help="watch duration when the client sends no timeoutSeconds")
    ap.add_argument("--fault", action="append", default=[], help="startup fault rule as JSON; repeatable")
    ap.add_argument("--delay-ms", type=int, help="shortcut fault: delay every API answer")
    ap.add_argument("--fail-status", type=int, help="shortcut fault: answer every API call with this code")
    ap.add_argument("--drop", action="store_true", help="shortcut fault: drop every API connection")
    ap.add_argument("--malformed", action="store_true", help="shortcut fault: malformed JSON bodies")
    ap.add_argument("--parent-pid", type=int, help="exit when this process is gone (no leaked servers "
                                                     "when a test is killed before its trap runs)")
    ap.add_argument("--rbac", choices=sorted(RBAC_MODES),
                    help="enforce the istio-cni chart's RBAC for this repair mode (403 for any other verb); "
                         "default: allow every authenticated request")
    ap.add_argument("--verbose", "-v", action="store_true")
    args = ap.parse_args()

    store = Store(max(1, args.history), args.state)
    if args.state and os.path.exists(args.state):
        with open(args.state) as f:
            st = json.load(f)
        store.rv = int(st.get("resourceVersion", 1))
        store.compacted_rv = store.rv  # history is not persisted
        for p in st.get("pods", []):
            key = (p["metadata"]["namespace"], p["metadata"]["name"])
            store.objs["pods"][key] = p
            store.namespaces.add(key[0])
    for path in args.pods:
        for p in load_pods(path):
            store.create("pods", p, None, replace_ok=True)

    srv = Server(("127.0.0.1", args.port), Handler, args, store)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(os.path.join(args.tls_dir, "server.crt"), os.path.join(args.tls_dir, "server.key"))
    ctx.load_verify_locations(os.path.join(args.tls_dir, "ca.crt"))
    ctx.verify_mode = ssl.CERT_OPTIONAL  # client certs are one way to authenticate, not required
    ctx.set_alpn_protocols(["http/1.1"])
    # No TLS 1.3 session tickets: the clients (one process per CNI ADD) never resume, and each
    # ticket costs the server an encryption and a write per handshake.
    ctx.num_tickets = 0
    srv.ssl_ctx = ctx

    rules = [json.loads(f) for f in args.fault]
    shortcut = {}
    if args.delay_ms:
        shortcut["delay_ms"] = args.delay_ms
    if args.fail_status:
        shortcut["status"] = args.fail_status
    if args.drop:
        shortcut["drop"] = True
    if args.malformed:
        shortcut["malformed"] = True
    if shortcut:
        rules.append(shortcut)
    srv.faults.set(rules)

    def stop(_sig, _frm):
        srv.stopping.set()
        threading.Thread(target=srv.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    if args.parent_pid:
        def watchdog():
            while not srv.stopping.wait(0.5):
                try:
                    os.kill(args.parent_pid, 0)
                except ProcessLookupError:
                    stop(None, None)
                except PermissionError:
                    pass
        threading.Thread(target=watchdog, daemon=True).start()

    port = srv.server_address[1]
    if args.ready_file:
        tmp = args.ready_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.replace(tmp, args.ready_file)
    sys.stderr.write("fake-apiserver: listening on https://127.0.0.1:%d (rv %d, %d pods)\n"
                     % (port, store.rv, len(store.objs["pods"])))
    srv.serve_forever(poll_interval=0.2)
    srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
