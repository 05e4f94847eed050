import { deepStrictEqual, strictEqual, throws } from "node:assert";
import type { Config } from "../config/types.ts";
import type { PeerConnectionsStatus } from "./control/mod.ts";
import { renderMetrics } from "./ops/metrics.ts";
import { renderStatus } from "./cli/status_render.ts";
import { type AgentStatus, assertAgentStatus, buildStatus, StatusShapeError } from "./status.ts";
import type { PairState } from "./pair_datapath.ts";

const ipPeer = (name: string, ip: string, index: number) => ({
  name,
  address: ip,
  family: 4 as const,
  port: 6784,
  index,
  endpoint: { kind: "ip" as const, ip, family: 4 as const, port: 6784 },
  key: null,
});
const self = ipPeer("edge-1", "192.0.2.1", 0);
const other = ipPeer("edge-2", "192.0.2.2", 1);
const net = {
  name: "net1",
  subnet: "10.40.1.0/24",
  family: 4 as const,
  prefixLength: 24,
  vni: 7,
  vniDerived: true,
  members: [
    { peer: "edge-1", address: "10.40.1.1", derived: true },
    { peer: "edge-2", address: "10.40.1.2", derived: true },
  ],
  labels: { "kubernetes.io/metadata.name": "net1" },
};
const config: Config = {
  path: "/etc/weave/weave.yaml",
  version: 1 as const,
  password: { kind: "file", path: "/etc/weave/password" },
  port: 6784,
  vxlanPort: 4789,
  datapath: "auto",
  underlayMtu: 1500,
  metrics: null,
  peers: [self, other],
  networks: [net],
  previousPassword: null,
  keyFile: "/etc/weave/node.key",
  rekeyAfterMs: 120_000,
  rejectAfterMs: 180_000,
  natKeepaliveMs: 25_000,
  workloads: [],
  routes: [],
  policies: [],
};
const pair: PairState = {
  peer: other,
  secrets: {
    sessionKey: new Uint8Array(32),
    dialerNonce: new Uint8Array(32),
    listenerNonce: new Uint8Array(32),
    localIsDialer: true,
    authenticated: true,
    id: 4,
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
  },
  sessionFrom: null,
  sessionSince: 1_000_000,
  remote: { cap: { capable: false, reason: "no ESP" }, aead: "chacha20-poly1305", sleeveIndex: 9 },
  localIndex: 42,
  datapath: "sleeve",
  reason: "peer edge-2: no ESP",
  macs: {},
};
const drops = {
  auth: 0,
  replay: 1,
  unknownNetwork: 0,
  oversize: 2,
  truncated: 0,
  notMember: 0,
  noSession: 0,
  malformed: 0,
};
const control: PeerConnectionsStatus = {
  summary: {
    connecting: 0,
    handshaking: 0,
    up: 1,
    down: 0,
    "auth-failed": 0,
    "version-mismatch": 0,
  },
  dialSlots: { window: 8, running: 0, queued: 0 },
  peers: {
    "edge-2": {
      state: "up",
      waitingFor: "nothing",
      nextDialAt: null,
      nextDialInSeconds: null,
      failedAttempts: 0,
      unreachedAttempts: 0,
      dialable: true,
      dials: 1,
      handshakes: 1,
      sessionsUp: 1,
      sessionsDown: 0,
      address: "192.0.2.2:6784",
      since: 1_000_000,
      sinceSeconds: 12,
      handshakeAgeSeconds: 12,
      rttMs: 0.5,
      sessionId: 4,
      authenticated: true,
      password: "previous",
      keyAgeSeconds: 7,
      rekeys: 3,
      counters: { messagesIn: 5, messagesOut: 6, bytesIn: 700, bytesOut: 800 },
      lastError: null,
    },
  },
  // Only the reasons the test reads; the session layer fills every reason.
  drops: { auth: 3 } as PeerConnectionsStatus["drops"],
  pendingHandshakes: 0,
  duplicatesClosed: 0,
};

function status(): AgentStatus {
  return buildStatus({
    now: 1_012_400,
    pid: 77,
    config,
    self,
    loadedAt: new Date(0),
    encrypted: true,
    lastReload: null,
    capability: { capable: true, reason: "kernel VXLAN + ESP (AES-GCM)" },
    reconcile: {
      at: "2026-12-01T00:00:00.000Z",
      configLoadedAt: "1970-01-01T00:00:00.000Z",
      changes: 3,
    },
    sleeve: {
      backend: "libcrypto",
      preferredAead: "aes-256-gcm",
      counters: {
        peers: {
          "edge-2": {
            txPackets: 10,
            txBytes: 2048,
            rxPackets: 11,
            rxBytes: 1000,
            drops,
            txErrors: 0,
            txRefused: 0,
            keepalivesOut: 0,
            keepalivesIn: 0,
            rxRelayed: 0,
            punchesOut: 0,
          },
        },
        global: {
          unknownPeer: 4,
          truncated: 0,
          badType: 0,
          oversize: 0,
          txErrors: 0,
          internalErrors: 0,
          relayedPackets: 0,
          relayedBytes: 0,
          relayRefused: 0,
          realtime: 1,
          realtimeExits: 0,
        },
      },
      priority: {
        realtime: true,
        since: "2026-12-01T00:00:00.000Z",
        why: "test",
        exits: 0,
        floods: 0,
      },
    },
    control,
    pairs: [pair],
    networks: [net],
    mtu: 1398,
    workloads: [],
    policy: {
      policies: [],
      denied: { ingress: { packets: 0, bytes: 0 }, egress: { packets: 0, bytes: 0 } },
    },
  });
}

Deno.test("status: built from the parts, control and sleeve fields are their own types", () => {
  const s = status();
  const p = s.peers[0];
  deepStrictEqual(
    {
      state: p.state,
      crypto: p.crypto,
      age: p.handshakeAgeSeconds,
      index: p.sleeveIndex,
      rtt: p.rttMs,
      keys: [p.password, p.keyAgeSeconds, p.rekeys],
      tx: p.sleeve?.txBytes,
      messagesIn: p.control?.counters.messagesIn,
    },
    {
      state: "up",
      crypto: "libcrypto chacha20-poly1305",
      age: 12,
      index: 42,
      rtt: 0.5,
      keys: ["previous", 7, 3],
      tx: 2048,
      messagesIn: 5,
    },
  );
  deepStrictEqual(s.networks[0], {
    name: "net1",
    subnet: "10.40.1.0/24",
    vni: 7,
    mtu: 1398,
    address: "10.40.1.1",
    bridge: "wvb-net1",
    members: [{ peer: "edge-1", address: "10.40.1.1" }, { peer: "edge-2", address: "10.40.1.2" }],
  });
});

Deno.test("status: the shape check accepts what the agent sends and names the first bad field", () => {
  const wire: unknown = JSON.parse(JSON.stringify(status()));
  assertAgentStatus(wire);
  strictEqual(wire.peers[0].name, "edge-2");
  // deno-lint-ignore no-explicit-any -- the test edits raw JSON as the wire would carry it
  const broken = (mutate: (s: Record<string, any>) => void) => {
    const s = JSON.parse(JSON.stringify(status()));
    mutate(s);
    return s;
  };
  // deno-lint-ignore no-explicit-any -- as above
  const cases: [(s: Record<string, any>) => void, RegExp][] = [
    [(s) => delete s.peer, /peer should be a string, got undefined/],
    [
      (s) => s.config.datapath = "warp",
      /config\.datapath should be auto \| fastdp \| sleeve, got "warp"/,
    ],
    [
      (s) => s.peers[0].sleeve.drops.replay = "1",
      /peers\[0\]\.sleeve\.drops\.replay should be a number/,
    ],
    [(s) => s.peers[0].rttMs = "fast", /peers\[0\]\.rttMs should be a number, got "fast"/],
    [(s) => s.networks = {}, /networks should be a list/],
  ];
  for (const [mutate, want] of cases) {
    throws(() => assertAgentStatus(broken(mutate)), (e: Error) => {
      strictEqual(e instanceof StatusShapeError && want.test(e.message), true, e.message);
      return true;
    });
  }
});

Deno.test("metrics: typed counters become weave_* series with the same names as before", () => {
  const text = renderMetrics(status());
  for (
    const line of [
      'weave_peer_up{peer="edge-2"} 1',
      'weave_peer_fastdp{peer="edge-2"} 0',
      'weave_peer_rtt_ms{peer="edge-2"} 0.5',
      'weave_sleeve_tx_bytes{peer="edge-2"} 2048',
      'weave_sleeve_drops_replay{peer="edge-2"} 1',
      'weave_control_messages_in{peer="edge-2"} 5',
      "weave_control_drops_auth 3",
      "weave_sleeve_global_unknown_peer 4",
      'weave_network_mtu{network="net1"} 1398',
    ]
  ) {
    strictEqual(text.split("\n").includes(line), true, `missing ${line} in\n${text}`);
  }
});

Deno.test("status rendering: one row per peer with traffic, drops and why", () => {
  const text = renderStatus(status());
  const row = text.split("\n").find((l) => l.startsWith("edge-2"));
  strictEqual(
    row,
    "edge-2          up        sleeve    -            0.5ms    12s ago    previous 7s r3    2.0 KiB/10p   1000 B/11p    3      peer edge-2: no ESP",
  );
  strictEqual(text.includes("encryption on"), true, text);
  // A big fleet's status opens with the counts.
  strictEqual(text.split("\n")[0], "peers: 1 up, 0 not up of 1");
});
