import { deepStrictEqual, strictEqual } from "node:assert";
import type { PeerConnectionsStatus, PeerStatus } from "../control/mod.ts";
import { localLinks, relayPolicies, TopologyService } from "./service.ts";
import type { Peer } from "../../config/types.ts";
import type { ControlMessage } from "../control/mod.ts";

const peerStatus = (state: PeerStatus["state"], rttMs: number | null, lastError: string | null) =>
  ({ state, rttMs, lastError }) as PeerStatus;

function control(peers: Record<string, PeerStatus>): PeerConnectionsStatus {
  return {
    summary: {} as PeerConnectionsStatus["summary"],
    dialSlots: { window: 8, running: 0, queued: 0 },
    peers,
    drops: {} as PeerConnectionsStatus["drops"],
    pendingHandshakes: 0,
    duplicatesClosed: 0,
  };
}

Deno.test("localLinks: up sessions are direct with their RTT, others down with the last error", () => {
  const c = control({
    b: peerStatus("up", 0.7, null),
    c: peerStatus("connecting", null, "connection refused"),
    d: peerStatus("auth-failed", null, null),
  });
  deepStrictEqual(localLinks("a", c), [
    { peer: "b", state: "direct", rttMs: 0.7 },
    { peer: "c", state: "down", why: "connection refused" },
    { peer: "d", state: "down" },
  ]);
  deepStrictEqual(localLinks("a", null), []);
});

Deno.test("relayPolicies: defaults open, relay: false and relays: carried over", () => {
  const p = (name: string, extra: Partial<Peer> = {}) => ({ name, ...extra }) as Peer;
  deepStrictEqual(
    [...relayPolicies([p("a"), p("b", { relay: false }), p("c", { relays: ["a"] })])],
    [
      ["a", { relay: true, relays: null }],
      ["b", { relay: false, relays: null }],
      ["c", { relay: true, relays: ["a"] }],
    ],
  );
});

Deno.test("the service announces on session up and shows routes from what it hears", () => {
  let st = control({ b: peerStatus("up", 1, null), c: peerStatus("down", null, "refused") });
  const sent: [string, ControlMessage][] = [];
  const svc = new TopologyService({
    self: "a",
    peers: ["a", "b", "c"],
    policy: new Map(),
    send: (peer, msg) => (sent.push([peer, msg]), true),
    control: () => st,
    sessions: () => Object.entries(st.peers).flatMap(([n, p]) => p.state === "up" ? [n] : []),
    clock: { now: () => 1_764_622_179_000, after: (_ms, fn) => (fn(), () => {}) },
  });
  svc.sessionUp("b");
  strictEqual(sent.some(([p, m]) => p === "b" && m.origin === "a"), true, JSON.stringify(sent));
  // b reports sessions with a and c; c with b.
  svc.receive("b", {
    type: "topology",
    origin: "b",
    seq: 1,
    links: [{ peer: "a", state: "direct" }, { peer: "c", state: "direct" }],
  });
  svc.receive("b", {
    type: "topology",
    origin: "c",
    seq: 1,
    links: [{ peer: "b", state: "direct" }, { peer: "a", state: "down" }],
  });
  const v = svc.view();
  deepStrictEqual(
    v.routes.map((r) => r.kind === "via" ? `${r.peer} via ${r.via}` : `${r.peer} ${r.kind}`),
    [
      "b direct",
      "c via b",
    ],
  );
  st = control({ b: peerStatus("down", null, "timeout"), c: peerStatus("down", null, "refused") });
  svc.sessionChanged();
  strictEqual(svc.view().routes.every((r) => r.kind === "unreachable"), true);
  svc.stop();
});
