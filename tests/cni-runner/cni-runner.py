#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# cni-runner.py: execute a CNI conflist the way a runtime does (CNI spec 1.1.0 "Execution of
# network configurations", spec istio-cni.md §7): ADD each plugin in order with the previous
# result as prevResult; CHECK in order with the cached final result; DEL in reverse order with it.
# The final ADD result is cached in --cache (like libcni's result cache) for CHECK/DEL.
# Exit 0 on success; on a plugin error the error JSON is printed on stdout and the exit is 1.
import argparse, json, os, subprocess, sys

def run_plugin(path_dirs, conf, command, env_base, timeout):
    ptype = conf["type"]
    exe = None
    for d in path_dirs:
        cand = os.path.join(d, ptype)
        if os.access(cand, os.X_OK):
            exe = cand
            break
    if exe is None:
        return None, {"code": 999, "msg": "failed to find plugin %r in path %s" % (ptype, path_dirs)}
    env = dict(env_base)
    env["CNI_COMMAND"] = command
    p = subprocess.run([exe], input=json.dumps(conf).encode(), env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    out = p.stdout.decode()
    if p.returncode != 0:
        try:
            err = json.loads(out)
        except ValueError:
            err = {"code": 999, "msg": "plugin %s failed (exit %d) with non-JSON output %r" % (ptype, p.returncode, out)}
        err["plugin"] = ptype
        err["stderr"] = p.stderr.decode()[-2000:]
        return None, err
    if command != "ADD":
        if out.strip():
            return None, {"code": 999, "msg": "plugin %s printed output on %s: %r" % (ptype, command, out)}
        return None, None
    try:
        res = json.loads(out)
    except ValueError:
        return None, {"code": 999, "msg": "plugin %s printed invalid JSON on ADD: %r" % (ptype, out)}
    return res, None

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("command", choices=["add", "check", "del"])
    ap.add_argument("--conflist", required=True)
    ap.add_argument("--cni-path", required=True, help="colon-separated plugin dirs")
    ap.add_argument("--netns", default="")
    ap.add_argument("--container-id", required=True)
    ap.add_argument("--ifname", default="eth0")
    ap.add_argument("--args", default="")
    ap.add_argument("--cache", required=True)
    ap.add_argument("--timeout", type=float, default=60)
    a = ap.parse_args()

    with open(a.conflist) as f:
        cl = json.load(f)
    version = cl.get("cniVersion", "0.1.0")
    plugins = cl["plugins"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CNI_")}
    env.update({"CNI_CONTAINERID": a.container_id, "CNI_NETNS": a.netns, "CNI_IFNAME": a.ifname,
                "CNI_ARGS": a.args, "CNI_PATH": a.cni_path})

    def conf_for(p, prev):
        c = {k: v for k, v in p.items() if k != "capabilities"}
        c["cniVersion"] = version
        c["name"] = cl["name"]
        if prev is not None:
            c["prevResult"] = prev
        return c

    dirs = a.cni_path.split(":")
    if a.command == "add":
        prev = None
        for p in plugins:
            res, err = run_plugin(dirs, conf_for(p, prev), "ADD", env, a.timeout)
            if err:
                print(json.dumps(err))
                return 1
            if res.get("cniVersion") != version:
                print(json.dumps({"code": 999, "msg": "plugin %s answered version %r, list is %r" % (p["type"], res.get("cniVersion"), version)}))
                return 1
            prev = res
        with open(a.cache, "w") as f:
            json.dump(prev, f)
        print(json.dumps(prev, indent=2))
        return 0
    cached = None
    if os.path.exists(a.cache):
        with open(a.cache) as f:
            cached = json.load(f)
    if a.command == "check":
        if cached is None:
            print(json.dumps({"code": 999, "msg": "CHECK without a cached ADD result"}))
            return 1
        for p in plugins:
            _, err = run_plugin(dirs, conf_for(p, cached), "CHECK", env, a.timeout)
            if err:
                print(json.dumps(err))
                return 1
        return 0
    # DEL: reverse order; prevResult only from 0.4.0 on (spec), and only when cached.
    with_prev = cached is not None and version not in ("0.1.0", "0.2.0", "0.3.0", "0.3.1")
    for p in reversed(plugins):
        _, err = run_plugin(dirs, conf_for(p, cached if with_prev else None), "DEL", env, a.timeout)
        if err:
            print(json.dumps(err))
            return 1
    if os.path.exists(a.cache):
        os.unlink(a.cache)
    return 0

if __name__ == "__main__":
    sys.exit(main())
