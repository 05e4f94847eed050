import { deepStrictEqual, strictEqual } from "node:assert";
import { EMPTY_OBSERVED } from "../datapath/host/desired.ts";
import { sleevePeerOf } from "./sleeve_peer.ts";
import { bridgeMacs } from "./desired_host.ts";
import type { PairState } from "./pair_datapath.ts";

const peer = {
  name: "edge-2",
  address: "192.0.2.2",
  family: 4 as const,
  port: 6784,
  index: 1,
  endpoint: { kind: "ip" as const, ip: "192.0.2.2", family: 4 as const, port: 6784 },
  key: null,
};
const secrets = {
  sessionKey: new Uint8Array(32).fill(1),
  dialerNonce: new Uint8Array(32).fill(2),
  listenerNonce: new Uint8Array(32).fill(3),
  localIsDialer: false,
  authenticated: true,
  id: 1,
  keys: {
    dialerToListener: {
      control: new Uint8Array(32),
      sleeve: new Uint8Array(32),
      esp: { key: new Uint8Array(36), spi: 256 },
    },
    listenerToDialer: {
      control: new Uint8Array(32),
      sleeve: new Uint8Array(32),
      esp: { key: new Uint8Array(36), spi: 257 },
    },
    dialerIndex: 1,
    listenerIndex: 2,
  },
  transcriptHash: new Uint8Array(32),
  password: "current" as const,
  peerProvedKey: false,
};
const base: PairState = {
  peer,
  secrets: null,
  sessionFrom: null,
  sessionSince: null,
  remote: null,
  localIndex: 5,
  datapath: "pending",
  reason: "",
  macs: {},
};

Deno.test("sleeve peer: keys only once both indices are known; sends only on sleeve pairs", () => {
  deepStrictEqual(sleevePeerOf(base, [7], "aes-256-gcm"), {
    name: "edge-2",
    address: "192.0.2.2",
    port: 6784,
    keepaliveMs: 0,
    networks: [7],
    session: null,
    active: false,
  });
  // A peer without a fixed address: where peer_endpoints.ts says, with its keepalive (#15).
  const target = { address: "198.51.100.7", port: 40001, keepaliveMs: 25_000 };
  const learned = sleevePeerOf(base, [7], "aes-256-gcm", null, target);
  deepStrictEqual([learned.address, learned.port, learned.keepaliveMs], [
    "198.51.100.7",
    40001,
    25_000,
  ]);
  // Session up, caps not yet in: no keys (the peer's receiver index is unknown).
  strictEqual(sleevePeerOf({ ...base, secrets }, [7], "aes-256-gcm").session, null);
  const remote = {
    cap: { capable: false, reason: "x" },
    aead: "aes-256-gcm" as const,
    sleeveIndex: 9,
  };
  const fast = sleevePeerOf({ ...base, secrets, remote, datapath: "fastdp" }, [7], "aes-256-gcm");
  deepStrictEqual(
    { active: fast.active, local: fast.session?.localIndex, remote: fast.session?.remoteIndex },
    { active: false, local: 5, remote: 9 },
  );
  const sleeve = sleevePeerOf({ ...base, secrets, remote, datapath: "sleeve" }, [7], "aes-256-gcm");
  deepStrictEqual({ active: sleeve.active, aead: sleeve.session?.aead }, {
    active: true,
    aead: "aes-256-gcm",
  });
});

Deno.test("sleeve peer: ChaCha20-Poly1305 when either end prefers it, so both ends agree", () => {
  const remote = { cap: { capable: false, reason: "x" }, sleeveIndex: 9 };
  const pick = (theirs: "aes-256-gcm" | "chacha20-poly1305", ours: typeof theirs) =>
    sleevePeerOf({ ...base, secrets, remote: { ...remote, aead: theirs } }, [], ours).session?.aead;
  deepStrictEqual(
    [
      pick("aes-256-gcm", "aes-256-gcm"),
      pick("chacha20-poly1305", "aes-256-gcm"),
      pick("aes-256-gcm", "chacha20-poly1305"),
    ],
    ["aes-256-gcm", "chacha20-poly1305", "chacha20-poly1305"],
  );
});

Deno.test("bridge MACs: one per network whose bridge is observed", () => {
  const link = (name: string, address: string | null) => ({
    name,
    kind: "bridge",
    mtu: 1398,
    up: true,
    master: null,
    address,
    isolated: null,
    vxlan: null,
    addresses: [],
  });
  const observed = {
    ...EMPTY_OBSERVED,
    links: [link("wvb-net1", "02:aa:bb:cc:dd:01"), link("wvb-other", "02:aa:bb:cc:dd:02")],
  };
  const net = (name: string, vni: number) => ({
    name,
    subnet: "10.40.1.0/24",
    family: 4 as const,
    prefixLength: 24,
    vni,
    vniDerived: true,
    members: [],
    labels: { "kubernetes.io/metadata.name": name },
  });
  deepStrictEqual(bridgeMacs(observed, [net("net1", 7), net("net2", 8)]), {
    "7": ["02:aa:bb:cc:dd:01"],
  });
});
