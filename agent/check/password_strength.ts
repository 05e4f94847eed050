/**
 * A conservative estimate of how hard the fleet password is to guess offline.
 *
 * Why it matters: the handshake is keyed by the password, so an active attacker who intercepts
 * one handshake can test guesses offline at full speed. We estimate the guesses needed the way
 * an attacker would try them: common passwords and words first (also with `@`→`a`-style
 * substitutions), then runs, sequences and repeats of what came before, then brute force over
 * the character classes present. Each part of the password is costed as the cheapest way to
 * guess it; the sum is the estimate in bits. Word-only passphrases are costed per word as if
 * drawn from a diceware list (12.9 bits each), which is what they usually are at best.
 *
 * @module
 */

/** Below this estimate the check warns. */
export const WEAK_PASSWORD_BITS = 60;

/** The estimate and what lowered it. */
export interface PasswordStrength {
  /** Estimated guessing entropy in bits, rounded down. */
  bits: number;
  /** Human reasons the estimate is low, e.g. "contains the common word \"password\"". */
  weaknesses: string[];
}

// The most common passwords and password words (lowercase, after un-substituting).
const COMMON = [
  "password",
  "passw0rd",
  "admin",
  "administrator",
  "root",
  "toor",
  "secret",
  "letmein",
  "welcome",
  "qwerty",
  "azerty",
  "dragon",
  "monkey",
  "master",
  "shadow",
  "sunshine",
  "princess",
  "football",
  "baseball",
  "iloveyou",
  "trustno1",
  "superman",
  "batman",
  "login",
  "default",
  "changeme",
  "guest",
  "test",
  "hello",
  "love",
  "weave",
  "weaveworks",
  "network",
  "cluster",
  "edge",
  "fleet",
  "overlay",
  "linux",
  "ubuntu",
  "debian",
  "raspberry",
  "pi",
  "server",
  "router",
  "wifi",
  "internet",
  "company",
  "summer",
  "winter",
  "spring",
  "autumn",
  "correct",
  "horse",
  "battery",
  "staple",
  "abc",
  "pass",
  "key",
  "god",
  "sex",
  "money",
  "freedom",
  "whatever",
  "starwars",
  "pokemon",
  "computer",
  "michael",
  "jordan",
  "charlie",
  "secure",
  "private",
  "access",
  "system",
];
const COMMON_BITS = Math.log2(10_000); // an attacker's list is far longer than ours
const DICEWARE_WORD_BITS = Math.log2(7776);
const KEYBOARD_ROWS = [
  "1234567890",
  "qwertyuiop",
  "asdfghjkl",
  "zxcvbnm",
  "qwertzuiop",
  "azertyuiop",
];
const UNLEET: Record<string, string> = {
  "@": "a",
  "4": "a",
  "0": "o",
  "1": "l",
  "!": "i",
  "3": "e",
  "$": "s",
  "5": "s",
  "7": "t",
  "+": "t",
  "8": "b",
  "9": "g",
};

/** Size of the character pool an attacker must search, from the classes present. */
export function characterPool(password: string): number {
  // Hex strings (keys, UUIDs, `openssl rand -hex`) come from 16 symbols, not 36.
  if (/^[0-9a-f-]+$/.test(password) || /^[0-9A-F-]+$/.test(password)) {
    return /-/.test(password) ? 17 : 16;
  }
  let pool = 0;
  if (/[a-z]/.test(password)) pool += 26;
  if (/[A-Z]/.test(password)) pool += 26;
  if (/[0-9]/.test(password)) pool += 10;
  if (/[ !-/:-@[-`{-~]/.test(password)) pool += 33;
  if (/[^\x20-\x7e]/.test(password)) pool += 100;
  return Math.max(pool, 1);
}

function unleet(s: string): string {
  return Array.from(s.toLowerCase(), (c) => UNLEET[c] ?? c).join("");
}

function isSequence(s: string): boolean {
  if (s.length < 3) return false;
  const lower = s.toLowerCase();
  const step = lower.charCodeAt(1) - lower.charCodeAt(0);
  let arithmetic = step === 1 || step === -1;
  for (let i = 2; arithmetic && i < lower.length; i++) {
    if (lower.charCodeAt(i) - lower.charCodeAt(i - 1) !== step) arithmetic = false;
  }
  if (arithmetic) return true;
  const reversed = Array.from(lower).reverse().join("");
  return KEYBOARD_ROWS.some((row) => row.includes(lower) || row.includes(reversed));
}

interface Segment {
  length: number;
  bits: number;
  weakness?: string;
}

/** The cheapest way to guess the part of `pw` starting at `i`, preferring longer parts. */
function cheapestSegment(pw: string, i: number, pool: number): Segment {
  const charBits = Math.log2(pool);
  const rest = pw.slice(i);
  const candidates: Segment[] = [{ length: 1, bits: charBits }];
  // A run of one character.
  let run = 1;
  while (run < rest.length && rest[run] === rest[0]) run++;
  if (run >= 3) {
    candidates.push({
      length: run,
      bits: charBits + Math.log2(run),
      weakness: `repeats "${rest[0]}" ${run} times`,
    });
  }
  // A sequence: abc, 4321, qwerty.
  let seq = 0;
  for (let n = 3; n <= rest.length && isSequence(rest.slice(0, n)); n++) seq = n;
  if (seq >= 3) {
    candidates.push({
      length: seq,
      bits: charBits + Math.log2(seq) + 1,
      weakness: `contains the sequence "${rest.slice(0, seq)}"`,
    });
  }
  // A common password or word, possibly capitalised or with substitutions.
  const plain = unleet(rest);
  for (const word of COMMON) {
    if (word.length >= 3 && plain.startsWith(word)) {
      const written = rest.slice(0, word.length);
      const variations = (written === word ? 0 : 1) + (/[A-Z]/.test(written) ? 1 : 0);
      candidates.push({
        length: word.length,
        bits: COMMON_BITS + variations,
        weakness: `contains the common word "${word}"`,
      });
    }
  }
  // A repeat of something earlier in the password.
  for (let n = Math.min(rest.length, i); n >= 3; n--) {
    if (pw.slice(0, i).includes(rest.slice(0, n))) {
      candidates.push({
        length: n,
        bits: Math.log2(i) + Math.log2(n),
        weakness: `repeats "${rest.slice(0, n)}"`,
      });
      break;
    }
  }
  // Cheapest per character covered, then longest.
  candidates.sort((a, b) => a.bits / a.length - b.bits / b.length || b.length - a.length);
  return candidates[0];
}

/** Estimates how many bits of guessing `password` takes, and why it is low. */
export function estimatePasswordStrength(password: string): PasswordStrength {
  const chars = Array.from(password).join(""); // count code points, not UTF-16 units
  if (chars.length === 0) return { bits: 0, weaknesses: ["is empty"] };
  const pool = characterPool(chars);
  let bits = 0;
  const weaknesses = new Set<string>();
  for (let i = 0; i < chars.length;) {
    const s = cheapestSegment(chars, i, pool);
    bits += s.bits;
    if (s.weakness) weaknesses.add(s.weakness);
    i += s.length;
  }
  // Word-only passphrases: at best diceware words.
  const words = chars.split(/[\s_.,-]+/).filter((w) => w !== "");
  if (words.length >= 2 && words.every((w) => /^[A-Za-z]{1,12}$/.test(w))) {
    const phraseBits = words.length * DICEWARE_WORD_BITS + 1;
    if (phraseBits < bits) {
      bits = phraseBits;
      weaknesses.add(`is ${words.length} dictionary-like words (about 13 bits each)`);
    }
  }
  const rounded = Math.floor(bits);
  if (rounded < WEAK_PASSWORD_BITS && chars.length < 16) {
    weaknesses.add(`is only ${chars.length} characters long`);
  }
  if (rounded < WEAK_PASSWORD_BITS && pool <= 26 && weaknesses.size === 0) {
    weaknesses.add("uses a single character class");
  }
  // Patterns inside a long random string do not make it weak; only explain low estimates.
  return { bits: rounded, weaknesses: rounded < WEAK_PASSWORD_BITS ? [...weaknesses] : [] };
}
