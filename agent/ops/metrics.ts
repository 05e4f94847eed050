/**
 * Prometheus text exposition of the agent's counters, served on the optional `metrics:`
 * endpoint. Only counters and states: never keys, never the password source.
 *
 * @module
 */

import type { AgentStatus } from "../status.ts";

function esc(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/**
 * Flattens the numeric leaves of a counters object (numbers, or nested objects of numbers such
 * as the sleeve's `drops`) into `prefix_key` names. Walking it generically puts every counter the
 * sleeve or the session layer adds on the endpoint without a list to keep in step.
 */
function numericLeaves(obj: object | null, prefix = ""): [string, number][] {
  if (!obj) return [];
  return Object.entries(obj).flatMap(([k, v]): [string, number][] => {
    const name = prefix ? `${prefix}_${k}` : k;
    if (typeof v === "number") return Number.isFinite(v) ? [[name, v]] : [];
    return v && typeof v === "object" ? numericLeaves(v, name) : [];
  });
}

function metricName(s: string): string {
  return s.replace(/([a-z])([A-Z])/g, "$1_$2").replace(/[^a-zA-Z0-9_]/g, "_").toLowerCase();
}

/** Renders the status as Prometheus text format 0.0.4. */
export function renderMetrics(status: AgentStatus): string {
  const lines: string[] = [];
  const seen = new Set<string>();
  const emit = (name: string, labels: Record<string, string>, value: number, help?: string) => {
    const full = `weave_${metricName(name)}`;
    if (!seen.has(full)) {
      seen.add(full);
      if (help) lines.push(`# HELP ${full} ${help}`);
    }
    const l = Object.entries(labels).map(([k, v]) => `${k}="${esc(v)}"`).join(",");
    lines.push(`${full}${l ? `{${l}}` : ""} ${value}`);
  };
  for (const p of status.peers) {
    const labels = { peer: p.name };
    emit("peer_up", labels, p.state === "up" ? 1 : 0, "1 when the control session is up");
    emit(
      "peer_fastdp",
      labels,
      p.datapath === "fastdp" ? 1 : 0,
      "1 when the pair uses fast datapath",
    );
    if (p.rttMs !== null) emit("peer_rtt_ms", labels, p.rttMs, "control-connection RTT");
    if (p.keyAgeSeconds !== null) {
      emit("peer_key_age_seconds", labels, p.keyAgeSeconds, "age of the session keys in use");
      emit(
        "peer_previous_password",
        labels,
        p.password === "previous" ? 1 : 0,
        "1 while the session uses password.previous (a rollout is not done)",
      );
    }
    emit("peer_rekeys", labels, p.rekeys, "rekeys completed on the current session");
    if (p.handshakeAgeSeconds !== null) {
      // Drops to 0 at every new handshake (a session (re)established or re-keyed): resets()
      // over it counts handshakes.
      emit("peer_handshake_age_seconds", labels, p.handshakeAgeSeconds, "age of the session");
    }
    for (const [k, v] of numericLeaves(p.sleeve)) emit(`sleeve_${k}`, labels, v);
    for (const [k, v] of numericLeaves(p.control?.counters ?? null)) {
      emit(`control_${k}`, labels, v);
    }
  }
  for (const [k, v] of numericLeaves(status.controlDrops)) emit(`control_drops_${k}`, {}, v);
  for (const [k, v] of numericLeaves(status.sleeveDrops)) emit(`sleeve_global_${k}`, {}, v);
  for (const n of status.networks) emit("network_mtu", { network: n.name }, n.mtu);
  const t = status.topology;
  if (t) {
    for (const r of t.routes) {
      emit(
        "peer_route_hops",
        { peer: r.peer },
        r.kind === "unreachable" ? 0 : r.path.length - 1,
        "hops to the peer over the gossiped graph (1 direct, 0 unreachable)",
      );
    }
    const { dropped, ...gossip } = t.counters;
    for (const [k, v] of Object.entries(gossip)) emit(`topology_${k}`, {}, v);
    for (const [k, v] of Object.entries(dropped)) emit("topology_dropped", { reason: k }, v);
  }
  const relay = status.relay;
  if (relay) {
    // Sleeve datagrams relayed for others are sleeve_global_relayed{Packets,Bytes}.
    const { dropped, ...carried } = relay.counters;
    for (const [k, v] of Object.entries(carried)) emit(`relay_${k}`, {}, v);
    for (const [k, v] of Object.entries(dropped)) emit("relay_dropped", { reason: k }, v);
  }
  // Policy: packets and bytes each rule passed (first packets of connections: replies ride on
  // conntrack), packets no rule allowed, and whether each workload is plumbed.
  for (const p of status.policy.policies) {
    for (const r of p.rules) {
      const labels = { policy: p.id, rule: r.rule, direction: r.direction };
      emit("policy_rule_packets_total", labels, r.packets, "packets a policy rule allowed");
      emit("policy_rule_bytes_total", labels, r.bytes, "bytes a policy rule allowed");
    }
  }
  for (const dir of ["ingress", "egress"] as const) {
    const d = status.policy.denied[dir];
    emit("policy_denied_packets_total", { direction: dir }, d.packets, "packets no rule allowed");
  }
  for (const w of status.workloads) {
    const labels = { workload: w.name, network: w.network };
    emit("workload_up", labels, w.state === "ok" ? 1 : 0, "1 when the workload is plumbed");
  }
  return lines.join("\n") + "\n";
}

/** A tiny HTTP server answering GET /metrics. */
export class MetricsServer {
  #server: Deno.HttpServer;
  constructor(host: string, port: number, render: () => string) {
    this.#server = Deno.serve({ hostname: host, port, onListen: () => {} }, (req) => {
      const url = new URL(req.url);
      if (url.pathname !== "/metrics") return new Response("not found\n", { status: 404 });
      return new Response(render(), {
        headers: { "content-type": "text/plain; version=0.0.4" },
      });
    });
  }
  close(): void {
    this.#server.shutdown().catch(() => {});
  }
}
