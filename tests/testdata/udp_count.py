"""Counts UDP datagrams to ADDR:PORT for SECONDS (or until SIGTERM), prints `count N`. Lab helper."""
import signal
import socket
import sys
import time

signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))

addr, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_DGRAM)
s.bind((addr, port))
s.settimeout(0.1)
print("ready", flush=True)
end, n = time.time() + seconds, 0
try:
    while time.time() < end:
        try:
            s.recv(4096)
            n += 1
        except socket.timeout:
            pass
except KeyboardInterrupt:
    pass
print(f"count {n}", flush=True)
