/**
 * `weave-agent up`: runs the agent in the foreground until SIGTERM/SIGINT; SIGHUP reloads.
 * Under systemd (`NOTIFY_SOCKET`) it tells the service manager when it is ready, reloading and
 * stopping (up_systemd.ts).
 *
 * @module
 */

import { selfName } from "../../config/mod.ts";
import { Agent } from "../agent.ts";
import { Logger } from "../ops/log.ts";
import { resolveRunDir } from "../ops/run_paths.ts";
import type { CommonFlags } from "./args.ts";
import { ServiceNotifications } from "./up_systemd.ts";

export async function upCommand(flags: CommonFlags): Promise<number> {
  const log = new Logger("agent", flags.logLevel, flags.logFormat);
  // systemd (Type=notify): READY, RELOADING/READY around every reload, STOPPING, STATUS and the
  // watchdog; see up_systemd.ts. Outside systemd it sends nothing.
  let service: ServiceNotifications | null = null;
  const agent = new Agent({
    configPath: flags.config,
    name: selfName(flags.name),
    runDir: resolveRunDir(flags.runDir),
    log,
    aroundReload: (run) => service ? service.reload(run) : run(),
  });
  service = new ServiceNotifications(agent, log);
  const onStop = (sig: string) => () => {
    service.stopping();
    void agent.stop(`signal ${sig}`);
  };
  const handlers: [Deno.Signal, () => void][] = [
    ["SIGTERM", onStop("SIGTERM")],
    ["SIGINT", onStop("SIGINT")],
    ["SIGHUP", () => void agent.reload("SIGHUP")], // framed by aroundReload
  ];
  for (const [sig, h] of handlers) Deno.addSignalListener(sig, h);
  try {
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
    return 0;
  } finally {
    for (const [sig, h] of handlers) Deno.removeSignalListener(sig, h);
  }
}
