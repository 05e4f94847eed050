import { deepStrictEqual, ok, strictEqual } from "node:assert";
import { formatDiagnostic, parseConfig } from "../config/mod.ts";
import { parsePolicyCounters } from "../datapath/host/policy_counters.ts";
import { resolvePolicies } from "./policy_resolve.ts";
import { policyStatus } from "./policy_status.ts";
import { renderWorkloadsAndPolicy } from "./cli/policy_render.ts";
import { renderMetrics } from "./ops/metrics.ts";
import { buildStatus } from "./status.ts";
import type { WorkloadState } from "./host_reconcile.ts";

const YAML = `version: 1
peers:
  - {name: box-1, address: 192.0.2.1}
networks:
  - {name: x, subnet: 10.1.0.0/24}
workloads:
  - {name: a, peer: box-1, network: x, address: 10.1.0.10, netns: a, labels: {app: web}}
policies:
  - name: web-in
    network: x
    podSelector: {matchLabels: {app: web}}
    ingress: [{ports: [{protocol: TCP, port: 80}]}]
`;

/** What `nft --json list counters table inet weave_policy` prints, trimmed to what we read. */
const NFT_JSON = JSON.stringify({
  nftables: [
    { metainfo: { version: "1.0.6" } },
    {
      counter: {
        family: "inet",
        name: "ingress-denied",
        table: "weave_policy",
        packets: 7,
        bytes: 420,
      },
    },
    {
      counter: {
        family: "inet",
        name: "egress-denied",
        table: "weave_policy",
        packets: 0,
        bytes: 0,
      },
    },
    {
      counter: {
        family: "inet",
        name: "x-web-in.ingress-0",
        table: "weave_policy",
        packets: 3,
        bytes: 180,
      },
    },
  ],
});

function config() {
  const r = parseConfig(YAML, "/fleet/weave.yaml", { env: {} });
  if (!r.ok) throw new Error(r.diagnostics.map(formatDiagnostic).join("\n"));
  return r.config;
}

function policy() {
  return policyStatus(resolvePolicies(config()), parsePolicyCounters(NFT_JSON));
}

Deno.test("policy status: each rule with its counter, where it was written, the drops", () => {
  const s = policy();
  deepStrictEqual(s.policies[0], {
    id: "x-web-in",
    name: "web-in",
    network: "x",
    origin: "/fleet/weave.yaml:9:5",
    selects: ["a"],
    policyTypes: ["Ingress"],
    rules: [{ rule: "ingress-0", direction: "ingress", packets: 3, bytes: 180 }],
  });
  strictEqual(s.policies[1].id, "weavedefaults-own-box-0");
  deepStrictEqual(s.policies[1].rules, [
    { rule: "from-own-box", direction: "ingress", packets: 0, bytes: 0 },
  ]);
  deepStrictEqual(s.denied, {
    ingress: { packets: 7, bytes: 420 },
    egress: { packets: 0, bytes: 0 },
  });
});

Deno.test("status text and metrics: workloads (an error for one alone) and policy counters", () => {
  const workloads: WorkloadState[] = [
    { name: "a", network: "x", address: "10.1.0.10", netns: "a", state: "ok" },
    {
      name: "b",
      network: "x",
      address: "10.1.0.11",
      netns: "b",
      state: "error",
      error: "namespace b does not exist",
    },
  ];
  const c = config();
  const status = buildStatus({
    now: 0,
    pid: 1,
    config: c,
    self: c.peers[0],
    loadedAt: new Date(0),
    encrypted: false,
    lastReload: null,
    capability: { capable: false, reason: "test" },
    reconcile: null,
    sleeve: null,
    control: null,
    pairs: [],
    networks: c.networks,
    mtu: 1400,
    workloads,
    policy: policy(),
  });
  const text = renderWorkloadsAndPolicy(status).join("\n");
  ok(/^b +x +10\.1\.0\.11 +b +ERROR: namespace b does not exist$/m.test(text), text);
  ok(/^x\/web-in +ingress-0 +3 +180 +a$/m.test(text), text);
  ok(text.includes("denied by policy: ingress 7 packets, egress 0 packets"), text);
  const m = renderMetrics(status);
  for (
    const line of [
      'weave_policy_rule_packets_total{policy="x-web-in",rule="ingress-0",direction="ingress"} 3',
      'weave_policy_rule_bytes_total{policy="x-web-in",rule="ingress-0",direction="ingress"} 180',
      'weave_policy_denied_packets_total{direction="ingress"} 7',
      'weave_workload_up{workload="a",network="x"} 1',
      'weave_workload_up{workload="b",network="x"} 0',
    ]
  ) ok(m.split("\n").includes(line), `missing ${line} in\n${m}`);
});
