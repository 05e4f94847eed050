import { deepStrictEqual, match, ok, strictEqual } from "node:assert";
import type { KernelCaps } from "../../datapath/kernel_probe.ts";
import { datapathCaps } from "../../datapath/kernel_probe.ts";
import { parseConfig, type PasswordReading } from "../../config/mod.ts";
import {
  datapathItems,
  dialablePeersItem,
  dialOutItem,
  identityItem,
  kernelItems,
  natFleetItem,
  parseCapEff,
  parseIproute2Version,
  parseNftVersion,
  parseRtprio,
  passwordItems,
  privilegesItem,
  realtimeItem,
  sleeveCryptoItem,
  toolItem,
  underlayAddressItem,
} from "./items.ts";
import { checkExitCode, type CheckReport, renderCheck } from "./check.ts";

Deno.test("versions of ip, bridge and nft as each prints them", () => {
  deepStrictEqual(parseIproute2Version("ip utility, iproute2-6.1.0, libbpf 1.1.2"), [6, 1, 0]);
  deepStrictEqual(parseIproute2Version("bridge utility, 6.1.0"), [6, 1, 0]);
  deepStrictEqual(parseIproute2Version("ip utility, iproute2-ss200127"), [5, 0, 0]);
  deepStrictEqual(parseIproute2Version("ip utility, iproute2-ss161212"), [4, 0, 0]);
  deepStrictEqual(parseNftVersion("nftables v1.0.6 (Lester Gooch #5)"), [1, 0, 6]);
  deepStrictEqual(parseNftVersion("nftables v0.9.3 (Topsy)"), [0, 9, 3]);
  strictEqual(parseNftVersion("something else"), null);
  strictEqual(toolItem("ip", "ip utility, iproute2-ss161212").status, "failure");
  strictEqual(toolItem("ip", "ip utility, iproute2-4.19.0").status, "warning");
  strictEqual(toolItem("nft", "nftables v0.8.0").status, "failure");
  strictEqual(toolItem("nft", null).status, "failure");
  match(toolItem("nft", null).fix ?? "", /apt-get install nftables/);
});

Deno.test("privileges.realtime: CAP_SYS_NICE (bit 23) or RLIMIT_RTPRIO >= 1, else a warning with the fix", () => {
  const limits = (soft: string) =>
    "Limit                     Soft Limit           Hard Limit           Units     \n" +
    "Max nice priority         0                    0                    \n" +
    `Max realtime priority     ${soft}                    ${soft}                    \n`;
  strictEqual(parseRtprio(limits("0")), 0);
  strictEqual(parseRtprio(limits("1")), 1);
  strictEqual(parseRtprio(limits("unlimited")), Infinity);
  strictEqual(parseRtprio("no such line"), null);
  strictEqual(realtimeItem(1n << 23n, 0, false).status, "ok");
  match(realtimeItem(1n << 23n, 0, false).found, /CAP_SYS_NICE/);
  // The unit's case: no CAP_SYS_NICE in the bounding set, LimitRTPRIO=1.
  const unit = realtimeItem(1n << 12n | 1n << 21n, 1, false);
  strictEqual(unit.status, "ok");
  match(unit.found, /RLIMIT_RTPRIO 1/);
  const none = realtimeItem(1n << 12n, 0, false);
  strictEqual(none.status, "warning");
  match(none.found, /ordinary priority/);
  match(none.fix ?? "", /LimitRTPRIO=1/);
  strictEqual(realtimeItem(0n, null, true).status, "ok");
  match(realtimeItem(0n, null, true).found, /WEAVE_SLEEVE_REALTIME=off/);
});

Deno.test("privileges: CAP_NET_ADMIN (bit 12) is what counts", () => {
  strictEqual(parseCapEff("Name:\tx\nCapEff:\t000001ffffffffff\n"), 0x1ffffffffffn);
  strictEqual(privilegesItem(0, 0x1ffffffffffn).status, "ok");
  strictEqual(privilegesItem(1000, 1n << 12n).status, "ok");
  strictEqual(privilegesItem(0, 0n).status, "failure"); // root in a capability-less container
  strictEqual(privilegesItem(1000, 0n).status, "failure");
});

const PROBE: KernelCaps = {
  bridge: { ok: true, detail: "ok" },
  vxlan: { ok: false, detail: "no vxlan module" },
  tun: { ok: false, detail: "no /dev/net/tun", fix: "modprobe tun" },
  nftables: { ok: true, detail: "nft works" },
  xfrm: { ok: true, detail: "xfrm works" },
  espGcm: { ok: false, detail: "no rfc4106(gcm(aes))", fix: "modprobe esp4" },
};

Deno.test("kernel items: needed everywhere fails, fast-datapath-only warns or is not needed", () => {
  const auto = kernelItems(PROBE, { datapath: "auto", encrypted: true });
  deepStrictEqual(auto.map((i) => [i.id, i.status]), [
    ["kernel.bridge", "ok"],
    ["kernel.vxlan", "warning"],
    ["kernel.tun", "failure"],
    ["kernel.nftables", "ok"],
    ["kernel.xfrm", "ok"],
    ["kernel.esp-gcm", "warning"],
  ]);
  strictEqual(auto[2].fix, "modprobe tun");
  match(auto[5].found, /sleeve will be used for encrypted pairs/);
  const fastdp = kernelItems(PROBE, { datapath: "fastdp", encrypted: true });
  strictEqual(fastdp[5].status, "failure");
  match(fastdp[5].fix ?? "", /datapath: auto/);
  const sleeve = kernelItems(PROBE, { datapath: "sleeve", encrypted: true });
  deepStrictEqual(sleeve.map((i) => i.status), ["ok", "ok", "failure", "ok", "ok", "ok"]);
  const plain = kernelItems(PROBE, { datapath: "auto", encrypted: false });
  strictEqual(plain[5].status, "ok");
  match(plain[5].found, /not needed: no password/);
});

Deno.test("sleeve crypto: a system library, or the slower @noble fallback with the fix", () => {
  const fast = sleeveCryptoItem({ backend: "libsodium", aead: "aes-256-gcm", aesni: true });
  strictEqual(fast.status, "ok");
  strictEqual(fast.found, "libsodium aes-256-gcm, AES-NI");
  const lc = sleeveCryptoItem({ backend: "libcrypto", aead: "chacha20-poly1305", aesni: false });
  strictEqual(lc.found, "libcrypto chacha20-poly1305, no AES-NI");
  const slow = sleeveCryptoItem({ backend: "noble", aead: "aes-256-gcm" });
  strictEqual(slow.status, "warning");
  match(slow.found, /slower fallback \(@noble\)/);
  match(slow.fix ?? "", /libsodium23.*libssl3/);
});

function report(statuses: ("ok" | "warning" | "failure")[]): CheckReport {
  const items = statuses.map((status, i) => ({
    id: `x.${i}`,
    group: "x",
    status,
    found: `found ${i}\nsecond line`,
    ...(status === "ok" ? {} : { fix: `fix ${i}` }),
  }));
  const n = (s: string) => statuses.filter((x) => x === s).length;
  return {
    items,
    summary: {
      ok: n("ok"),
      warning: n("warning"),
      failure: n("failure"),
      name: "edge-1",
      configPath: "/etc/weave/weave.yaml",
      durationMs: 12,
    },
  };
}

Deno.test("exit code: 0 all ok, 3 warnings only, 1 any failure", () => {
  strictEqual(checkExitCode(report(["ok", "ok"])), 0);
  strictEqual(checkExitCode(report(["ok", "warning"])), 3);
  strictEqual(checkExitCode(report(["warning", "failure", "ok"])), 1);
});

Deno.test("render: table with fixes under problems, colour only when asked", () => {
  const r = report(["ok", "warning", "failure"]);
  const plain = renderCheck(r, { color: false });
  ok(!plain.includes("\x1b["), `escape codes without color: ${JSON.stringify(plain)}`);
  deepStrictEqual(plain.split("\n"), [
    "weave-agent check: edge-1 (/etc/weave/weave.yaml)",
    "ok    x.0   found 0",
    "            second line",
    "WARN  x.1   found 1",
    "            second line",
    "            fix: fix 1",
    "FAIL  x.2   found 2",
    "            second line",
    "            fix: fix 2",
    "1 ok, 1 warning, 1 failure (12 ms)",
  ]);
  const colored = renderCheck(r, { color: true });
  ok(colored.includes("\x1b[31mFAIL\x1b[0m"), JSON.stringify(colored));
  ok(colored.includes("\x1b[33mWARN\x1b[0m"), JSON.stringify(colored));
});

const CONFIG = parseConfig(
  `version: 1
password: {env: WEAVE_PASSWORD}
peers:
  - {name: edge-1, address: 192.0.2.1}
  - {name: edge-2, address: 192.0.2.2}
networks:
  - {name: sensors, subnet: 10.32.1.0/24}
`,
  "weave.yaml",
  { env: { WEAVE_PASSWORD: "x" } },
);

function config() {
  if (!CONFIG.ok) throw new Error(JSON.stringify(CONFIG.diagnostics));
  return CONFIG.config;
}

Deno.test("datapath items take the probe through datapathCaps", () => {
  const cfg = config();
  const self = cfg.peers[0];
  const noEsp = datapathItems(cfg, self, datapathCaps(PROBE));
  deepStrictEqual(noEsp.map((i) => [i.id, i.status, i.found]), [[
    "datapath.edge-2",
    "ok",
    "edge-2: sleeve: this kernel cannot create VXLAN devices (no vxlan module) (sensors)",
  ]]);
  const capable = datapathItems(cfg, self, {
    vxlan: true,
    vxlanDetail: "",
    esp: true,
    espDetail: "",
  });
  match(capable[0].found, /^edge-2: fast datapath \(kernel VXLAN \+ ESP \(AES-GCM\)\) if edge-2/);
  const unknown = datapathItems(cfg, self, null);
  deepStrictEqual(unknown.map((i) => i.status), ["warning"]);
});

Deno.test("identity: the peer lookup of config/describe.ts, with a suggestion", () => {
  const cfg = config();
  deepStrictEqual(identityItem(cfg, "edge-2", true), {
    id: "config.identity",
    group: "config",
    status: "ok",
    found: "this box is edge-2 (peer 2 of 2, --name)",
  });
  const wrong = identityItem(cfg, "edge-3", false);
  strictEqual(wrong.status, "failure");
  strictEqual(
    wrong.found,
    `this box is "edge-3" (hostname), which is not a peer; did you mean "edge-1"? ` +
      "(peers: edge-1, edge-2)",
  );
});

Deno.test("password items judge the bytes readPasswordSource returns", () => {
  const cfg = config();
  const bytes = (s: string): PasswordReading => ({ ok: true, bytes: new TextEncoder().encode(s) });
  const weak = passwordItems(cfg, { reading: bytes("hunter2"), mode: null });
  deepStrictEqual(weak.map((i) => [i.id, i.status]), [
    ["password.source", "ok"],
    ["password.strength", "warning"],
  ]);
  const strong = passwordItems(cfg, {
    reading: bytes("q8Vn3xZr0LmT5bWc9KfJ2hYs7GdP4aEu"),
    mode: null,
  });
  deepStrictEqual(strong.map((i) => [i.id, i.status]), [
    ["password.source", "ok"],
    ["password.strength", "ok"],
  ]);
  const unset = passwordItems(cfg, { reading: { ok: false, problem: "unset" }, mode: null });
  deepStrictEqual(unset.map((i) => [i.status, i.found]), [[
    "failure",
    "password environment variable WEAVE_PASSWORD is not set",
  ]]);
});

const KEY_A = btoa(String.fromCharCode(...new Uint8Array(32).fill(1)));
const KEY_B = btoa(String.fromCharCode(...new Uint8Array(32).fill(2)));
const NAT = parseConfig(
  `version: 1
password: {env: WEAVE_PASSWORD}
peers:
  - {name: hub, address: 192.0.2.1}
  - {name: field-1, key: ${KEY_A}}
  - {name: field-2, key: ${KEY_B}}
  - {name: named, address: "named.example.net:7000"}
networks:
  - {name: sensors, subnet: 10.32.1.0/24}
`,
  "weave.yaml",
  { env: { WEAVE_PASSWORD: "x" } },
);

Deno.test("dial-out peers: who dials whom, pairs that cannot meet, nobody to dial", () => {
  if (!NAT.ok) throw new Error(JSON.stringify(NAT.diagnostics));
  const cfg = NAT.config;
  const [hub, f1, f2, named] = cfg.peers;
  deepStrictEqual(dialOutItem(f1, hub), {
    id: "peer.field-1",
    group: "peers",
    status: "ok",
    found: "field-1 is dial-out only (no address): it dials this box; nobody dials it",
  });
  const both = dialOutItem(f2, f1);
  deepStrictEqual([both.status, both.found], [
    "ok",
    "field-2 and this box are both dial-out only: they cannot connect to each other directly " +
    "and can only meet through a peer that has an address",
  ]);
  deepStrictEqual(
    dialablePeersItem(cfg, f1)?.found,
    "this box is dial-out only; it dials hub, named",
  );
  strictEqual(dialablePeersItem(cfg, hub), null);
  const lonely = { ...cfg, peers: [f1, f2] };
  deepStrictEqual(
    [dialablePeersItem(lonely, f1)?.status, dialablePeersItem(lonely, f1)?.found],
    [
      "warning",
      "this box is dial-out only and no other peer has an address: it has nobody to dial",
    ],
  );
  deepStrictEqual(
    underlayAddressItem(f1, []).found,
    "dial-out only (no address in the config): " +
      "any address works; this box dials the peers that have one",
  );
  deepStrictEqual(underlayAddressItem(named, []).status, "ok");
  const dp = datapathItems(cfg, hub, { vxlan: true, vxlanDetail: "", esp: true, espDetail: "" });
  deepStrictEqual(dp.map((i) => i.found.split(";")[0]), [
    "field-1: sleeve: field-1 is dial-out only (behind NAT)",
    "field-2: sleeve: field-2 is dial-out only (behind NAT)",
    // #15: the fast datapath only between fixed addresses (a DNS name may change under it).
    "named: sleeve: named is given by DNS name",
  ]);
});

Deno.test("#15 fleet view: dial-out-only peers, pairs that can only meet through one with an address", () => {
  if (!NAT.ok) throw new Error(JSON.stringify(NAT.diagnostics));
  const cfg = NAT.config;
  deepStrictEqual(natFleetItem(cfg), {
    id: "fleet.dial-out",
    group: "peers",
    status: "ok",
    found: "dial-out only (no address; they dial, nobody dials them): field-1, field-2; these " +
      "pairs can only meet through a peer that has an address (hub, named): field-1–field-2",
  });
  const [hub, f1, f2] = cfg.peers;
  strictEqual(natFleetItem({ ...cfg, peers: [hub] }), null);
  const lonely = natFleetItem({ ...cfg, peers: [f1, f2] });
  deepStrictEqual([lonely?.status, lonely?.fix], [
    "warning",
    "give at least one peer a fixed address or DNS name the others can reach",
  ]);
  // A fleet of 1,000 boxes behind NATs: half a million pairs, summed up in one short line.
  const many = Array.from(
    { length: 1000 },
    (_, i) => ({ ...f1, name: `field-${i}`, index: i + 1 }),
  );
  const big = natFleetItem({ ...cfg, peers: [hub, ...many] })!;
  strictEqual(big.found.length < 1000, true, big.found);
  strictEqual(
    big.found.startsWith(
      "dial-out only (no address; they dial, nobody dials them): 1000 peers: field-0, field-1, ",
    ),
    true,
    big.found,
  );
  strictEqual(
    big.found.endsWith(
      "field-18, field-19, … (980 more); these pairs can only meet through a peer that has an " +
        "address (hub): 499500 pairs: field-0–field-1, field-0–field-2, field-0–field-3, " +
        "field-0–field-4, field-0–field-5, field-0–field-6, field-0–field-7, field-0–field-8, " +
        "field-0–field-9, field-0–field-10, field-0–field-11, field-0–field-12, field-0–field-13, " +
        "field-0–field-14, field-0–field-15, field-0–field-16, field-0–field-17, field-0–field-18, " +
        "field-0–field-19, field-0–field-20, … (499480 more)",
    ),
    true,
    big.found,
  );
  const named = cfg.peers[3];
  const dp = datapathItems(cfg, hub, null).find((i) => i.id === `datapath.${named.name}`);
  strictEqual(
    dp?.found,
    "named: sleeve: named is given by DNS name; the fast datapath needs both ends' addresses " +
      "fixed (sensors)",
  );
});
