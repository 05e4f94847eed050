/**
 * examples/systemd/weave-agent.service passes `systemd-analyze verify` with no warning at all
 * (an unknown or misspelt key is only a warning to systemd, so stderr must stay empty). verify
 * insists that the ExecStart binary exists; it runs in a private mount namespace whose
 * /usr/local/bin holds a `weave-agent` launcher for this checkout, so nothing outside changes.
 * Works without systemd as PID 1 (CI containers, this VM).
 */

import { match, strictEqual } from "node:assert";
import { LAB } from "./lab/gate.ts";
import { Lab } from "./lab/lab.ts";

const UNIT = `${Lab.repoRoot}/examples/systemd/weave-agent.service`;

async function verify(unitPath: string): Promise<{ code: number; stderr: string }> {
  const launcher = `#!/bin/sh\nexec ${Deno.execPath()} run --allow-all --unstable-ffi ` +
    `${Lab.repoRoot}/main.ts "$@"\n`;
  const script = [
    "set -e",
    "mount -t tmpfs weave-verify /usr/local/bin",
    'printf "%s" "$1" > /usr/local/bin/weave-agent',
    "chmod 755 /usr/local/bin/weave-agent",
    'exec systemd-analyze verify "$2"',
  ].join("\n");
  const out = await new Deno.Command("unshare", {
    args: ["--mount", "--propagation", "private", "sh", "-c", script, "sh", launcher, unitPath],
    stdout: "piped",
    stderr: "piped",
    env: { SYSTEMD_LOG_COLOR: "0" },
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stderr: text(out.stderr) + text(out.stdout) };
}

Deno.test({
  name: "systemd: the example unit passes systemd-analyze verify without a warning",
  ...LAB,
  async fn() {
    const r = await verify(UNIT);
    strictEqual(r.stderr, "", "systemd-analyze verify said something");
    strictEqual(r.code, 0);
  },
});

Deno.test({
  name: "systemd: verify would catch a misspelt key (the test can fail)",
  ...LAB,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "weave-unit-" });
    try {
      const bad = `${dir}/weave-agent.service`;
      const text = await Deno.readTextFile(UNIT);
      await Deno.writeTextFile(bad, text.replace("NoNewPrivileges=yes", "NoNewPrivilege=yes"));
      const r = await verify(bad);
      match(r.stderr, /Unknown key 'NoNewPrivilege'/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
