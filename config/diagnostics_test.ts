import { strictEqual } from "node:assert";
import { formatDiagnostic, formatDiagnostics } from "./diagnostics.ts";
import { closest, didYouMean, editDistance } from "./did_you_mean.ts";
import { checkNetworkName, checkPeerName, isValidEnvName } from "./names.ts";

Deno.test("formatDiagnostic: compiler style, path as given, hint on its own line", () => {
  strictEqual(
    formatDiagnostic({
      severity: "error",
      file: "weave.yaml",
      line: 12,
      column: 7,
      message: "port must be a whole number from 1 to 65535, got 70000",
      hint: "e.g. port: 6783",
    }),
    "weave.yaml:12:7: error: port must be a whole number from 1 to 65535, got 70000\n" +
      "  hint: e.g. port: 6783",
  );
  strictEqual(
    formatDiagnostic({
      severity: "warning",
      file: "./conf/weave.yaml",
      line: 1,
      column: 1,
      message: "no password",
    }),
    "./conf/weave.yaml:1:1: warning: no password",
  );
});

Deno.test("formatDiagnostics: errors first, one per line", () => {
  const w = { severity: "warning" as const, file: "w.yaml", line: 1, column: 1, message: "w" };
  const e = { severity: "error" as const, file: "w.yaml", line: 9, column: 2, message: "e" };
  strictEqual(
    formatDiagnostics([w, e]),
    "w.yaml:9:2: error: e\nw.yaml:1:1: warning: w",
  );
  strictEqual(formatDiagnostics([]), "");
});

Deno.test("edit distance counts a transposition as one edit", () => {
  strictEqual(editDistance("prot", "port"), 1);
  strictEqual(editDistance("kitten", "sitting"), 3);
  strictEqual(editDistance("", "abc"), 3);
  strictEqual(editDistance("same", "same"), 0);
});

Deno.test("suggestions only when plausibly a typo", () => {
  strictEqual(closest("adress", ["name", "address"]), "address");
  strictEqual(closest("VNI", ["name", "vni"]), "vni");
  strictEqual(closest("colour", ["port", "peers"]), undefined);
  strictEqual(closest("xy", ["vni"]), undefined);
  strictEqual(didYouMean("edge2", ["edge-1", "edge-2"]), `; did you mean "edge-2"?`);
  strictEqual(didYouMean("gateway", ["edge-1", "edge-2"]), "");
});

Deno.test("peer names are hostnames", () => {
  for (const ok of ["edge-1", "a", "1", "Edge.1_b", "e".repeat(63)]) {
    strictEqual(checkPeerName(ok), null, ok);
  }
  for (const bad of ["", "-edge", ".edge", "edge 1", "edge/1", "e".repeat(64), "édge"]) {
    strictEqual(checkPeerName(bad) !== null, true, bad);
  }
});

Deno.test("network names fit Linux interface names with the wvb- prefix", () => {
  for (const ok of ["sensors", "a", "net-1", "abcdefghijk"]) {
    strictEqual(checkNetworkName(ok), null, ok);
  }
  for (const bad of ["", "1net", "-net", "Net", "net_1", "abcdefghijkl", "net.1"]) {
    strictEqual(checkNetworkName(bad) !== null, true, bad);
  }
  // The longest allowed name really fits: IFNAMSIZ is 16 with the terminating NUL.
  strictEqual(`wvb-${"a".repeat(11)}`.length, 15);
});

Deno.test("environment variable names", () => {
  strictEqual(isValidEnvName("WEAVE_PASSWORD"), true);
  strictEqual(isValidEnvName("_x1"), true);
  strictEqual(isValidEnvName("1X"), false);
  strictEqual(isValidEnvName("A-B"), false);
  strictEqual(isValidEnvName(""), false);
});
