import { deepStrictEqual, strictEqual } from "node:assert";
import {
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
