import { strictEqual, throws } from "node:assert";
import { sleeveCryptoFromEnv } from "./mod.ts";

Deno.test("WEAVE_SLEEVE_CRYPTO: auto by default, the three names, anything else a clear error", () => {
  strictEqual(sleeveCryptoFromEnv(undefined), "auto");
  strictEqual(sleeveCryptoFromEnv(""), "auto");
  for (const v of ["auto", "libcrypto", "noble"]) strictEqual(sleeveCryptoFromEnv(v), v);
  strictEqual(sleeveCryptoFromEnv(" noble\n"), "noble");
  throws(
    () => sleeveCryptoFromEnv("openssl"),
    /WEAVE_SLEEVE_CRYPTO must be auto, libcrypto or noble, not "openssl"/,
  );
});
