#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Stand-in sidecar proxy for demos and tests: listens on the capture ports and prints, for every
connection redirected to it, the peer and the original destination (SO_ORIGINAL_DST).
Usage: standin-proxy.py [--ports 15001,15006] [--count N] [--timeout S] [--ipv6]"""
import argparse
import select
import socket
import struct
import sys
import time

SO_ORIGINAL_DST = 80


def original_dst(conn, v6):
    if v6:
        raw = conn.getsockopt(socket.IPPROTO_IPV6, SO_ORIGINAL_DST, 28)
        port = struct.unpack("!H", raw[2:4])[0]
        return "[%s]:%d" % (socket.inet_ntop(socket.AF_INET6, raw[8:24]), port)
    raw = conn.getsockopt(socket.SOL_IP, SO_ORIGINAL_DST, 16)
    port = struct.unpack("!H", raw[2:4])[0]
    return "%s:%d" % (socket.inet_ntoa(raw[4:8]), port)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ports", default="15001,15006")
    ap.add_argument("--count", type=int, default=0, help="exit after N connections (0 = never)")
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--ipv6", action="store_true")
    a = ap.parse_args()
    fam = socket.AF_INET6 if a.ipv6 else socket.AF_INET
    names = {15001: "outbound", 15006: "inbound", 15053: "dns"}
    socks = {}
    for p in [int(x) for x in a.ports.split(",")]:
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("::" if a.ipv6 else "0.0.0.0", p))
        s.listen(16)
        socks[s.fileno()] = (s, p)
    print("stand-in proxy listening on %s" % a.ports, flush=True)
    seen, deadline = 0, time.monotonic() + a.timeout
    while time.monotonic() < deadline and (a.count == 0 or seen < a.count):
        ready, _, _ = select.select([s for s, _ in socks.values()], [], [], max(0.0, deadline - time.monotonic()))
        for s in ready:
            conn, peer = s.accept()
            port = socks[s.fileno()][1]
            print("%s capture on :%d  from %s  original destination %s" % (
                names.get(port, "capture"), port, "%s:%d" % peer[:2], original_dst(conn, a.ipv6)), flush=True)
            conn.sendall(b"hello from the stand-in proxy\n")
            conn.close()
            seen += 1
    return 0 if a.count == 0 or seen >= a.count else 1


if __name__ == "__main__":
    sys.exit(main())
