import { deepStrictEqual, ok } from "node:assert";
import {
  characterPool,
  estimatePasswordStrength,
  WEAK_PASSWORD_BITS,
} from "./password_strength.ts";

/** Asserts `p` is weak, showing its estimate when it is not. */
function assertWeak(p: string, why = "") {
  const bits = estimatePasswordStrength(p).bits;
  ok(bits < WEAK_PASSWORD_BITS, `${p}: ${bits} bits >= ${WEAK_PASSWORD_BITS} ${why}`);
}

Deno.test("common passwords, with substitutions and capitals, are weak and say why", () => {
  for (const p of ["password", "P@ssw0rd!", "Letmein123", "Monkey99", "admin", "weave"]) {
    const s = estimatePasswordStrength(p);
    ok(s.bits < WEAK_PASSWORD_BITS, `${p}: ${s.bits}`);
    ok(s.weaknesses.some((w) => w.includes("common word")), `${p}: ${s.weaknesses}`);
  }
});

Deno.test("runs, sequences and repeats are costed as patterns, not characters", () => {
  const run = estimatePasswordStrength("a".repeat(40));
  ok(run.bits < 20, `${run.bits}`);
  ok(run.weaknesses.some((w) => w.includes("repeats")), `${run.weaknesses}`);
  const seq = estimatePasswordStrength("abcdefghijklmnopqrstuvwxyz");
  ok(seq.bits < 20, `${seq.bits}`);
  ok(seq.weaknesses.some((w) => w.includes("sequence")), `${seq.weaknesses}`);
  assertWeak("qwertyuiop987654321");
  assertWeak("Xy7!Xy7!Xy7!Xy7!Xy7!Xy7!", "(a short chunk repeated)");
});

Deno.test("short passwords are weak whatever their classes", () => {
  const s = estimatePasswordStrength("xK9#mQ2$");
  ok(s.bits < WEAK_PASSWORD_BITS, `${s.bits}`);
  ok(s.weaknesses.some((w) => w.includes("8 characters")), `${s.weaknesses}`);
});

Deno.test("word-only passphrases count about 13 bits per word", () => {
  const four = estimatePasswordStrength("correct horse battery staple");
  ok(four.bits >= 50 && four.bits < WEAK_PASSWORD_BITS, `${four.bits}`);
  ok(four.weaknesses.some((w) => w.includes("4 dictionary-like words")), `${four.weaknesses}`);
  const six = estimatePasswordStrength("orbit-tundra-plaza-gravy-mellow-quartz");
  ok(six.bits >= 77 && six.bits <= 80, `${six.bits}`);
  deepStrictEqual(six.weaknesses, []);
});

Deno.test("random secrets as the docs create them are strong", () => {
  const b64 = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
  const b64bits = estimatePasswordStrength(b64).bits;
  ok(b64bits >= 128, `${b64bits}`);
  const hex = Array.from(
    crypto.getRandomValues(new Uint8Array(16)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
  const h = estimatePasswordStrength(hex);
  ok(h.bits >= 100 && h.bits <= 128, `hex 128-bit secret estimated ${h.bits}`);
  const mixed = estimatePasswordStrength("7Fq2mXa9LpR3tZw8Kd").bits;
  ok(mixed >= 90, `${mixed}`);
});

Deno.test("character pool follows the classes present; empty is zero", () => {
  deepStrictEqual(characterPool("abc"), 16); // hex digits only
  deepStrictEqual(characterPool("xyz"), 26);
  deepStrictEqual(characterPool("xyZ"), 52);
  deepStrictEqual(characterPool("xyZ9"), 62);
  deepStrictEqual(characterPool("xyZ9!"), 95);
  deepStrictEqual(estimatePasswordStrength(""), { bits: 0, weaknesses: ["is empty"] });
});
