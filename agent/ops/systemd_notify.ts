/**
 * The systemd notify protocol (sd_notify(3)), implemented here: state lines such as `READY=1`
 * sent as one datagram to the unix socket named by `NOTIFY_SOCKET`, a filesystem path or, with a
 * leading `@`, an abstract name. Outside systemd (`NOTIFY_SOCKET` unset) every call is a no-op.
 *
 * Deno has no unix datagram socket on its stable API, and none at all for abstract names, so
 * the three libc calls needed (`socket`, `sendto`, `close`, plus `clock_gettime` for
 * `MONOTONIC_USEC`) go through FFI, opened on the first send: nothing native loads unless the
 * agent runs under systemd. The agent is already started with `--unstable-ffi` for the sleeve.
 *
 * The watchdog (`WATCHDOG_USEC`, optionally `WATCHDOG_PID`) is answered from a timer on the main
 * event loop, and only while the caller's health check passes: a wedged loop or an unhealthy
 * agent stops the pings, and systemd restarts the service.
 *
 * May import: nothing of ours (a leaf of agent/ops).
 *
 * @module
 */

/** `sockaddr_un.sun_path` is 108 bytes on Linux. */
const SUN_PATH_MAX = 108;
/** `offsetof(struct sockaddr_un, sun_path)`: after the 2-byte family. */
const SUN_PATH_OFFSET = 2;
const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const MSG_NOSIGNAL = 0x4000;
const CLOCK_MONOTONIC = 1;

/** How often STATUS is refreshed when systemd asked for no watchdog. */
export const STATUS_REFRESH_MS = 5000;

/** How often the watchdog is answered, as a fraction of `WATCHDOG_USEC` (sd_watchdog_enabled(3) advises half). */
export const WATCHDOG_PING_FRACTION = 0.5;

type Libc = ReturnType<typeof openLibc>;
let libcHandle: Libc | null = null;

function openLibc() {
  return Deno.dlopen("libc.so.6", {
    socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
    sendto: { parameters: ["i32", "buffer", "usize", "i32", "buffer", "u32"], result: "isize" },
    close: { parameters: ["i32"], result: "i32" },
    clock_gettime: { parameters: ["i32", "buffer"], result: "i32" },
  }).symbols;
}

function libc(): Libc {
  return libcHandle ??= openLibc();
}

/**
 * The `sockaddr_un` for a `NOTIFY_SOCKET` value and its length: `@name` is the abstract name
 * `\0name` (no terminator, the length says where it ends); a path gets its NUL.
 */
export function notifySockaddr(socket: string): { addr: Uint8Array; length: number } {
  const abstract = socket.startsWith("@");
  const name = new TextEncoder().encode(abstract ? socket.slice(1) : socket);
  const pathBytes = name.length + 1; // the leading NUL of an abstract name, or the trailing one
  if (socket.length < 2 || (!abstract && !socket.startsWith("/")) || pathBytes > SUN_PATH_MAX) {
    throw new Error(
      `NOTIFY_SOCKET=${JSON.stringify(socket)}: not an absolute path or @abstract name of at ` +
        `most ${SUN_PATH_MAX - 1} bytes`,
    );
  }
  const addr = new Uint8Array(SUN_PATH_OFFSET + SUN_PATH_MAX);
  new DataView(addr.buffer).setUint16(0, AF_UNIX, true);
  addr.set(name, SUN_PATH_OFFSET + (abstract ? 1 : 0));
  return { addr, length: SUN_PATH_OFFSET + pathBytes };
}

/** CLOCK_MONOTONIC in microseconds, the clock `MONOTONIC_USEC` is read against. */
export function monotonicUsec(): bigint {
  const ts = new BigInt64Array(2); // struct timespec { time_t tv_sec; long tv_nsec; } on 64-bit
  if (libc().clock_gettime(CLOCK_MONOTONIC, ts) !== 0) throw new Error("clock_gettime failed");
  return ts[0] * 1_000_000n + ts[1] / 1000n;
}

/** Sends one datagram of state lines to `socket` (a `NOTIFY_SOCKET` value); throws on failure. */
export function sendNotify(socket: string, state: string): void {
  const { addr, length } = notifySockaddr(socket);
  const c = libc();
  const fd = c.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw new Error("socket(AF_UNIX, SOCK_DGRAM) failed");
  try {
    const data = new TextEncoder().encode(state);
    const sent = c.sendto(fd, data, BigInt(data.length), MSG_NOSIGNAL, addr, length);
    if (Number(sent) !== data.length) throw new Error(`sendto ${socket} failed`);
  } finally {
    c.close(fd);
  }
}

/** The watchdog interval systemd asked for, in ms, or null when there is none for us. */
export function watchdogIntervalMs(env: { get(key: string): string | undefined }): number | null {
  const usec = Number(env.get("WATCHDOG_USEC"));
  if (!Number.isFinite(usec) || usec <= 0) return null;
  const pid = env.get("WATCHDOG_PID");
  if (pid !== undefined && pid !== "" && Number(pid) !== Deno.pid) return null; // meant for another
  return usec / 1000;
}

/** Options of `SystemdNotifier`. */
export interface NotifierOptions {
  /** The environment to read `NOTIFY_SOCKET`, `WATCHDOG_USEC`, `WATCHDOG_PID` from; default `Deno.env`. */
  env?: { get(key: string): string | undefined };
  /** Told about a failed send (once per kind of message); default silent. */
  onError?: (message: string) => void;
}

/** The agent's side of sd_notify. Safe to use outside systemd: then nothing is sent. */
export class SystemdNotifier {
  readonly socket: string | null;
  readonly watchdogMs: number | null;
  #onError: (message: string) => void;
  #failed = new Set<string>();
  #ticker: ReturnType<typeof setInterval> | undefined;
  #lastStatus = "";

  constructor(opts: NotifierOptions = {}) {
    const env = opts.env ?? Deno.env;
    const socket = env.get("NOTIFY_SOCKET");
    this.socket = socket ? socket : null;
    this.watchdogMs = this.socket ? watchdogIntervalMs(env) : null;
    this.#onError = opts.onError ?? (() => {});
  }

  /** Whether a service manager listens. */
  get enabled(): boolean {
    return this.socket !== null;
  }

  /** Sends state lines (`READY=1`, `STATUS=…`); false when disabled or the send failed. */
  notify(...lines: string[]): boolean {
    if (!this.socket) return false;
    try {
      sendNotify(this.socket, lines.join("\n"));
      return true;
    } catch (e) {
      const kind = lines[0].split("=")[0];
      if (!this.#failed.has(kind)) {
        this.#failed.add(kind);
        this.#onError(`systemd notify ${kind}: ${e instanceof Error ? e.message : e}`);
      }
      return false;
    }
  }

  /** Start-up is done: the listener is up and the first reconcile has run. */
  ready(status?: string): boolean {
    return this.notify("READY=1", ...(status ? [`STATUS=${status}`] : []));
  }

  /** A reload begins; `ready()` ends it. */
  reloading(): boolean {
    if (!this.socket) return false;
    return this.notify("RELOADING=1", `MONOTONIC_USEC=${monotonicUsec()}`);
  }

  /** Shutdown begins. */
  stopping(): boolean {
    this.stopTicker();
    return this.notify("STOPPING=1");
  }

  /** A one-line summary for `systemctl status`; sent only when it changed. */
  status(line: string): boolean {
    const oneLine = line.replace(/\s+/g, " ").trim();
    if (oneLine === this.#lastStatus) return false;
    this.#lastStatus = oneLine;
    return this.notify(`STATUS=${oneLine}`);
  }

  /**
   * Starts the one timer on this (the main) event loop: every tick sends `summary()` as STATUS
   * (when it changed) and, when systemd asked for a watchdog and `healthy()` holds, WATCHDOG=1.
   * It ticks every `watchdogMs * WATCHDOG_PING_FRACTION`, or every `STATUS_REFRESH_MS` without a
   * watchdog. A blocked loop cannot tick, so its pings stop and systemd restarts the service.
   */
  startTicker(opts: { healthy: () => boolean; summary: () => string }): void {
    if (!this.socket || this.#ticker !== undefined) return;
    const every = this.watchdogMs === null
      ? STATUS_REFRESH_MS
      : Math.max(1, Math.floor(this.watchdogMs * WATCHDOG_PING_FRACTION));
    this.#ticker = setInterval(() => {
      let healthy = false;
      try {
        this.status(opts.summary());
        healthy = opts.healthy();
      } catch {
        // A summary or health check that throws is itself unhealthy.
      }
      if (this.watchdogMs !== null && healthy) this.notify("WATCHDOG=1");
    }, every);
  }

  /** Stops the ticker (no more STATUS updates or watchdog pings). */
  stopTicker(): void {
    if (this.#ticker !== undefined) clearInterval(this.#ticker);
    this.#ticker = undefined;
  }
}
