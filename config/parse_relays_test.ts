// `relay:` and `relays:` on peers (#16): typed result, exact messages with positions.
import { deepStrictEqual, strictEqual } from "node:assert";
import { formatDiagnostic } from "./diagnostics.ts";
import { parseConfig } from "./parse.ts";

const ENV = { WEAVE_PASSWORD: "pw" };
const fleet = (extraB: string, extraC = "") =>
  `version: 1\npassword: {env: WEAVE_PASSWORD}\npeers:\n` +
  `  - name: a\n    address: 192.0.2.1\n` +
  `  - name: b\n    address: 192.0.2.2\n${extraB}` +
  `  - name: c\n    address: 192.0.2.3\n${extraC}` +
  `networks:\n  - name: sensors\n    subnet: 10.32.1.0/24\n`;

function errors(yaml: string): string[] {
  const r = parseConfig(yaml, "weave.yaml", { env: ENV });
  const found = r.diagnostics.filter((d) => d.severity === "error").map(formatDiagnostic);
  strictEqual(r.ok, found.length === 0, `ok=${r.ok} with ${found.length} errors`);
  return found.map((l) => l.split("\n")[0]);
}

Deno.test("#16: relay and relays are read onto the peer; absent means open", () => {
  const r = parseConfig(fleet("    relay: false\n", "    relays: [b, a]\n"), "weave.yaml", {
    env: ENV,
  });
  if (!r.ok) throw new Error(r.diagnostics.map(formatDiagnostic).join("\n"));
  const [a, b, c] = r.config.peers;
  deepStrictEqual([a.relay, a.relays], [undefined, undefined]);
  deepStrictEqual([b.relay, b.relays], [false, undefined]);
  deepStrictEqual([c.relay, c.relays], [undefined, ["b", "a"]]);
});

Deno.test("#16: bad relay and relays values are errors at their positions", () => {
  deepStrictEqual(errors(fleet("    relay: maybe\n")), [
    'weave.yaml:8:12: error: peers[1].relay must be true or false, got "maybe"',
  ]);
  deepStrictEqual(errors(fleet("    relays: b\n")), [
    'weave.yaml:8:13: error: peers[1].relays must be a list, got "b"',
  ]);
  deepStrictEqual(errors(fleet("    relays: [a, x]\n")), [
    'weave.yaml:8:17: error: relays names "x", which is not a peer',
  ]);
  deepStrictEqual(errors(fleet("    relays: [b]\n")), [
    'weave.yaml:8:14: error: peer "b" lists itself in relays',
  ]);
});
