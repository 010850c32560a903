/** Input text rules shared by the HTTP and WebSocket boundaries. */

/**
 * True for a literal NUL or a JSON `\u0000` escape anywhere in `text`. Postgres cannot store NUL
 * in text or jsonb, so input carrying one is refused at the boundary instead of failing in SQL.
 */
export function containsNul(text: string): boolean {
  return text.includes("\u0000") || /\\u0000/i.test(text);
}
