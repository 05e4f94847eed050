import { deepStrictEqual, strictEqual } from "node:assert";
import { formatDiagnostic, parseConfig } from "../config/mod.ts";
import type { Config } from "../config/types.ts";
import { diffConfigs } from "./config_diff.ts";

const BASE = `version: 1
peers:
  - {name: box-1, address: 192.0.2.1}
  - {name: box-2, address: 192.0.2.2}
networks:
  - {name: x, subnet: 10.1.0.0/24}
  - {name: y, subnet: 10.2.0.0/24}
`;

function load(yaml: string): Config {
  const r = parseConfig(yaml, "/fleet/weave.yaml", { env: {} });
  if (!r.ok) throw new Error(r.diagnostics.map(formatDiagnostic).join("\n"));
  return r.config;
}

Deno.test("config diff: workloads, routes and policies are host changes only", () => {
  const prev = load(BASE);
  for (
    const extra of [
      "workloads:\n  - {name: a, peer: box-1, network: x, netns: a}\n",
      "routes:\n  - {from: x, to: y}\n",
      "policies:\n  - {name: deny, network: x, podSelector: {}, policyTypes: [Ingress]}\n",
    ]
  ) {
    const d = diffConfigs(prev, load(BASE + extra), "box-1", null, null);
    deepStrictEqual(
      [d.hostChanged, d.networksChanged, d.restartControl, d.peersChanged, d.summary],
      [true, false, false, false, ["workloads, routes or policies changed"]],
      extra,
    );
  }
  strictEqual(diffConfigs(prev, load(BASE), "box-1", null, null).hostChanged, false);
});

Deno.test("config diff #15: nat_keepalive re-pushes the pairs; dial-out only or DNS restarts sessions", () => {
  const prev = load(BASE);
  const k = load(BASE + "nat_keepalive: 10s\n");
  const d = diffConfigs(prev, k, "box-1", null, null);
  deepStrictEqual([d.keepaliveChanged, d.restartControl, d.summary], [
    true,
    false,
    ["nat_keepalive changed"],
  ]);
  const key = btoa(String.fromCharCode(...new Uint8Array(32).fill(3)));
  const dialOut = load(
    BASE.replace("{name: box-1, address: 192.0.2.1}", `{name: box-1, key: ${key}}`),
  );
  const named = load(
    BASE.replace(
      "{name: box-1, address: 192.0.2.1}",
      `{name: box-1, address: box-1.example.net, key: ${key}}`,
    ),
  );
  const moved = diffConfigs(dialOut, named, "box-1", null, null);
  deepStrictEqual([moved.restartControl, moved.restartSleeve], [true, false]);
  const fromFixed = diffConfigs(prev, dialOut, "box-1", null, null);
  deepStrictEqual([fromFixed.restartControl, fromFixed.restartSleeve], [true, true]);
});
