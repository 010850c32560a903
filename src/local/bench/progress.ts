/**
 * Progress while the bench runs: one line rewritten in place on a terminal, or a plain line at
 * most every few seconds otherwise (CI logs should not get thousands of lines).
 */

const PLAIN_INTERVAL_MS = 5_000;

export class Progress {
  readonly #tty = Boolean(process.stdout.isTTY);
  /** Silent: nothing is printed (tests). */
  readonly #silent: boolean;

  constructor(opts: { silent?: boolean } = {}) {
    this.#silent = opts.silent ?? false;
  }
  readonly #started = Date.now();
  #phase = "";
  #lastPlain = 0;
  #lastText = "";

  #elapsed(): string {
    return `${((Date.now() - this.#started) / 1000).toFixed(1).padStart(6)}s`;
  }

  /** A new phase: always printed on its own line. */
  phase(name: string): void {
    this.#phase = name;
    this.#lastText = "";
    this.line(`▶ ${name}`);
  }

  /** Transient status within the phase. */
  update(text: string): void {
    if (this.#silent || text === this.#lastText) return;
    this.#lastText = text;
    const line = `[${this.#elapsed()}] ${this.#phase}: ${text}`;
    if (this.#tty) {
      const width = process.stdout.columns || 120;
      process.stdout.write(`\r\x1b[2K${line.slice(0, width - 1)}`);
    } else if (Date.now() - this.#lastPlain >= PLAIN_INTERVAL_MS) {
      this.#lastPlain = Date.now();
      process.stdout.write(`${line}\n`);
    }
  }

  /** A permanent line (a result or a warning), printed above the status line. */
  line(text: string): void {
    if (this.#silent) return;
    if (this.#tty) process.stdout.write("\r\x1b[2K");
    process.stdout.write(`[${this.#elapsed()}] ${text}\n`);
  }

  /**
   * Calls `render` every `intervalMs` until the returned stop function is called; for phases
   * that wait on counters (connects, frames received).
   */
  ticker(render: () => string, intervalMs = 250): () => void {
    const timer = setInterval(() => this.update(render()), intervalMs);
    return () => {
      clearInterval(timer);
      this.update(render());
    };
  }

  done(): void {
    if (!this.#silent && this.#tty) process.stdout.write("\r\x1b[2K");
  }
}
