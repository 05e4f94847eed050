import { deepStrictEqual, ok, strictEqual } from "node:assert";
import { parseConfig } from "../../config/mod.ts";
import {
  describeFleet,
  escapeData,
  escapeProperty,
  githubAnnotations,
  relativeTo,
  type ValidateReport,
} from "./validate_report.ts";

Deno.test("validate --format github: escaping as GitHub's toolkit does", () => {
  strictEqual(escapeData("50% of a\r\nb"), "50%25 of a%0D%0Ab");
  strictEqual(escapeProperty("a:b,c%"), "a%3Ab%2Cc%25");
});

Deno.test("validate --format github: one annotation per diagnostic at file:line:col, notices for skips", () => {
  const report: ValidateReport = {
    ok: false,
    mode: "fleet",
    diagnostics: [
      {
        severity: "error",
        file: "/repo/fleet/weave.yaml",
        line: 12,
        column: 13,
        message: "subnet 10.60.1.128/25 overlaps 10.60.1.0/24 of network telemetry",
        hint: "give each network its own range",
      },
      { severity: "warning", file: "/repo/fleet/weave.yaml", line: 3, column: 3, message: "w" },
    ],
    skipped: [{ check: "identity", why: "which peer a box is, is only known on the box" }],
    self: null,
    summary: null,
  };
  deepStrictEqual(githubAnnotations(report, "/repo/fleet"), [
    "::error file=weave.yaml,line=12,col=13,title=weave.yaml error::subnet 10.60.1.128/25 " +
    "overlaps 10.60.1.0/24 of network telemetry (hint: give each network its own range)",
    "::warning file=weave.yaml,line=3,col=3,title=weave.yaml warning::w",
    "::notice title=skipped%3A identity::which peer a box is, is only known on the box",
    "weave-agent validate: 1 error",
  ]);
  const notPeer = { ...report, mode: "box" as const, diagnostics: [], skipped: [] };
  deepStrictEqual(githubAnnotations({ ...notPeer, summary: "this box is x\nnot a peer" }, "/"), [
    "::error title=weave.yaml::this box is x%0Anot a peer",
  ]);
  strictEqual(relativeTo("/repo/fleet/weave.yaml", "/repo"), "fleet/weave.yaml");
  strictEqual(relativeTo("/elsewhere/weave.yaml", "/repo"), "/elsewhere/weave.yaml");
});

Deno.test("describeFleet: every peer and member of a small fleet, a summary of a big one", () => {
  const fleet = (n: number) => {
    const peers = Array.from(
      { length: n },
      (_, i) => `  - name: box-${i}\n    address: 10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`,
    );
    const yaml = [
      "version: 1",
      "peers:",
      ...peers,
      "networks:",
      "  - name: big",
      "    subnet: 10.200.0.0/16",
    ];
    const r = parseConfig(yaml.join("\n") + "\n", "/x/weave.yaml");
    if (!r.ok) throw new Error(JSON.stringify(r.diagnostics));
    return describeFleet(r.config).split("\n");
  };
  const small = fleet(3);
  strictEqual(small[0], "/x/weave.yaml: valid for a fleet of 3 peers (box-0, box-1, box-2)");
  strictEqual(
    small[2],
    "  network big: 10.200.0.0/16, VNI 2403949 (derived), 3 members: " +
      "box-0=10.200.0.1 box-1=10.200.0.2 box-2=10.200.0.3",
  );
  const big = fleet(10_000);
  const first20 = Array.from({ length: 20 }, (_, i) => `box-${i}`);
  strictEqual(
    big[0],
    `/x/weave.yaml: valid for a fleet of 10000 peers (${first20.join(", ")}, … (9980 more))`,
  );
  strictEqual(
    big[2],
    "  network big: 10.200.0.0/16, VNI 2403949 (derived), 10000 members: " +
      `${first20.map((p, i) => `${p}=10.200.0.${i + 1}`).join(" ")} … (9980 more)`,
  );
  for (const line of big) ok(line.length < 600, `${line.length} characters: ${line.slice(0, 80)}`);
});
