#!/usr/bin/env python3
"""A numbered UDP stream, to count loss exactly.

  udp_stream.py send ADDR PORT COUNT RATE   -- COUNT datagrams "n\\n" (n = 1..COUNT), RATE per second
  udp_stream.py recv ADDR PORT COUNT SECS [FIRST]
                                            -- receives until COUNT distinct numbers or SECS of
                                               silence (FIRST seconds for the first datagram,
                                               default SECS); prints "received R of COUNT missing M
                                               ... longest-gap G runs N" (G: the longest run of
                                               consecutive missing numbers; N: how many runs)
"""
import socket
import sys
import time


def send(addr, port, count, rate):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    start = time.monotonic()
    for n in range(1, count + 1):
        s.sendto(b"%d\n" % n + b"x" * 200, (addr, port))
        wait = start + n / rate - time.monotonic()
        if wait > 0:
            time.sleep(wait)
    print("sent %d" % count, flush=True)


def recv(addr, port, count, secs, first=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind((addr, port))
    # The sender may start seconds later on a loaded box: the caller may wait longer for the
    # first datagram.
    s.settimeout(secs if first is None else first)
    print("listening", flush=True)
    seen = set()
    try:
        while len(seen) < count:
            data, _ = s.recvfrom(2048)
            s.settimeout(secs)
            seen.add(int(data.split(b"\n", 1)[0]))
    except socket.timeout:
        pass
    missing = [n for n in range(1, count + 1) if n not in seen]
    longest = run = 0
    for n in range(1, count + 1):
        run = run + 1 if n not in seen else 0
        longest = max(longest, run)
    # Runs of consecutive missing numbers: one outage is one run, however long.
    runs = sum(1 for i, n in enumerate(missing) if i == 0 or missing[i - 1] != n - 1)
    print("received %d of %d missing %d first-missing %s longest-gap %d runs %d" % (
        len(seen), count, len(missing), missing[:10], longest, runs), flush=True)


if __name__ == "__main__":
    mode, addr, port, count, x = sys.argv[1:6]
    if mode == "send":
        send(addr, int(port), int(count), float(x))
    else:
        recv(addr, int(port), int(count), float(x), *[float(f) for f in sys.argv[6:7]])
