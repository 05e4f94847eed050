"""Sends numbered UDP datagrams to ADDR:PORT every INTERVAL seconds for SECONDS (or until
SIGTERM), then prints `sent N`. Lab helper."""
import signal
import socket
import sys
import time

signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))

addr, port, seconds, interval = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
end, n = time.time() + seconds, 0
try:
    while time.time() < end:
        try:
            s.sendto(b"%d" % n, (addr, port))
        except OSError:
            pass
        n += 1
        if n == 1:
            print("started", flush=True)
        time.sleep(interval)
except KeyboardInterrupt:
    pass
print(f"sent {n}", flush=True)
