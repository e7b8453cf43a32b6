#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""probe.py: timing helpers for bench/install-cni (runs inside the throwaway node).
  ready CMD...      start CMD, poll :8000/readyz every 1 ms; print ms to the first 200, leave it running
                    (its pid goes to /tmp/bench-agent.pid); fails (exit 1) if not ready in 10 s
  cpu PID SECONDS   CPU time (ms, from /proc/PID/schedstat, ns resolution) used over SECONDS
  rss PID           VmRSS and VmHWM in KiB"""
import http.client, os, subprocess, sys, time


def readyz():
    try:
        c = http.client.HTTPConnection("127.0.0.1", 8000, timeout=0.5)
        c.request("GET", "/readyz")
        return c.getresponse().status == 200
    except OSError:
        return False


def cpu_ns(pid):
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
            total += int(f.read().split()[0])
    return total


def main():
    if sys.argv[1] == "ready":
        t0 = time.monotonic()
        p = subprocess.Popen(sys.argv[2:], stdout=open("/tmp/bench-agent.log", "a"), stderr=subprocess.STDOUT)
        open("/tmp/bench-agent.pid", "w").write(str(p.pid))
        while time.monotonic() - t0 < 10:
            if p.poll() is not None:
                sys.exit("agent exited with %d" % p.returncode)
            if readyz():
                print("%.3f" % ((time.monotonic() - t0) * 1000))
                return
            time.sleep(0.001)
        sys.exit("not ready within 10 s")
    if sys.argv[1] == "cpu":
        pid, secs = int(sys.argv[2]), float(sys.argv[3])
        c0 = cpu_ns(pid)
        time.sleep(secs)
        print("%.3f" % ((cpu_ns(pid) - c0) / 1e6))
        return
    if sys.argv[1] == "rss":
        st = dict(l.split(":", 1) for l in open("/proc/%s/status" % sys.argv[2]))
        print(st["VmRSS"].split()[0], st["VmHWM"].split()[0])


if __name__ == "__main__":
    main()
