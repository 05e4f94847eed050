import { deepStrictEqual, strictEqual, throws } from "node:assert";
import { formatDiagnostic } from "./diagnostics.ts";
import { loadConfig } from "./load.ts";
import { readPassword, readPasswords, samePasswords, stripOneNewline } from "./password.ts";
import type { Config } from "./types.ts";

const CONFIG = `version: 1
password:
  file: secret.txt
peers:
  - name: edge-1
    address: 192.0.2.10
networks:
  - name: sensors
    subnet: 10.32.1.0/24
`;

/** A temp dir holding weave.yaml and, when `secret` is given, secret.txt with `mode`. */
async function withFleet(
  secret: string | null,
  mode: number,
  fn: (dir: string, configPath: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "weave-config-" });
  try {
    await Deno.writeTextFile(`${dir}/weave.yaml`, CONFIG);
    if (secret !== null) {
      await Deno.writeTextFile(`${dir}/secret.txt`, secret);
      await Deno.chmod(`${dir}/secret.txt`, mode);
    }
    await fn(dir, `${dir}/weave.yaml`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("password file with mode 0600 loads without diagnostics", async () => {
  await withFleet("s3cret\n", 0o600, async (dir, path) => {
    const r = await loadConfig(path);
    deepStrictEqual(r.diagnostics, []);
    if (!r.ok) throw new Error("not ok");
    deepStrictEqual(r.config.password, { kind: "file", path: `${dir}/secret.txt` });
    deepStrictEqual(readPassword(r.config), new TextEncoder().encode("s3cret"));
  });
});

Deno.test("password file readable by group or others is a warning at the file: value", async () => {
  for (const mode of [0o644, 0o640, 0o604, 0o660]) {
    await withFleet("s3cret\n", mode, async (dir, path) => {
      const r = await loadConfig(path);
      strictEqual(r.ok, true);
      const octal = mode.toString(8).padStart(4, "0");
      deepStrictEqual(r.diagnostics.map(formatDiagnostic), [
        `${path}:3:9: warning: password file "secret.txt" has mode ${octal}: group or others ` +
        `can access it\n  hint: chmod 600 ${dir}/secret.txt`,
      ]);
    });
  }
});

Deno.test("missing password file is an error at the file: value", async () => {
  await withFleet(null, 0, async (dir, path) => {
    const r = await loadConfig(path);
    strictEqual(r.ok, false);
    deepStrictEqual(r.diagnostics.map(formatDiagnostic), [
      `${path}:3:9: error: password file "secret.txt" cannot be read (looked for ` +
      `${dir}/secret.txt)\n  hint: create it: (umask 077; head -c 32 /dev/urandom | base64 > ` +
      `${dir}/secret.txt)`,
    ]);
  });
});

Deno.test("empty password file (or just a newline) is an error", async () => {
  for (const content of ["", "\n", "\r\n"]) {
    await withFleet(content, 0o600, async (dir, path) => {
      const r = await loadConfig(path);
      strictEqual(r.ok, false);
      deepStrictEqual(r.diagnostics.map(formatDiagnostic), [
        `${path}:3:9: error: password file "secret.txt" is empty (${dir}/secret.txt)\n` +
        `  hint: put the fleet's shared password in it: (umask 077; head -c 32 /dev/urandom | ` +
        `base64 > ${dir}/secret.txt)`,
      ]);
    });
  }
});

Deno.test("readPassword strips exactly one trailing newline and keeps other bytes", async () => {
  const cases: [string, string][] = [
    ["pw", "pw"],
    ["pw\n", "pw"],
    ["pw\n\n", "pw\n"],
    ["pw\r\n", "pw"],
    [" pw \t\n", " pw \t"],
    ["päss\n", "päss"],
  ];
  for (const [content, expected] of cases) {
    await withFleet(content, 0o600, async (_dir, path) => {
      const r = await loadConfig(path);
      if (!r.ok) throw new Error(r.diagnostics.map(formatDiagnostic).join("\n"));
      deepStrictEqual(readPassword(r.config), new TextEncoder().encode(expected));
    });
  }
});

Deno.test("readPassword throws a clear error when the file vanished after load", async () => {
  await withFleet("s3cret\n", 0o600, async (dir, path) => {
    const r = await loadConfig(path);
    if (!r.ok) throw new Error("not ok");
    await Deno.remove(`${dir}/secret.txt`);
    throws(
      () => readPassword(r.config),
      (e: Error) =>
        e.message.startsWith(`password: cannot read password file ${dir}/secret.txt: `) &&
        e.message.includes("No such file"),
    );
    await Deno.writeTextFile(`${dir}/secret.txt`, "\n");
    throws(() => readPassword(r.config), {
      message: `password: password file ${dir}/secret.txt is empty`,
    });
  });
});

Deno.test("a password file path is resolved against the config's folder, not the cwd", async () => {
  await withFleet("s3cret", 0o600, async (dir) => {
    const cwd = Deno.cwd();
    Deno.chdir("/");
    try {
      const r = await loadConfig(`${dir.slice(1)}/weave.yaml`); // relative to "/"
      if (!r.ok) throw new Error(r.diagnostics.map(formatDiagnostic).join("\n"));
      deepStrictEqual(r.config.password, { kind: "file", path: `${dir}/secret.txt` });
      strictEqual(r.config.path, `${dir}/weave.yaml`);
    } finally {
      Deno.chdir(cwd);
    }
  });
});

Deno.test("readPassword from the environment, and when it is gone", () => {
  const config = {
    path: "/etc/weave/weave.yaml",
    password: { kind: "env", name: "WEAVE_PASSWORD" },
  } as Config;
  deepStrictEqual(
    readPassword(config, { WEAVE_PASSWORD: "pw\n" }),
    new TextEncoder().encode("pw\n"),
  );
  throws(() => readPassword(config, {}), {
    message: "password: environment variable WEAVE_PASSWORD is not set (it was set when " +
      "/etc/weave/weave.yaml was loaded)",
  });
  throws(() => readPassword(config, { WEAVE_PASSWORD: "" }), {
    message: "password: environment variable WEAVE_PASSWORD is empty (it was set when " +
      "/etc/weave/weave.yaml was loaded)",
  });
  strictEqual(readPassword({ ...config, password: null }), null);
});

Deno.test("stripOneNewline: the one rule, on bytes", () => {
  const enc = (t: string) => new TextEncoder().encode(t);
  deepStrictEqual(
    ["pw", "pw\n", "pw\r\n", "pw\n\n", "\n", ""].map((t) =>
      new TextDecoder().decode(stripOneNewline(enc(t)))
    ),
    ["pw", "pw", "pw", "pw\n", "", ""],
  );
});

Deno.test("readPasswords: current and previous bytes; a content change is a change", async () => {
  await withFleet("A-password\n", 0o600, async (dir, path) => {
    await Deno.writeTextFile(
      path,
      CONFIG.replace("  file: secret.txt\n", "  file: secret.txt\n  previous: {file: old.txt}\n"),
    );
    await Deno.writeTextFile(`${dir}/old.txt`, "Z-password\n");
    await Deno.chmod(`${dir}/old.txt`, 0o600);
    const r = await loadConfig(path);
    if (!r.ok) throw new Error(r.diagnostics.map(formatDiagnostic).join("\n"));
    deepStrictEqual(r.config.previousPassword, { kind: "file", path: `${dir}/old.txt` });
    const first = readPasswords(r.config);
    const text = (b: Uint8Array | null | undefined) => b ? new TextDecoder().decode(b) : b;
    deepStrictEqual([text(first?.current), text(first?.previous)], ["A-password", "Z-password"]);
    strictEqual(samePasswords(first, readPasswords(r.config)), true);
    // Same path, new content: reload must see a different password.
    await Deno.writeTextFile(`${dir}/secret.txt`, "B-password\n");
    const second = readPasswords(r.config);
    deepStrictEqual(text(second?.current), "B-password");
    strictEqual(samePasswords(first, second), false);
    await Deno.remove(`${dir}/old.txt`);
    throws(() => readPasswords(r.config), (e: Error) =>
      e.message.startsWith(
        `password.previous: cannot read previous password file ${dir}/old.txt: `,
      ));
  });
  strictEqual(samePasswords(null, null), true);
});
