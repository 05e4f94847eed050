/**
 * The commands behind the CLI. Each returns an exit code; output goes to stdout, logs and
 * errors to stderr.
 *
 * @module
 */

import type { Config } from "../../config/types.ts";
import {
  describeForPeer,
  findSelf,
  formatDiagnostic,
  loadConfig,
  readPassword,
  selfName,
} from "../../config/mod.ts";
import { datapathCaps, probeKernel } from "../../datapath/kernel_probe.ts";
import {
  applyChanges,
  observeHost,
  planHost,
  renderPlan,
  teardownPlan,
} from "../../datapath/host/mod.ts";
import { Agent, type AgentStatus } from "../agent.ts";
import type { CommonFlags } from "./args.ts";
import { Logger } from "../ops/log.ts";
import { ServiceNotifications } from "./up_systemd.ts";
import { controlRequest, controlSocketAlive } from "../ops/control_socket.ts";
import { resolveRunDir, runPaths } from "../ops/run_paths.ts";
import { localFastdpCapability } from "../datapath_choice.ts";
import { buildDesiredHost } from "../desired_host.ts";
import { checkExitCode, renderCheck, runCheck } from "../check/check.ts";

const out = (s: string) => console.log(s);

function logger(flags: CommonFlags, component = "agent"): Logger {
  return new Logger(component, flags.logLevel, flags.logFormat);
}

/** Loads the config, printing diagnostics; null when it has errors. */
async function loadOrReport(flags: CommonFlags): Promise<Config | null> {
  const result = await loadConfig(flags.config);
  for (const d of result.diagnostics) console.error(formatDiagnostic(d));
  return result.ok ? result.config : null;
}

/** `weave-agent validate` */
export async function validateCommand(flags: CommonFlags): Promise<number> {
  const result = await loadConfig(flags.config);
  const name = selfName(flags.name);
  if (flags.json) {
    const self = result.ok ? findSelf(result.config, name) : undefined;
    out(JSON.stringify(
      {
        ok: result.ok && !!self,
        diagnostics: result.diagnostics,
        self: self?.name ?? null,
        summary: result.ok && self ? describeForPeer(result.config, name) : null,
      },
      null,
      2,
    ));
    return result.ok && self ? 0 : 1;
  }
  for (const d of result.diagnostics) console.error(formatDiagnostic(d));
  if (!result.ok) {
    const errors = result.diagnostics.filter((d) => d.severity === "error").length;
    console.error(`${flags.config}: ${errors} error${errors === 1 ? "" : "s"}; config not valid`);
    return 1;
  }
  if (!findSelf(result.config, name)) {
    console.error(describeForPeer(result.config, name));
    return 1;
  }
  out(describeForPeer(result.config, name));
  return 0;
}

/** `weave-agent up` */
export async function upCommand(flags: CommonFlags): Promise<number> {
  const log = logger(flags);
  const name = selfName(flags.name);
  const agent = new Agent({
    configPath: flags.config,
    name,
    runDir: resolveRunDir(flags.runDir),
    log,
  });
  const service = new ServiceNotifications(agent, log);
  const onStop = (sig: string) => () => {
    service.stopping();
    void agent.stop(`signal ${sig}`);
  };
  const stopHandlers: [Deno.Signal, () => void][] = [
    ["SIGTERM", onStop("SIGTERM")],
    ["SIGINT", onStop("SIGINT")],
    ["SIGHUP", () => void service.reload(() => agent.reload("SIGHUP"))],
  ];
  for (const [sig, h] of stopHandlers) Deno.addSignalListener(sig, h);
  try {
    await agent.start();
  } catch (e) {
    log.error(e instanceof Error ? e.message : String(e));
    service.stopping();
    await agent.stop("start-up failed");
    return 1;
  }
  service.started();
  await agent.stopped;
  service.stopping();
  for (const [sig, h] of stopHandlers) Deno.removeSignalListener(sig, h);
  return 0;
}

/** `weave-agent status` */
export async function statusCommand(flags: CommonFlags): Promise<number> {
  const name = selfName(flags.name);
  const { socket } = runPaths(resolveRunDir(flags.runDir), name);
  let status: AgentStatus;
  try {
    status = await controlRequest<AgentStatus>(socket, { cmd: "status" });
  } catch (e) {
    console.error(`weave-agent status: ${e instanceof Error ? e.message : e}`);
    return 1;
  }
  out(flags.json ? JSON.stringify(status, null, 2) : renderStatus(status));
  return 0;
}

function fmtBytes(n: unknown): string {
  const v = typeof n === "number" ? n : 0;
  if (v < 1024) return `${v} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let x = v / 1024, i = 0;
  while (x >= 1024 && i < units.length - 1) x /= 1024, i++;
  return `${x.toFixed(1)} ${units[i]}`;
}

/** Human rendering of `status`. */
export function renderStatus(s: AgentStatus): string {
  const lines = [
    `peer ${s.peer} at ${s.address} (pid ${s.pid})`,
    `config ${s.config.path}, loaded ${s.config.loadedAt}, datapath ${s.config.datapath}, ` +
    `encryption ${s.config.encrypted ? "on" : "OFF"}`,
    `fast datapath on this box: ${s.fastdp.capable ? "yes" : "no"} (${s.fastdp.reason})`,
    `sleeve crypto: ${s.sleeve ? `${s.sleeve.backend} ${s.sleeve.aead}` : "-"}`,
  ];
  if (s.config.lastReload) {
    const r = s.config.lastReload;
    lines.push(`last reload ${r.at}: ${r.ok ? "ok" : "REFUSED"} (${r.message.split("\n")[0]})`);
  }
  if (s.reconcile) {
    lines.push(
      `last reconcile ${s.reconcile.at}: ${s.reconcile.changes} change(s)` +
        (s.reconcile.error ? `, ERROR ${s.reconcile.error}` : ""),
    );
  }
  lines.push(
    "",
    "PEER            STATE     DATAPATH  RTT      HANDSHAKE  TX            RX            DROPS  WHY",
  );
  for (const p of s.peers) {
    const sl = (p.sleeve ?? {}) as Record<string, unknown>;
    const drops = Object.values((sl.drops ?? {}) as Record<string, number>).reduce(
      (a, b) => a + (typeof b === "number" ? b : 0),
      0,
    );
    lines.push(
      [
        p.name.padEnd(15),
        p.state.padEnd(9),
        p.datapath.padEnd(9),
        (p.rttMs === null ? "-" : `${p.rttMs.toFixed(1)}ms`).padEnd(8),
        (p.handshakeAgeSeconds === null ? "-" : `${p.handshakeAgeSeconds}s ago`).padEnd(10),
        `${fmtBytes(sl.txBytes)}/${sl.txPackets ?? 0}p`.padEnd(13),
        `${fmtBytes(sl.rxBytes)}/${sl.rxPackets ?? 0}p`.padEnd(13),
        String(drops).padEnd(6),
        `${p.reason}${p.lastError ? ` [${p.lastError}]` : ""}`,
      ].join(" "),
    );
  }
  lines.push("", "NETWORK      SUBNET              VNI       MTU   ADDRESS          MEMBERS");
  for (const n of s.networks) {
    lines.push(
      [
        n.name.padEnd(12),
        n.subnet.padEnd(19),
        String(n.vni).padEnd(9),
        String(n.mtu).padEnd(5),
        n.address.padEnd(16),
        n.members.map((m) => m.peer).join(", "),
      ].join(" "),
    );
  }
  return lines.join("\n");
}

/** `weave-agent plan` */
export async function planCommand(flags: CommonFlags): Promise<number> {
  const name = selfName(flags.name);
  const { socket } = runPaths(resolveRunDir(flags.runDir), name);
  if (await controlSocketAlive(socket)) {
    const r = await controlRequest<{ changes: number; text: string }>(socket, {
      cmd: "plan",
      showKeys: flags.showKeys,
    });
    out(flags.json ? JSON.stringify(r, null, 2) : r.text || "# nothing to change");
    return 0;
  }
  const config = await loadOrReport(flags);
  if (!config) return 1;
  const self = findSelf(config, name);
  if (!self) {
    console.error(describeForPeer(config, name));
    return 1;
  }
  const password = readPassword(config);
  const probe = await probeKernel();
  const cap = localFastdpCapability(config.datapath, password !== null, datapathCaps(probe));
  const desired = buildDesiredHost({
    config,
    self,
    encrypted: password !== null,
    fastdpCapable: cap.capable,
    fastPeers: [],
  });
  const changes = planHost(desired, await observeHost());
  const text = renderPlan(changes, { showKeys: flags.showKeys });
  if (flags.json) {
    out(JSON.stringify({ changes: changes.length, text, agentRunning: false }, null, 2));
  } else {
    out("# no agent is running: planned from the config alone (per-peer entries need sessions)");
    out(`# fast datapath: ${cap.capable ? "yes" : "no"} (${cap.reason})`);
    out(text || "# nothing to change");
  }
  return 0;
}

/** `weave-agent down` */
export async function downCommand(flags: CommonFlags): Promise<number> {
  const name = selfName(flags.name);
  const { socket } = runPaths(resolveRunDir(flags.runDir), name);
  if (await controlSocketAlive(socket)) {
    await controlRequest(socket, { cmd: "shutdown" }).catch(() => {});
    for (let i = 0; i < 50 && await controlSocketAlive(socket); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    if (await controlSocketAlive(socket)) {
      console.error(`weave-agent down: the agent at ${socket} did not stop within 5 s`);
      return 1;
    }
    out(`stopped the agent ${name}`);
  }
  const changes = teardownPlan(await observeHost());
  if (changes.length > 0) await applyChanges(changes);
  out(`removed ${changes.length} kernel object(s) owned by weave-agent`);
  return 0;
}

/** `weave-agent check` */
export async function checkCommand(flags: CommonFlags): Promise<number> {
  const report = await runCheck({
    configPath: flags.config,
    name: flags.name,
    runDir: resolveRunDir(flags.runDir),
  });
  out(
    flags.json ? JSON.stringify(report, null, 2) : renderCheck(report, {
      color: Deno.stdout.isTerminal() && !Deno.env.get("NO_COLOR"),
    }),
  );
  return checkExitCode(report);
}
