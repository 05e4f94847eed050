import { deepStrictEqual, strictEqual } from "node:assert";
import { formatDiagnostic, loadConfig, parseConfig } from "../config/mod.ts";
import type { Config } from "../config/types.ts";
import { fleetEndpoints, policyId, resolvePolicies } from "./policy_resolve.ts";
import { routesOnBox, workloadsOnBox } from "./workload_plan.ts";
import { buildDesiredHost } from "./desired_host.ts";
import { EMPTY_OBSERVED } from "../datapath/host/desired.ts";
import { planHost, renderPlan } from "../datapath/host/mod.ts";

function load(yaml: string): Config {
  const r = parseConfig(yaml, "/fleet/weave.yaml", { env: {} });
  if (!r.ok) throw new Error(r.diagnostics.map(formatDiagnostic).join("\n"));
  return r.config;
}

/** Two boxes, networks x (team: blue) and y; workloads a and b in x, c in y. */
const FLEET = `version: 1
peers:
  - {name: box-1, address: 192.0.2.1}
  - {name: box-2, address: 192.0.2.2}
networks:
  - {name: x, subnet: 10.1.0.0/24, labels: {team: blue}}
  - {name: y, subnet: 10.2.0.0/24}
workloads:
  - {name: a, peer: box-1, network: x, address: 10.1.0.10, netns: a, labels: {app: web, tier: front}}
  - {name: b, peer: box-2, network: x, address: 10.1.0.11, netns: /proc/7/ns/net, labels: {app: db}}
  - {name: c, peer: box-2, network: y, address: 10.2.0.10, netns: c, labels: {app: web}}
routes:
  - {from: x, to: y}
`;

Deno.test("endpoints: workloads with weave's labels, then the boxes' addresses", () => {
  const eps = fleetEndpoints(load(FLEET));
  deepStrictEqual(eps.get("x")!.map((e) => [e.kind, e.name, e.address, e.box]), [
    ["workload", "a", "10.1.0.10", "box-1"],
    ["workload", "b", "10.1.0.11", "box-2"],
    ["peer", "box-1", "10.1.0.1", "box-1"],
    ["peer", "box-2", "10.1.0.2", "box-2"],
  ]);
  deepStrictEqual(eps.get("x")![0].labels, {
    app: "web",
    tier: "front",
    "weave.works/workload": "a",
    "weave.works/peer": "box-1",
    "weave.works/kind": "workload",
  });
  deepStrictEqual(eps.get("y")![2].labels, {
    "weave.works/peer": "box-2",
    "weave.works/kind": "peer",
  });
});

Deno.test("workloads and routes of one box", () => {
  const c = load(FLEET);
  deepStrictEqual(workloadsOnBox(c, "box-2", 1376), [
    {
      name: "b",
      network: "x",
      netns: "/proc/7/ns/net",
      address: "10.1.0.11",
      prefixLength: 24,
      mtu: 1376,
      gateway: "10.1.0.2",
    },
    {
      name: "c",
      network: "y",
      netns: "c",
      address: "10.2.0.10",
      prefixLength: 24,
      mtu: 1376,
      gateway: "10.2.0.2",
    },
  ]);
  deepStrictEqual(workloadsOnBox(c, "box-1", 1376).map((w) => w.name), ["a"]);
  // A route is only forwarded where both bridges are.
  deepStrictEqual(routesOnBox(c, "box-1"), [{ from: "x", to: "y" }]);
  const partial = load(
    FLEET.replace(
      "{name: y, subnet: 10.2.0.0/24}",
      "{name: y, subnet: 10.2.0.0/24, members: {box-2:}}",
    )
      .replace("{name: c, peer: box-2", "{name: c, peer: box-2"),
  );
  deepStrictEqual(routesOnBox(partial, "box-1"), []);
  deepStrictEqual(routesOnBox(partial, "box-2"), [{ from: "x", to: "y" }]);
});

Deno.test("no policy: nothing to enforce (no table, no allowances)", () => {
  deepStrictEqual(resolvePolicies(load(FLEET)), []);
});

Deno.test("selectors: labels, expressions, networks, AND in one peer, OR across peers", () => {
  const c = load(
    FLEET + `policies:
  - name: web-in
    network: x
    podSelector: {matchExpressions: [{key: app, operator: In, values: [web]}]}
    ingress:
      - from:
          - podSelector: {matchLabels: {app: db}}
          - networkSelector: {matchLabels: {kubernetes.io/metadata.name: y}}
        ports: [{protocol: TCP, port: 80, endPort: 81}, {protocol: UDP}]
      - from:
          - networkSelector: {matchLabels: {team: blue}}
            podSelector: {matchExpressions: [{key: tier, operator: DoesNotExist}]}
  - name: db-out
    network: x
    podSelector: {matchLabels: {app: db}}
    policyTypes: [Egress]
    egress:
      - to: [{ipBlock: {cidr: 10.2.0.0/24, except: [10.2.0.10/32]}}]
      - to: [{podSelector: {matchExpressions: [{key: app, operator: NotIn, values: [db]}, {key: app, operator: Exists}]}}]
`,
  );
  const r = resolvePolicies(c);
  deepStrictEqual(r.map((p) => [p.desired.id, p.selects, p.source?.line ?? null]), [
    ["x-web-in", ["a"], 15],
    ["x-db-out", ["b"], 26],
    ["weavedefaults-own-box-0", ["a"], null],
  ]);
  deepStrictEqual(r[0].desired, {
    id: "x-web-in",
    endpoints: ["10.1.0.10"],
    ingress: [
      {
        id: "ingress-0",
        // OR across peers: b by label; every endpoint of y (workload c, both boxes).
        peers: [
          { addresses: ["10.1.0.11"] },
          { addresses: ["10.2.0.10", "10.2.0.1", "10.2.0.2"] },
        ],
        ports: [{ protocol: "TCP", port: 80, endPort: 81 }, { protocol: "UDP" }],
      },
      {
        // AND in one peer: networks labelled blue, endpoints there without a tier label.
        id: "ingress-1",
        peers: [{ addresses: ["10.1.0.11", "10.1.0.1", "10.1.0.2"] }],
        ports: null,
      },
    ],
    egress: null,
  });
  deepStrictEqual(r[1].desired, {
    id: "x-db-out",
    endpoints: ["10.1.0.11"],
    ingress: null,
    egress: [
      { id: "egress-0", peers: [{ cidr: "10.2.0.0/24", except: ["10.2.0.10/32"] }], ports: null },
      { id: "egress-1", peers: [{ addresses: ["10.1.0.10"] }], ports: null },
    ],
  });
  // a (on box-1) is isolated for ingress: its own box may still reach it.
  deepStrictEqual(r[2].desired, {
    id: "weavedefaults-own-box-0",
    endpoints: ["10.1.0.10"],
    ingress: [{
      id: "from-own-box",
      peers: [{ addresses: ["10.1.0.1", "10.2.0.1"] }],
      ports: null,
    }],
    egress: null,
  });
});

Deno.test("an empty podSelector selects the boxes' addresses too; boxes still reach each other", () => {
  const c = load(
    FLEET + `policies:
  - {name: deny-all, network: x, podSelector: {}, policyTypes: [Ingress, Egress]}
`,
  );
  const r = resolvePolicies(c);
  deepStrictEqual(r.map((p) => [p.desired.id, p.selects]), [
    ["x-deny-all", ["a", "b", "peer:box-1", "peer:box-2"]],
    ["weavedefaults-boxes-in", ["peer:box-1", "peer:box-2"]],
    ["weavedefaults-boxes-out", ["peer:box-1", "peer:box-2"]],
    ["weavedefaults-own-box-0", ["a"]],
    ["weavedefaults-own-box-1", ["b"]],
  ]);
  deepStrictEqual(r[0].desired, {
    id: "x-deny-all",
    endpoints: ["10.1.0.10", "10.1.0.11", "10.1.0.1", "10.1.0.2"],
    ingress: [],
    egress: [],
  });
  const allBoxes = ["10.1.0.1", "10.1.0.2", "10.2.0.1", "10.2.0.2"];
  deepStrictEqual(r[1].desired.ingress, [
    { id: "from-boxes", peers: [{ addresses: allBoxes }], ports: null },
  ]);
  deepStrictEqual(r[2].desired.egress, [
    { id: "to-boxes", peers: [{ addresses: allBoxes }], ports: null },
  ]);
  strictEqual(r[2].desired.ingress, null);
});

Deno.test("policy ids: plain when they can be, else a slug with a hash; never clashing", () => {
  const taken = new Set<string>();
  const a = policyId("cameras", "deny-all", taken);
  strictEqual(a, "cameras-deny-all");
  taken.add(a);
  const b = policyId("cameras", "allow.from.Probes", taken);
  strictEqual(/^cameras-allow-from-probes-[0-9a-f]{6}$/.test(b), true, b);
  const long = policyId("cameras", "x".repeat(80), taken);
  strictEqual(long.length, 63, long);
  strictEqual(/^[a-z0-9][a-z0-9-]{0,62}$/.test(long), true, long);
  const again = policyId("cameras", "deny-all", taken);
  strictEqual(again !== a && /^cameras-deny-all-[0-9a-f]{6}$/.test(again), true, again);
});

Deno.test("examples/fleet-policies.yaml: the plan of edge-1 (golden)", async () => {
  const path = new URL("../examples/fleet-policies.yaml", import.meta.url).pathname;
  const r = await loadConfig(path);
  if (!r.ok) throw new Error(r.diagnostics.map(formatDiagnostic).join("\n"));
  const config = r.config;
  const self = config.peers.find((p) => p.name === "edge-1")!;
  const desired = buildDesiredHost({
    config,
    self,
    encrypted: true,
    fastdpCapable: false,
    fastPeers: [],
  });
  const text = renderPlan(planHost(desired, EMPTY_OBSERVED), { showKeys: false });
  const golden = new URL("./testdata/fleet_policies_edge-1.plan", import.meta.url);
  if (Deno.env.get("UPDATE_GOLDEN") === "1") await Deno.writeTextFile(golden, text);
  strictEqual(text, await Deno.readTextFile(golden));
  // What the example promises, checked in the resolved policies.
  const ids = resolvePolicies(config).map((p) => [p.desired.id, p.selects]);
  deepStrictEqual(ids, [
    ["cameras-cameras-default-deny", ["cam-1", "cam-2"]],
    ["cameras-cameras-from-probes", ["cam-1", "cam-2"]],
    ["cameras-cameras-to-recorder", ["recorder"]],
    ["cameras-cameras-egress", ["cam-1", "cam-2"]],
    ["weavedefaults-own-box-0", ["cam-1"]],
    ["weavedefaults-own-box-1", ["cam-2", "recorder"]],
  ]);
});
