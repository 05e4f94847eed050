#!/usr/bin/python3
"""Control protocol v2 recomputed independently of the TypeScript, from the module docs of
agent/control/{handshake_wire,key_schedule,handshake_core}.ts: the records each side sends, the
transcript hash, CPace per password slot pair (cpace_ref.py), the node-key terms and proofs, the
tags, the session key SHA-256(shared || password) and the per-purpose keys.
Primitives: hashlib, hmac, python3-cryptography (X25519, HKDF).

stdin:  {"prefix": hex, "dialer": side, "listener": side}
        side = {"name", "seed" (hex), "passwords": [hex or null], "node_key": hex or null,
                "index": int}
        A side's secrets are drawn as SHA-256(seed || counter): E, nonce, one scalar per slot.
stdout: {"m1", "m2", "m3", "m4", "th", "session_key", "pair": [i, j], "keys": {...}} (hex)
"""
import hashlib
import hmac
import json
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cpace_ref import calculate_generator, lv_cat, x25519  # noqa: E402

from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey  # noqa: E402
from cryptography.hazmat.primitives.kdf.hkdf import HKDF  # noqa: E402
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat  # noqa: E402

D2L, L2D = b"dialer->listener", b"listener->dialer"


def public(priv):
    key = X25519PrivateKey.from_private_bytes(priv).public_key()
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def hkdf(ikm, salt, info, n):
    return HKDF(algorithm=hashes.SHA256(), length=n, salt=salt, info=info).derive(ikm)


def record(kind, body):
    return bytes([kind]) + struct.pack(">H", len(body)) + body


class Side:
    def __init__(self, s):
        self.name = s["name"].encode()
        seed = bytes.fromhex(s["seed"])
        draws = (hashlib.sha256(seed + bytes([k])).digest() for k in range(8))
        self.eph, self.nonce = next(draws), next(draws)
        self.pw = [None if p is None else bytes.fromhex(p) for p in s["passwords"]]
        self.scalars = [next(draws) for _ in self.pw]
        self.node = bytes.fromhex(s["node_key"]) if s["node_key"] else None
        self.index = s["index"]

    def hello(self):
        body = bytes([1 if self.node else 0]) + self.nonce + public(self.eph)
        body += struct.pack(">I", self.index) + (public(self.node) if self.node else b"")
        return record(1, body + self.name)


def main():
    req = json.load(sys.stdin)
    d, l = Side(req["dialer"]), Side(req["listener"])
    prefix = bytes.fromhex(req["prefix"])
    ci = lv_cat(b"weave-agent v2", d.name, l.name)
    sid = d.nonce + l.nonce
    ya = [x25519(y, calculate_generator(p or b"", ci, sid)) for y, p in zip(d.scalars, d.pw)]
    yb = [x25519(y, calculate_generator(p or b"", ci, sid)) for y, p in zip(l.scalars, l.pw)]
    m1 = d.hello()
    m2 = l.hello() + record(5, b"".join(yb))
    shares_d = record(5, b"".join(ya))
    th = hashlib.sha256(prefix + m1 + m2 + shares_d).digest()
    term_d = x25519(d.node, public(l.eph)) if d.node else b""
    term_l = x25519(l.node, public(d.eph)) if l.node else b""
    assert not d.node or term_d == x25519(l.eph, public(d.node))

    def session_key(i, j):
        k = x25519(d.scalars[i], yb[j])
        assert d.pw[i] != l.pw[j] or k == x25519(l.scalars[j], ya[i])
        isk = hashlib.sha512(
            lv_cat(b"CPace255_ISK", sid, k) + lv_cat(ya[i], bytes([i])) + lv_cat(yb[j], bytes([j]))
        ).digest()
        shared = hkdf(isk + term_d + term_l, th, b"weave-agent v2 shared" + bytes([i, j]), 32)
        return hashlib.sha256(shared + (d.pw[i] or b"")).digest()

    def tag(sk, direction, i, j):
        key = hkdf(sk, th, b"weave-agent v2 confirm " + direction, 32)
        return hmac.new(key, th + bytes([i, j]), hashlib.sha256).digest()

    def proof(term, direction):
        return hmac.new(term, b"weave-agent v2 key proof " + direction + th, hashlib.sha256).digest()

    pairs = [(i, j) for i in range(len(ya)) for j in range(len(yb))]
    tags = b"".join(tag(session_key(i, j), D2L, i, j) for i, j in pairs)
    m3 = shares_d + record(2, bytes([len(pairs)]) + tags + (proof(term_d, D2L) if d.node else b""))
    i, j = next((i, j) for i, j in pairs if d.pw[i] == l.pw[j])
    sk = session_key(i, j)
    m4 = record(2, bytes([i << 4 | j]) + tag(sk, L2D, i, j) + (proof(term_l, L2D) if l.node else b""))

    def direction_keys(direction):
        info = lambda p: b"weave-agent v2 " + p + b" " + direction + struct.pack(">II", d.index, l.index)
        spi = struct.unpack(">I", hkdf(sk, th, info(b"esp spi"), 4))[0]
        return {
            "control": hkdf(sk, th, info(b"control"), 32).hex(),
            "sleeve": hkdf(sk, th, info(b"sleeve"), 32).hex(),
            "esp": hkdf(sk, th, info(b"esp"), 36).hex(),
            "spi": spi + 0x100 if spi < 0x100 else spi,
        }

    json.dump({
        "m1": m1.hex(), "m2": m2.hex(), "m3": m3.hex(), "m4": m4.hex(), "th": th.hex(),
        "session_key": sk.hex(), "pair": [i, j],
        "keys": {"d2l": direction_keys(D2L), "l2d": direction_keys(L2D)},
    }, sys.stdout)


main()
