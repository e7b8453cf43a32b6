#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""api_test.py: protocol tests of the fake API server (watch semantics, patches, preconditions,
fault switches). Run by tests/e2e/apiserver/api.test.sh. Spec istio-cni.md §2.5, §5.2, §5.4."""

import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "..", "fixtures", "pods")
TOKEN = "api-test-token"
PP = "productpage-v1-6b746f74dc-9rlzx"
BROKEN = "ratings-v1-85c74b6cb4-brk9n"


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""


class Srv:
    def __init__(self, *extra):
        self.dir = tempfile.mkdtemp(prefix="cnibox-apitest.")
        subprocess.run([os.path.join(HERE, "gen-certs.sh"), self.dir + "/tls"], check=True, timeout=30)
        ready = self.dir + "/ready"
        self.log = open(self.dir + "/server.log", "w")
        self.proc = subprocess.Popen([sys.executable, os.path.join(HERE, "fake_apiserver.py"), "--port", "0",
                                      "--tls-dir", self.dir + "/tls", "--token", TOKEN, "--pods", FIX,
                                      "--ready-file", ready, *extra], stdout=self.log, stderr=self.log)
        for _ in range(100):
            if _read(ready).strip():
                break
            time.sleep(0.1)
        self.port = int(_read(ready))
        self.ctx = ssl.create_default_context(cafile=self.dir + "/tls/ca.crt")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def conn(self, timeout=10):
        return http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=timeout)

    def req(self, method, path, body=None, ctype="application/json", token=TOKEN, headers=None):
        c = self.conn()
        h = {"Accept": "application/json"}
        if token:
            h["Authorization"] = "Bearer " + token
        if body is not None:
            h["Content-Type"] = ctype
            body = body if isinstance(body, (bytes, str)) else json.dumps(body)
        h.update(headers or {})
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        c.close()
        try:
            return r.status, json.loads(data)
        except ValueError:
            return r.status, data

    def admin(self, method, path, body=None):
        return self.req(method, "/__admin/" + path, body, token=None)

    def watch(self, query, timeout=10):
        """Opens a watch; returns (conn, response) to read events with next_event()."""
        c = self.conn(timeout)
        c.request("GET", "/api/v1/pods?watch=1&" + query, headers={"Authorization": "Bearer " + TOKEN})
        r = c.getresponse()
        return c, r


def next_event(resp):
    line = resp.readline()
    return json.loads(line) if line else None


class ApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Srv("--bookmark-interval", "0.5", "--history", "50")

    @classmethod
    def tearDownClass(cls):
        cls.s.stop()

    def setUp(self):
        self.s.admin("DELETE", "faults")

    def test_get_and_notfound(self):
        code, pod = self.s.req("GET", "/api/v1/namespaces/default/pods/" + PP)
        self.assertEqual(code, 200)
        self.assertEqual(pod["kind"], "Pod")
        self.assertIn("sidecar.istio.io/status", pod["metadata"]["annotations"])
        code, st = self.s.req("GET", "/api/v1/namespaces/default/pods/nope")
        self.assertEqual((code, st["kind"], st["reason"], st["code"]), (404, "Status", "NotFound", 404))
        self.assertEqual(st["details"], {"name": "nope", "kind": "pods"})

    def test_auth(self):
        code, st = self.s.req("GET", "/api/v1/pods", token=None)
        self.assertEqual((code, st["reason"], st["status"], st["apiVersion"]), (401, "Unauthorized", "Failure", "v1"))
        code, _ = self.s.req("GET", "/api/v1/pods", token="bad")
        self.assertEqual(code, 401)
        ctx = ssl.create_default_context(cafile=self.s.dir + "/tls/ca.crt")
        ctx.load_cert_chain(self.s.dir + "/tls/client.crt", self.s.dir + "/tls/client.key")
        c = http.client.HTTPSConnection("127.0.0.1", self.s.port, context=ctx, timeout=10)
        c.request("GET", "/api/v1/namespaces/default/pods/" + PP)
        self.assertEqual(c.getresponse().status, 200)
        c.close()

    def test_list_selectors_and_protobuf_only(self):
        code, lst = self.s.req("GET", "/api/v1/pods?fieldSelector=spec.nodeName%3Dnode1,status.phase%3DPending")
        self.assertEqual([i["metadata"]["name"] for i in lst["items"]], [BROKEN])
        self.assertNotIn("kind", lst["items"][0])  # list items carry no TypeMeta
        code, lst = self.s.req("GET", "/api/v1/pods?fieldSelector=spec.nodeName%3D")
        self.assertEqual(lst["items"], [])  # the repair controller's empty-NodeName quirk (§5.2)
        code, _ = self.s.req("GET", "/api/v1/pods", headers={"Accept": "application/vnd.kubernetes.protobuf"})
        self.assertEqual(code, 406)
        code, lst = self.s.req("GET", "/api/v1/pods",
                               headers={"Accept": "application/vnd.kubernetes.protobuf,application/json"})
        self.assertEqual((code, lst["kind"]), (200, "PodList"))

    def test_pagination_is_consistent(self):
        code, p1 = self.s.req("GET", "/api/v1/pods?limit=2")
        self.assertIn("continue", p1["metadata"])
        self.assertEqual(p1["metadata"]["remainingItemCount"], len(self._all()) - 2)
        # A pod created after the first page must not appear in later pages (snapshot at that rv).
        self.s.admin("POST", "pods", {"metadata": {"name": "zz-late", "namespace": "zz"}})
        names = [i["metadata"]["name"] for i in p1["items"]]
        cont = p1["metadata"]["continue"]
        while cont:
            code, p = self.s.req("GET", "/api/v1/pods?limit=2&continue=" + cont)
            self.assertEqual(code, 200)
            self.assertEqual(p["metadata"]["resourceVersion"], p1["metadata"]["resourceVersion"])
            names += [i["metadata"]["name"] for i in p["items"]]
            cont = p["metadata"].get("continue")
        self.assertNotIn("zz-late", names)
        self.s.admin("DELETE", "pods/zz/zz-late")

    def _all(self):
        return self.s.req("GET", "/api/v1/pods")[1]["items"]

    def test_watch_semantics(self):
        code, lst = self.s.req("GET", "/api/v1/pods?fieldSelector=spec.nodeName%3Dnode1")
        rv = lst["metadata"]["resourceVersion"]
        c, r = self.s.watch("fieldSelector=spec.nodeName%3Dnode1&allowWatchBookmarks=true&resourceVersion=" + rv)
        self.assertEqual(r.getheader("Transfer-Encoding"), "chunked")
        self.s.admin("POST", "pods", {"metadata": {"name": "w1", "namespace": "default"},
                                      "spec": {"nodeName": "node1"}})
        self.s.admin("POST", "pods", {"metadata": {"name": "w2", "namespace": "default"},
                                      "spec": {"nodeName": "node2"}})  # filtered out
        self.s.admin("PATCH", "pods/default/w1", {"metadata": {"labels": {"a": "b"}}})
        self.s.admin("PATCH", "pods/default/w2", {"spec": {"nodeName": "node1"}})  # enters the selector
        self.s.admin("PATCH", "pods/default/w1", {"spec": {"nodeName": "node3"}})  # leaves it
        self.s.admin("DELETE", "pods/default/w2")
        got = []
        deadline = time.monotonic() + 5
        while len(got) < 5 and time.monotonic() < deadline:
            ev = next_event(r)
            if ev["type"] == "BOOKMARK":
                continue
            got.append((ev["type"], ev["object"]["metadata"]["name"]))
        self.assertEqual(got, [("ADDED", "w1"), ("MODIFIED", "w1"), ("ADDED", "w2"), ("DELETED", "w1"),
                               ("DELETED", "w2")])
        ev = next_event(r)  # nothing else happens: a bookmark arrives within the interval
        self.assertEqual(ev["type"], "BOOKMARK")
        self.assertEqual(ev["object"]["kind"], "Pod")
        self.assertTrue(int(ev["object"]["metadata"]["resourceVersion"]) >= int(rv) + 6)
        c.close()
        self.s.admin("DELETE", "pods/default/w1")

    def test_watch_rv0_synthetic_added_and_timeout(self):
        for rvq in ("resourceVersion=0&", ""):
            t0 = time.monotonic()
            c, r = self.s.watch(rvq + "fieldSelector=metadata.namespace%3Dkube-system&timeoutSeconds=1")
            ev = next_event(r)
            self.assertEqual((ev["type"], ev["object"]["metadata"]["name"]), ("ADDED", "coredns-7db6d8ff4d-4vq8m"))
            self.assertEqual(ev["object"]["kind"], "Pod")
            self.assertIsNone(next_event(r))  # stream ends at timeoutSeconds
            self.assertLess(time.monotonic() - t0, 4)
            c.close()

    def test_watch_410_after_history_overflow(self):
        rv = self.s.req("GET", "/api/v1/pods")[1]["metadata"]["resourceVersion"]
        for i in range(60):  # --history 50
            self.s.admin("PATCH", "pods/default/" + PP, {"metadata": {"annotations": {"n": str(i)}}})
        c, r = self.s.watch("resourceVersion=" + rv)
        ev = next_event(r)
        self.assertEqual(ev["type"], "ERROR")
        self.assertEqual((ev["object"]["code"], ev["object"]["reason"]), (410, "Expired"))
        self.assertTrue(ev["object"]["message"].startswith("too old resource version: %s (" % rv))
        self.assertIsNone(next_event(r))
        c.close()

    def test_patch_types(self):
        base = "/api/v1/namespaces/default/pods/" + PP
        code, p = self.s.req("PATCH", base, {"metadata": {"labels": {"m": "1", "app": None}}},
                             "application/merge-patch+json")
        self.assertEqual(code, 200)
        self.assertEqual(p["metadata"]["labels"]["m"], "1")
        self.assertNotIn("app", p["metadata"]["labels"])
        code, p2 = self.s.req("PATCH", base, {"spec": {"containers": [{"name": "istio-proxy", "image": "x"}]}},
                              "application/strategic-merge-patch+json")
        self.assertEqual([c["name"] for c in p2["spec"]["containers"]], ["productpage", "istio-proxy"])
        self.assertEqual(p2["spec"]["containers"][1]["image"], "x")
        self.assertEqual(p2["spec"]["containers"][1]["args"][0], "proxy")  # merged by name, not replaced
        code, p3 = self.s.req("PATCH", base, [{"op": "replace", "path": "/metadata/labels/m", "value": "2"},
                                              {"op": "add", "path": "/metadata/annotations/a~1b", "value": "c"}],
                              "application/json-patch+json")
        self.assertEqual((p3["metadata"]["labels"]["m"], p3["metadata"]["annotations"]["a/b"]), ("2", "c"))
        self.assertGreater(int(p3["metadata"]["resourceVersion"]), int(p["metadata"]["resourceVersion"]))
        code, st = self.s.req("PATCH", base, {"metadata": {"resourceVersion": "1", "labels": {"x": "y"}}},
                              "application/merge-patch+json")
        self.assertEqual((code, st["reason"]), (409, "Conflict"))
        code, _ = self.s.req("PATCH", base, {"a": 1}, "text/plain")
        self.assertEqual(code, 415)
        # The repair controller labels through the status subresource (§5.4).
        code, p4 = self.s.req("PATCH", base + "/status",
                              {"metadata": {"labels": {"cni.istio.io/uninitialized": "true"}}},
                              "application/merge-patch+json")
        self.assertEqual((code, p4["metadata"]["labels"]["cni.istio.io/uninitialized"]), (200, "true"))

    def test_create_and_delete_preconditions(self):
        pod = json.loads(_read(os.path.join(FIX, "broken-validation-126.json")))
        pod["metadata"] = {"name": "del-me", "labels": {"x": "1"}}
        code, created = self.s.req("POST", "/api/v1/namespaces/ns1/pods", pod)
        self.assertEqual((code, created["metadata"]["namespace"]), (201, "ns1"))
        code, st = self.s.req("POST", "/api/v1/namespaces/ns1/pods", pod)
        self.assertEqual((code, st["reason"]), (409, "AlreadyExists"))
        path = "/api/v1/namespaces/ns1/pods/del-me"
        code, st = self.s.req("DELETE", path, {"preconditions": {"uid": "other"}})
        self.assertEqual((code, st["reason"]), (409, "Conflict"))
        self.assertIn("Precondition failed: UID in precondition: other", st["message"])
        code, st = self.s.req("DELETE", path, {"preconditions": {"uid": created["metadata"]["uid"],
                                                                 "resourceVersion": "1"}})
        self.assertEqual(code, 409)
        code, gone = self.s.req("DELETE", path + "?gracePeriodSeconds=0",
                                {"preconditions": {"uid": created["metadata"]["uid"],
                                                   "resourceVersion": created["metadata"]["resourceVersion"]}})
        self.assertEqual((code, gone["metadata"]["name"]), (200, "del-me"))
        self.assertEqual(self.s.req("GET", path)[0], 404)
        log = self.s.admin("GET", "requests")[1]
        self.assertEqual([e for e in log if e["method"] == "DELETE"][-1]["query"]["gracePeriodSeconds"], "0")

    def test_faults(self):
        path = "/api/v1/namespaces/default/pods/" + PP
        self.s.admin("POST", "faults", {"status": 500, "count": 2, "path_regex": "/pods/productpage"})
        self.assertEqual(self.s.req("GET", path)[0], 500)
        self.assertEqual(self.s.req("GET", "/api/v1/namespaces/kube-system/pods/coredns-7db6d8ff4d-4vq8m")[0], 200)
        code, st = self.s.req("GET", path)
        self.assertEqual((code, st["reason"]), (500, "InternalError"))
        self.assertEqual(self.s.req("GET", path)[0], 200)  # count exhausted
        self.s.admin("POST", "faults", {"delay_ms": 400, "count": 1})
        t0 = time.monotonic()
        self.assertEqual(self.s.req("GET", path)[0], 200)
        self.assertGreaterEqual(time.monotonic() - t0, 0.4)
        self.s.admin("POST", "faults", {"drop": True, "count": 1})
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError, ssl.SSLError)):
            self.s.req("GET", path)
        self.s.admin("POST", "faults", {"malformed": True, "count": 1})
        code, body = self.s.req("GET", path)
        self.assertEqual(code, 200)
        self.assertIsInstance(body, bytes)  # not parseable JSON
        self.s.admin("POST", "faults", [{"status": 503, "method": "PATCH"}])
        self.assertEqual(self.s.req("GET", path)[0], 200)
        self.assertEqual(self.s.req("PATCH", path, {}, "application/merge-patch+json")[0], 503)
        rules = self.s.admin("GET", "faults")[1]
        self.assertEqual(rules[0]["hits"], 1)
        log = self.s.admin("GET", "requests")[1]
        last = log[-1]
        self.assertEqual((last["method"], last["path"], last["auth"]), ("PATCH", path, "bearer"))
        self.assertEqual(last["headers"]["Content-Type"], "application/merge-patch+json")
        self.assertEqual(last["fault"]["status"], 503)

    def test_discovery(self):
        code, rl = self.s.req("GET", "/api/v1")
        pods = [r for r in rl["resources"] if r["name"] == "pods"][0]
        self.assertTrue(pods["namespaced"])
        for v in ("get", "list", "watch", "patch", "delete", "update", "create"):
            self.assertIn(v, pods["verbs"])
        self.assertEqual(self.s.req("GET", "/version")[1]["major"], "1")
        self.assertEqual(self.s.req("GET", "/api/v1/namespaces/istio-system")[1]["kind"], "Namespace")


class StartupFaultTest(unittest.TestCase):
    def test_fail_status_flag(self):
        s = Srv("--fail-status", "503")
        try:
            code, st = s.req("GET", "/api/v1/pods")
            self.assertEqual((code, st["code"]), (503, 503))
            s.admin("DELETE", "faults")
            self.assertEqual(s.req("GET", "/api/v1/pods")[0], 200)
        finally:
            s.stop()

    def test_state_file_survives_restart(self):
        state = tempfile.mktemp(prefix="cnibox-apitest-state.", suffix=".json")
        try:
            s = Srv("--state", state)
            try:
                s.req("DELETE", "/api/v1/namespaces/default/pods/" + PP)
                rv = int(s.req("GET", "/api/v1/pods")[1]["metadata"]["resourceVersion"])
            finally:
                s.stop()
            s = Srv("--state", state)  # --pods re-adds the fixtures on top of the saved state
            try:
                lst = s.req("GET", "/api/v1/pods")[1]
                self.assertGreater(int(lst["metadata"]["resourceVersion"]), rv)
                c, r = s.watch("resourceVersion=%d" % (rv - 1))
                self.assertEqual(next_event(r)["object"]["code"], 410)  # history is not persisted
                c.close()
            finally:
                s.stop()
        finally:
            for f in (state, state + ".tmp"):
                if os.path.exists(f):
                    os.unlink(f)


if __name__ == "__main__":
    unittest.main(verbosity=2)
