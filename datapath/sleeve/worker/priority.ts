/**
 * The packet worker's scheduling policy: realtime while its budget allows
 * (realtime_budget.ts decides, ../sys/sched.ts makes the change). Changes are counted in the
 * global counters and told to the main thread; a refusal by the kernel (no CAP_SYS_NICE) is
 * told once, and the worker then stays at the ordinary policy without trying again.
 *
 * @module
 */

import { setThreadRealtime } from "../sys/sched.ts";
import { counterIndex, G, GLOBAL_SLOT } from "../counters.ts";
import { RealtimeBudget } from "./realtime_budget.ts";
import type { PathContext } from "./path.ts";

export class WorkerPriority {
  readonly #ctx: PathContext;
  #budget: RealtimeBudget | null = null;
  /** The receiver's totals at the last turn. */
  #seen = 0;
  #authentic = 0;

  /**
   * Moves the calling thread (the worker's) to realtime, or says why it cannot; with `allowed`
   * false it leaves the thread at the ordinary policy.
   */
  constructor(ctx: PathContext, now: number, allowed: boolean) {
    this.#ctx = ctx;
    if (!allowed) return;
    const error = setThreadRealtime(true);
    if (error) {
      ctx.tell({ type: "priority", realtime: false, share: 0, flood: false, error });
      return;
    }
    this.#budget = new RealtimeBudget(now);
    this.#set(true);
  }

  /**
   * Accounts one loop turn, busy from `from` to `to` (ms), with the receiver's running totals
   * of datagrams `seen` and `authentic`, and changes policy if due.
   */
  turn(from: number, to: number, seen: number, authentic: number): void {
    if (!this.#budget) return;
    const refused = seen - authentic - (this.#seen - this.#authentic);
    const d = this.#budget.turn(from, to, refused, authentic - this.#authentic);
    this.#seen = seen;
    this.#authentic = authentic;
    if (!d.change) return;
    const realtime = d.change === "realtime";
    const error = setThreadRealtime(realtime);
    if (error) {
      this.#budget = null;
      this.#ctx.tell({
        type: "priority",
        realtime: !realtime,
        share: d.share,
        flood: d.flood,
        error,
      });
      return;
    }
    if (!realtime) this.#ctx.counters[counterIndex(GLOBAL_SLOT, G.realtimeExits)]++;
    this.#set(realtime);
    this.#ctx.tell({ type: "priority", realtime, share: d.share, flood: d.flood });
  }

  #set(realtime: boolean): void {
    this.#ctx.counters[counterIndex(GLOBAL_SLOT, G.realtime)] = realtime ? 1 : 0;
  }
}
