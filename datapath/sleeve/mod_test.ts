import { deepStrictEqual, rejects, strictEqual, throws } from "node:assert";
import { Sleeve, sleeveCryptoFromEnv, sleeveRealtimeFromEnv } from "./mod.ts";

Deno.test("WEAVE_SLEEVE_REALTIME: on by default, on or off, anything else a clear error", () => {
  strictEqual(sleeveRealtimeFromEnv(undefined), true);
  strictEqual(sleeveRealtimeFromEnv(" "), true);
  strictEqual(sleeveRealtimeFromEnv("on"), true);
  strictEqual(sleeveRealtimeFromEnv("off\n"), false);
  throws(() => sleeveRealtimeFromEnv("0"), /WEAVE_SLEEVE_REALTIME must be on or off, not "0"/);
});

Deno.test("WEAVE_SLEEVE_CRYPTO: auto by default, every backend's name, anything else a clear error", () => {
  strictEqual(sleeveCryptoFromEnv(undefined), "auto");
  strictEqual(sleeveCryptoFromEnv(""), "auto");
  for (const v of ["auto", "libsodium+libcrypto", "libsodium", "libcrypto", "noble"]) {
    strictEqual(sleeveCryptoFromEnv(v), v);
  }
  strictEqual(sleeveCryptoFromEnv(" noble\n"), "noble");
  throws(
    () => sleeveCryptoFromEnv("openssl"),
    /WEAVE_SLEEVE_CRYPTO must be auto, libsodium\+libcrypto, libsodium, libcrypto, noble, not "openssl"/,
  );
});

Deno.test("importing the sleeve loads no native library (runs without --allow-ffi)", async () => {
  const mod = new URL("./mod.ts", import.meta.url).href;
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      "--no-prompt",
      "--allow-read",
      "--allow-env",
      `const m = await import(${JSON.stringify(mod)}); console.log(typeof m.Sleeve.start);`,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  strictEqual(out.success, true, text);
  strictEqual(text.trim(), "function");
});

Deno.test("worker handshake: start waits for ready, every change resolves once acknowledged", async () => {
  // A generous timeout: `deno test` type-checks the worker's modules when it starts.
  const s = await Sleeve.start({
    listenAddress: "127.0.0.1",
    port: 0,
    networks: [],
    ackTimeoutMs: 60_000,
  });
  const keys = {
    sessionKey: new Uint8Array(32).fill(7),
    dialerNonce: new Uint8Array(32).fill(1),
    listenerNonce: new Uint8Array(32).fill(2),
    localIsDialer: true,
  };
  await s.upsertPeer({
    name: "edge-2",
    address: "127.0.0.2",
    port: 6784,
    networks: [],
    active: true,
    session: { ...keys, localIndex: 1, remoteIndex: 2, aead: "chacha20-poly1305" },
  });
  deepStrictEqual(Object.keys(s.counters().peers), ["edge-2"]);
  await s.setNetworks([]);
  await s.removePeer("edge-2");
  deepStrictEqual(Object.keys(s.counters().peers), []);
  throws(
    () =>
      s.upsertPeer({
        name: "bad",
        address: "not-an-address",
        port: 1,
        networks: [],
        active: false,
        session: null,
      }),
    /peer bad: not an IP address: not-an-address/,
  );
  await s.close();
});

Deno.test("worker handshake: a worker that does not answer in time is an error naming the step", async () => {
  // 1 ms is far less than loading the worker's modules takes: `ready` cannot arrive in time.
  await rejects(
    Sleeve.start({ listenAddress: "127.0.0.1", port: 0, networks: [], ackTimeoutMs: 1 }),
    /sleeve packet worker did not acknowledge ready after init within 1 ms/,
  );
});
