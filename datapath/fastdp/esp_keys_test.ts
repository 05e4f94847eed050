import { strictEqual } from "node:assert";
import { deriveEspKeys } from "./esp_keys.ts";
import { hex, opensslHkdf } from "../../tests/lab/openssl.ts";

Deno.test("ESP keys and SPIs: HKDF per direction as openssl derives them; the ends mirror", async () => {
  const sessionKey = new Uint8Array(32).fill(0x5a);
  const dialerNonce = new Uint8Array(32).fill(0xa1), listenerNonce = new Uint8Array(32).fill(0xb2);
  const salt = new Uint8Array([...dialerNonce, ...listenerNonce]);
  const d = deriveEspKeys({ sessionKey, dialerNonce, listenerNonce, localIsDialer: true });
  const l = deriveEspKeys({ sessionKey, dialerNonce, listenerNonce, localIsDialer: false });
  strictEqual(d.out.key.length, 36);
  strictEqual(
    hex(d.out.key),
    hex(await opensslHkdf(sessionKey, salt, "weave-agent v1 esp dialer->listener", 36)),
  );
  strictEqual(
    hex(d.in.key),
    hex(await opensslHkdf(sessionKey, salt, "weave-agent v1 esp listener->dialer", 36)),
  );
  const spi = await opensslHkdf(sessionKey, salt, "weave-agent v1 esp spi dialer->listener", 4);
  const v = new DataView(spi.buffer).getUint32(0);
  strictEqual(d.out.spi, v < 0x100 ? v + 0x100 : v);
  strictEqual(hex(d.out.key), hex(l.in.key));
  strictEqual(d.out.spi, l.in.spi);
  strictEqual(d.in.spi, l.out.spi);
  strictEqual(d.out.spi === d.in.spi, false);
  // A new session (new nonces) gives new keys and SPIs.
  const d2 = deriveEspKeys({
    sessionKey,
    dialerNonce: new Uint8Array(32).fill(0xa3),
    listenerNonce,
    localIsDialer: true,
  });
  strictEqual(d2.out.spi === d.out.spi, false);
  strictEqual(hex(d2.out.key) === hex(d.out.key), false);
});
