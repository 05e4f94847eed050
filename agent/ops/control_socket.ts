/**
 * The agent's local control socket: one JSON request per connection, one JSON reply.
 * Requests: `{"cmd":"status"}`, `{"cmd":"plan","showKeys":false}`, `{"cmd":"shutdown"}`,
 * `{"cmd":"reload"}`. The socket is created with mode 0600 inside a 0700 folder: only root
 * (the owner) may talk to the agent, because status reveals the fleet's topology and
 * shutdown takes the network down.
 *
 * @module
 */

import type { AgentStatus, ReloadOutcome } from "../status.ts";
import type { Logger } from "./log.ts";

/** A request on the control socket. */
export type ControlRequest =
  | { cmd: "status" }
  | { cmd: "plan"; showKeys?: boolean }
  | { cmd: "reload" }
  | { cmd: "shutdown" };

/** The answer to `plan`: how many changes, and the plan as text. */
export interface PlanReply {
  changes: number;
  text: string;
}

/** The answer to each request. */
export interface ControlReplies {
  status: AgentStatus;
  plan: PlanReply;
  reload: ReloadOutcome;
  shutdown: { stopping: true };
}

/** Any answer. */
export type ControlReply = ControlReplies[keyof ControlReplies];

/** Handles one request; the result is sent back as JSON. */
export type ControlHandler = (req: ControlRequest) => Promise<ControlReply>;

/** Reads a request off the socket; throws naming what is wrong. */
export function parseControlRequest(v: unknown): ControlRequest {
  if (!v || typeof v !== "object" || !("cmd" in v)) throw new Error("bad request");
  switch (v.cmd) {
    case "status":
    case "reload":
    case "shutdown":
      return { cmd: v.cmd };
    case "plan":
      return { cmd: "plan", showKeys: "showKeys" in v && v.showKeys === true };
    default:
      throw new Error(`unknown command ${JSON.stringify(v.cmd)}`);
  }
}

/** Reads a `plan` answer; throws when it has another shape. */
export function decodePlanReply(v: unknown): PlanReply {
  if (
    v && typeof v === "object" && "changes" in v && typeof v.changes === "number" &&
    "text" in v && typeof v.text === "string"
  ) {
    return { changes: v.changes, text: v.text };
  }
  throw new Error(`plan from the agent has an unexpected shape: ${JSON.stringify(v)}`);
}

const MAX_REQUEST_BYTES = 4096;
/**
 * How long a client may take to send its request (only root can connect: the bound is against
 * a stuck client, not an attacker). Long enough for an agent whose timers run seconds late: at
 * 2 s, a starved agent's timer fired before it read a request that had long arrived, and the
 * client got no answer.
 */
const REQUEST_TIMEOUT_MS = 10_000;
/** How long answering (building and writing the reply) may take. */
const REPLY_TIMEOUT_MS = 30_000;

/** Serves the control socket until `close()`. */
export class ControlSocketServer {
  #listener: Deno.UnixListener;
  #closed = false;
  #done: Promise<void>;

  private constructor(
    listener: Deno.UnixListener,
    private readonly path: string,
    private readonly handler: ControlHandler,
    private readonly log: Logger,
  ) {
    this.#listener = listener;
    this.#done = this.#serve();
  }

  /**
   * Binds `path` (removing a stale socket no live agent answers on). The socket's folder must
   * end up 0700 and owned by this process's user: that is what keeps everyone else off the
   * socket, so failing to make it so stops start-up.
   */
  static async listen(
    path: string,
    handler: ControlHandler,
    log: Logger,
  ): Promise<ControlSocketServer> {
    const dir = path.slice(0, path.lastIndexOf("/")) || "/";
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    await secureFolder(dir);
    if (await controlSocketAlive(path)) {
      throw new Error(`another agent is already running with control socket ${path}`);
    }
    await Deno.remove(path).catch(() => {});
    const listener = Deno.listen({ transport: "unix", path });
    try {
      // Before the first accept; the 0700 folder already keeps others out meanwhile.
      await Deno.chmod(path, 0o600);
    } catch (e) {
      listener.close();
      await Deno.remove(path).catch(() => {});
      throw new Error(`cannot make the control socket ${path} mode 0600: ${errorText(e)}`);
    }
    return new ControlSocketServer(listener, path, handler, log);
  }

  async #serve(): Promise<void> {
    for await (const conn of this.#listener) {
      this.#handle(conn).catch((e) =>
        this.log.debug("control socket request failed", { e: `${e}` })
      );
    }
  }

  async #handle(conn: Deno.UnixConn): Promise<void> {
    let timer = setTimeout(() => conn.close(), REQUEST_TIMEOUT_MS);
    try {
      const buf = new Uint8Array(MAX_REQUEST_BYTES);
      let n = 0;
      while (n < buf.length) {
        const r = await conn.read(buf.subarray(n));
        if (r === null) break;
        n += r;
        if (buf.subarray(0, n).includes(10)) break;
      }
      // The request is in: the short deadline was for it alone (a client that never sends
      // one holds nothing for long). The answer gets its own: a busy agent's status of a big
      // fleet (400 KB at 100 peers) took longer than 2 s, and the client got half of it.
      clearTimeout(timer);
      timer = setTimeout(() => conn.close(), REPLY_TIMEOUT_MS);
      let reply: { ok: true; result: ControlReply } | { ok: false; error: string };
      try {
        const req = parseControlRequest(JSON.parse(new TextDecoder().decode(buf.subarray(0, n))));
        reply = { ok: true, result: await this.handler(req) };
      } catch (e) {
        reply = { ok: false, error: e instanceof SyntaxError ? "bad request" : errorText(e) };
      }
      await writeAll(conn, JSON.stringify(reply) + "\n");
    } finally {
      clearTimeout(timer);
      try {
        conn.close();
      } catch { /* already closed by the timeout */ }
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listener.close();
    await this.#done.catch(() => {});
    await Deno.remove(this.path).catch(() => {});
  }
}

async function writeAll(conn: Deno.Conn, text: string): Promise<void> {
  const data = new TextEncoder().encode(text);
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}

/** True when an agent answers on `path`. */
export async function controlSocketAlive(path: string): Promise<boolean> {
  try {
    const conn = await Deno.connect({ transport: "unix", path });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

/**
 * How long a command waits for the agent's answer by default. An agent on a box starved of CPU
 * (a hundred agents converging on two cores) took more than 5 s to build and send its status
 * of 100 peers; an operator waiting longer for it is better served than by an error.
 */
export const STATUS_WAIT_MS = 15_000;

/**
 * Sends one request to a running agent and reads the answer with `decode` (which throws on a
 * wrong shape); throws a clear error when no agent runs.
 */
export async function controlRequest<T>(
  path: string,
  req: ControlRequest,
  decode: (result: unknown) => T,
  timeoutMs = STATUS_WAIT_MS,
): Promise<T> {
  let conn: Deno.UnixConn;
  try {
    conn = await Deno.connect({ transport: "unix", path });
  } catch (e) {
    if (e instanceof Deno.errors.PermissionDenied) {
      throw new Error(`permission denied on ${path}: the control socket is root-only`);
    }
    throw new Error(`no agent is running (nothing answers on ${path})`);
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    conn.close();
  }, timeoutMs);
  try {
    await writeAll(conn, JSON.stringify(req) + "\n");
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(65536);
    while (true) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) break;
      chunks.push(buf.slice(0, n));
    }
    const text = new TextDecoder().decode(concat(chunks));
    if (!text) {
      throw new Error(
        timedOut
          ? `agent at ${path} gave no answer within ${timeoutMs} ms`
          : `agent at ${path} closed the connection without an answer`,
      );
    }
    // The agent ends its answer with a newline. Without it the answer was cut short: by our
    // deadline (a busy agent's big status), or by the agent's. Parsing the part gave "Unterminated
    // string in JSON at position 438528", which named neither.
    if (!text.endsWith("\n")) {
      throw new Error(
        `agent at ${path} sent ${text.length} bytes but not the whole answer ` +
          (timedOut ? `within ${timeoutMs} ms (it is busy; try again)` : "(it closed early)"),
      );
    }
    const reply: unknown = JSON.parse(text);
    if (!reply || typeof reply !== "object" || !("ok" in reply)) {
      throw new Error(`agent at ${path} answered ${text.slice(0, 80)}`);
    }
    if (reply.ok !== true) {
      throw new Error("error" in reply ? String(reply.error) : "request failed");
    }
    return decode("result" in reply ? reply.result : undefined);
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed */ }
  }
}

/** Makes `dir` mode 0700 and checks that this process's user owns it. */
async function secureFolder(dir: string): Promise<void> {
  try {
    await Deno.chmod(dir, 0o700);
  } catch (e) {
    throw new Error(
      `cannot make the control socket folder ${dir} mode 0700: ${errorText(e)}; ` +
        "the control socket must be reachable only by its owner",
    );
  }
  const st = await Deno.stat(dir);
  const uid = Deno.uid();
  if (uid !== null && st.uid !== null && st.uid !== uid) {
    throw new Error(
      `the control socket folder ${dir} belongs to uid ${st.uid}, not to this process (uid ` +
        `${uid}); choose another --run-dir`,
    );
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((a, c) => a + c.length, 0));
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}
