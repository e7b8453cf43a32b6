#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""rival.py: a competing CNI agent that keeps rewriting a conflist without the istio-cni entry.

Every PERIOD seconds, COUNT times, it writes the primary config without our entry: even rewrites by
atomic rename, odd ones by truncate-and-write in place (what careless agents do). It measures, for
each rewrite, how long until the file holds istio-cni again (the restore latency), and runs READS
concurrent reads across the fight: a read that sees istio-cni must see a whole, valid file (the
agent writes only by rename); torn reads without our entry are the rival's own and only counted.
Prints a JSON summary on stdout. Bounded: it stops by itself after COUNT rewrites + 5 s."""
import argparse, json, os, random, statistics, sys, threading, time


def has_istio(text):
    try:
        d = json.loads(text)
    except ValueError:
        return None  # not valid JSON
    types = [p.get("type") for p in d.get("plugins", [])] if isinstance(d, dict) else []
    return types.count("istio-cni") == 1 and types[-1] == "istio-cni"


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--period", type=float, default=0.2)
    ap.add_argument("--reads", type=int, default=1000)
    ap.add_argument("--readers", type=int, default=4)
    a = ap.parse_args()

    orig = json.loads(read(a.file))
    orig["plugins"] = [p for p in orig["plugins"] if p.get("type") != "istio-cni"]
    clean = json.dumps(orig, indent=2) + "\n"
    stop = threading.Event()
    lock = threading.Lock()
    latencies, unrestored = [], [0]
    reads = {"total": 0, "with_istio": 0, "torn_ours": 0, "torn_rival": 0}
    pending = {"t": None}  # time of the last rewrite not yet seen restored

    def monitor():
        while not stop.is_set():
            t = pending["t"]
            if t is not None and "istio-cni" in read(a.file):
                with lock:
                    if pending["t"] == t:
                        latencies.append(time.monotonic() - t)
                        pending["t"] = None
            time.sleep(0.001)

    def reader(n):
        span = a.count * a.period
        for _ in range(n):
            time.sleep(random.uniform(0, 2 * span / max(n, 1)))
            text = read(a.file)
            ok = has_istio(text)
            with lock:
                reads["total"] += 1
                if "istio-cni" in text:
                    reads["with_istio"] += 1
                    if not ok:
                        reads["torn_ours"] += 1
                elif ok is None:
                    reads["torn_rival"] += 1

    threads = [threading.Thread(target=monitor)]
    per = a.reads // a.readers
    threads += [threading.Thread(target=reader, args=(per + (1 if i < a.reads % a.readers else 0),))
                for i in range(a.readers)]
    for t in threads:
        t.start()
    t0 = time.monotonic()
    for i in range(a.count):
        target = t0 + i * a.period
        time.sleep(max(0, target - time.monotonic()))
        with lock:
            if pending["t"] is not None:
                unrestored[0] += 1  # overwritten before the agent restored it
            pending["t"] = None
        if i % 2 == 0:
            tmp = a.file + ".rival"
            with open(tmp, "w") as f:
                f.write(clean)
            os.rename(tmp, a.file)
        else:
            with open(a.file, "r+") as f:
                f.truncate(0)
                f.write(clean)
        with lock:
            pending["t"] = time.monotonic()
    end = time.monotonic()
    final = None
    while time.monotonic() - end < 5:
        if has_istio(read(a.file)):
            final = time.monotonic() - end
            break
        time.sleep(0.005)
    for t in threads[1:]:
        t.join()
    stop.set()
    threads[0].join()
    lat = sorted(latencies)
    q = (lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000) if lat else (lambda p: None)
    json.dump({"rewrites": a.count, "restored": len(lat), "overwritten_before_restore": unrestored[0],
               "p50_ms": q(0.50), "p99_ms": q(0.99), "max_ms": lat[-1] * 1000 if lat else None,
               "mean_ms": statistics.mean(lat) * 1000 if lat else None,
               "final_restore_ms": None if final is None else final * 1000, "reads": reads}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
