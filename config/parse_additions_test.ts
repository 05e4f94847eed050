// The keys added after v1 (#13, #14, #15, #17): exact messages, positions and hints, and the
// typed result. v1 files are covered unchanged by parse_test.ts.
import { deepStrictEqual, strictEqual } from "node:assert";
import { formatDiagnostic } from "./diagnostics.ts";
import { validateFleet } from "./fleet.ts";
import { addressInSubnet, formatIp, parseCidr } from "./ip.ts";
import { checkHostName } from "./names.ts";
import { matchesSelector } from "./parse_labels.ts";
import { deriveWorkloadAddress } from "./parse_workloads.ts";
import { parseConfig, type ParseOptions } from "./parse.ts";
import { parseDuration } from "./parse_scalars.ts";
import type { Config, Labels } from "./types.ts";

const KEY = btoa(String.fromCharCode(...new Uint8Array(32).fill(7)));
const OTHER_KEY = btoa(String.fromCharCode(...new Uint8Array(32).fill(8)));
const SHORT_KEY = btoa(String.fromCharCode(...new Uint8Array(31).fill(7)));
const ENV = { WEAVE_PASSWORD: "pw", WEAVE_OLD: "old" };

function errors(yaml: string, opts: ParseOptions = {}): string[] {
  const r = parseConfig(yaml, "weave.yaml", { env: ENV, ...opts });
  const found = r.diagnostics.filter((d) => d.severity === "error").map(formatDiagnostic);
  strictEqual(r.ok, found.length === 0, `ok=${r.ok} with ${found.length} errors`);
  return found;
}

function load(yaml: string, opts: ParseOptions = {}): Config {
  const r = parseConfig(yaml, "weave.yaml", { env: ENV, ...opts });
  if (!r.ok) throw new Error(r.diagnostics.map(formatDiagnostic).join("\n"));
  return r.config;
}

const peers = (list: string, extra = "") =>
  `version: 1\npassword: {env: WEAVE_PASSWORD}\npeers:\n${list}networks:\n` +
  `  - name: sensors\n    subnet: 10.32.1.0/24\n${extra}`;

Deno.test("#15: DNS names, dial-out peers with keys, key_file", () => {
  const c = load(peers(
    `  - name: edge-1\n    address: 192.0.2.10\n  - name: edge-2\n` +
      `    address: Edge-2.Example.NET:7000\n  - name: edge-3\n    key: ${KEY}\n`,
    "key_file: keys/node.key\n",
  ));
  deepStrictEqual(c.peers.map((p) => [p.name, p.address, p.endpoint, p.key?.length ?? null]), [
    ["edge-1", "192.0.2.10", { kind: "ip", ip: "192.0.2.10", family: 4, port: 6783 }, null],
    ["edge-2", "", { kind: "dns", host: "edge-2.example.net", port: 7000 }, null],
    ["edge-3", "", null, 32],
  ]);
  deepStrictEqual(c.peers[2].key, new Uint8Array(32).fill(7));
  strictEqual(c.keyFile, `${Deno.cwd()}/keys/node.key`);
  strictEqual(
    load(peers("  - {name: edge-1, address: 192.0.2.10}\n")).keyFile,
    "/etc/weave/node.key",
  );
});

Deno.test("#15: a peer without address and key, bad and shared keys", () => {
  deepStrictEqual(errors(peers("  - name: edge-1\n    address: 192.0.2.10\n  - name: edge-3\n")), [
    `weave.yaml:6:5: error: peers[1] ("edge-3") has neither address nor key\n` +
    `  hint: give its underlay address (e.g. "address: 192.0.2.10"), or, for a box behind NAT ` +
    `that only dials out, its public key ("key: <base64>" from weave-agent keygen)`,
  ]);
  const hint = "  hint: paste the public key printed by weave-agent keygen (44 base64 " +
    "characters); never the private key";
  deepStrictEqual(
    errors(
      peers(`  - {name: edge-1, key: ${SHORT_KEY}}\n  - {name: edge-3, key: "not base64!"}\n`),
    ),
    [
      `weave.yaml:4:25: error: peers[0].key must be an X25519 public key of 32 bytes, got 31 ` +
      `bytes\n${hint}`,
      `weave.yaml:5:25: error: peers[1].key is not base64\n${hint}`,
    ],
  );
  deepStrictEqual(
    errors(peers(`  - {name: edge-1, key: ${KEY}}\n  - {name: edge-3, key: ${KEY}}\n`)),
    [
      `weave.yaml:5:25: error: peer "edge-3" has the same key as "edge-1" (line 4)\n` +
      `  hint: every box has its own key pair: run weave-agent keygen on each box`,
    ],
  );
});

Deno.test("#14: rekey_after and reject_after, with units, reject > rekey", () => {
  const one = "  - {name: edge-1, address: 192.0.2.10}\n";
  const c = load(peers(one));
  deepStrictEqual([c.rekeyAfterMs, c.rejectAfterMs], [120_000, 180_000]);
  const set = load(peers(one, "rekey_after: 1m30s\nreject_after: 2m\n"));
  deepStrictEqual([set.rekeyAfterMs, set.rejectAfterMs], [90_000, 120_000]);
  deepStrictEqual(errors(peers(one, "rekey_after: 2m\nreject_after: 90s\n")), [
    `weave.yaml:9:15: error: reject_after 90s must be longer than rekey_after 2m: a session ` +
    `must be re-keyed before its keys are refused\n` +
    `  hint: e.g. rekey_after: 2m and reject_after: 3m`,
  ]);
  deepStrictEqual(errors(peers(one, "rekey_after: 120\nreject_after: 2d\n")), [
    `weave.yaml:8:14: error: rekey_after must be a duration with a unit (ms, s, m, h), got 120\n` +
    `  hint: e.g. rekey_after: 120s or rekey_after: 2m`,
    `weave.yaml:9:15: error: reject_after must be a duration with a unit (ms, s, m, h), got "2d"\n` +
    `  hint: e.g. reject_after: 180s or reject_after: 3m`,
  ]);
  deepStrictEqual([parseDuration("1h30m"), parseDuration("1500ms"), parseDuration("5")], [
    5_400_000,
    1500,
    null,
  ]);
});

Deno.test("#14: password.previous", () => {
  const yaml = (prev: string) =>
    `version: 1\npassword:\n  env: WEAVE_PASSWORD\n  previous: ${prev}\npeers:\n` +
    `  - {name: edge-1, address: 192.0.2.10}\nnetworks: []\n`;
  deepStrictEqual(load(yaml("{env: WEAVE_OLD}")).previousPassword, {
    kind: "env",
    name: "WEAVE_OLD",
  });
  strictEqual(load(peers("  - {name: edge-1, address: 192.0.2.10}\n")).previousPassword, null);
  deepStrictEqual(errors(yaml("{env: WEAVE_GONE}")), [
    `weave.yaml:4:19: error: environment variable WEAVE_GONE (password.previous: env:) is not ` +
    `set\n  hint: start the agent with WEAVE_GONE set, e.g. from a systemd EnvironmentFile= only ` +
    `root can read`,
  ]);
  deepStrictEqual(errors(yaml("{env: WEAVE_OLD, file: x}")), [
    `weave.yaml:4:30: error: password.previous takes either file: or env:, not both\n` +
    `  hint: keep the one the agent should use`,
  ]);
  deepStrictEqual(errors(yaml("hunter2")).map((d) => d.split("\n")[0]), [
    `weave.yaml:4:13: error: password.previous is written into the config; weave.yaml is meant ` +
    `to be kept in Git, where everyone who can read the repository would learn the password`,
  ]);
});

const FLEET = `version: 1
password: {env: WEAVE_PASSWORD}
peers:
  - {name: edge-1, address: 192.0.2.10}
  - {name: edge-2, address: 192.0.2.11}
networks:
  - name: sensors
    subnet: 10.32.1.0/24
    labels: {zone: north}
  - name: cameras
    subnet: 10.32.2.0/24
    members: {edge-1: }
`;

const POLICY_FILES: Record<string, string> = {
  "/fleet/pol/good.yaml": `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: cams-from-north
  namespace: cameras
  uid: 1234
spec:
  podSelector: {matchLabels: {app: camera}}
  ingress:
    - from:
        - namespaceSelector: {matchLabels: {zone: north}}
          podSelector: {matchExpressions: [{key: tier, operator: In, values: [edge]}]}
        - ipBlock: {cidr: 10.0.0.0/8, except: [10.32.0.0/16]}
      ports: [{protocol: UDP, port: 5000, endPort: 5010}]
---
`,
  "/fleet/pol/bad.yaml": `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: x}
spec:
  podSelector: {}
  ingress: [{ports: [{port: http}]}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: y, namespace: camras}
spec:
  podSelector: {}
  egress: [{to: [{ipBlock: {cidr: 10.0.0.0/8}, podSelector: {}}]}]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
`,
};
const readFile = (p: string) =>
  POLICY_FILES[p] === undefined ? null : new TextEncoder().encode(POLICY_FILES[p]);
const fleet = (extra: string) =>
  parseConfig(FLEET + extra, "/fleet/weave.yaml", { env: ENV, readFile });

Deno.test("#13: network labels, workloads (derived stably), routes", () => {
  const r = fleet(`workloads:
  - {name: cam-1, peer: edge-1, network: cameras, netns: cam1, labels: {app: camera}}
  - {name: cam-2, peer: edge-1, network: cameras, address: 10.32.2.10, netns: /proc/1234/ns/net}
routes: [{from: sensors, to: cameras}]
`);
  if (!r.ok) throw new Error(r.diagnostics.map(formatDiagnostic).join("\n"));
  deepStrictEqual(r.config.networks.map((n) => n.labels), [
    { zone: "north", "kubernetes.io/metadata.name": "sensors" },
    { "kubernetes.io/metadata.name": "cameras" },
  ]);
  deepStrictEqual(r.config.workloads.map((w) => [w.name, w.address, w.derived, w.netns]), [
    ["cam-1", "10.32.2.179", true, { kind: "name", name: "cam1" }],
    ["cam-2", "10.32.2.10", false, { kind: "path", path: "/proc/1234/ns/net" }],
  ]);
  deepStrictEqual(r.config.routes, [{ from: "sensors", to: "cameras" }]);
  // Stable: another workload does not move cam-1.
  const more = fleet(`workloads:
  - {name: cam-0, peer: edge-1, network: cameras, netns: cam0}
  - {name: cam-1, peer: edge-1, network: cameras, netns: cam1}
`);
  if (!more.ok) throw new Error(more.diagnostics.map(formatDiagnostic).join("\n"));
  strictEqual(more.config.workloads[1].address, "10.32.2.179");
});

Deno.test("#13: workload and route errors", () => {
  const r = fleet(`workloads:
  - {name: Cam_1, peer: edge-1, network: cameras, netns: cam1}
  - {name: cam-2, peer: edge-2, network: cameras, netns: c2}
  - {name: cam-3, peer: edge-1, network: cameras, address: 10.32.2.1, netns: /run/netns/../x}
  - {name: cam-4, peer: edge-1, network: cameras, address: 10.32.2.1, netns: c4}
routes: [{from: sensors, to: sensors}, {from: sensors, to: cams}]
`);
  deepStrictEqual(r.diagnostics.map(formatDiagnostic), [
    `/fleet/weave.yaml:14:12: error: workload name "Cam_1" is not a valid name\n` +
    `  hint: use 1 to 63 lower-case letters, digits or "-", starting with a letter and not ` +
    `ending with "-"`,
    `/fleet/weave.yaml:15:25: error: workload "cam-2" is on peer "edge-2", which is not a ` +
    `member of network "cameras"\n  hint: add "edge-2" to the members of "cameras", or move ` +
    `the workload`,
    `/fleet/weave.yaml:16:78: error: netns "/run/netns/../x" is neither a namespace name nor ` +
    `an absolute path\n  hint: give a name under /run/netns (letters, digits, . _ -), or a path ` +
    `such as /proc/1234/ns/net`,
    `/fleet/weave.yaml:17:60: error: address 10.32.2.1 of workload "cam-4" is already given to ` +
    `peer "edge-1" in network "cameras"\n` +
    `  hint: every member and workload needs its own address`,
    `/fleet/weave.yaml:18:10: error: routes[0] routes network "sensors" to itself\n` +
    `  hint: a network already reaches itself; routes join two networks`,
    `/fleet/weave.yaml:18:60: error: unknown network "cams" in routes[1].to\n` +
    `  hint: networks: sensors, cameras`,
  ]);
});

const WORKLOADS = { key: "weave.works/kind", operator: "In", values: ["workload"] };

Deno.test("#13: inline policies and NetworkPolicy files, normalised", () => {
  const r = fleet(`policies:
  - name: default-deny
    network: cameras
    podSelector: {}
    policyTypes: [Ingress, Egress]
  - name: allow-all-out
    network: cameras
    podSelector: {}
    egress: [{}]
policyFiles: [pol/good.yaml]
`);
  if (!r.ok) throw new Error(r.diagnostics.map(formatDiagnostic).join("\n"));
  const all = { matchLabels: {}, matchExpressions: [] };
  deepStrictEqual(r.config.policies, [
    {
      name: "default-deny",
      network: "cameras",
      endpoints: all,
      policyTypes: ["Ingress", "Egress"],
      ingress: [],
      egress: [],
      origin: { file: "/fleet/weave.yaml", line: 14, column: 5 },
    },
    {
      name: "allow-all-out",
      network: "cameras",
      endpoints: all,
      // Kubernetes defaulting: egress rules present → Egress too.
      policyTypes: ["Ingress", "Egress"],
      ingress: [],
      egress: [{ peers: null, ports: null }],
      origin: { file: "/fleet/weave.yaml", line: 18, column: 5 },
    },
    {
      name: "cams-from-north",
      network: "cameras",
      // Pods are workloads: policy files never select the peers' own addresses.
      endpoints: { matchLabels: { app: "camera" }, matchExpressions: [WORKLOADS] },
      policyTypes: ["Ingress"],
      ingress: [{
        peers: [
          {
            kind: "endpoints",
            networks: { matchLabels: { zone: "north" }, matchExpressions: [] },
            endpoints: {
              matchLabels: {},
              matchExpressions: [{ key: "tier", operator: "In", values: ["edge"] }, WORKLOADS],
            },
          },
          { kind: "ipBlock", cidr: "10.0.0.0/8", except: ["10.32.0.0/16"] },
        ],
        ports: [{ protocol: "UDP", port: 5000, endPort: 5010 }],
      }],
      egress: [],
      origin: { file: "/fleet/pol/good.yaml", line: 1, column: 1 },
    },
  ]);
});

Deno.test("#13: policy errors, in weave.yaml and in policy files with their own path", () => {
  const r = fleet(`policies:
  - name: p
    network: cameras
    podSelector: {matchExpressions: [{key: app, operator: in, values: [x]}]}
    policyTypes: [ingress]
    ingress: [{from: [{namespaceSelector: {}}], ports: [{protocol: ICMP}, {endPort: 90}]}]
policyFiles: [pol/bad.yaml, pol/missing.yaml]
`);
  deepStrictEqual(r.diagnostics.map((d) => formatDiagnostic(d).split("\n")[0]), [
    `/fleet/weave.yaml:16:59: error: policies[0].podSelector.matchExpressions[0].operator must ` +
    `be one of In, NotIn, Exists, DoesNotExist, got "in"`,
    `/fleet/weave.yaml:17:19: error: policies[0].policyTypes may hold Ingress and Egress, got ` +
    `"ingress"; did you mean "Ingress"?`,
    `/fleet/weave.yaml:18:24: error: unknown key "namespaceSelector" in ` +
    `policies[0].ingress[0].from[0]`,
    `/fleet/weave.yaml:18:68: error: policies[0].ingress[0].ports[0].protocol must be TCP, UDP ` +
    `or SCTP, got "ICMP"; did you mean "TCP"?`,
    `/fleet/weave.yaml:18:76: error: policies[0].ingress[0].ports[1].endPort needs a numeric ` +
    `port: the range is port..endPort`,
    `/fleet/weave.yaml:19:29: error: policy file "pol/missing.yaml" cannot be read (looked for ` +
    `/fleet/pol/missing.yaml)`,
    `/fleet/pol/bad.yaml:3:11: error: metadata has no namespace`,
    `/fleet/pol/bad.yaml:6:29: error: named port "http" cannot be mapped: weave workloads ` +
    `declare no named container ports`,
    `/fleet/pol/bad.yaml:10:32: error: unknown network "camras" in metadata.namespace; did you ` +
    `mean "cameras"?`,
    `/fleet/pol/bad.yaml:13:48: error: spec.egress[0].to[0]: ipBlock stands alone; it cannot ` +
    `be combined with podSelector or namespaceSelector`,
    `/fleet/pol/bad.yaml:16:7: error: document 3: kind must be NetworkPolicy, got ` +
    `"CiliumNetworkPolicy"`,
  ]);
});

Deno.test("label selectors: Kubernetes matching", () => {
  const sel = {
    matchLabels: { app: "camera" },
    matchExpressions: [
      { key: "tier", operator: "NotIn" as const, values: ["core"] },
      { key: "legacy", operator: "DoesNotExist" as const, values: [] },
    ],
  };
  deepStrictEqual(
    ([
      { app: "camera" },
      { app: "camera", tier: "core" },
      { app: "camera", legacy: "" },
      {},
    ] as Labels[]).map(
      (l) => matchesSelector(l, sel),
    ),
    [true, false, false, false],
  );
  strictEqual(matchesSelector({}, { matchLabels: {}, matchExpressions: [] }), true);
});

Deno.test("#17: fleet mode needs no identity and no secret, and says what it skipped", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/weave.yaml`, FLEET.replace("WEAVE_PASSWORD", "NOT_IN_CI"));
    const r = await validateFleet(`${dir}/weave.yaml`);
    deepStrictEqual([r.ok, r.diagnostics.map(formatDiagnostic)], [true, []]);
    deepStrictEqual(r.skipped.map((s) => [s.check, s.why]), [
      ["identity", "which peer a box is (--name or its hostname) is only known on the box"],
      [
        "password.source",
        "the password comes from environment variable NOT_IN_CI, set on the boxes only",
      ],
    ]);
    await Deno.writeTextFile(`${dir}/weave.yaml`, FLEET + "  - {name: bad_name, subnet: x}\n");
    const bad = await validateFleet(`${dir}/weave.yaml`);
    strictEqual(bad.ok, false);
    deepStrictEqual(bad.diagnostics.map((d) => `${d.line}:${d.column}`), ["13:12", "13:30"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const SMALL = `version: 1
password: {env: WEAVE_PASSWORD}
peers:
  - {name: edge-1, address: 192.0.2.10}
  - {name: edge-2, address: 192.0.2.11}
networks:
  - name: sensors
    subnet: 10.32.1.0/24
  - name: v6net
    subnet: fd00:32::/64
`;
const SMALL_FILES: Record<string, string> = {
  "/fleet/pol/syntax.yaml": "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n" +
    "metadata: {name: a, namespace: sensors\nspec: {}\n",
  "/fleet/pol/dup.yaml": "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n" +
    "metadata: {name: allow, namespace: sensors}\nspec: {podSelector: {}}\n",
};
const small = (yaml: string) =>
  parseConfig(yaml, "/fleet/weave.yaml", {
    env: ENV,
    readFile: (p) => SMALL_FILES[p] === undefined ? null : new TextEncoder().encode(SMALL_FILES[p]),
  });
const shown = (yaml: string) => small(yaml).diagnostics.map(formatDiagnostic);
const LABEL_HINT =
  "  hint: label keys are name or prefix/name (name: 1-63 letters, digits, -, _, ., " +
  "starting and ending alphanumeric; prefix: a DNS subdomain); values likewise or empty";

Deno.test("#13: network labels: Kubernetes syntax, reserved prefix, the name label", () => {
  const labels = (l: string) =>
    SMALL.replace("    subnet: 10.32.1.0/24\n", `    subnet: 10.32.1.0/24\n    labels: ${l}\n`);
  deepStrictEqual(shown(labels("{weave.works/x: y, tier: 1, -bad: v, ok: 'bad value'}")), [
    `/fleet/weave.yaml:9:14: error: label "weave.works/x" uses the prefix weave.works/, which ` +
    `weave sets itself\n  hint: choose another key; selectors can match weave.works/workload ` +
    `and weave.works/peer as they are`,
    `/fleet/weave.yaml:9:38: error: label "tier" in networks[0].labels must be text, got 1\n` +
    `  hint: quote it, e.g. "1" or "true"`,
    `/fleet/weave.yaml:9:41: error: "-bad" is not a valid label key\n${LABEL_HINT}`,
    `/fleet/weave.yaml:9:54: error: "bad value" is not a valid label value\n${LABEL_HINT}`,
  ]);
  deepStrictEqual(shown(labels("{kubernetes.io/metadata.name: other}")), [
    `/fleet/weave.yaml:9:13: error: networks[0].labels sets kubernetes.io/metadata.name to ` +
    `"other", but the network is "sensors"\n` +
    `  hint: remove it: every network carries kubernetes.io/metadata.name: <its name>`,
  ]);
  const same = small(labels("{kubernetes.io/metadata.name: sensors}"));
  deepStrictEqual(same.ok ? same.config.networks[0].labels : null, {
    "kubernetes.io/metadata.name": "sensors",
  });
});

Deno.test("#13: IPv6 workloads derive inside the subnet; duplicate names and unknown peers", () => {
  const ok = small(
    SMALL + "workloads:\n  - {name: w-1, peer: edge-1, network: v6net, netns: w1}\n",
  );
  if (!ok.ok) throw new Error(ok.diagnostics.map(formatDiagnostic).join("\n"));
  const w = ok.config.workloads[0];
  strictEqual(addressInSubnet(w.address, "fd00:32::/64"), true, w.address);
  deepStrictEqual(
    shown(
      SMALL + "workloads:\n  - {name: w-1, peer: edge-1, network: v6net, netns: w1}\n" +
        "  - {name: w-1, peer: edge-1, network: v6net, netns: w1}\n" +
        "  - {name: w-3, peer: edge-9, network: sensors, netns: w3}\n" +
        "  - {name: w-4, peer: edge-1, network: sensors, netns: w4, labels: [a]}\n",
    ),
    [
      `/fleet/weave.yaml:13:12: error: duplicate workload name "w-1" (first on line 12)\n` +
      `  hint: every workload needs its own name`,
      `/fleet/weave.yaml:14:23: error: unknown peer "edge-9" for workload "w-3"; did you mean ` +
      `"edge-1"?\n  hint: peers: edge-1, edge-2`,
      `/fleet/weave.yaml:15:68: error: workloads[3].labels must be a map of label to value, got ` +
      `a list\n  hint: e.g. {app: camera, tier: edge}`,
    ],
  );
});

Deno.test("#13: a workload on a peer that is not a member of its network", () => {
  const yaml = SMALL.replace(
    "    subnet: 10.32.1.0/24\n",
    "    subnet: 10.32.1.0/24\n    members: {edge-2: }\n",
  );
  deepStrictEqual(
    shown(yaml + "workloads:\n  - {name: w-1, peer: edge-1, network: sensors, netns: w1}\n"),
    [
      `/fleet/weave.yaml:13:23: error: workload "w-1" is on peer "edge-1", which is not a member ` +
      `of network "sensors"\n  hint: add "edge-1" to the members of "sensors", or move the workload`,
    ],
  );
  const onMember = small(
    yaml + "workloads:\n  - {name: w-1, peer: edge-2, network: sensors, netns: w1}\n",
  );
  strictEqual(onMember.ok, true, onMember.diagnostics.map(formatDiagnostic).join("\n"));
});

Deno.test("#13: deriveWorkloadAddress steps past taken addresses and stays in the subnet", () => {
  const subnet = parseCidr("10.9.0.0/30")!; // hosts .1 and .2
  const taken = new Set<string>();
  const got: string[] = [];
  for (const name of ["a", "b", "c"]) {
    const a = deriveWorkloadAddress(subnet, name, (x) => taken.has(formatIp(x)));
    const text = a ? formatIp(a) : "full";
    got.push(text);
    taken.add(text);
  }
  deepStrictEqual(got.toSorted(), ["10.9.0.1", "10.9.0.2", "full"]);
});

Deno.test("#13: ingress [{}] and empty from/ports allow all; ipBlock and podSelector errors", () => {
  const allow = `policies:
  - name: allow
    network: sensors
    podSelector:
    ingress: [{}, {from: [], ports: []}]
`;
  const r = small(SMALL + allow);
  if (!r.ok) throw new Error(r.diagnostics.map(formatDiagnostic).join("\n"));
  deepStrictEqual(r.config.policies[0].ingress, [
    { peers: null, ports: null },
    { peers: null, ports: null },
  ]);
  deepStrictEqual(shown(SMALL + allow + "policyFiles: [pol/dup.yaml]\n"), [
    `/fleet/pol/dup.yaml:1:1: error: policy "allow" is defined twice in network "sensors" ` +
    `(first at /fleet/weave.yaml:12)\n  hint: give each policy of a network its own name`,
  ]);
  const except = "  hint: every except must be a smaller block inside cidr, as in Kubernetes";
  deepStrictEqual(
    shown(
      SMALL + `policies:
  - name: out
    network: sensors
    podSelector: {}
    egress: [{to: [{ipBlock: {cidr: 10.0.0.1/8}}, {ipBlock: {cidr: 10.0.0.0/8, except: [11.0.0.0/24, 10.0.0.0/8]}}]}]
  - name: nosel
    network: sensors
policyFiles: [pol/syntax.yaml]
`,
    ),
    [
      `/fleet/weave.yaml:15:37: error: policies[0].egress[0].to[0].ipBlock.cidr 10.0.0.1/8 has ` +
      `host bits set; did you mean 10.0.0.0/8?\n  hint: write the network address`,
      `/fleet/weave.yaml:15:89: error: except 11.0.0.0/24 is not inside cidr 10.0.0.0/8\n${except}`,
      `/fleet/weave.yaml:15:102: error: except 10.0.0.0/8 is not inside cidr 10.0.0.0/8\n${except}`,
      `/fleet/weave.yaml:16:5: error: policies[1] has no podSelector\n` +
      `  hint: podSelector: {} selects every endpoint of the network, as in Kubernetes`,
      `/fleet/pol/syntax.yaml:4:1: error: invalid YAML: Flow map in block collection must be ` +
      `sufficiently indented and end with a }\n  hint: fix the YAML syntax near here`,
    ],
  );
});

Deno.test("#15: key_file must be a file path; host names are checked", () => {
  deepStrictEqual(shown(SMALL + `key_file: "keys/"\n`), [
    `/fleet/weave.yaml:11:11: error: key_file "keys/" is not a file path\n` +
    `  hint: e.g. key_file: /etc/weave/node.key`,
  ]);
  deepStrictEqual(
    ["edge-7.example.net", "a".repeat(64) + ".net", "x..y", "-a.net", "192.0.2.300"].map((h) =>
      checkHostName(h)?.message ?? null
    ),
    [
      null,
      `"${"a".repeat(64)}.net" is not an IP address or a DNS name: label "${
        "a".repeat(64)
      }" may only hold letters, digits and inner "-", at most 63 characters`,
      `"x..y" is not an IP address or a DNS name: label "" may only hold letters, digits and ` +
      `inner "-", at most 63 characters`,
      `"-a.net" is not an IP address or a DNS name: label "-a" may only hold letters, digits ` +
      `and inner "-", at most 63 characters`,
      `"192.0.2.300" is not a valid IP address`,
    ],
  );
});

Deno.test("#13: a kind: List of NetworkPolicies; rules of a direction not in policyTypes warn", () => {
  SMALL_FILES["/fleet/pol/list.yaml"] = `apiVersion: v1
kind: List
metadata: {resourceVersion: ""}
items:
  - apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata: {name: a, namespace: sensors}
    spec: {podSelector: {}, policyTypes: [Egress], ingress: [{}]}
  - apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata: {name: b, namespace: sensors}
    spec: {podSelector: {}}
`;
  const r = small(SMALL + "policyFiles: [pol/list.yaml]\n");
  if (!r.ok) throw new Error(r.diagnostics.map(formatDiagnostic).join("\n"));
  deepStrictEqual(r.config.policies.map((p) => [p.name, p.policyTypes, p.origin.line]), [
    ["a", ["Egress"], 5],
    ["b", ["Ingress"], 9],
  ]);
  deepStrictEqual(r.diagnostics.map(formatDiagnostic), [
    `/fleet/pol/list.yaml:8:52: warning: spec.ingress rules are ignored: policyTypes does not ` +
    `list Ingress\n  hint: add Ingress to policyTypes, or remove the ingress rules`,
  ]);
});

Deno.test("fleet-level warnings: nobody to dial; a route no box can carry", () => {
  const r = parseConfig(
    peers(`  - {name: a, key: ${KEY}}\n  - {name: b, key: ${OTHER_KEY}}\n`),
    "weave.yaml",
    { env: ENV },
  );
  deepStrictEqual(r.diagnostics.map(formatDiagnostic), [
    `weave.yaml:4:3: warning: no peer has an address: every peer is dial-out only, so nobody ` +
    `can be dialled and no session can start\n` +
    `  hint: give at least one peer an address (or a DNS name) the others can reach`,
  ]);
  const route = small(
    SMALL.replace(
      "    subnet: fd00:32::/64\n",
      "    subnet: fd00:32::/64\n    members: {edge-2: }\n",
    )
      .replace(
        "    subnet: 10.32.1.0/24\n",
        "    subnet: 10.32.1.0/24\n    members: {edge-1: }\n",
      ) +
      "  - {name: other, subnet: 10.32.9.0/24, members: {edge-2: }}\n" +
      "routes: [{from: sensors, to: other}]\n",
  );
  deepStrictEqual(route.diagnostics.map(formatDiagnostic), [
    `/fleet/weave.yaml:14:10: warning: routes[0]: no peer is a member of both sensors and ` +
    `other, so no box can forward between them\n` +
    `  hint: add a peer to the members of both networks to carry the route`,
  ]);
});

Deno.test("#15: nat_keepalive, a duration from 1s to 2m, default 25s", () => {
  const one = "  - {name: edge-1, address: 192.0.2.10}\n";
  strictEqual(load(peers(one)).natKeepaliveMs, 25_000);
  strictEqual(load(peers(one, "nat_keepalive: 10s\n")).natKeepaliveMs, 10_000);
  deepStrictEqual(errors(peers(one, "nat_keepalive: 5m\n")), [
    `weave.yaml:8:16: error: nat_keepalive 5m is out of range: from 1s to 2m\n` +
    `  hint: e.g. nat_keepalive: 25s`,
  ]);
  deepStrictEqual(errors(peers(one, "nat_keepalive: 25\n")), [
    `weave.yaml:8:16: error: nat_keepalive must be a duration with a unit (ms, s, m, h), got 25\n` +
    `  hint: e.g. nat_keepalive: 25s or nat_keepalive: 15s`,
  ]);
});
