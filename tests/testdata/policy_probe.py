"""Reachability-matrix helper for the policy lab tests, four modes:

  serve PORT... [--stream PORT]   TCP (answers "ok", then echoes until the client closes) and UDP
                                  (echo) on 0.0.0.0:PORT; with --stream, a datagram to that UDP
                                  port subscribes its sender to a "tick" every 50 ms for 60 s
  probe TIMEOUT TARGET...         probes each ADDR:PORT/tcp|udp once, in parallel: `TARGET yes|no`
  watch STOPFILE TIMEOUT TARGET... probes each target over and over (4 threads each) until
                                  STOPFILE exists (at most 120 s): `TARGET <successes> <attempts>`
  hold STOPFILE MARKFILE ADDR:TCP ADDR:UDP ADDR:STREAM
                                  holds one TCP connection and one UDP flow (a ping every 50 ms,
                                  its echo awaited 0.2 s) and one stream subscription open until
                                  STOPFILE exists (at most 120 s), and prints per kind what got
                                  through before and after MARKFILE appeared:
                                  `tcp|udp <echoes> <pings> <echoes> <pings>`, `stream <ticks> <ticks>`.
                                  A ping counts as after when MARKFILE existed before it was sent.

Every UDP socket is connected, so only the target's own answer counts.
"""
import os
import socket
import sys
import threading
import time


def serve(ports, stream_port):
    def conn(c):
        try:
            c.sendall(b"ok")
            while True:
                data = c.recv(2048)
                if not data:
                    break
                c.sendall(data)
        except OSError:
            pass
        finally:
            c.close()

    def tcp(port):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", port))
        s.listen(128)
        while True:
            c, _ = s.accept()
            threading.Thread(target=conn, args=(c,), daemon=True).start()

    def ticks(s, peer):
        end = time.time() + 60
        while time.time() < end:
            try:
                s.sendto(b"tick", peer)
            except OSError:
                pass
            time.sleep(0.05)

    def stream(port):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("0.0.0.0", port))
        while True:
            _, peer = s.recvfrom(2048)
            threading.Thread(target=ticks, args=(s, peer), daemon=True).start()

    def udp(port):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("0.0.0.0", port))
        while True:
            data, peer = s.recvfrom(2048)
            try:
                s.sendto(data, peer)
            except OSError:
                pass

    for p in ports:
        threading.Thread(target=tcp, args=(p,), daemon=True).start()
        threading.Thread(target=udp, args=(p,), daemon=True).start()
    if stream_port is not None:
        threading.Thread(target=stream, args=(stream_port,), daemon=True).start()
    print("ready", flush=True)
    threading.Event().wait()


def once(target, timeout):
    hostport, proto = target.split("/")
    host, port = hostport.rsplit(":", 1)
    try:
        if proto == "tcp":
            with socket.create_connection((host, int(port)), timeout=timeout) as s:
                return s.recv(2) == b"ok"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(timeout / 2)
            s.connect((host, int(port)))
            for _ in range(2):  # one retry: the first datagram may wait for ARP
                s.send(b"ping")
                try:
                    return s.recv(16) == b"ping"
                except socket.timeout:
                    pass
    except OSError:
        pass
    return False


def probe(timeout, targets):
    results = {}

    def run(t):
        results[t] = once(t, timeout)

    threads = [threading.Thread(target=run, args=(t,)) for t in targets]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for t in targets:
        print(t, "yes" if results[t] else "no")


def watch(stopfile, timeout, targets):
    counts = {t: [0, 0] for t in targets}
    lock = threading.Lock()
    end = time.time() + 120

    def run(t):
        while time.time() < end and not os.path.exists(stopfile):
            ok = once(t, timeout)
            with lock:
                counts[t][1] += 1
                counts[t][0] += 1 if ok else 0
            if ok:
                time.sleep(0.02)

    threads = [threading.Thread(target=run, args=(t,)) for t in targets for _ in range(4)]
    for th in threads:
        th.start()
    print("watching", flush=True)
    for th in threads:
        th.join()
    for t in targets:
        print(t, counts[t][0], counts[t][1])


def hold(stopfile, markfile, tcp_target, udp_target, stream_target):
    end = time.time() + 120
    # kind -> [echoes before, pings before, echoes after, pings after]
    counts = {k: [0, 0, 0, 0] for k in ("tcp", "udp", "stream")}
    lock = threading.Lock()

    def addr(t):
        host, port = t.rsplit(":", 1)
        return (host, int(port))

    def running():
        return time.time() < end and not os.path.exists(stopfile)

    def echo(kind, s):
        while running():
            after = 2 if os.path.exists(markfile) else 0
            try:
                s.send(b"ping")
                ok = len(s.recv(64)) > 0
            except OSError:  # a timeout, or an ICMP error on the connected socket
                ok = False
            with lock:
                counts[kind][after] += 1 if ok else 0
                counts[kind][after + 1] += 1
            time.sleep(0.05)

    def tcp():
        try:
            s = socket.create_connection(addr(tcp_target), timeout=2)
            s.recv(2)  # "ok"
        except OSError:
            return
        s.settimeout(0.2)
        echo("tcp", s)

    def udp():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(0.2)
        s.connect(addr(udp_target))
        echo("udp", s)

    def stream():
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(0.2)
        s.connect(addr(stream_target))
        s.send(b"subscribe")
        while running():
            after = 2 if os.path.exists(markfile) else 0
            try:
                got = len(s.recv(64)) > 0
            except OSError:
                got = False
            with lock:
                counts["stream"][after] += 1 if got else 0

    threads = [threading.Thread(target=f) for f in (tcp, udp, stream)]
    for th in threads:
        th.start()
    print("holding", flush=True)
    for th in threads:
        th.join()
    for k in ("tcp", "udp"):
        print(k, *counts[k])
    print("stream", counts["stream"][0], counts["stream"][2])


mode = sys.argv[1]
if mode == "serve":
    args = sys.argv[2:]
    stream_port = None
    if "--stream" in args:
        i = args.index("--stream")
        stream_port = int(args[i + 1])
        del args[i : i + 2]
    serve([int(p) for p in args], stream_port)
elif mode == "hold":
    hold(*sys.argv[2:7])
elif mode == "probe":
    probe(float(sys.argv[2]), sys.argv[3:])
elif mode == "watch":
    watch(sys.argv[2], float(sys.argv[3]), sys.argv[4:])
else:
    sys.exit(f"unknown mode {mode}")
