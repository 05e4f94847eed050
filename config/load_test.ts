import { deepStrictEqual } from "node:assert";
import { formatDiagnostic } from "./diagnostics.ts";
import { loadConfig } from "./load.ts";

Deno.test("a missing config file is an error diagnostic, not an exception", async () => {
  const dir = await Deno.makeTempDir({ prefix: "weave-config-" });
  try {
    const r = await loadConfig(`${dir}/nope.yaml`);
    deepStrictEqual(r.ok, false);
    deepStrictEqual(r.diagnostics.map(formatDiagnostic), [
      `${dir}/nope.yaml:1:1: error: config file not found\n` +
      `  hint: pass the path of weave.yaml with --config`,
    ]);
    const d = await loadConfig(dir);
    deepStrictEqual(d.diagnostics.map(formatDiagnostic), [
      `${dir}:1:1: error: config path is a directory, not a file\n` +
      `  hint: pass the path of weave.yaml with --config`,
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a config file that is not UTF-8 text cannot be read", async () => {
  const dir = await Deno.makeTempDir({ prefix: "weave-config-" });
  try {
    await Deno.writeFile(`${dir}/weave.yaml`, new Uint8Array([0x76, 0xff, 0xfe, 0x0a]));
    const r = await loadConfig(`${dir}/weave.yaml`);
    deepStrictEqual(r.diagnostics.map(formatDiagnostic), [
      `${dir}/weave.yaml:1:1: error: config file is not UTF-8 text\n  hint: save weave.yaml as UTF-8`,
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
