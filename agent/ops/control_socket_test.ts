import { deepStrictEqual, rejects, strictEqual } from "node:assert";
import { Logger } from "./log.ts";
import {
  type ControlHandler,
  controlRequest,
  ControlSocketServer,
  decodePlanReply,
  parseControlRequest,
} from "./control_socket.ts";

const quiet = new Logger("test", "error", "text", () => {});
const planOnly: ControlHandler = (req) =>
  Promise.resolve(
    req.cmd === "plan" ? { changes: 1, text: `keys ${req.showKeys}` } : { stopping: true },
  );

Deno.test("control socket: a folder that cannot be made 0700 stops start-up", async () => {
  // chmod on a procfs folder fails for every user, root included: the step the root-only claim
  // rests on fails, and listen must refuse rather than serve from an open folder.
  const path = `/proc/self/weave-test-${crypto.randomUUID().slice(0, 8)}.sock`;
  await rejects(
    ControlSocketServer.listen(path, planOnly, quiet),
    (e: Error) => {
      strictEqual(
        /cannot make the control socket folder \/proc\/self mode 0700/.test(e.message),
        true,
        e.message,
      );
      return true;
    },
  );
});

Deno.test("control socket: 0600 socket in a 0700 folder; typed replies; bad requests answered", async () => {
  const base = await Deno.makeTempDir();
  try {
    const dir = `${base}/run`;
    await Deno.mkdir(dir, { mode: 0o755 });
    await Deno.chmod(dir, 0o755); // an existing, too-open folder is tightened
    const path = `${dir}/edge-1.sock`;
    const server = await ControlSocketServer.listen(path, planOnly, quiet);
    try {
      const dirMode = (await Deno.stat(dir)).mode! & 0o777;
      const sockMode = (await Deno.stat(path)).mode! & 0o777;
      strictEqual(dirMode, 0o700, `folder mode ${dirMode.toString(8)}`);
      strictEqual(sockMode, 0o600, `socket mode ${sockMode.toString(8)}`);
      deepStrictEqual(
        await controlRequest(path, { cmd: "plan", showKeys: true }, decodePlanReply),
        { changes: 1, text: "keys true" },
      );
      // A reply of the wrong shape is an error naming it, not a value of the wrong type.
      await rejects(
        controlRequest(path, { cmd: "shutdown" }, decodePlanReply),
        /plan from the agent has an unexpected shape: \{"stopping":true\}/,
      );
      const raw = async (line: string) => {
        const conn = await Deno.connect({ transport: "unix", path });
        await conn.write(new TextEncoder().encode(line + "\n"));
        const buf = new Uint8Array(4096);
        const n = await conn.read(buf);
        conn.close();
        return JSON.parse(new TextDecoder().decode(buf.subarray(0, n ?? 0)));
      };
      deepStrictEqual(await raw("{not json"), { ok: false, error: "bad request" });
      deepStrictEqual(await raw('{"cmd":"format-disk"}'), {
        ok: false,
        error: 'unknown command "format-disk"',
      });
      // A second agent on the same socket is refused while the first answers.
      await rejects(ControlSocketServer.listen(path, planOnly, quiet), /already running/);
    } finally {
      await server.close();
    }
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});

Deno.test("control socket: requests are read strictly", () => {
  deepStrictEqual(parseControlRequest({ cmd: "plan" }), { cmd: "plan", showKeys: false });
  deepStrictEqual(parseControlRequest({ cmd: "plan", showKeys: "yes" }), {
    cmd: "plan",
    showKeys: false,
  });
  deepStrictEqual(parseControlRequest({ cmd: "status", extra: 1 }), { cmd: "status" });
  for (const bad of [null, 3, "status", [], {}, { cmd: 1 }]) {
    let message = "";
    try {
      parseControlRequest(bad);
    } catch (e) {
      message = e instanceof Error ? e.message : String(e);
    }
    strictEqual(
      /bad request|unknown command/.test(message),
      true,
      `${JSON.stringify(bad)}: ${message}`,
    );
  }
});

Deno.test("control socket: a slow, big answer arrives whole; a cut one is an error saying so", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // Longer than the 2 s the request may take, and big: as a busy agent's status of 100 peers.
    const text = "x".repeat(600_000);
    const slow: ControlHandler = async () => {
      await new Promise((r) => setTimeout(r, 2500));
      return { changes: 1, text };
    };
    const server = await ControlSocketServer.listen(`${dir}/slow.sock`, slow, quiet);
    try {
      const r = await controlRequest(
        `${dir}/slow.sock`,
        { cmd: "plan", showKeys: false },
        decodePlanReply,
        10_000,
      );
      strictEqual(r.text.length, text.length);
    } finally {
      await server.close();
    }
    // An agent that closes in the middle of its answer.
    const cut = Deno.listen({ transport: "unix", path: `${dir}/cut.sock` });
    const serving = (async () => {
      for await (const conn of cut) {
        await conn.read(new Uint8Array(4096));
        await conn.write(new TextEncoder().encode('{"ok":true,"result":{"changes":1,"text":"ab'));
        conn.close();
      }
    })();
    await rejects(
      controlRequest(`${dir}/cut.sock`, { cmd: "plan", showKeys: false }, decodePlanReply),
      /sent 43 bytes but not the whole answer \(it closed early\)/,
    );
    cut.close();
    await serving.catch(() => {});
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
