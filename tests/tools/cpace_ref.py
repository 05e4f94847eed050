#!/usr/bin/python3
"""CPACE-X25519-SHA512 recomputed independently of the TypeScript, from the draft's text
(draft-irtf-cfrg-cpace): hashlib SHA-512, X25519 from python3-cryptography, Elligator 2 by the
draft's Legendre-symbol formula in plain integer arithmetic.

stdin:  {"cases": [{prs, ci, sid, ya, yb, ada, adb} (hex)], "ell2": [decimal field elements]}
stdout: {"cases": [{g, Ya, Yb, K, isk_ir, isk_oc} (hex)], "ell2": [hex u-coordinates]}
"""
import hashlib
import json
import sys

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

Q = 2**255 - 19
A = 486662
Z = 2  # the non-square the draft's find_z_ell2 finds for curve25519


def prepend_len(data):
    n, out = len(data), b""
    while True:
        out += bytes([n]) if n < 128 else bytes([(n & 0x7F) + 0x80])
        n >>= 7
        if n == 0:
            return out + data


def lv_cat(*args):
    return b"".join(prepend_len(a) for a in args)


def o_cat(a, b):
    return b"oc" + (a + b if a > b else b + a)


def elligator2(r):
    inv = lambda x: pow(x, Q - 2, Q)
    v = (-A * inv(1 + Z * r * r)) % Q
    eps = pow((v**3 + A * v * v + v) % Q, (Q - 1) // 2, Q)
    eps = -1 if eps == Q - 1 else eps
    return (eps * v - (1 - eps) * A * inv(2)) % Q


def calculate_generator(prs, ci, sid):
    dsi = b"CPace255"
    zpad = max(0, 128 - 1 - len(prepend_len(prs)) - len(prepend_len(dsi)))
    gen_str = lv_cat(dsi, prs, bytes(zpad), ci, sid)
    h = bytearray(hashlib.sha512(gen_str).digest()[:32])
    h[31] &= 0x7F
    return elligator2(int.from_bytes(h, "little")).to_bytes(32, "little")


def x25519(k, u):
    return X25519PrivateKey.from_private_bytes(k).exchange(X25519PublicKey.from_public_bytes(u))


def main():
    req = json.load(sys.stdin)
    out = []
    for c in req["cases"]:
        c = {k: bytes.fromhex(v) for k, v in c.items()}
        g = calculate_generator(c["prs"], c["ci"], c["sid"])
        ya, yb = x25519(c["ya"], g), x25519(c["yb"], g)
        k = x25519(c["ya"], yb)
        assert k == x25519(c["yb"], ya)
        pre = lv_cat(b"CPace255_ISK", c["sid"], k)
        ir = lv_cat(ya, c["ada"]) + lv_cat(yb, c["adb"])
        oc = o_cat(lv_cat(ya, c["ada"]), lv_cat(yb, c["adb"]))
        out.append({
            "g": g.hex(), "Ya": ya.hex(), "Yb": yb.hex(), "K": k.hex(),
            "isk_ir": hashlib.sha512(pre + ir).hexdigest(),
            "isk_oc": hashlib.sha512(pre + oc).hexdigest(),
        })
    ell2 = [elligator2(int(u) % Q).to_bytes(32, "little").hex() for u in req["ell2"]]
    json.dump({"cases": out, "ell2": ell2}, sys.stdout)


if __name__ == "__main__":
    main()
