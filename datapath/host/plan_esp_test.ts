import { deepStrictEqual, strictEqual } from "node:assert";
import { planHost } from "./plan.ts";
import { encryptedDesired, observedAfter } from "./testdata/fixtures.ts";
import { parseXfrmStates } from "./observe.ts";
import { ESP_SA_HARD_LIFETIME_S } from "./xfrm_args.ts";
import type { ObservedHost } from "./desired.ts";

/** One SA as `ip -s xfrm state` (iproute2 6.1) printed it on the kvm-esp kernel (6.1). */
const STATE = `src 192.168.77.2 dst 192.168.77.1
	proto esp spi 0x8a8836a2(2324182690) reqid 1465277387(0x57565bcb) mode transport
	replay-window 0 seq 0x00000000 flag esn (0x10000000)
	aead rfc4106(gcm(aes)) 0x1f0169252fb0afc9edaace621173ffda02a8df1e4ef9ecfdb0d2a8007a9e16e2e0e43fda (288 bits) 128
	anti-replay esn context:
	 seq-hi 0x0, seq 0xb, oseq-hi 0x0, oseq 0x0
	 replay_window 256, bitmap-length 8
	 00000000 00000000 00000000 00000000 00000000 00000000 00000000 000007ff 
	sel src 0.0.0.0/0 dst 0.0.0.0/0 uid 0
	lifetime config:
	  limit: soft (INF)(bytes), hard (INF)(bytes)
	  limit: soft (INF)(packets), hard (INF)(packets)
	  expire add: soft 0(sec), hard 180(sec)
	  expire use: soft 0(sec), hard 0(sec)
	lifetime current:
	  1162(bytes), 11(packets)
	  add 2026-12-01 20:19:13 use 2026-12-01 20:19:14
	stats:
	  replay-window 0 replay 0 failed 0
`;

Deno.test("ip -s xfrm state: lifetime and add time are read back", () => {
  const [sa] = parseXfrmStates(STATE);
  strictEqual(sa.spi, 0x8a8836a2);
  strictEqual(sa.reqid, 1465277387);
  strictEqual(
    sa.keyHex,
    "1f0169252fb0afc9edaace621173ffda02a8df1e4ef9ecfdb0d2a8007a9e16e2e0e43fda",
  );
  strictEqual(sa.hardSeconds, 180);
  strictEqual(sa.addedAt, new Date("2026-12-01T20:19:13").getTime() / 1000);
});

Deno.test("every SA carries the hard lifetime", () => {
  const adds = planHost(encryptedDesired(), { ...observedAfter(encryptedDesired()), sas: [] })
    .filter((c) => c.kind === "xfrm-state");
  strictEqual(adds.length, 6);
  for (const c of adds) {
    deepStrictEqual(c.args.slice(-3), ["limit", "time-hard", String(ESP_SA_HARD_LIFETIME_S)]);
  }
});

function aged(obs: ObservedHost, age: number, hard: number): ObservedHost {
  const now = 2_000_000_000;
  return {
    ...obs,
    observedAt: now,
    sas: obs.sas.map((s) => ({ ...s, addedAt: now - age, hardSeconds: hard })),
  };
}

Deno.test("a live agent renews SAs past half their lifetime (same key), not before", () => {
  const d = encryptedDesired();
  const obs = observedAfter(d);
  deepStrictEqual(planHost(d, aged(obs, 60, 180)), []);
  const renew = planHost(d, aged(obs, 100, 180));
  strictEqual(renew.length, 6);
  for (const c of renew) {
    deepStrictEqual(c.args.slice(0, 3), ["xfrm", "state", "update"]);
    deepStrictEqual(c.args.slice(-3), ["limit", "time-hard", "280"]); // age + lifetime
  }
  // Renewed (hard 280 at age 100): 180 s left, nothing to do until half of it is gone.
  deepStrictEqual(planHost(d, aged(obs, 150, 280)), []);
  // An SA someone added without a lifetime gets one.
  strictEqual(planHost(d, aged(obs, 5, 0)).length, 6);
});

Deno.test("an old SA holding a new session's SPI is removed before the new key is added", () => {
  const d = encryptedDesired();
  const obs = observedAfter(d);
  const clash = { ...obs.sas[1], spi: obs.sas[1].spi, keyHex: "00" };
  const next = encryptedDesired(50); // a new session for every peer...
  next.esp[0].in.spi = clash.spi; // ...whose inbound SPI from edge-2 equals an old one
  const changes = planHost(next, { ...obs, sas: [clash] });
  const lines = changes.filter((c) => c.kind === "xfrm-state").map((c) =>
    `${c.args[2]} ${c.args[c.args.indexOf("spi") + 1]}`
  );
  const spi = `0x${clash.spi.toString(16).padStart(8, "0")}`;
  strictEqual(lines.indexOf(`delete ${spi}`) < lines.indexOf(`add ${spi}`), true, lines.join("\n"));
  strictEqual(lines.filter((l) => l === `delete ${spi}`).length, 1, lines.join("\n"));
});

/** The SAs a plan's changes leave, applied to `obs` (adds and deletes in plan order). */
function afterEsp(obs: ObservedHost, changes: ReturnType<typeof planHost>): ObservedHost {
  let sas = [...obs.sas];
  for (const c of changes.filter((c) => c.kind === "xfrm-state")) {
    const a = c.args, at = (k: string) => a[a.indexOf(k) + 1];
    const spi = parseInt(at("spi"), 16);
    if (a[2] === "delete") sas = sas.filter((s) => !(s.dst === at("dst") && s.spi === spi));
    if (a[2] === "add") {
      sas.push({
        src: at("src"),
        dst: at("dst"),
        spi,
        reqid: Number(at("reqid")),
        keyHex: at("rfc4106(gcm(aes))").slice(2),
        addedAt: null,
        hardSeconds: null,
      });
    }
  }
  return { ...obs, sas };
}

Deno.test("ESP rekey: new inbound SA beside the old, then the outbound switch, then the old inbound goes", () => {
  const old = encryptedDesired(10), next = encryptedDesired(60);
  const peer = old.esp[0];
  const newer = next.esp[0];
  const spis = (o: ObservedHost, src: string) =>
    o.sas.filter((s) => s.src === src).map((s) => s.spi).sort();
  let obs = observedAfter(old);
  // 1. install-rx: the next epoch's inbound SA is added; nothing is removed, outbound unchanged.
  const install = structuredClone(old);
  install.esp[0].extraIn = [newer.in];
  const c1 = planHost(install, obs);
  deepStrictEqual(c1.map((c) => `${c.args[2]} ${c.args[c.args.indexOf("spi") + 1]}`), [
    `add 0x${newer.in.spi.toString(16).padStart(8, "0")}`,
  ]);
  obs = afterEsp(obs, c1);
  deepStrictEqual(spis(obs, peer.remote), [peer.in.spi, newer.in.spi].sort());
  // 2. switch-tx: the new outbound SA is added before the old one is removed; both inbound stay.
  const sw = structuredClone(old);
  sw.esp[0].out = newer.out;
  sw.esp[0].in = newer.in;
  sw.esp[0].extraIn = [peer.in];
  const c2 = planHost(sw, obs).filter((c) => c.kind === "xfrm-state");
  const lines = c2.map((c) => `${c.args[2]} ${parseInt(c.args[c.args.indexOf("spi") + 1], 16)}`);
  deepStrictEqual(lines, [`add ${newer.out.spi}`, `delete ${peer.out.spi}`]);
  obs = afterEsp(obs, c2);
  const out = obs.sas.filter((s) => s.src === peer.local && s.dst === peer.remote);
  deepStrictEqual(out.map((s) => s.spi), [newer.out.spi]);
  deepStrictEqual(spis(obs, peer.remote), [peer.in.spi, newer.in.spi].sort());
  // 3. drop-old: the old inbound SA goes; one SA each way is left, the new ones.
  const drop = structuredClone(old);
  drop.esp[0].out = newer.out;
  drop.esp[0].in = newer.in;
  const c3 = planHost(drop, obs).filter((c) => c.kind === "xfrm-state");
  deepStrictEqual(
    c3.map((c) => `${c.args[2]} ${parseInt(c.args[c.args.indexOf("spi") + 1], 16)}`),
    [`delete ${peer.in.spi}`],
  );
  obs = afterEsp(obs, c3);
  const mine = obs.sas.filter((s) => s.src === peer.remote || s.dst === peer.remote);
  deepStrictEqual(mine.map((s) => s.spi).sort(), [newer.in.spi, newer.out.spi].sort());
  deepStrictEqual(planHost(drop, obs), []);
});
