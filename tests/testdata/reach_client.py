"""Probes each TARGET (addr:port/tcp|udp) in parallel; prints one line `TARGET yes|no`. Lab helper."""
import socket
import sys
import threading

TIMEOUT = 1.5
results = {}


def probe(t: str) -> None:
    hostport, proto = t.split("/")
    host, port = hostport.rsplit(":", 1)
    ok = False
    try:
        if proto == "tcp":
            with socket.create_connection((host, int(port)), timeout=TIMEOUT) as s:
                ok = s.recv(2) == b"ok"
        else:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(TIMEOUT)
                for _ in range(2):  # one retry: the first datagram may wait for ARP
                    s.sendto(b"ping", (host, int(port)))
                    try:
                        ok = s.recv(16) == b"ping"
                        break
                    except socket.timeout:
                        pass
    except OSError:
        ok = False
    results[t] = ok


threads = [threading.Thread(target=probe, args=(t,)) for t in sys.argv[1:]]
for th in threads:
    th.start()
for th in threads:
    th.join()
for t in sys.argv[1:]:
    print(t, "yes" if results[t] else "no")
