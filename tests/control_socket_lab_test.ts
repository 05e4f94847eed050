/**
 * The control socket's folder must belong to the agent's user: a folder someone else owns could
 * have the socket replaced under the agent, so start-up stops (root-only: it chowns a folder).
 */

import { rejects, strictEqual } from "node:assert";
import { LAB } from "./lab/gate.ts";
import { ControlSocketServer } from "../agent/ops/control_socket.ts";
import { Logger } from "../agent/ops/log.ts";

const NOBODY = 65534;

Deno.test({
  name: "control socket: a run folder owned by another user stops start-up",
  ...LAB,
  async fn() {
    const base = await Deno.makeTempDir();
    try {
      const dir = `${base}/run`;
      await Deno.mkdir(dir, { mode: 0o700 });
      await Deno.chown(dir, NOBODY, NOBODY);
      const path = `${dir}/edge-1.sock`;
      await rejects(
        ControlSocketServer.listen(
          path,
          () => Promise.resolve({ stopping: true }),
          new Logger("test", "error", "text", () => {}),
        ),
        (e: Error) => {
          strictEqual(
            /belongs to uid 65534, not to this process \(uid 0\)/.test(e.message),
            true,
            e.message,
          );
          return true;
        },
      );
      const left = await Deno.stat(path).then(() => true, () => false);
      strictEqual(left, false, "no socket was created");
    } finally {
      await Deno.remove(base, { recursive: true });
    }
  },
});
