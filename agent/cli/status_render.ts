/**
 * The human rendering of `weave-agent status`: one line per fact about this box, a table of
 * peers (state, datapath, RTT, handshake age, sleeve traffic and drops, and why the pair is on
 * its datapath), a table of networks.
 *
 * @module
 */

import { renderWorkloadsAndPolicy } from "./policy_render.ts";
import type { AgentStatus, PeerView } from "../status.ts";
import type { SleevePriority } from "../../datapath/sleeve/mod.ts";

/** `1536` → `1.5 KiB`. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let x = n / 1024, i = 0;
  while (x >= 1024 && i < units.length - 1) x /= 1024, i++;
  return `${x.toFixed(1)} ${units[i]}`;
}

/** Every drop the sleeve counted for the peer. */
export function sleeveDropTotal(p: PeerView): number {
  return p.sleeve ? Object.values(p.sleeve.drops).reduce((a, b) => a + b, 0) : 0;
}

const PEER_HEADER =
  "PEER            STATE     DATAPATH  ROUTE        RTT      HANDSHAKE  KEYS              TX            RX            DROPS  WHY";
const NETWORK_HEADER = "NETWORK      SUBNET              VNI       MTU   ADDRESS          MEMBERS";

/**
 * The first line: how many peers are up and how many are not, by state, so that a big fleet's
 * status is read at a glance before its table.
 */
export function peerSummary(s: AgentStatus): string {
  const byState = new Map<string, number>();
  for (const p of s.peers) byState.set(p.state, (byState.get(p.state) ?? 0) + 1);
  const up = byState.get("up") ?? 0;
  const rest = [...byState].filter(([k]) => k !== "up").map(([k, n]) => `${n} ${k}`);
  return `peers: ${up} up, ${s.peers.length - up} not up` +
    (rest.length ? ` (${rest.join(", ")})` : "") + ` of ${s.peers.length}`;
}

/** What a peer without a session waits for, from the session layer's view. */
export function waitingText(p: PeerView): string {
  const c = p.control;
  if (!c || c.waitingFor === "nothing") return "";
  const next = c.nextDialInSeconds === null ? "" : `, next dial in ${c.nextDialInSeconds}s`;
  const tries = c.failedAttempts > 0 ? `, ${c.failedAttempts} failed` : "";
  return `waiting for ${c.waitingFor}${next}${tries}`;
}

/**
 * A peer whose endpoint was learned (#15: dial-out only, DNS-named, or heard from elsewhere
 * than configured): where the sleeve sends to it, and since when; null for the others.
 */
export function endpointLine(p: PeerView): string | null {
  const e = p.learnedEndpoint;
  if (!e) return null;
  const from = e.source === "sleeve" ? "its last authenticated datagram" : "its control connection";
  const was = e.previous ? `, was ${e.previous}` : "";
  return `  ${p.name} (${p.address}): endpoint ${e.endpoint} from ${from} since ${e.since}${was}`;
}

/** The sleeve's packet worker: realtime or not, why, and since when. */
function priorityLine(p: SleevePriority): string {
  const exits = p.exits ? `; left realtime ${p.exits} time(s), ${p.floods} for a flood` : "";
  return `sleeve packet worker: ${p.realtime ? "realtime" : "ordinary"} priority since ` +
    `${p.since} (${p.why})${exits}`;
}

/** Human rendering of `status`. */
export function renderStatus(s: AgentStatus): string {
  const lines = [
    peerSummary(s),
    `peer ${s.peer} at ${s.address} (pid ${s.pid})`,
    `config ${s.config.path}, loaded ${s.config.loadedAt}, datapath ${s.config.datapath}, ` +
    `encryption ${s.config.encrypted ? "on" : "OFF"}`,
    `fast datapath on this box: ${s.fastdp.capable ? "yes" : "no"} (${s.fastdp.reason})`,
    `sleeve crypto: ${s.sleeve ? `${s.sleeve.backend} ${s.sleeve.aead}` : "-"}`,
    ...(s.sleeve ? [priorityLine(s.sleeve.priority)] : []),
  ];
  if (s.config.lastReload) {
    const r = s.config.lastReload;
    lines.push(`last reload ${r.at}: ${r.ok ? "ok" : "REFUSED"} (${r.message.split("\n")[0]})`);
  }
  if (s.reconcile) {
    lines.push(
      `last reconcile ${s.reconcile.at}: ${s.reconcile.changes} change(s)` +
        (s.reconcile.configLoadedAt !== s.config.loadedAt
          ? " (planned from the previous config)"
          : "") +
        (s.reconcile.error ? `, ERROR ${s.reconcile.error}` : ""),
    );
  }
  lines.push("", PEER_HEADER);
  for (const p of s.peers) lines.push(peerRow(p));
  for (const p of s.peers) {
    const line = endpointLine(p);
    if (line) lines.push(line);
  }
  const far = s.peers.flatMap((p) => p.route?.kind === "unreachable" ? [p.route] : []);
  for (const r of far) lines.push(`  ${r.peer} unreachable: ${r.why}`);
  if (s.relay) {
    const c = s.relay.counters;
    const g = s.sleeveDrops;
    lines.push(
      `relay: ${s.relay.relays ? "forwards for others" : "relay: false"}; carried ` +
        `${c.forwardedMessages} control message(s) (${formatBytes(c.forwardedBytes)}), ` +
        `${g?.relayedPackets ?? 0} datagram(s) (${formatBytes(g?.relayedBytes ?? 0)}); ` +
        `refused ${(g?.relayRefused ?? 0) + Object.values(c.dropped).reduce((a, b) => a + b, 0)}`,
    );
  }
  if (s.topology) {
    const c = s.topology.counters;
    const dropped = Object.values(c.dropped).reduce((a, b) => a + b, 0);
    lines.push(
      `topology: ${s.topology.origins} box(es) heard from, ${s.topology.edges.length} link(s); ` +
        `records in ${c.recordsIn} (new ${c.recordsNew}, stale ${c.recordsStale}), out ` +
        `${c.recordsOut}, dropped ${dropped}`,
    );
  }
  lines.push("", NETWORK_HEADER);
  for (const n of s.networks) {
    lines.push(
      [
        n.name.padEnd(12),
        n.subnet.padEnd(19),
        String(n.vni).padEnd(9),
        String(n.mtu).padEnd(5),
        n.address.padEnd(16),
        n.members.map((m) => m.peer).join(", "),
      ].join(" "),
    );
  }
  lines.push(...renderWorkloadsAndPolicy(s));
  return lines.join("\n");
}

function peerRow(p: PeerView): string {
  const sl = p.sleeve;
  return [
    p.name.padEnd(15),
    p.state.padEnd(9),
    p.datapath.padEnd(9),
    routeText(p).padEnd(12),
    (p.rttMs === null ? "-" : `${p.rttMs.toFixed(1)}ms`).padEnd(8),
    (p.handshakeAgeSeconds === null ? "-" : `${p.handshakeAgeSeconds}s ago`).padEnd(10),
    // Which password the keys come from, their age and the rekeys so far (#14).
    (p.password === null ? "-" : `${p.password} ${p.keyAgeSeconds}s r${p.rekeys}`).padEnd(17),
    `${formatBytes(sl?.txBytes ?? 0)}/${sl?.txPackets ?? 0}p`.padEnd(13),
    `${formatBytes(sl?.rxBytes ?? 0)}/${sl?.rxPackets ?? 0}p`.padEnd(13),
    String(sleeveDropTotal(p)).padEnd(6),
    [p.reason, waitingText(p)].filter((x) => x).join("; ") +
    (p.lastError ? ` [${p.lastError}]` : ""),
  ].join(" ");
}

/**
 * `direct`, `via <peer>`, `direct (punched)` (#16: datagrams straight, control relayed) or
 * `unreachable` (the why is printed under the table).
 */
function routeText(p: PeerView): string {
  const r = p.route;
  if (!r) return "-";
  if (p.sleevePath === "direct (punched)") return p.sleevePath;
  return r.kind === "via" ? `via ${r.via}` : r.kind;
}
