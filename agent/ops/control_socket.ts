/**
 * The agent's local control socket: one JSON request per connection, one JSON reply.
 * Requests: `{"cmd":"status"}`, `{"cmd":"plan","showKeys":false}`, `{"cmd":"shutdown"}`,
 * `{"cmd":"reload"}`. The socket is created with mode 0600 inside a 0700 folder: only root
 * (the owner) may talk to the agent, because status reveals the fleet's topology and
 * shutdown takes the network down.
 *
 * @module
 */

import type { Logger } from "./log.ts";

/** A request on the control socket. */
export type ControlRequest =
  | { cmd: "status" }
  | { cmd: "plan"; showKeys?: boolean }
  | { cmd: "reload" }
  | { cmd: "shutdown" };

/** Handles one request; the result is sent back as JSON. */
export type ControlHandler = (req: ControlRequest) => Promise<unknown>;

const MAX_REQUEST_BYTES = 4096;
const REQUEST_TIMEOUT_MS = 2000;

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

  /** Binds `path` (removing a stale socket no live agent answers on). */
  static async listen(path: string, handler: ControlHandler, log: Logger) {
    const dir = path.slice(0, path.lastIndexOf("/"));
    await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
    await Deno.chmod(dir, 0o700).catch(() => {});
    if (await controlSocketAlive(path)) {
      throw new Error(`another agent is already running with control socket ${path}`);
    }
    await Deno.remove(path).catch(() => {});
    // Create with a restrictive umask window: chmod right after bind, before accepting.
    const listener = Deno.listen({ transport: "unix", path });
    await Deno.chmod(path, 0o600);
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
    const timer = setTimeout(() => conn.close(), REQUEST_TIMEOUT_MS);
    try {
      const buf = new Uint8Array(MAX_REQUEST_BYTES);
      let n = 0;
      while (n < buf.length) {
        const r = await conn.read(buf.subarray(n));
        if (r === null) break;
        n += r;
        if (buf.subarray(0, n).includes(10)) break;
      }
      let req: ControlRequest;
      try {
        req = JSON.parse(new TextDecoder().decode(buf.subarray(0, n)));
      } catch {
        await writeAll(conn, JSON.stringify({ error: "bad request" }) + "\n");
        return;
      }
      let reply: unknown;
      try {
        reply = { ok: true, result: await this.handler(req) };
      } catch (e) {
        reply = { ok: false, error: e instanceof Error ? e.message : String(e) };
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

/** Sends one request to a running agent; throws a clear error when none runs. */
export async function controlRequest<T = unknown>(
  path: string,
  req: ControlRequest,
  timeoutMs = 5000,
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
  const timer = setTimeout(() => conn.close(), timeoutMs);
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
    if (!text) throw new Error(`agent at ${path} gave no answer within ${timeoutMs} ms`);
    const reply = JSON.parse(text) as { ok: boolean; result?: T; error?: string };
    if (!reply.ok) throw new Error(reply.error ?? "request failed");
    return reply.result as T;
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed */ }
  }
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
