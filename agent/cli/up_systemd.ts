/**
 * What `weave-agent up` tells systemd, and when (the protocol itself is agent/ops/systemd_notify.ts):
 * READY=1 once `Agent.start()` returned (control listener and socket up, first reconcile done);
 * RELOADING=1 and READY=1 around each reload (SIGHUP, a file change, the control socket); STOPPING=1 when a stop begins; STATUS= a
 * one-line summary (peers up / total, datapaths, a failing reconcile); WATCHDOG=1 from the main
 * loop while the agent is healthy. Outside systemd nothing is sent.
 *
 * @module
 */

import type { AgentStatus } from "../agent.ts";
import type { Logger } from "../ops/log.ts";
import { type NotifierOptions, SystemdNotifier } from "../ops/systemd_notify.ts";

/** `3/4 peers up (2 fastdp, 1 sleeve)`, plus why the last reconcile failed, if it did. */
export function serviceSummary(s: AgentStatus): string {
  const up = s.peers.filter((p) => p.state === "up");
  const fastdp = up.filter((p) => p.datapath === "fastdp").length;
  let line = `${up.length}/${s.peers.length} peers up (${fastdp} fastdp, ${
    up.length - fastdp
  } sleeve)`;
  if (s.reconcile?.error) line += `; reconcile failed: ${s.reconcile.error}`;
  if (s.config.lastReload && !s.config.lastReload.ok) line += "; last reload refused";
  return line;
}

/** The part of the agent this needs. */
export interface ServiceAgent {
  status(): AgentStatus;
}

/** The systemd side of one `up` run. */
export class ServiceNotifications {
  readonly #notifier: SystemdNotifier;
  #started = false;
  #stopping = false;

  constructor(
    private readonly agent: ServiceAgent,
    log: Logger,
    opts: Omit<NotifierOptions, "onError"> = {},
  ) {
    this.#notifier = new SystemdNotifier({ ...opts, onError: (m) => log.warn(m) });
    if (this.#notifier.enabled) {
      log.debug("systemd notify", {
        socket: this.#notifier.socket,
        watchdogMs: this.#notifier.watchdogMs,
      });
    }
  }

  /** Start-up is done: READY=1 with the first STATUS, then the STATUS/watchdog ticker. */
  started(): void {
    this.#started = true;
    this.#notifier.ready(serviceSummary(this.agent.status()));
    this.#notifier.startTicker({
      // Healthy: not shutting down, and the agent can still say how it is. The ticker itself
      // running proves the main loop turns.
      healthy: () => !this.#stopping && this.agent.status() !== null,
      summary: () => serviceSummary(this.agent.status()),
    });
  }

  /**
   * Runs a reload between RELOADING=1 and READY=1 (READY also when it was refused); before
   * start-up is done, or while stopping, just runs it.
   */
  async reload<T>(run: () => Promise<T>): Promise<T> {
    if (!this.#started || this.#stopping) return run();
    this.#notifier.reloading();
    try {
      return await run();
    } finally {
      if (!this.#stopping) this.#notifier.ready(serviceSummary(this.agent.status()));
    }
  }

  /** A stop begins: STOPPING=1 (once), no more pings. */
  stopping(): void {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#notifier.stopping();
  }
}
