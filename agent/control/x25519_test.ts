import { deepStrictEqual, strictEqual } from "node:assert";
import {
  forceX25519Backend,
  x25519,
  X25519_BACKENDS,
  type X25519Backend,
  x25519Backend,
  x25519Base,
} from "./x25519.ts";

const hex = (s: string) => Uint8Array.from(s.match(/../g)!.map((b) => parseInt(b, 16)));
const toHex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
const ZERO = "00".repeat(32);

/** Every test runs on each implementation; libsodium and libcrypto are on every box CI runs on. */
function onBoth(name: string, fn: () => void) {
  for (const backend of X25519_BACKENDS) {
    Deno.test(`x25519 (${backend}): ${name}`, () => {
      forceX25519Backend(backend);
      try {
        strictEqual(x25519Backend(), backend);
        fn();
      } finally {
        forceX25519Backend(null);
      }
    });
  }
}

onBoth("RFC 7748 §5.2 test vectors", () => {
  strictEqual(
    toHex(x25519(
      hex("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4"),
      hex("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c"),
    )),
    "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552",
  );
  // This u has bit 255 set: it must be ignored.
  strictEqual(
    toHex(x25519(
      hex("4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d"),
      hex("e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493"),
    )),
    "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957",
  );
});

onBoth("RFC 7748 §5.2 iterated, 1 and 1000 times", () => {
  let k: Uint8Array = hex("09" + "00".repeat(31));
  let u: Uint8Array = k.slice();
  for (let i = 1; i <= 1000; i++) {
    const r = x25519(k, u);
    u = k;
    k = r;
    if (i === 1) {
      strictEqual(toHex(k), "422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079");
    }
  }
  strictEqual(toHex(k), "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51");
});

onBoth("RFC 7748 §6.1 Diffie-Hellman", () => {
  const a = hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
  const b = hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
  const pa = x25519Base(a), pb = x25519Base(b);
  strictEqual(toHex(pa), "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
  strictEqual(toHex(pb), "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
  const k = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
  strictEqual(toHex(x25519(a, pb)), k);
  strictEqual(toHex(x25519(b, pa)), k);
});

onBoth("low-order points, canonical and with bit 255 set, give all zeros", () => {
  const lowOrder = [
    "00".repeat(32),
    "01" + "00".repeat(31),
    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
    "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
    "ec" + "ff".repeat(30) + "7f", // p − 1
    "ed" + "ff".repeat(30) + "7f", // p
    "ee" + "ff".repeat(30) + "7f", // p + 1
  ];
  const k = hex("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4");
  for (const p of lowOrder) {
    const u = hex(p);
    strictEqual(toHex(x25519(k, u)), ZERO, p);
    u[31] |= 0x80;
    strictEqual(toHex(x25519(k, u)), ZERO, `${p} with bit 255`);
  }
});

Deno.test("x25519: libsodium, libcrypto and noble agree on random scalars and points", () => {
  const pairs = Array.from({ length: 200 }, () => {
    const k = crypto.getRandomValues(new Uint8Array(32));
    const u = crypto.getRandomValues(new Uint8Array(32));
    return { k, u };
  });
  const run = (backend: X25519Backend) => {
    forceX25519Backend(backend);
    try {
      return pairs.map(({ k, u }) => [toHex(x25519(k, u)), toHex(x25519Base(k))]);
    } finally {
      forceX25519Backend(null);
    }
  };
  const noble = run("noble");
  deepStrictEqual(run("libcrypto"), noble);
  deepStrictEqual(run("libsodium"), noble);
});
