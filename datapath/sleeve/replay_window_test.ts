import { ok, strictEqual } from "node:assert";
import { ReplayWindow, WINDOW } from "./replay_window.ts";

function accept(w: ReplayWindow, seq: number): boolean {
  if (!w.check(seq)) return false;
  w.commit(seq);
  return true;
}

Deno.test("replay window: in order once, duplicates refused, 0 never valid", () => {
  const w = new ReplayWindow();
  strictEqual(w.check(0), false);
  strictEqual(w.check(2 ** 53), false, "beyond exact integers");
  for (let s = 1; s <= 5000; s++) strictEqual(accept(w, s), true, `first sight of seq ${s}`);
  for (let s = 3000; s <= 5000; s++) strictEqual(accept(w, s), false, `replay of seq ${s}`);
});

Deno.test("replay window: reordering within the window is accepted, older is refused", () => {
  const w = new ReplayWindow();
  strictEqual(accept(w, 10_000), true);
  strictEqual(accept(w, 10_000 - WINDOW + 1), true, "oldest still inside");
  strictEqual(accept(w, 10_000 - WINDOW), false, "just outside");
  strictEqual(accept(w, 9_999), true);
  strictEqual(accept(w, 9_999), false);
  ok(WINDOW >= 1024, `WINDOW=${WINDOW}, want >= 1024`);
});

Deno.test("replay window: a huge jump clears history; check alone does not move it", () => {
  const w = new ReplayWindow();
  for (let s = 1; s <= 100; s++) accept(w, s);
  strictEqual(w.check(2 ** 50), true);
  strictEqual(w.highest, 100, "check does not commit (forged packets must not move the window)");
  strictEqual(accept(w, 2 ** 50), true);
  strictEqual(accept(w, 100), false);
  strictEqual(accept(w, 2 ** 50 - 5), true);
  strictEqual(accept(w, 2 ** 50 - 5), false);
});

Deno.test("replay window: random order of a permutation is accepted exactly once", () => {
  const w = new ReplayWindow();
  const seqs = Array.from({ length: 1000 }, (_, i) => i + 1);
  for (let i = seqs.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [seqs[i], seqs[j]] = [seqs[j], seqs[i]];
  }
  let accepted = 0;
  for (const s of seqs) if (accept(w, s)) accepted++;
  for (const s of seqs) if (accept(w, s)) accepted++;
  strictEqual(accepted, 1000);
});
