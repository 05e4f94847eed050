/**
 * Every file in examples/ is checked, as a fleet repository's CI would: each weave.yaml passes
 * `weave-agent validate` in fleet mode (a host that is no peer, no --name, no secret in the
 * environment); the unit and the dashboard have their own tests (systemd_unit_test.ts,
 * grafana_dashboard_test.ts); nothing else may sit there unchecked. `--format github` and
 * `--json` are exercised on a broken copy.
 */

import { deepStrictEqual, match, ok, strictEqual } from "node:assert";
import { parse } from "yaml";
import { includes } from "./lab/expect.ts";
import { LAB } from "./lab/gate.ts";
import { Lab } from "./lab/lab.ts";

const EXAMPLES = `${Lab.repoRoot}/examples`;

/** What checks each kind of file under examples/. */
const CHECKED_ELSEWHERE: Record<string, string> = {
  "systemd/weave-agent.service": "tests/systemd_unit_test.ts",
  "grafana/weave-agent.json": "tests/grafana_dashboard_test.ts",
  "secret.txt": "the password file two-peers.yaml reads (config/examples_test.ts)",
};

async function filesUnder(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const rel = prefix + e.name;
    if (e.isDirectory) out.push(...await filesUnder(`${dir}/${e.name}`, `${rel}/`));
    else out.push(rel);
  }
  return out.sort();
}

const isYaml = (rel: string) => /\.ya?ml$/.test(rel) && !rel.includes(".github/");

/** The weave.yaml files (a top-level `version:`) and the policy files they name. */
async function fleetFiles(): Promise<{ fleets: string[]; policyFiles: Set<string> }> {
  const fleets: string[] = [];
  const policyFiles = new Set<string>();
  for (const rel of (await filesUnder(EXAMPLES)).filter(isYaml)) {
    const text = await Deno.readTextFile(`${EXAMPLES}/${rel}`);
    if (!/^version:/m.test(text)) continue;
    fleets.push(rel);
    const dir = rel.includes("/") ? rel.slice(0, rel.lastIndexOf("/") + 1) : "";
    const doc = parse(text) as { policyFiles?: string[] };
    for (const f of doc.policyFiles ?? []) policyFiles.add(`${dir}${f}`.replace(/^\.\//, ""));
  }
  return { fleets, policyFiles };
}

/**
 * `weave-agent validate ARGS` the way a CI runner runs it: hostname `ci-runner` (a UTS namespace
 * of its own), no WEAVE_PASSWORD or other secret in the environment.
 */
async function validate(args: string[], cwd = Lab.repoRoot) {
  const out = await new Deno.Command("unshare", {
    args: [
      "--uts",
      "sh",
      "-c",
      'hostname ci-runner && exec "$@"',
      "sh",
      Deno.execPath(),
      "run",
      "--allow-all",
      "--unstable-ffi",
      `${Lab.repoRoot}/main.ts`,
      "validate",
      ...args,
    ],
    cwd,
    clearEnv: true,
    env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", NO_COLOR: "1", HOME: "/tmp" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

Deno.test("examples: every file is checked by something", async () => {
  const { fleets, policyFiles } = await fleetFiles();
  for (const rel of await filesUnder(EXAMPLES)) {
    const known = fleets.includes(rel) || policyFiles.has(rel) || rel in CHECKED_ELSEWHERE ||
      rel.endsWith("README.md") || rel.startsWith("gitops/.github/workflows/");
    ok(
      known,
      `examples/${rel} is not checked by any test: add it to tests/examples_validate_test.ts`,
    );
  }
});

Deno.test({
  name: "examples: every weave.yaml validates in fleet mode: no --name, no secret, host no peer",
  ...LAB,
  async fn() {
    const { fleets } = await fleetFiles();
    includes(fleets, "gitops/weave.yaml", "fleet files found");
    for (const rel of fleets) {
      const r = await validate(["-c", `examples/${rel}`]);
      strictEqual(r.code, 0, `validate examples/${rel}:\n${r.stdout}${r.stderr}`);
      const j = await validate(["-c", `examples/${rel}`, "--json"]);
      strictEqual(j.code, 0, j.stdout + j.stderr);
      const report = JSON.parse(j.stdout);
      strictEqual(report.ok, true, rel);
      strictEqual(report.mode, "fleet", rel);
      includes(report.skipped.map((s: { check: string }) => s.check), "identity", rel);
      const gh = await validate(["-c", `examples/${rel}`, "--format", "github"]);
      strictEqual(gh.code, 0, gh.stdout + gh.stderr);
      for (const line of (gh.stdout + gh.stderr).split("\n").filter((l) => l.startsWith("::"))) {
        match(line, /^::(notice|warning)( [^:]*)?::/, `examples/${rel}: only notices and warnings`);
      }
    }
  },
});

Deno.test({
  name: "examples: the gitops workflow runs validate --format github on the fleet file",
  ...LAB,
  async fn() {
    const wf = parse(
      await Deno.readTextFile(`${EXAMPLES}/gitops/.github/workflows/validate.yml`),
    ) as { jobs: Record<string, { steps: { run?: string }[] }> };
    const runs = Object.values(wf.jobs).flatMap((j) => j.steps.map((s) => s.run ?? ""));
    ok(
      runs.some((r) => /weave-agent validate -c weave\.yaml --format github/.test(r)),
      JSON.stringify(runs),
    );
    // Run from the fleet repository's root, as the workflow does.
    const r = await validate(["-c", "weave.yaml", "--format", "github"], `${EXAMPLES}/gitops`);
    strictEqual(r.code, 0, r.stdout + r.stderr);
  },
});

Deno.test({
  name: "examples: a broken fleet file fails with annotations at file:line:col, and stable JSON",
  ...LAB,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "weave-validate-" });
    try {
      const good = await Deno.readTextFile(`${EXAMPLES}/gitops/weave.yaml`);
      const bad = good.replace("subnet: 10.60.2.0/24", "subnet: 10.60.1.128/25");
      ok(bad !== good, "the example changed");
      await Deno.writeTextFile(`${dir}/weave.yaml`, bad);
      const line = bad.split("\n").findIndex((l) => l.includes("10.60.1.128/25")) + 1;
      const gh = await validate(["-c", "weave.yaml", "--format", "github"], dir);
      strictEqual(gh.code, 1, gh.stdout + gh.stderr);
      match(
        gh.stdout + gh.stderr,
        new RegExp(`^::error file=weave\\.yaml,line=${line},col=\\d+,title=[^:]*::.*overlaps`, "m"),
      );
      const j = await validate(["-c", "weave.yaml", "--json"], dir);
      strictEqual(j.code, 1);
      const report = JSON.parse(j.stdout);
      deepStrictEqual(Object.keys(report).sort(), [
        "diagnostics",
        "mode",
        "ok",
        "self",
        "skipped",
        "summary",
      ]);
      strictEqual(report.ok, false);
      const err = report.diagnostics.find((d: { severity: string }) => d.severity === "error");
      strictEqual(err.line, line, JSON.stringify(err));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
