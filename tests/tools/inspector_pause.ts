/**
 * Blocks a Deno process's main JavaScript thread for a while through its inspector
 * (`--inspect=HOST:PORT`): `Debugger.pause`, wait, `Debugger.resume`. The process stays alive
 * and its Workers keep running: a wedged event loop, not a stopped process.
 *
 *   deno run -A --unstable-ffi tests/tools/inspector_pause.ts 127.0.0.1:9330 2000
 *
 * Prints `paused <µs>` once the main thread is paused and `resuming <µs>` just before it lets
 * it go, with CLOCK_MONOTONIC in microseconds (system-wide: comparable with other processes).
 */

import { monotonicUsec } from "../../agent/ops/systemd_notify.ts";

const [where, msText] = Deno.args;
const ms = Number(msText);
const list = await (await fetch(`http://${where}/json/list`)).json() as {
  webSocketDebuggerUrl: string;
}[];
const ws = new WebSocket(list[0].webSocketDebuggerUrl);
await new Promise((resolve, reject) => {
  ws.onopen = resolve;
  ws.onerror = reject;
});
let nextId = 0;
function send(method: string): Promise<void> {
  const id = ++nextId;
  return new Promise((resolve) => {
    const onMessage = (e: MessageEvent) => {
      if (JSON.parse(e.data).id !== id) return;
      ws.removeEventListener("message", onMessage);
      resolve();
    };
    ws.addEventListener("message", onMessage);
    ws.send(JSON.stringify({ id, method, params: {} }));
  });
}
const paused = new Promise<void>((resolve) =>
  ws.addEventListener("message", (e) => {
    if (JSON.parse(e.data).method === "Debugger.paused") resolve();
  })
);
await send("Debugger.enable");
// V8 pauses at the next JavaScript the main thread runs: an idle loop's next timer callback.
await send("Debugger.pause");
await paused;
console.log(`paused ${monotonicUsec()}`);
await new Promise((r) => setTimeout(r, ms));
console.log(`resuming ${monotonicUsec()}`);
await send("Debugger.resume");
console.log("resumed");
ws.close();
