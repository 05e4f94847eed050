/**
 * The control socket's dispatcher: which agent operation answers which request. The agent hands
 * in its operations; this room knows only their types (the status types from `agent/status.ts`).
 *
 * @module
 */

import type { AgentStatus, ReloadOutcome } from "../status.ts";
import type { ControlHandler, PlanReply } from "./control_socket.ts";

/** What the agent does for the control socket. */
export interface AgentOperations {
  /** May read counters first (policy rules), so it may be asynchronous. */
  status(): AgentStatus | Promise<AgentStatus>;
  plan(showKeys: boolean): Promise<PlanReply>;
  reload(trigger: string): Promise<ReloadOutcome>;
  shutdown(reason: string): void;
}

/** How long a shutdown waits so its reply leaves before the socket closes. */
export const SHUTDOWN_REPLY_GRACE_MS = 10;

/** Answers each request with the matching operation. */
export function controlDispatcher(ops: AgentOperations): ControlHandler {
  return async (req) => {
    switch (req.cmd) {
      case "status":
        return await ops.status();
      case "plan":
        return await ops.plan(req.showKeys ?? false);
      case "reload":
        return await ops.reload("control socket");
      case "shutdown":
        setTimeout(
          () => ops.shutdown("shutdown requested on the control socket"),
          SHUTDOWN_REPLY_GRACE_MS,
        );
        return { stopping: true };
    }
  };
}
