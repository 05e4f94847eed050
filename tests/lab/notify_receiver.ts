/**
 * The service manager's end of sd_notify for tests: a receiver bound to a real unix datagram
 * socket (Python's socket module, independent of our sender), collecting every datagram with
 * its CLOCK_MONOTONIC receipt time and sender pid. No root needed.
 *
 * @module
 */

const RECEIVER = new URL("../tools/notify_receiver.py", import.meta.url).pathname;

/** One datagram as the receiver saw it. */
export interface Received {
  /** CLOCK_MONOTONIC at receipt, µs. */
  t: number;
  msg: string;
  /** The sender's pid (SCM_CREDENTIALS). */
  pid: number | null;
}

/** A running receiver (tests/tools/notify_receiver.py): every datagram it got, in order. */
export class NotifyReceiver {
  private constructor(
    readonly child: Deno.ChildProcess,
    readonly got: Received[],
    readonly reading: Promise<void>,
  ) {}

  /** Binds `name` (a path, or `@abstract`) and resolves once it is bound. */
  static async start(name: string): Promise<NotifyReceiver> {
    const child = new Deno.Command("python3", {
      args: [RECEIVER, name],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const bound = Promise.withResolvers<void>();
    const got: Received[] = [];
    const reading = (async () => {
      let buf = "";
      for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
        buf += chunk;
        for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
          const line = JSON.parse(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
          if ("bound" in line) bound.resolve();
          else got.push(line as Received);
        }
      }
      bound.reject(new Error("notify receiver exited before binding"));
    })();
    await bound.promise;
    return new NotifyReceiver(child, got, reading);
  }

  /** Waits until `pred` holds for the datagrams so far; throws with what arrived otherwise. */
  async waitFor(pred: (got: Received[]) => boolean, what: string, timeoutMs = 10_000) {
    const deadline = Date.now() + timeoutMs;
    while (!pred(this.got)) {
      if (Date.now() > deadline) {
        throw new Error(`no ${what} within ${timeoutMs} ms; got ${JSON.stringify(this.got)}`);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Kills the receiver. */
  async stop() {
    this.child.kill("SIGKILL");
    await this.child.status;
    await this.reading.catch(() => {});
  }
}
