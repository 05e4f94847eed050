import { deepStrictEqual, strictEqual } from "node:assert";
import { formatDiagnostic } from "./diagnostics.ts";
import { validateFleet } from "./fleet.ts";
import { loadConfig } from "./load.ts";

const EXAMPLES = new URL("../examples/", import.meta.url).pathname;

Deno.test("every example in examples/ loads", async () => {
  const names = [...Deno.readDirSync(EXAMPLES)]
    .filter((e) => e.name.endsWith(".yaml"))
    .map((e) => e.name)
    .sort();
  deepStrictEqual(names, [
    "fleet-policies.yaml",
    "nat-dial-out.yaml",
    "no-encryption.yaml",
    "three-peers.yaml",
    "two-peers.yaml",
  ]);
  for (const name of names) {
    const r = await loadConfig(`${EXAMPLES}${name}`, {
      env: { WEAVE_PASSWORD: "example password" },
    });
    const errors = r.diagnostics.filter((d) => d.severity === "error").map(formatDiagnostic);
    deepStrictEqual(errors, [], name);
    strictEqual(r.ok, true, name);
  }
});

Deno.test("two-peers: sleeve, password from examples/secret.txt", async () => {
  const r = await loadConfig(`${EXAMPLES}two-peers.yaml`);
  if (!r.ok) throw new Error(r.diagnostics.map(formatDiagnostic).join("\n"));
  strictEqual(r.config.datapath, "sleeve");
  deepStrictEqual(r.config.password, { kind: "file", path: `${EXAMPLES}secret.txt` });
  // Git does not keep mode bits: a fresh checkout has secret.txt at 0644 and gets the warning.
  const loose = (Deno.statSync(`${EXAMPLES}secret.txt`).mode! & 0o077) !== 0;
  deepStrictEqual(
    r.diagnostics.map((d) => d.message.includes("group or others can access it")),
    loose ? [true] : [],
  );
});

Deno.test("three-peers: two networks with derived VNIs, one spanning two peers", async () => {
  const r = await loadConfig(`${EXAMPLES}three-peers.yaml`, { env: { WEAVE_PASSWORD: "x" } });
  if (!r.ok) throw new Error(r.diagnostics.map(formatDiagnostic).join("\n"));
  deepStrictEqual(r.config.password, { kind: "env", name: "WEAVE_PASSWORD" });
  deepStrictEqual(
    r.config.networks.map((n) => [n.name, n.vniDerived, n.members.map((m) => m.peer)]),
    [
      ["sensors", true, ["edge-1", "edge-2", "edge-3"]],
      ["control", true, ["edge-1", "edge-2"]],
    ],
  );
  // Without the variable the example does not load: env: is checked at load.
  const unset = await loadConfig(`${EXAMPLES}three-peers.yaml`, { env: {} });
  strictEqual(unset.ok, false);
});

Deno.test("no-encryption: fastdp, no password (a warning)", async () => {
  const r = await loadConfig(`${EXAMPLES}no-encryption.yaml`);
  if (!r.ok) throw new Error(r.diagnostics.map(formatDiagnostic).join("\n"));
  strictEqual(r.config.datapath, "fastdp");
  strictEqual(r.config.password, null);
  deepStrictEqual(r.diagnostics.map((d) => d.severity), ["warning"]);
});

Deno.test("every example validates in fleet mode: no --name, no secret", async () => {
  for (const e of [...Deno.readDirSync(EXAMPLES)].filter((e) => e.name.endsWith(".yaml"))) {
    const r = await validateFleet(`${EXAMPLES}${e.name}`);
    const errors = r.diagnostics.filter((d) => d.severity === "error").map(formatDiagnostic);
    deepStrictEqual([e.name, errors], [e.name, []]);
  }
});

Deno.test("fleet-policies: workloads, a route, inline and file policies", async () => {
  const r = await validateFleet(`${EXAMPLES}fleet-policies.yaml`);
  if (!r.config) throw new Error(r.diagnostics.map(formatDiagnostic).join("\n"));
  const c = r.config;
  deepStrictEqual(c.workloads.map((w) => [w.name, w.peer, w.network, w.derived]), [
    ["cam-1", "edge-1", "cameras", true],
    ["cam-2", "edge-2", "cameras", false],
    ["recorder", "edge-2", "cameras", true],
    ["probe-1", "edge-3", "sensors", true],
  ]);
  deepStrictEqual(c.routes, [{ from: "sensors", to: "cameras" }]);
  deepStrictEqual(c.policies.map((p) => [p.name, p.policyTypes, p.origin.file.split("/").pop()]), [
    ["cameras-default-deny", ["Ingress"], "fleet-policies.yaml"],
    ["cameras-from-probes", ["Ingress"], "fleet-policies.yaml"],
    ["cameras-to-recorder", ["Ingress"], "cameras.yaml"],
    ["cameras-egress", ["Egress"], "cameras.yaml"],
  ]);
});

Deno.test("nat-dial-out: dial-out peers carry keys; a hub by DNS name", async () => {
  const r = await validateFleet(`${EXAMPLES}nat-dial-out.yaml`);
  if (!r.config) throw new Error(r.diagnostics.map(formatDiagnostic).join("\n"));
  deepStrictEqual(
    r.config.peers.map((p) => [p.name, p.endpoint?.kind ?? null, p.key?.length]),
    [
      ["hub-1", "ip", 32],
      ["hub-2", "dns", 32],
      ["field-1", null, 32],
      ["field-2", null, 32],
      ["field-3", null, 32],
    ],
  );
  deepStrictEqual(r.skipped.map((s) => s.check), ["identity", "password.source", "key_file"]);
});
