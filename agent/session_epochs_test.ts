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

Deno.test("session epochs: ESP SAs follow the steps (inbound first, outbound at the switch), keys wiped", () => {
  const e = new SessionEpochs();
  const s = { ...secrets(true), sessionKey: bytes(0x55) } as SessionSecrets;
  e.sessionUp("edge-2", s);
  const zero = { out: { spi: 1000, key: bytes(1, 36) }, in: { spi: 1001, key: bytes(2, 36) } };
  let asked = 0;
  const hs = () => (asked++, zero);
  const spis = () => {
    const x = e.esp("edge-2", hs);
    return x && { out: x.out.spi, in: x.in.spi, extraIn: x.extraIn.map((sa) => sa.spi) };
  };
  strictEqual(spis(), null, "nothing rekeyed: the handshake's SAs (the caller derives them)");
  const step = (a: SessionKeysEvent["action"]) => e.step(ev(a), s, 42, "aes-256-gcm");
  const ks = keySet(10);
  step({ type: "install-rx", epoch: 1, keys: ks, password: "current" });
  // The dialer sends dialer->listener (spi 300) and receives listener->dialer (spi 301).
  deepStrictEqual(spis(), { out: 1000, in: 1001, extraIn: [301] });
  step({ type: "switch-tx", epoch: 1 });
  deepStrictEqual(spis(), { out: 300, in: 301, extraIn: [1001] });
  strictEqual(s.sessionKey[0], 0x55, "epoch 0 is still received under: its key stays");
  step({ type: "drop-old", epoch: 1 });
  asked = 0;
  deepStrictEqual(spis(), { out: 300, in: 301, extraIn: [] });
  strictEqual(asked, 0, "epoch 0 retired: its SAs are not derived any more");
  deepStrictEqual([...new Set(s.sessionKey)], [0], "the handshake's session key is wiped");
  // The next rekey: new inbound beside, then the switch, then the old inbound goes.
  const ks2 = keySet(20);
  ks2.dialerToListener.esp.spi = 400;
  ks2.listenerToDialer.esp.spi = 401;
  step({ type: "install-rx", epoch: 2, keys: ks2, password: "current" });
  deepStrictEqual(spis(), { out: 300, in: 301, extraIn: [401] });
  step({ type: "switch-tx", epoch: 2 });
  deepStrictEqual(spis(), { out: 400, in: 401, extraIn: [301] });
  const epoch1 = e.esp("edge-2", hs)!.extraIn[0];
  step({ type: "drop-old", epoch: 2 });
  deepStrictEqual(spis(), { out: 400, in: 401, extraIn: [] });
  deepStrictEqual([...new Set(epoch1.key)], [0], "epoch 1's ESP key copy is wiped");
  // The session ends: every copy and the handshake's key set are wiped.
  const live = e.esp("edge-2", hs)!;
  s.keys = keySet(30);
  e.reset("edge-2");
  deepStrictEqual([...new Set([...live.out.key, ...live.in.key])], [0]);
  deepStrictEqual([...new Set(s.keys.dialerToListener.control)], [0]);
});
