/**
 * `weave-agent status`: asks the running agent over its control socket and shows the answer,
 * read back through the one shape check (`assertAgentStatus`).
 *
 * @module
 */

// The leaf, not config/mod.ts: this command must not load the config parser (see self_name.ts).
import { selfName } from "../../config/self_name.ts";
import { type AgentStatus, assertAgentStatus } from "../status.ts";
import { controlRequest } from "../ops/control_socket.ts";
import { resolveRunDir, runPaths } from "../ops/run_paths.ts";
import type { CommonFlags } from "./args.ts";
import { renderStatus } from "./status_render.ts";
import { renderDot } from "../topology/dot.ts";

/** Reads a status answer: the shape is checked, then the value is typed. */
export function decodeStatus(v: unknown): AgentStatus {
  assertAgentStatus(v);
  return v;
}

export async function statusCommand(flags: CommonFlags): Promise<number> {
  const { socket } = runPaths(resolveRunDir(flags.runDir), selfName(flags.name));
  const status = await controlRequest(socket, { cmd: "status" }, decodeStatus);
  if (flags.dot) {
    const t = status.topology;
    const peers = t?.peers ?? [status.peer, ...status.peers.map((p) => p.name)];
    Deno.stdout.writeSync(new TextEncoder().encode(renderDot(status.peer, peers, t?.edges ?? [])));
    return 0;
  }
  console.log(flags.json ? JSON.stringify(status, null, 2) : renderStatus(status));
  return 0;
}
