/** Input text rules shared by the HTTP and WebSocket boundaries. */

/**
 * True for a literal NUL or a JSON `\u0000` escape anywhere in `text`. Postgres cannot store NUL
 * in text or jsonb, so input carrying one is refused at the boundary instead of failing in SQL.
 */
export function containsNul(text: string): boolean {
  return text.includes("\u0000") || /\\u0000/i.test(text);
}

/**
 * True when JSON `text` may decode to a string holding half a surrogate pair: it has a `\uD800`
 * to `\uDFFF` escape (text decoded from UTF-8 cannot hold one otherwise). A cheap test, so that
 * only such text is decoded and looked at (hasLoneSurrogate).
 */
export function mayHoldLoneSurrogate(text: string): boolean {
  return /\\u[dD][89a-fA-F]/.test(text);
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * True for a string holding half a surrogate pair, which is no Unicode text: Neon's SQL-over-HTTP
 * endpoint refuses JSON carrying one (a 400 without a SQLSTATE, which would be an error of ours),
 * where a local Postgres would store U+FFFD in its place.
 */
export function hasLoneSurrogate(text: string): boolean {
  return LONE_SURROGATE.test(text);
}

/** `text` with each half of a surrogate pair standing alone replaced by U+FFFD. */
export function wellFormed(text: string): string {
  return hasLoneSurrogate(text) ? text.replace(new RegExp(LONE_SURROGATE, "g"), "\uFFFD") : text;
}

/** What a request body's JSON decodes to that cannot be kept as sent (see jsonFindings). */
export type JsonFindings = {
  /** A string or key holding half a surrogate pair (see hasLoneSurrogate). */
  loneSurrogate: boolean;
  /** A key named `__proto__`, at any depth (see PROTO_KEY). */
  protoKey: boolean;
};

const NOTHING_FOUND: JsonFindings = { loneSurrogate: false, protoKey: false };

/**
 * A key zod's object and record parsing silently drops (and a plain object assignment would take
 * as the prototype): what is stored would differ from what was sent.
 */
export const PROTO_KEY = "__proto__";

/**
 * True when JSON `text` may decode to a key named `__proto__`: it holds that text, or a `\u`
 * escape that could spell it. A cheap test, so that only such text is decoded and looked at.
 */
export function mayHoldProtoKey(text: string): boolean {
  return text.includes(PROTO_KEY) || text.includes("\\u");
}

/**
 * What JSON `text` decodes to that cannot be kept; nothing for malformed JSON (the route's parser
 * refuses it). The text is decoded once, and only when a cheap test says it may hold either
 * (mayHoldLoneSurrogate, mayHoldProtoKey): most bodies are only scanned.
 */
export function jsonFindings(text: string): JsonFindings {
  const surrogate = mayHoldLoneSurrogate(text);
  if (!surrogate && !mayHoldProtoKey(text)) return NOTHING_FOUND;
  const found = { loneSurrogate: false, protoKey: false };
  try {
    // JSON.parse keeps `__proto__` as an own key and hands it to the reviver (no prototype is set).
    JSON.parse(text, (key, value: unknown) => {
      if (key === PROTO_KEY) found.protoKey = true;
      if (surrogate && (hasLoneSurrogate(key) || (typeof value === "string" && hasLoneSurrogate(value)))) found.loneSurrogate = true;
      return value;
    });
  } catch {
    return NOTHING_FOUND;
  }
  return found;
}

/**
 * How deep JSON `text` nests arrays and objects (0 for a scalar), counting brackets outside
 * strings; malformed text gets a number too, and the JSON parser refuses it later. Postgres
 * refuses jsonb nested some thousands deep (SQLSTATE 54001, stack depth) and JSON.stringify
 * throws a RangeError not much deeper, so deep input is refused at the boundary instead.
 */
export function jsonDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === BACKSLASH) i++;
      else if (ch === QUOTE) inString = false;
    } else if (ch === QUOTE) {
      inString = true;
    } else if (ch === OPEN_BRACE || ch === OPEN_BRACKET) {
      depth++;
      if (depth > deepest) deepest = depth;
    } else if (ch === CLOSE_BRACE || ch === CLOSE_BRACKET) {
      depth--;
    }
  }
  return deepest;
}

/** The deepest nesting a request body may have; a Kubernetes manifest needs about 15. */
export const MAX_JSON_DEPTH = 64;

const BACKSLASH = 0x5c;
const QUOTE = 0x22;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
