/**
 * `weave-agent down`: stops the agent (if running) and removes every kernel object it owns.
 *
 * @module
 */

// The leaf, not config/mod.ts: this command must not load the config parser (see self_name.ts).
import { selfName } from "../../config/self_name.ts";
import { applyChanges, observeHost, teardownPlan } from "../../datapath/host/mod.ts";
import { controlRequest, controlSocketAlive } from "../ops/control_socket.ts";
import { resolveRunDir, runPaths } from "../ops/run_paths.ts";
import type { CommonFlags } from "./args.ts";

/** How long `down` waits for a running agent to stop, and how often it looks. */
export const STOP_WAIT_MS = 5000;
const STOP_POLL_MS = 100;

export async function downCommand(flags: CommonFlags): Promise<number> {
  const name = selfName(flags.name);
  const { socket } = runPaths(resolveRunDir(flags.runDir), name);
  if (await controlSocketAlive(socket)) {
    // The agent may close the socket before its answer arrives: what counts is that it stops.
    await controlRequest(socket, { cmd: "shutdown" }, () => undefined).catch(() => {});
    for (
      let waited = 0;
      waited < STOP_WAIT_MS && await controlSocketAlive(socket);
      waited += STOP_POLL_MS
    ) {
      await new Promise((r) => setTimeout(r, STOP_POLL_MS));
    }
    if (await controlSocketAlive(socket)) {
      console.error(
        `weave-agent down: the agent at ${socket} did not stop within ${STOP_WAIT_MS / 1000} s`,
      );
      return 1;
    }
    console.log(`stopped the agent ${name}`);
  }
  const changes = teardownPlan(await observeHost());
  if (changes.length > 0) await applyChanges(changes);
  console.log(`removed ${changes.length} kernel object(s) owned by weave-agent`);
  return 0;
}
