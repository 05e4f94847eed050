#!/usr/bin/env python3
"""Re-send captured UDP payloads from this namespace's own socket (another source address or
port than the captured sender), as an attacker on the underlay would to move a peer's endpoint.

usage: udp_resend.py PCAP DST_IP DST_PORT MODE COUNT
  MODE replay: the first COUNT payloads to DST_PORT exactly as captured.
  MODE forge:  the same payloads with a fresh, higher sequence number and one ciphertext byte
               flipped (what an attacker without the key can do at best).
Prints how many datagrams were sent.
"""
import socket
import struct
import sys


def frames(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    off = 24
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(endian + "IIII", data[off:off + 16])
        off += 16
        yield bytes(data[off:off + incl])
        off += incl


def udp_payload(frame, dport):
    if len(frame) < 14 + 20 + 8 or frame[12:14] != b"\x08\x00":
        return None
    ihl = (frame[14] & 0x0F) * 4
    if frame[14 + 9] != 17:
        return None
    udp = 14 + ihl
    if struct.unpack(">H", frame[udp + 2:udp + 4])[0] != dport:
        return None
    return frame[udp + 8:]


def main():
    pcap, dst, port, mode, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
    payloads = [p for p in (udp_payload(f, port) for f in frames(pcap)) if p and len(p) >= 32]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sent = 0
    for i, p in enumerate(payloads[:count]):
        d = bytearray(p)
        if mode == "forge":
            seq = struct.unpack(">Q", bytes(d[8:16]))[0] + 1_000_000 + i
            d[8:16] = struct.pack(">Q", seq)
            d[20] ^= 0x01
        s.sendto(bytes(d), (dst, port))
        sent += 1
    print(sent)


main()
