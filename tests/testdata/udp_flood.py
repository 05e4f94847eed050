"""Sends numbered UDP datagrams to ADDR:PORT every INTERVAL seconds for SECONDS. Lab helper."""
import socket
import sys
import time

addr, port, seconds, interval = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
end, n = time.time() + seconds, 0
while time.time() < end:
    try:
        s.sendto(b"%d" % n, (addr, port))
    except OSError:
        pass
    n += 1
    time.sleep(interval)
print(f"sent {n}", flush=True)
