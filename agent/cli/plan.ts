/**
 * `weave-agent plan`: the exact commands that would bring this box to the desired state. Asks
 * the running agent (which knows the sessions); without one, plans from the config alone.
 *
 * @module
 */

import {
  describeForPeer,
  findSelf,
  formatDiagnostic,
  loadConfig,
  readPassword,
  selfName,
} from "../../config/mod.ts";
import { datapathCaps, probeKernel } from "../../datapath/kernel_probe.ts";
import { planNow, planText } from "../host_reconcile.ts";
import { controlRequest, controlSocketAlive, decodePlanReply } from "../ops/control_socket.ts";
import { resolveRunDir, runPaths } from "../ops/run_paths.ts";
import { localFastdpCapability } from "../datapath_choice.ts";
import { buildDesiredHost } from "../desired_host.ts";
import type { CommonFlags } from "./args.ts";

export async function planCommand(flags: CommonFlags): Promise<number> {
  const name = selfName(flags.name);
  const { socket } = runPaths(resolveRunDir(flags.runDir), name);
  if (await controlSocketAlive(socket)) {
    const r = await controlRequest(
      socket,
      { cmd: "plan", showKeys: flags.showKeys },
      decodePlanReply,
    );
    console.log(flags.json ? JSON.stringify(r, null, 2) : r.text || "# nothing to change");
    return 0;
  }
  const result = await loadConfig(flags.config);
  for (const d of result.diagnostics) console.error(formatDiagnostic(d));
  if (!result.ok) return 1;
  const config = result.config;
  const self = findSelf(config, name);
  if (!self) {
    console.error(describeForPeer(config, name));
    return 1;
  }
  const password = readPassword(config);
  const cap = localFastdpCapability(
    config.datapath,
    password !== null,
    datapathCaps(await probeKernel()),
  );
  const desired = buildDesiredHost({
    config,
    self,
    encrypted: password !== null,
    fastdpCapable: cap.capable,
    fastPeers: [],
  });
  // Inside every workload's namespace too, so a plumbed workload shows as in place.
  const plan = await planNow(desired);
  const changes = plan.changes;
  const text = planText(plan, flags.showKeys);
  if (flags.json) {
    console.log(JSON.stringify({ changes: changes.length, text, agentRunning: false }, null, 2));
  } else {
    console.log(
      "# no agent is running: planned from the config alone (per-peer entries need sessions)",
    );
    console.log(`# fast datapath: ${cap.capable ? "yes" : "no"} (${cap.reason})`);
    console.log(text || "# nothing to change");
  }
  return 0;
}
