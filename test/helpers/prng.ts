/**
 * A small deterministic PRNG and fuzz-input generators, for seeded fuzz tests whose failures
 * replay: the same (seed, case index) always yields the same input, on every machine.
 */

export type Rng = {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [lo, hi], both inclusive. */
  int(lo: number, hi: number): number;
  /** True with probability `p`. */
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
};

/** mulberry32: 32 bits of state, fast, and plenty for fuzzing. */
export function mulberry32(seed: number): Rng {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));
  return { next, int, chance: (p) => next() < p, pick: (items) => items[int(0, items.length - 1)]! };
}

/** The generator of case `index` in a run: each case replays on its own from (seed, index). */
export function rngFor(seed: number, index: number): Rng {
  let h = Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return mulberry32(h ^ (h >>> 16));
}

/** Strings that tend to break parsers, SQL, paths and encodings. */
export const WEIRD_STRINGS: readonly string[] = [
  "", " ", "null", "undefined", "NaN", "true", "0", "-1", "__proto__", "constructor", "prototype",
  "../../etc/passwd", "..%2f..%2f", "%00", "%", "%zz", "\u0000", "a\u0000b", "\ud800", "\udfff", "é",
  "日本語テキスト", "🚀🔥👩‍👩‍👧", "\u202eevil", "e\u0301\u0301", "\u0007\u001b[31m", "\ufeff", "' OR '1'='1",
  "'; drop table agents; --", "<script>alert(1)</script>", "${7*7}", "\\", '"', "\r\n", "\t", "cmd-", "running",
];

const WEIRD_NUMBERS: readonly number[] = [
  0, -0, 1, -1, 0.5, -1.5, 3.14159, 2 ** 31 - 1, 2 ** 31, -(2 ** 31), 2 ** 32, 2 ** 53, 2 ** 53 + 2, 2 ** 63,
  1e21, 1e308, -1e308, 5e-324, Number.MAX_SAFE_INTEGER,
];

export type GenOptions = { /** Upper bound for the occasional very long string. */ maxLong: number };

export function randomString(rng: Rng, opts: GenOptions): string {
  switch (rng.int(0, 5)) {
    case 0:
    case 1:
      return rng.pick(WEIRD_STRINGS);
    case 2: {
      let s = "";
      for (let i = rng.int(0, 24); i > 0; i--) s += String.fromCharCode(rng.int(0x20, 0x7e));
      return s;
    }
    case 3: {
      // Any UTF-16 code unit: controls, lone surrogates, astral halves.
      let s = "";
      for (let i = rng.int(1, 16); i > 0; i--) s += String.fromCharCode(rng.chance(0.5) ? rng.int(0, 0x7ff) : rng.int(0, 0xffff));
      return s;
    }
    case 4:
      return rng.chance(0.3) ? rng.pick(["a", "é", "🚀", "-"]).repeat(rng.int(256, opts.maxLong)) : "x".repeat(rng.int(50, 300));
    default:
      return rng.pick(WEIRD_STRINGS) + rng.pick(WEIRD_STRINGS) + String(rng.int(0, 999));
  }
}

export function randomNumber(rng: Rng): number {
  if (rng.chance(0.5)) return rng.pick(WEIRD_NUMBERS);
  return rng.chance(0.5) ? rng.int(-1_000_000, 1_000_000) : (rng.next() - 0.5) * 10 ** rng.int(0, 30);
}

/** Any JSON value: nested objects and arrays, odd numbers, odd strings, null, booleans. */
export function randomJson(rng: Rng, opts: GenOptions, depth = 3): unknown {
  switch (rng.int(0, depth > 0 ? 7 : 4)) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return randomNumber(rng);
    case 3:
    case 4:
      return randomString(rng, opts);
    case 5:
    case 6: {
      const obj: Record<string, unknown> = {};
      for (let i = rng.int(0, 5); i > 0; i--) obj[randomString(rng, { maxLong: 300 })] = randomJson(rng, opts, depth - 1);
      return obj;
    }
    default:
      return Array.from({ length: rng.int(0, 5) }, () => randomJson(rng, opts, depth - 1));
  }
}

/** Text that is mostly not JSON: random bytes, unbalanced brackets, half-written objects. */
export function garbageText(rng: Rng): string {
  switch (rng.int(0, 4)) {
    case 0: {
      let s = "";
      for (let i = rng.int(0, 200); i > 0; i--) s += String.fromCharCode(rng.int(0, 255));
      return s;
    }
    case 1:
      return rng.pick(["[", "{", '{"a":']).repeat(rng.int(1, 20_000));
    case 2:
      return rng.pick(['{"type":', '{"payload":{"commandId":', "{,}", "[1,]", '{"a":1}{"b":2}', "NaN", "Infinity", "-", "\ufeff{}", "'{}'"]);
    case 3:
      return "";
    default:
      return randomString(rng, { maxLong: 2000 });
  }
}

type Container = Record<string, unknown> | unknown[];

/** Objects and arrays inside `root`, walked to a bounded depth (deep-nested values stay cheap). */
function containers(root: unknown, depth = 0, out: Container[] = []): Container[] {
  if (typeof root !== "object" || root === null || depth > 12) return out;
  out.push(root as Container);
  for (const child of Object.values(root)) containers(child, depth + 1, out);
  return out;
}

function deepNest(rng: Rng, leaf: unknown): unknown {
  let v = leaf;
  for (let i = rng.int(20, 3000); i > 0; i--) v = rng.chance(0.5) ? [v] : { a: v };
  return v;
}

/**
 * A valid value after 1–3 mutations, as JSON text: a key deleted, retyped, added or wrapped,
 * emptied, made huge or deeply nested; or the text truncated or salted with garbage.
 */
export function mutateJson(rng: Rng, base: unknown, opts: GenOptions): string {
  let value: unknown = structuredClone(base);
  const textOps: number[] = [];
  for (let n = rng.int(1, 3); n > 0; n--) {
    const op = rng.int(0, 9);
    if (op >= 7) {
      textOps.push(op);
      continue;
    }
    const all = containers(value);
    if (all.length === 0) {
      value = randomJson(rng, opts);
      continue;
    }
    const node = rng.pick(all) as Record<string, unknown>;
    const keys = Object.keys(node);
    const key = keys.length > 0 && op !== 2 ? rng.pick(keys) : rng.chance(0.3) ? rng.pick(["type", "payload", "commandId", "__proto__", "constructor"]) : randomString(rng, { maxLong: 100 });
    if (op === 0) delete node[key];
    else if (op === 1 || op === 2) node[key] = randomJson(rng, opts, 2);
    else if (op === 3) node[key] = rng.pick([(v: unknown) => [v], (v: unknown) => ({ v }), (v: unknown) => String(v), (v: unknown) => Number(v), () => null, () => true])(node[key]);
    else if (op === 4) node[key] = deepNest(rng, node[key] ?? 1);
    else if (op === 5) node[key] = "";
    else node[key] = rng.pick(["a", "é", "🚀"]).repeat(rng.int(1000, opts.maxLong));
  }
  let text = JSON.stringify(value) ?? "";
  for (const op of textOps) {
    if (op === 7) text = text.slice(0, rng.int(0, Math.max(0, text.length - 1)));
    else if (op === 8) {
      const at = rng.int(0, text.length);
      text = text.slice(0, at) + garbageText(rng).slice(0, 64) + text.slice(at);
    } else text = rng.chance(0.5) ? "" : text.replace(/[{}[\]]/, "");
  }
  return text;
}
