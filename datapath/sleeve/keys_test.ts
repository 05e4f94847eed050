import { strictEqual } from "node:assert";
import { deriveSleeveKeys } from "./keys.ts";
import { hex, opensslHkdf } from "../../tests/lab/openssl.ts";

Deno.test("sleeve keys: HKDF per direction as openssl derives them; the two ends mirror", async () => {
  const sessionKey = new Uint8Array(32).fill(9);
  const dialerNonce = new Uint8Array(32).fill(1), listenerNonce = new Uint8Array(32).fill(2);
  const salt = new Uint8Array([...dialerNonce, ...listenerNonce]);
  const d2l = hex(
    await opensslHkdf(sessionKey, salt, "weave-agent v1 sleeve dialer->listener", 32),
  );
  const l2d = hex(
    await opensslHkdf(sessionKey, salt, "weave-agent v1 sleeve listener->dialer", 32),
  );
  const dialer = deriveSleeveKeys({ sessionKey, dialerNonce, listenerNonce, localIsDialer: true });
  const listener = deriveSleeveKeys({
    sessionKey,
    dialerNonce,
    listenerNonce,
    localIsDialer: false,
  });
  strictEqual(hex(dialer.tx), d2l);
  strictEqual(hex(dialer.rx), l2d);
  strictEqual(hex(listener.tx), l2d);
  strictEqual(hex(listener.rx), d2l);
  strictEqual(dialer.txDirection, 0);
  strictEqual(listener.txDirection, 1);
});
