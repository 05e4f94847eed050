// Bare Deno: how much RSS before any of our code.
const mode = Deno.args[0] ?? "bare";
if (mode === "worker" || mode === "worker-imports") {
  const src = `self.onmessage = () => {}; postMessage("ready");`;
  const w = new Worker(URL.createObjectURL(new Blob([src], { type: "text/javascript" })), {
    type: "module",
  });
  await new Promise((r) => (w.onmessage = r));
}
if (mode === "imports" || mode === "worker-imports") {
  await import("npm:yaml@2.9.1");
  await import("npm:/@noble/curves@2.4.0/ed25519.js");
  await import("npm:/@noble/hashes@2.4.0/sha2.js");
  await import("npm:/@noble/ciphers@2.4.0/chacha.js");
}
await new Promise((r) => setTimeout(r, 1500));
const s = await Deno.readTextFile("/proc/self/smaps_rollup");
const pick = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(s)?.[1] ?? 0) / 1024;
const m = Deno.memoryUsage();
console.log(JSON.stringify({
  mode,
  rssMB: pick("Rss").toFixed(1),
  pssMB: pick("Pss").toFixed(1),
  anonMB: pick("Anonymous").toFixed(1),
  heapUsedMB: (m.heapUsed / 2 ** 20).toFixed(1),
  heapTotalMB: (m.heapTotal / 2 ** 20).toFixed(1),
  externalMB: (m.external / 2 ** 20).toFixed(1),
}));
