import { deepStrictEqual, strictEqual, throws } from "node:assert";
import { policyBody } from "./policy_rules.ts";
import { parsePolicyCounters } from "./policy_counters.ts";
import type { DesiredPolicy } from "./desired.ts";

const GOLDEN = new URL("./testdata/policy.golden", import.meta.url);

/** The cases of the reachability matrix, resolved as the agent's resolver would hand them over. */
export const POLICIES: DesiredPolicy[] = [
  // Default deny ingress for x/a.
  { id: "deny-a", endpoints: ["10.32.1.10"], ingress: [], egress: null },
  // x/b: ingress from label app=cam (x/a, y/a) on TCP 80 and UDP 81-90, and from an ipBlock.
  {
    id: "allow-b",
    endpoints: ["10.32.1.11", "fd00:32::11"],
    ingress: [
      {
        id: "from-cams",
        peers: [{ addresses: ["10.32.1.10", "10.32.2.10", "fd00:32::10"] }],
        ports: [{ protocol: "TCP", port: 80 }, { protocol: "UDP", port: 81, endPort: 90 }],
      },
      {
        id: "from-block",
        peers: [{ cidr: "10.32.2.0/24", except: ["10.32.2.10/32", "10.32.2.128/25"] }],
        ports: [{ protocol: "SCTP" }],
      },
    ],
    egress: null,
  },
  // x/c: egress to network y only, any port; ingress from anyone on TCP 80.
  {
    id: "c-out",
    endpoints: ["10.32.1.12"],
    ingress: [{ id: "any-80", peers: null, ports: [{ protocol: "TCP", port: 80 }] }],
    egress: [{ id: "to-y", peers: [{ cidr: "10.32.2.0/24", except: [] }], ports: null }],
  },
  // A selector that matched nothing: the rule allows nothing, the policy still selects.
  {
    id: "empty-peer",
    endpoints: ["10.32.1.13"],
    ingress: [{ id: "nobody", peers: [{ addresses: [] }], ports: null }],
    egress: null,
  },
];

Deno.test("policy ruleset: golden", async () => {
  const text = policyBody(POLICIES)!;
  if (Deno.env.get("WEAVE_UPDATE_GOLDEN")) await Deno.writeTextFile(GOLDEN, text);
  strictEqual(text, await Deno.readTextFile(GOLDEN));
});

Deno.test("policy ruleset: no policy, no table; bad input is refused naming the policy", () => {
  strictEqual(policyBody([]), null);
  strictEqual(policyBody(undefined), null);
  throws(() => policyBody([{ ...POLICIES[0], id: "Bad Id" }]), /policy "Bad Id": invalid id/);
  throws(
    () => policyBody([{ ...POLICIES[0], endpoints: ["10.0.0.1; drop"] }]),
    /policy "deny-a": invalid endpoint/,
  );
  throws(
    () =>
      policyBody([{
        ...POLICIES[0],
        ingress: [{ id: "r", peers: null, ports: [{ protocol: "TCP", port: 90, endPort: 80 }] }],
      }]),
    /policy "deny-a": rule r: invalid port range 90-80/,
  );
});

Deno.test("policy counters: parsed from nft --json, foreign counters ignored", () => {
  const json = JSON.stringify({
    nftables: [
      { metainfo: { version: "1.0.6" } },
      {
        counter: {
          family: "inet",
          name: "allow-b.from-cams",
          table: "weave_policy",
          packets: 5,
          bytes: 300,
        },
      },
      {
        counter: {
          family: "inet",
          name: "ingress-denied",
          table: "weave_policy",
          packets: 2,
          bytes: 120,
        },
      },
      {
        counter: {
          family: "inet",
          name: "allow-b.from-cams",
          table: "other",
          packets: 9,
          bytes: 9,
        },
      },
      { counter: { family: "inet", name: "nodot", table: "weave_policy", packets: 1, bytes: 1 } },
    ],
  });
  deepStrictEqual(parsePolicyCounters(json), [
    { policy: "", rule: "ingress-denied", packets: 2, bytes: 120 },
    { policy: "allow-b", rule: "from-cams", packets: 5, bytes: 300 },
  ]);
  deepStrictEqual(parsePolicyCounters("not json"), []);
});
