#!/usr/bin/env python3
"""Bounded abuse measurements against a running watchparty on loopback (issue 11).

usage: tools/abuse-figures.py BINARY   (starts it on a free port, memory store, ~40 s in all)
Prints: /healthz latency under 300 slowloris sockets; RSS after a 3,000-request create flood.
"""
import os, socket, subprocess, sys, time, statistics, urllib.request

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def rss_kb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])

def healthz_ms(port):
    t = time.perf_counter()
    urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10).read()
    return (time.perf_counter() - t) * 1000

def main():
    binary = sys.argv[1]
    port = free_port()
    env = dict(os.environ, WATCHPARTY_LISTEN=f"127.0.0.1:{port}", RUST_LOG="warn")
    env.pop("WATCHPARTY_CONFIG", None); env.pop("REDIS_URL", None)
    proc = subprocess.Popen([binary], env=env, cwd="/tmp", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                healthz_ms(port); break
            except Exception:
                time.sleep(0.1)
        base = [healthz_ms(port) for _ in range(50)]
        # 300 slowloris sockets: one header byte every 2 s for 20 s.
        socks = []
        for _ in range(300):
            s = socket.create_connection(("127.0.0.1", port)); s.sendall(b"GET / HTTP/1.1\r\n"); socks.append(s)
        lat, alive_at_end, start = [], 0, time.time()
        while time.time() - start < 20:
            for s in socks:
                try: s.sendall(b"X")
                except OSError: pass
            for _ in range(10):
                lat.append(healthz_ms(port))
            time.sleep(2)
        for s in socks:
            try:
                s.settimeout(0.01); alive = s.recv(1) != b"" or True
            except socket.timeout:
                alive_at_end += 1
            except OSError:
                pass
        for s in socks: s.close()
        lat.sort()
        print(f"healthz idle: median {statistics.median(base):.2f} ms")
        print(f"healthz under 300 slowloris sockets (20 s, {len(lat)} requests): median {statistics.median(lat):.2f} ms, p99 {lat[int(len(lat)*0.99)-1]:.2f} ms, max {lat[-1]:.2f} ms; slowloris sockets still open after 20 s: {alive_at_end}")
        # Create flood: 3,000 POSTs from one address.
        rss0 = rss_kb(proc.pid)
        codes = {}
        t = time.perf_counter()
        for _ in range(3000):
            req = urllib.request.Request(f"http://127.0.0.1:{port}/api/create", data=b"video=dQw4w9WgXcQ",
                                         headers={"content-type": "application/x-www-form-urlencoded"})
            try:
                code = urllib.request.urlopen(req, timeout=10).status
            except urllib.error.HTTPError as e:
                code = e.code
            codes[code] = codes.get(code, 0) + 1
        dt = time.perf_counter() - t
        print(f"create flood: 3000 POSTs in {dt:.1f} s -> {codes}; RSS {rss0} KB before, {rss_kb(proc.pid)} KB after")
    finally:
        proc.terminate(); proc.wait(timeout=10)

main()
