import { strictEqual } from "node:assert";
import { ReplayWindow, WINDOW } from "./replay_window.ts";

function accept(w: ReplayWindow, seq: bigint): boolean {
  if (!w.check(seq)) return false;
  w.commit(seq);
  return true;
}

Deno.test("replay window: in order once, duplicates refused, 0 never valid", () => {
  const w = new ReplayWindow();
  strictEqual(w.check(0n), false);
  for (let s = 1n; s <= 5000n; s++) strictEqual(accept(w, s), true);
  for (let s = 3000n; s <= 5000n; s++) strictEqual(accept(w, s), false);
});

Deno.test("replay window: reordering within the window is accepted, older is refused", () => {
  const w = new ReplayWindow();
  strictEqual(accept(w, 10_000n), true);
  strictEqual(accept(w, 10_000n - BigInt(WINDOW) + 1n), true, "oldest still inside");
  strictEqual(accept(w, 10_000n - BigInt(WINDOW)), false, "just outside");
  strictEqual(accept(w, 9_999n), true);
  strictEqual(accept(w, 9_999n), false);
  strictEqual(WINDOW >= 1024, true);
});

Deno.test("replay window: a huge jump clears history; check alone does not move it", () => {
  const w = new ReplayWindow();
  for (let s = 1n; s <= 100n; s++) accept(w, s);
  strictEqual(w.check(1n << 50n), true);
  strictEqual(w.highest, 100n, "check does not commit (forged packets must not move the window)");
  strictEqual(accept(w, 1n << 50n), true);
  strictEqual(accept(w, 100n), false);
  strictEqual(accept(w, (1n << 50n) - 5n), true);
  strictEqual(accept(w, (1n << 50n) - 5n), false);
});

Deno.test("replay window: random order of a permutation is accepted exactly once", () => {
  const w = new ReplayWindow();
  const seqs = Array.from({ length: 1000 }, (_, i) => BigInt(i + 1));
  for (let i = seqs.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [seqs[i], seqs[j]] = [seqs[j], seqs[i]];
  }
  let ok = 0;
  for (const s of seqs) if (accept(w, s)) ok++;
  for (const s of seqs) if (accept(w, s)) ok++;
  strictEqual(ok, 1000);
});
