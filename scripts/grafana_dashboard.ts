/**
 * Writes examples/grafana/weave-agent.json, the Grafana dashboard for the agent's Prometheus
 * metrics (`metrics: host:port` in weave.yaml). The JSON is generated so that every query is
 * written once, here; `tests/grafana_dashboard_test.ts` checks the file matches this output and
 * that every series it queries exists on a real agent's /metrics.
 *
 *   deno run --allow-write scripts/grafana_dashboard.ts      # rewrite the example
 *   deno run scripts/grafana_dashboard.ts --stdout           # print it
 *
 * @module
 */

/** Per-peer sleeve drop reasons (`weave_sleeve_drops_<reason>{peer}`). */
export const SLEEVE_PEER_DROPS = [
  "auth",
  "replay",
  "unknown_network",
  "oversize",
  "truncated",
  "not_member",
  "no_session",
  "malformed",
] as const;

/** Sleeve drops not tied to a peer (`weave_sleeve_global_<reason>`). */
export const SLEEVE_GLOBAL_DROPS = [
  "unknown_peer",
  "truncated",
  "bad_type",
  "oversize",
  "tx_errors",
  "internal_errors",
  "relay_refused",
] as const;

/** Control-plane input dropped (`weave_control_drops_<reason>`). */
export const CONTROL_DROPS = [
  "bad_header",
  "bad_version",
  "garbage",
  "truncated",
  "oversize",
  "timeout",
  "unknown_peer",
  "forged",
  "auth",
  "too_many_pending",
] as const;

const SEL = `instance=~"$instance"`;
const PEER_SEL = `${SEL}, peer=~"$peer"`;
const RATE = "$__rate_interval";

interface Target {
  expr: string;
  legendFormat: string;
}

interface PanelSpec {
  title: string;
  description: string;
  type: "stat" | "timeseries" | "state-timeline" | "table";
  unit: string;
  targets: Target[];
  w: number;
  h: number;
  /** For state panels: value → text. */
  mappings?: Record<string, { text: string; color: string }>;
  stack?: boolean;
}

const t = (expr: string, legendFormat: string): Target => ({ expr, legendFormat });

/** The panels, in reading order (left to right, top to bottom, 24 columns): data, not logic. */
const PANELS: readonly PanelSpec[] = [
  {
    title: "Peers up",
    description: "Control sessions up / peers configured, over the selected boxes.",
    type: "stat",
    unit: "none",
    w: 6,
    h: 4,
    targets: [
      t(`sum(weave_peer_up{${SEL}})`, "up"),
      t(`count(weave_peer_up{${SEL}})`, "configured"),
    ],
  },
  {
    title: "Pairs on fast datapath",
    description: "Pairs using kernel VXLAN (with ESP when encrypted); the rest use the sleeve.",
    type: "stat",
    unit: "none",
    w: 6,
    h: 4,
    targets: [
      t(`sum(weave_peer_fastdp{${SEL}})`, "fastdp"),
      t(`count(weave_peer_fastdp{${SEL}}) - sum(weave_peer_fastdp{${SEL}})`, "sleeve"),
    ],
  },
  {
    title: "Sleeve drops / s (all reasons)",
    description: "Sealed datagrams the sleeve refused: forged, replayed, malformed, unknown.",
    type: "stat",
    unit: "pps",
    w: 6,
    h: 4,
    targets: [
      t(
        [
          ...SLEEVE_PEER_DROPS.map((r) => `sum(rate(weave_sleeve_drops_${r}{${SEL}}[${RATE}]))`),
          ...SLEEVE_GLOBAL_DROPS.map((r) => `sum(rate(weave_sleeve_global_${r}{${SEL}}[${RATE}]))`),
        ].join(" + "),
        "drops",
      ),
    ],
  },
  {
    title: "Control input dropped / s",
    description: "Bad input at the control port (garbage, forged, timeouts, failed auth).",
    type: "stat",
    unit: "pps",
    w: 6,
    h: 4,
    targets: [
      t(
        CONTROL_DROPS.map((r) => `sum(rate(weave_control_drops_${r}{${SEL}}[${RATE}]))`)
          .join(" + "),
        "dropped",
      ),
    ],
  },
  {
    title: "Session up, per pair",
    description: "1 while the pair's authenticated control session is up.",
    type: "state-timeline",
    unit: "none",
    w: 12,
    h: 8,
    mappings: { "0": { text: "down", color: "red" }, "1": { text: "up", color: "green" } },
    targets: [t(`weave_peer_up{${PEER_SEL}}`, "{{instance}} → {{peer}}")],
  },
  {
    title: "Datapath, per pair",
    description: "Which datapath each pair uses; `weave-agent status` says why.",
    type: "state-timeline",
    unit: "none",
    w: 12,
    h: 8,
    mappings: {
      "0": { text: "sleeve", color: "blue" },
      "1": { text: "fastdp", color: "green" },
    },
    targets: [t(`weave_peer_fastdp{${PEER_SEL}}`, "{{instance}} → {{peer}}")],
  },
  {
    title: "Sleeve throughput, per pair",
    description: "Overlay bytes sealed and sent / received and opened by the sleeve.",
    type: "timeseries",
    unit: "bps",
    w: 12,
    h: 8,
    targets: [
      t(`rate(weave_sleeve_tx_bytes{${PEER_SEL}}[${RATE}]) * 8`, "tx {{instance}} → {{peer}}"),
      t(`rate(weave_sleeve_rx_bytes{${PEER_SEL}}[${RATE}]) * 8`, "rx {{instance}} ← {{peer}}"),
    ],
  },
  {
    title: "Sleeve packets, per pair",
    description: "Datagrams per second, and send errors.",
    type: "timeseries",
    unit: "pps",
    w: 12,
    h: 8,
    targets: [
      t(`rate(weave_sleeve_tx_packets{${PEER_SEL}}[${RATE}])`, "tx {{instance}} → {{peer}}"),
      t(`rate(weave_sleeve_rx_packets{${PEER_SEL}}[${RATE}])`, "rx {{instance}} ← {{peer}}"),
      t(
        `rate(weave_sleeve_tx_errors{${PEER_SEL}}[${RATE}])`,
        "tx errors {{instance}} → {{peer}}",
      ),
    ],
  },
  {
    title: "Sleeve drops by reason",
    description: "Per peer: auth = forged or wrong key, replay = replayed datagrams, … " +
      "Global: datagrams from unknown senders, malformed ones, internal errors.",
    type: "timeseries",
    unit: "pps",
    w: 12,
    h: 8,
    stack: true,
    targets: [
      ...SLEEVE_PEER_DROPS.map((r) =>
        t(`sum(rate(weave_sleeve_drops_${r}{${PEER_SEL}}[${RATE}]))`, r)
      ),
      ...SLEEVE_GLOBAL_DROPS.map((r) =>
        t(`sum(rate(weave_sleeve_global_${r}{${SEL}}[${RATE}]))`, `global ${r}`)
      ),
    ],
  },
  {
    title: "Relayed for others",
    description: "What this box carried as a relay (#16) for pairs without a direct path: " +
      "their sealed sleeve datagrams (it cannot open them) and their relayed control messages.",
    type: "timeseries",
    unit: "pps",
    w: 12,
    h: 8,
    targets: [
      t(`rate(weave_sleeve_global_relayed_packets{${SEL}}[${RATE}])`, "datagrams {{instance}}"),
      t(`rate(weave_sleeve_global_relayed_bytes{${SEL}}[${RATE}])`, "bytes {{instance}}"),
      t(`rate(weave_relay_forwarded_messages{${SEL}}[${RATE}])`, "control {{instance}}"),
    ],
  },
  {
    title: "Control input dropped by reason",
    description: "What the control port refused; a steady `auth` means a box with the wrong " +
      "password (or someone guessing), `unknown_peer` a box not in weave.yaml.",
    type: "timeseries",
    unit: "pps",
    w: 12,
    h: 8,
    stack: true,
    targets: CONTROL_DROPS.map((r) => t(`sum(rate(weave_control_drops_${r}{${SEL}}[${RATE}]))`, r)),
  },
  {
    title: "Control messages, per pair",
    description: "Heartbeats, datapath negotiation and session traffic on the control " +
      "connection; a pair whose session is re-established shows a new handshake here.",
    type: "timeseries",
    unit: "pps",
    w: 12,
    h: 8,
    targets: [
      t(`rate(weave_control_messages_out{${PEER_SEL}}[${RATE}])`, "out {{instance}} → {{peer}}"),
      t(`rate(weave_control_messages_in{${PEER_SEL}}[${RATE}])`, "in {{instance}} ← {{peer}}"),
    ],
  },
  {
    title: "Handshakes, per pair (last hour)",
    description: "New sessions: a pair (re)connecting or re-keying starts a new handshake, " +
      "and its session age drops to zero; resets() counts those drops. A pair that keeps " +
      "handshaking is flapping (see the journal: timeouts, password mismatches).",
    type: "timeseries",
    unit: "none",
    w: 12,
    h: 8,
    targets: [
      t(
        `resets(weave_peer_handshake_age_seconds{${PEER_SEL}}[1h])`,
        "{{instance}} ↔ {{peer}}",
      ),
    ],
  },
  {
    title: "Session age, per pair",
    description: "Seconds since the pair's current handshake.",
    type: "timeseries",
    unit: "s",
    w: 12,
    h: 8,
    targets: [t(`weave_peer_handshake_age_seconds{${PEER_SEL}}`, "{{instance}} ↔ {{peer}}")],
  },
  {
    title: "Control round trip, per pair",
    description: "Heartbeat RTT on the control connection.",
    type: "timeseries",
    unit: "ms",
    w: 12,
    h: 8,
    targets: [t(`weave_peer_rtt_ms{${PEER_SEL}}`, "{{instance}} ↔ {{peer}}")],
  },
  {
    title: "Networks",
    description: "Overlay MTU of each network on each box.",
    type: "table",
    unit: "bytes",
    w: 12,
    h: 6,
    targets: [t(`weave_network_mtu{${SEL}}`, "{{instance}} {{network}}")],
  },
  {
    title: "Sleeve packet worker at realtime priority",
    description: "1 while the sleeve's packet worker runs at realtime priority (#18), and how " +
      "often it left it: for traffic it cannot keep up with (for the rest of a 100 ms window) " +
      "or for a flood of refused datagrams (until the flood is over; `status` says which). " +
      "Stuck at 0 from the start: the agent lacks CAP_SYS_NICE and RLIMIT_RTPRIO.",
    type: "timeseries",
    unit: "none",
    w: 12,
    h: 6,
    targets: [
      t(`weave_sleeve_global_realtime{${SEL}}`, "realtime {{instance}}"),
      t(`increase(weave_sleeve_global_realtime_exits{${SEL}}[${RATE}])`, "exits {{instance}}"),
    ],
  },
];

/** The panels, in reading order. */
export function panels(): PanelSpec[] {
  return [...PANELS];
}

const DATASOURCE = { type: "prometheus", uid: "${datasource}" };

function panelJson(p: PanelSpec, id: number, x: number, y: number) {
  const mappings = p.mappings
    ? [{
      type: "value",
      options: Object.fromEntries(
        Object.entries(p.mappings).map(([v, m], index) => [v, { ...m, index }]),
      ),
    }]
    : [];
  return {
    id,
    type: p.type,
    title: p.title,
    description: p.description,
    datasource: DATASOURCE,
    gridPos: { x, y, w: p.w, h: p.h },
    fieldConfig: {
      defaults: {
        unit: p.unit,
        mappings,
        ...(p.type === "timeseries"
          ? { custom: { stacking: { mode: p.stack ? "normal" : "none" }, fillOpacity: 10 } }
          : {}),
      },
      overrides: [],
    },
    options: p.type === "table" ? { showHeader: true } : {},
    targets: p.targets.map((target, i) => ({
      datasource: DATASOURCE,
      refId: String.fromCharCode(65 + i),
      expr: target.expr,
      legendFormat: target.legendFormat,
      ...(p.type === "table" ? { instant: true, format: "table" } : {}),
    })),
  };
}

/** The dashboard JSON model. */
export function dashboard() {
  let x = 0;
  let y = 0;
  let rowHeight = 0;
  const laidOut = panels().map((p, i) => {
    if (x + p.w > 24) {
      x = 0;
      y += rowHeight;
      rowHeight = 0;
    }
    const json = panelJson(p, i + 1, x, y);
    x += p.w;
    rowHeight = Math.max(rowHeight, p.h);
    return json;
  });
  return {
    title: "weave-agent",
    uid: "weave-agent",
    description: "Peers, datapaths, sleeve throughput and drops, control plane of weave-agent " +
      "(metrics: host:port in weave.yaml; one scrape target per box).",
    tags: ["weave-agent", "overlay"],
    editable: true,
    schemaVersion: 39,
    version: 1,
    refresh: "30s",
    time: { from: "now-6h", to: "now" },
    templating: {
      list: [
        {
          name: "datasource",
          label: "Prometheus",
          type: "datasource",
          query: "prometheus",
        },
        {
          name: "instance",
          label: "Box",
          type: "query",
          datasource: DATASOURCE,
          query: "label_values(weave_peer_up, instance)",
          refresh: 2,
          multi: true,
          includeAll: true,
          allValue: ".*",
        },
        {
          name: "peer",
          label: "Peer",
          type: "query",
          datasource: DATASOURCE,
          query: `label_values(weave_peer_up{${SEL}}, peer)`,
          refresh: 2,
          multi: true,
          includeAll: true,
          allValue: ".*",
        },
      ],
    },
    panels: laidOut,
  };
}

/** The file's text: the model, 2-space JSON, trailing newline. */
export function dashboardText(): string {
  return JSON.stringify(dashboard(), null, 2) + "\n";
}

/** Where the example lives. */
export const DASHBOARD_PATH = new URL("../examples/grafana/weave-agent.json", import.meta.url)
  .pathname;

if (import.meta.main) {
  if (Deno.args.includes("--stdout")) {
    console.log(dashboardText().trimEnd());
  } else {
    await Deno.mkdir(new URL("../examples/grafana/", import.meta.url).pathname, {
      recursive: true,
    });
    await Deno.writeTextFile(DASHBOARD_PATH, dashboardText());
    console.log(`wrote ${DASHBOARD_PATH}`);
  }
}
