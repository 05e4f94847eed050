import { strictEqual } from "node:assert";
import { handshakeExpiry, PROGRESS_DEADLINE_FACTOR } from "./session_agreement.ts";

Deno.test("handshakeExpiry: a window after the peer's last bytes, at most a few windows in all", () => {
  const w = 5000;
  strictEqual(handshakeExpiry(1000, 0, w), 6000, "nothing heard: the window from the start");
  strictEqual(handshakeExpiry(1000, 4000, w), 9000, "heard at 4 s: a window from then");
  // A peer that drips a byte now and then cannot hold the connection past the cap.
  strictEqual(handshakeExpiry(1000, 14_000, w), 1000 + PROGRESS_DEADLINE_FACTOR * w);
  strictEqual(PROGRESS_DEADLINE_FACTOR, 3);
});
