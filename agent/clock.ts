/**
 * Time as the agent's protocols see it: the current time and one-shot timers. Protocols take a
 * `Clock` so their unit tests step time by hand instead of sleeping.
 *
 * The one real clock is the control plane's (`control/grid_timer.ts`, whose grid timers take a
 * clock of this shape): the control plane sits below the agent and may not import from here, so
 * this names it for the agent's other protocols.
 *
 * @module
 */

import { type GridClock, systemGridClock } from "./control/mod.ts";

/** The current time and one-shot timers: `now()` in ms since the epoch, `after(ms, fn)`. */
export type Clock = GridClock;

/** Wall-clock time and real timers. */
export const systemClock: Clock = systemGridClock;
