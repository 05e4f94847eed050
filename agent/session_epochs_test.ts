import { deepStrictEqual, strictEqual } from "node:assert";
import { SessionEpochs } from "./session_epochs.ts";
import type { SessionKeysEvent, SessionSecrets } from "./control/mod.ts";

const bytes = (n: number, len = 32) => new Uint8Array(len).fill(n);
const keySet = (n: number) => ({
  dialerToListener: {
    control: bytes(n),
    sleeve: bytes(n + 1),
    esp: { key: bytes(n, 36), spi: 300 },
  },
  listenerToDialer: {
    control: bytes(n),
    sleeve: bytes(n + 2),
    esp: { key: bytes(n, 36), spi: 301 },
  },
  dialerIndex: 100 + n,
  listenerIndex: 200 + n,
});
const secrets = (localIsDialer: boolean) => ({ id: 7, localIsDialer } as SessionSecrets);
const ev = (action: SessionKeysEvent["action"], session = 7): SessionKeysEvent => ({
  peer: "edge-2",
  session,
  action,
});

Deno.test("session epochs: install, switch, retire the old, each side its own keys and indices", () => {
  const e = new SessionEpochs();
  const dialer = secrets(true);
  const ks = keySet(10);
  const install = e.step(
    ev({ type: "install-rx", epoch: 1, keys: ks, password: "current" }),
    dialer,
    42,
    "aes-256-gcm",
  );
  strictEqual(install.type, "install");
  if (install.type !== "install" || !("keys" in install.session)) throw new Error("no keys");
  deepStrictEqual(
    [install.session.localIndex, install.session.remoteIndex, install.session.keys.txDirection],
    [110, 210, 0],
  );
  deepStrictEqual([install.session.keys.tx[0], install.session.keys.rx[0]], [11, 12]);
  strictEqual(e.sending("edge-2"), null, "installing does not move the sender");
  deepStrictEqual(e.step(ev({ type: "switch-tx", epoch: 1 }), dialer, 42, "aes-256-gcm"), {
    type: "use",
    localIndex: 110,
  });
  strictEqual(e.sending("edge-2")?.epoch, 1);
  // The handshake's session (epoch 0) is retired by the index the pair gave it.
  deepStrictEqual(e.step(ev({ type: "drop-old", epoch: 1 }), dialer, 42, "aes-256-gcm"), {
    type: "retire",
    localIndex: 42,
  });
  // The listener's view of the same set is the mirror image.
  const l = new SessionEpochs().step(
    ev({ type: "install-rx", epoch: 1, keys: ks, password: "current" }),
    secrets(false),
    43,
    "aes-256-gcm",
  );
  if (l.type !== "install" || !("keys" in l.session)) throw new Error("no keys");
  deepStrictEqual([l.session.localIndex, l.session.remoteIndex, l.session.keys.txDirection], [
    210,
    110,
    1,
  ]);
  deepStrictEqual([l.session.keys.tx[0], l.session.keys.rx[0]], [12, 11]);
  // An event of an older session changes nothing.
  strictEqual(
    e.step(ev({ type: "switch-tx", epoch: 2 }, 6), dialer, 42, "aes-256-gcm").type,
    "none",
  );
});
