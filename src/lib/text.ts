/** Input text rules shared by the HTTP and WebSocket boundaries. */

/**
 * True for a literal NUL or a JSON `\u0000` escape anywhere in `text`. Postgres cannot store NUL
 * in text or jsonb, so input carrying one is refused at the boundary instead of failing in SQL.
 */
export function containsNul(text: string): boolean {
  return text.includes("\u0000") || /\\u0000/i.test(text);
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
