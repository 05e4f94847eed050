import { deepStrictEqual, throws } from "node:assert";
import { sleeveLimitsFromEnv } from "./sleeve_limits.ts";

Deno.test("sleeve limits from the environment: unset none, a count, a bad value named", () => {
  deepStrictEqual(sleeveLimitsFromEnv(undefined), undefined);
  deepStrictEqual(sleeveLimitsFromEnv("1500"), { rekeyAfterPackets: 1500 });
  throws(
    () => sleeveLimitsFromEnv("lots"),
    /WEAVE_SLEEVE_REKEY_AFTER_PACKETS must be a whole number/,
  );
});
