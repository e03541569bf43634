#!/usr/bin/env python3
"""Bounded abuse measurements against a watchparty binary on loopback (issue 11).

usage: tools/abuse-figures.py BINARY [--redis URL] [--only joins|slowloris|creates]

Starts BINARY on a free 127.0.0.1 port from /tmp (no Leptos.toml; the in-memory store, or the
Redis at URL with --redis: only keys of the sessions it creates are written, nothing is flushed)
and prints, in this order (about 80 s in all; --only runs one part):
- joins: join time (TCP connect + WebSocket upgrade + the `hello` frame) of one honest viewer
  joining an existing session over and over, idle and while 2,000 upgrades to random session
  ids run from another process (64 at a time, as fast as the server answers them), in
  several rounds; p50/p99/max over every join that started during a flood;
- slowloris: /healthz latency under 300 slowloris sockets;
- creates: RSS after a 3,000-request create flood.
Python 3 standard library only.
"""
import argparse, asyncio, base64, math, multiprocessing, os, random, socket, statistics, string
import subprocess, sys, time, urllib.error, urllib.request

ALPHABET = string.ascii_letters + string.digits
FLOOD_UPGRADES = 2000
FLOOD_CONCURRENCY = 64
ROUNDS = 5
IDLE_JOINS = 300


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

def pct(sorted_ms, p):
    """The p-th percentile (nearest rank) of an ascending list."""
    if not sorted_ms:
        return float("nan")
    k = max(0, min(len(sorted_ms) - 1, math.ceil(p / 100 * len(sorted_ms)) - 1))
    return sorted_ms[k]

def summary(ms):
    ms = sorted(ms)
    return (f"n={len(ms)} p50 {statistics.median(ms):.2f} ms, p99 {pct(ms, 99):.2f} ms, "
            f"max {ms[-1]:.2f} ms")


# --- WebSocket by hand (standard library only) -------------------------------------------------

def upgrade_request(port, session_id):
    key = base64.b64encode(os.urandom(16)).decode()
    return (f"GET /ws/{session_id} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()

def read_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    return buf

def join_once(port, session_id):
    """One honest join: connect, upgrade, read the first frame (`hello`). Returns ms."""
    t = time.perf_counter()
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(upgrade_request(port, session_id))
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = s.recv(4096)
            if not chunk:
                raise ConnectionError("closed during the handshake")
            head += chunk
        status = head.split(b"\r\n", 1)[0]
        if b" 101 " not in status:
            raise RuntimeError(f"join refused: {status!r}")
        rest = head.split(b"\r\n\r\n", 1)[1]
        hdr = rest[:2] if len(rest) >= 2 else rest + read_exact(s, 2 - len(rest))
        rest = rest[2:]
        n = hdr[1] & 0x7F
        ext = {126: 2, 127: 8}.get(n, 0)
        if ext:
            while len(rest) < ext:
                rest += read_exact(s, ext - len(rest))
            n = int.from_bytes(rest[:ext], "big"); rest = rest[ext:]
        while len(rest) < n:
            rest += read_exact(s, n - len(rest))
        if b'"hello"' not in rest[:n]:
            raise RuntimeError(f"first frame is not hello: {rest[:80]!r}")
        ms = (time.perf_counter() - t) * 1000
        s.sendall(masked(0x8, (1000).to_bytes(2, "big")))  # close (1000), then leave
        return ms
    finally:
        s.close()

async def random_upgrade(port, counts):
    sid = "".join(random.choice(ALPHABET) for _ in range(12))
    try:
        r, w = await asyncio.open_connection("127.0.0.1", port)
        w.write(upgrade_request(port, sid))
        await w.drain()
        line = await r.readline()
        code = line.split()[1].decode() if len(line.split()) > 1 else "?"
        w.close()
    except OSError as e:
        code = type(e).__name__
    counts[code] = counts.get(code, 0) + 1

async def flood_async(port, n, concurrency):
    counts = {}
    sem = asyncio.Semaphore(concurrency)
    async def one():
        async with sem:
            await random_upgrade(port, counts)
    await asyncio.gather(*(one() for _ in range(n)))
    return counts

def flood_process(port, n, concurrency, started, out):
    started.set()
    t = time.perf_counter()
    counts = asyncio.run(flood_async(port, n, concurrency))
    out.put((time.perf_counter() - t, counts))


def create_session(port):
    """POST /api/create as the no-JS form does; the session id from the redirect."""
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a, **k):
            return None
    opener = urllib.request.build_opener(NoRedirect)
    req = urllib.request.Request(f"http://127.0.0.1:{port}/api/create", data=b"video=dQw4w9WgXcQ",
                                 headers={"content-type": "application/x-www-form-urlencoded",
                                          "accept": "text/html"})
    try:
        resp = opener.open(req, timeout=10)
        location = resp.headers.get("location")
    except urllib.error.HTTPError as e:
        location = e.headers.get("location")
    if not location or "/s/" not in location:
        raise RuntimeError(f"create did not redirect to a session: {location!r}")
    return location.rstrip("/").split("/")[-1]

def masked(opcode, payload):
    mask = os.urandom(4)
    return (bytes([0x80 | opcode, 0x80 | len(payload)]) + mask
            + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

def hold(port, session_id, stop):
    """A viewer that stays in the session (answers pings), so the room is live and every
    measured join finds its hub: joins measure the upgrade path, not a hub build."""
    s = socket.create_connection(("127.0.0.1", port), timeout=1)
    s.sendall(upgrade_request(port, session_id))
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(4096)
    if b" 101 " not in head.split(b"\r\n", 1)[0]:
        raise RuntimeError("the holding viewer was refused")
    buf = head.split(b"\r\n\r\n", 1)[1]
    while not stop.is_set():
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            continue
        if not chunk:
            raise RuntimeError("the holding viewer was disconnected")
        buf += chunk
        while len(buf) >= 2:
            n, off = buf[1] & 0x7F, 2
            if n == 126:
                if len(buf) < 4: break
                n, off = int.from_bytes(buf[2:4], "big"), 4
            elif n == 127:
                if len(buf) < 10: break
                n, off = int.from_bytes(buf[2:10], "big"), 10
            if len(buf) < off + n:
                break
            opcode, payload, buf = buf[0] & 0x0F, buf[off:off + n], buf[off + n:]
            if opcode == 0x9:
                s.sendall(masked(0xA, payload))
    s.close()

def joins(port, store):
    import threading
    sid = create_session(port)
    stop = threading.Event()
    holder = threading.Thread(target=hold, args=(port, sid, stop), daemon=True)
    holder.start()
    time.sleep(0.5)
    for _ in range(20):  # warm-up (the first join builds the session's hub)
        join_once(port, sid)
    idle = [join_once(port, sid) for _ in range(IDLE_JOINS)]
    during, floods = [], []
    for _ in range(ROUNDS):
        started, out = multiprocessing.Event(), multiprocessing.Queue()
        p = multiprocessing.Process(target=flood_process,
                                    args=(port, FLOOD_UPGRADES, FLOOD_CONCURRENCY, started, out))
        p.start()
        started.wait()
        while p.is_alive() and out.empty():
            during.append(join_once(port, sid))
        secs, counts = out.get()
        p.join()
        floods.append((secs, counts))
        time.sleep(1)
    stop.set()
    holder.join(timeout=5)
    print(f"joins ({store} store; one other viewer in the room), idle: {summary(idle)}")
    print(f"joins ({store} store) during {ROUNDS} x {FLOOD_UPGRADES} upgrades to random ids "
          f"({FLOOD_CONCURRENCY} concurrent): {summary(during)}")
    for i, (secs, counts) in enumerate(floods):
        print(f"  flood {i + 1}: {FLOOD_UPGRADES} upgrades in {secs:.2f} s "
              f"({FLOOD_UPGRADES / secs:.0f}/s) -> {counts}")


def slowloris(port):
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
            s.settimeout(0.01); s.recv(1)
        except socket.timeout:
            alive_at_end += 1
        except OSError:
            pass
    for s in socks: s.close()
    lat.sort()
    print(f"healthz idle: median {statistics.median(base):.2f} ms")
    print(f"healthz under 300 slowloris sockets (20 s, {len(lat)} requests): median {statistics.median(lat):.2f} ms, p99 {pct(lat, 99):.2f} ms, max {lat[-1]:.2f} ms; slowloris sockets still open after 20 s: {alive_at_end}")

def creates(port, pid):
    # Create flood: 3,000 POSTs from one address.
    rss0 = rss_kb(pid)
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
    print(f"create flood: 3000 POSTs in {dt:.1f} s -> {codes}; RSS {rss0} KB before, {rss_kb(pid)} KB after")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("binary")
    ap.add_argument("--redis", metavar="URL", help="use this Redis instead of the memory store")
    ap.add_argument("--only", choices=["joins", "slowloris", "creates"])
    args = ap.parse_args()
    port = free_port()
    env = dict(os.environ, WATCHPARTY_LISTEN=f"127.0.0.1:{port}", RUST_LOG="warn")
    for k in ("WATCHPARTY_CONFIG", "REDIS_URL", "WATCHPARTY_REDIS_URL"):
        env.pop(k, None)
    if args.redis:
        env["REDIS_URL"] = args.redis
    store = "redis" if args.redis else "memory"
    proc = subprocess.Popen([os.path.abspath(args.binary)], env=env, cwd="/tmp",
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                healthz_ms(port); break
            except Exception:
                time.sleep(0.1)
        if args.only in (None, "joins"):
            joins(port, store)
        if args.only in (None, "slowloris"):
            slowloris(port)
        if args.only in (None, "creates"):
            creates(port, proc.pid)
    finally:
        proc.terminate(); proc.wait(timeout=10)

if __name__ == "__main__":
    main()
