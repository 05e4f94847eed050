import { deepStrictEqual, strictEqual } from "node:assert";
import type { ConfigDiff } from "./config_diff.ts";
import { Logger } from "./ops/log.ts";
import { loadConfig } from "../config/mod.ts";
import {
  applyConfigDiff,
  configFiles,
  ConfigReloader,
  type LoadedConfig,
  loadForPeer,
  type ReloadableAgent,
  sameConfig,
} from "./reload.ts";

const quiet = new Logger("test", "error", "text", () => {});

/** An agent that records which parts a reload restarts, in order. */
function recorder(initial?: LoadedConfig) {
  const steps: string[] = [];
  let current = initial!;
  const agent: ReloadableAgent = {
    current: () => current,
    prepare: () => Promise.resolve(),
    putInForce: (next) => {
      current = next;
      steps.push("putInForce");
    },
    stopSessions: () => void steps.push("stopSessions"),
    setPasswords: () => void steps.push("setPasswords"),
    updatePeers: (removed) => void steps.push(`updatePeers(${removed.join(",")})`),
    stopSleeve: () => Promise.resolve(void steps.push("stopSleeve")),
    startSleeve: () => Promise.resolve(void steps.push("startSleeve")),
    refreshHost: () => Promise.resolve(void steps.push("refreshHost")),
    updateNetworks: () => void steps.push("updateNetworks"),
    startSessions: () => void steps.push("startSessions"),
    restartMetrics: () => void steps.push("restartMetrics"),
  };
  return { agent, steps };
}

const none: ConfigDiff = {
  restartControl: false,
  passwordsChanged: false,
  passwords: { current: null, previous: null },
  restartSleeve: false,
  peersChanged: false,
  removedPeers: [],
  addedPeers: [],
  networksChanged: false,
  hostChanged: false,
  metricsChanged: false,
  summary: [],
};

Deno.test("reload order: the host is reconciled before the sleeve attaches, sessions last", async () => {
  const cases: [Partial<ConfigDiff>, string[]][] = [
    [{ networksChanged: true }, ["refreshHost", "updateNetworks"]],
    // Workloads, routes, policy: one reconcile, nothing restarted.
    [{ hostChanged: true }, ["refreshHost"]],
    [{ peersChanged: true, removedPeers: ["edge-3"] }, ["updatePeers(edge-3)"]],
    [{ metricsChanged: true }, ["restartMetrics"]],
    [{ restartControl: true }, ["stopSessions", "refreshHost", "startSessions"]],
    [{ passwordsChanged: true }, ["setPasswords"]],
    [
      { restartControl: true, restartSleeve: true, networksChanged: true },
      ["stopSessions", "stopSleeve", "refreshHost", "startSleeve", "startSessions"],
    ],
    [
      { restartControl: true, networksChanged: true },
      ["stopSessions", "refreshHost", "updateNetworks", "startSessions"],
    ],
  ];
  for (const [diff, want] of cases) {
    const { agent, steps } = recorder();
    await applyConfigDiff({ ...none, ...diff }, agent);
    deepStrictEqual(steps, want, JSON.stringify(diff));
  }
});

const yaml = (extra = "") =>
  [
    "version: 1",
    "password:",
    "  file: ./password",
    "peers:",
    "  - name: edge-1",
    "    address: 192.0.2.1",
    "  - name: edge-2",
    "    address: 192.0.2.2",
    "networks:",
    "  - name: net1",
    "    subnet: 10.40.1.0/24",
    extra,
  ].join("\n") + "\n";

Deno.test("reload: a bad config is refused and nothing restarts; unchanged files change nothing; a new password does", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/weave.yaml`;
    await Deno.writeTextFile(`${dir}/password`, "correct horse battery staple 1\n", {
      mode: 0o600,
    });
    await Deno.writeTextFile(path, yaml());
    const first = await loadForPeer(path, "edge-1", quiet);
    const { agent, steps } = recorder(first);
    const reloader = new ConfigReloader(path, "edge-1", agent, quiet);

    let r = await reloader.reload("test");
    deepStrictEqual({ ok: r.ok, message: r.message, steps }, {
      ok: true,
      message: "unchanged",
      steps: [],
    });

    await Deno.writeTextFile(path, yaml("bogus_key: 3"));
    r = await reloader.reload("test");
    strictEqual(r.ok, false);
    strictEqual(/weave\.yaml:12:1.*unknown key "bogus_key"/.test(r.message), true, r.message);
    deepStrictEqual(steps, []);
    strictEqual(reloader.last, r);

    // Same file, new password bytes: the sessions must re-key (no restart: #14).
    await Deno.writeTextFile(path, yaml());
    await Deno.writeTextFile(`${dir}/password`, "correct horse battery staple 2\n");
    r = await reloader.reload("test");
    deepStrictEqual({ ok: r.ok, message: r.message }, {
      ok: true,
      message: "password changed: sessions re-keyed",
    });
    deepStrictEqual(steps, ["putInForce", "setPasswords"]);

    // This box removed from the fleet: refused, the config in force stays.
    steps.length = 0;
    await Deno.writeTextFile(path, yaml().replace("edge-1", "edge-9"));
    r = await reloader.reload("test");
    strictEqual(r.ok, false);
    strictEqual(r.message, `peer edge-1 is not in ${path}`);
    deepStrictEqual(steps, []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("reload: peers without a fixed IP address (dial-out only, DNS-named) are run (#15)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/weave.yaml`;
    const k = btoa(String.fromCharCode(...new Uint8Array(32).fill(9)));
    await Deno.writeTextFile(
      path,
      [
        "version: 1",
        "peers:",
        "  - name: edge-1",
        "    address: 192.0.2.1",
        "  - name: edge-2",
        `    key: ${k}`,
        "  - name: edge-3",
        "    address: edge-3.example.net",
        "networks:",
        "  - name: net1",
        "    subnet: 10.40.1.0/24",
        "",
      ].join("\n"),
    );
    for (const name of ["edge-1", "edge-2", "edge-3"]) {
      const loaded = await loadForPeer(path, name, quiet);
      strictEqual(loaded.self.name, name);
    }
    const loaded = await loadForPeer(path, "edge-1", quiet);
    deepStrictEqual(
      loaded.config.peers.map((p) => p.endpoint?.kind ?? "dial-out"),
      ["ip", "dial-out", "dns"],
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("reload watches the policy files, and a policy file's change is a change", async () => {
  const path = new URL("../examples/fleet-policies.yaml", import.meta.url).pathname;
  const r = await loadConfig(path);
  if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join("\n"));
  const files = configFiles(path, r.config);
  strictEqual(files.some((f) => f.endsWith("examples/policies/cameras.yaml")), true, `${files}`);
  const loaded = {
    config: r.config,
    text: "same",
    self: r.config.peers[0],
    password: null,
    previousPassword: null,
  };
  const a = { ...loaded, loadedAt: new Date(0) };
  const b = {
    ...loaded,
    config: { ...r.config, policies: r.config.policies.slice(1) },
    loadedAt: new Date(0),
  };
  strictEqual(sameConfig(a, a), true);
  strictEqual(sameConfig(a, b), false);
});
