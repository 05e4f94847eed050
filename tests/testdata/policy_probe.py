"""Reachability-matrix helper for the policy lab tests, three modes:

  serve PORT...                   TCP (answers "ok", closes) and UDP (echo) on 0.0.0.0:PORT
  probe TIMEOUT TARGET...         probes each ADDR:PORT/tcp|udp once, in parallel: `TARGET yes|no`
  watch STOPFILE TIMEOUT TARGET... probes each target over and over (4 threads each) until
                                  STOPFILE exists (at most 120 s): `TARGET <successes> <attempts>`
"""
import os
import socket
import sys
import threading
import time


def serve(ports):
    def tcp(port):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", port))
        s.listen(128)
        while True:
            c, _ = s.accept()
            try:
                c.sendall(b"ok")
            except OSError:
                pass
            finally:
                c.close()

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
            for _ in range(2):  # one retry: the first datagram may wait for ARP
                s.sendto(b"ping", (host, int(port)))
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


mode = sys.argv[1]
if mode == "serve":
    serve([int(p) for p in sys.argv[2:]])
elif mode == "probe":
    probe(float(sys.argv[2]), sys.argv[3:])
elif mode == "watch":
    watch(sys.argv[2], float(sys.argv[3]), sys.argv[4:])
else:
    sys.exit(f"unknown mode {mode}")
