/**
 * The calling thread's scheduling policy (sched_setscheduler(2) with pid 0, which Linux applies
 * to the calling thread alone): the packet worker moves itself between SCHED_FIFO and
 * SCHED_OTHER (worker/realtime_budget.ts decides when).
 *
 * @module
 */

import { errnoText, libc } from "./libc.ts";

const SCHED_OTHER = 0;
const SCHED_FIFO = 1;
/**
 * Children of the thread start at SCHED_OTHER whatever it runs at: the worker never forks, but
 * nothing it might ever start should inherit a realtime policy by accident.
 */
const SCHED_RESET_ON_FORK = 0x40000000;
/** `struct sched_param` is one int, the static priority (0 for SCHED_OTHER). */
const SCHED_PARAM_BYTES = 4;

/**
 * The realtime priority the worker takes: the lowest SCHED_FIFO level, so that it runs before
 * every ordinary thread of the box but after any realtime thread the box already has (threaded
 * interrupt handlers run at 50, a PLC's or audio stack's threads at whatever they chose).
 */
export const REALTIME_PRIORITY = 1;

/**
 * Puts the calling thread at SCHED_FIFO priority {@link REALTIME_PRIORITY} (`realtime`) or back
 * at SCHED_OTHER. Returns null, or why the kernel refused (without CAP_SYS_NICE or an
 * RLIMIT_RTPRIO of at least 1: "Operation not permitted").
 */
export function setThreadRealtime(realtime: boolean): string | null {
  const param = new Uint8Array(SCHED_PARAM_BYTES);
  new DataView(param.buffer).setInt32(0, realtime ? REALTIME_PRIORITY : 0, true);
  const policy = (realtime ? SCHED_FIFO : SCHED_OTHER) | SCHED_RESET_ON_FORK;
  return libc().sched_setscheduler(0, policy, param) === 0
    ? null
    : `sched_setscheduler: ${errnoText()}`;
}
