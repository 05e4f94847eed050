#!/usr/bin/env python3
"""Re-send captured Ethernet frames on a link, as an attacker on the underlay would.

usage: replay_pcap.py PCAP IFACE MODE UDP_DPORT COUNT
  MODE replay: send the first COUNT UDP frames to UDP_DPORT exactly as captured.
  MODE substitute: the same frames with their UDP payload replaced by the hex datagrams read
               from stdin, one per line, each of the captured payload's size.
  MODE forge:  the same frames with a fresh sequence number and one ciphertext byte flipped
               (UDP checksum zeroed so the kernel still delivers them: IPv4 allows "no checksum").
Prints how many frames were sent.
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
        yield bytearray(data[off:off + incl])
        off += incl


def udp_dport(frame):
    if len(frame) < 42 or frame[12:14] != b"\x08\x00" or frame[23] != 17:
        return None
    ihl = (frame[14] & 0x0F) * 4
    return struct.unpack("!H", frame[14 + ihl + 2:14 + ihl + 4])[0], 14 + ihl


def main():
    path, iface, mode, dport, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    subs = [bytes.fromhex(l.strip()) for l in sys.stdin if l.strip()] if mode == "substitute" else []
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    sent = 0
    for fr in frames(path):
        d = udp_dport(fr)
        if d is None or d[0] != dport:
            continue
        udp = d[1]
        # Captured on the sender, the UDP checksum may be left for the NIC to fill in (veth
        # offload), so it is wrong on the wire as captured: zero it ("no checksum", allowed in
        # IPv4). The datagram itself is resent byte for byte.
        fr[udp + 6:udp + 8] = b"\x00\x00"
        if mode == "substitute":
            payload = subs[sent]
            if len(payload) != len(fr) - (udp + 8):
                continue  # only frames of the forged datagrams' size are replaced
            fr[udp + 8:] = payload
        if mode == "forge":
            # A fresh sequence number (so the replay window lets it through to authentication)
            # and a flipped ciphertext byte: only the tag can tell it is forged.
            fr[udp + 16:udp + 24] = struct.pack("!Q", (1 << 40) + sent)
            fr[-20] ^= 0x01
        s.send(bytes(fr))
        sent += 1
        if sent >= count:
            break
    print(sent)


if __name__ == "__main__":
    main()
