/**
 * `weave-agent status`: asks the running agent over its control socket and shows the answer,
 * read back through the one shape check (`assertAgentStatus`).
 *
 * @module
 */

import { selfName } from "../../config/mod.ts";
import { type AgentStatus, assertAgentStatus } from "../status.ts";
import { controlRequest } from "../ops/control_socket.ts";
import { resolveRunDir, runPaths } from "../ops/run_paths.ts";
import type { CommonFlags } from "./args.ts";
import { renderStatus } from "./status_render.ts";

/** Reads a status answer: the shape is checked, then the value is typed. */
export function decodeStatus(v: unknown): AgentStatus {
  assertAgentStatus(v);
  return v;
}

export async function statusCommand(flags: CommonFlags): Promise<number> {
  const { socket } = runPaths(resolveRunDir(flags.runDir), selfName(flags.name));
  const status = await controlRequest(socket, { cmd: "status" }, decodeStatus);
  console.log(flags.json ? JSON.stringify(status, null, 2) : renderStatus(status));
  return 0;
}
