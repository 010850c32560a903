/**
 * Keeps the Worker's log lines off the terminal. Miniflare forwards workerd's stdout/stderr to
 * this process's console.log/console.error, and one JSON line per dropped socket would bury the
 * progress line. The bench writes its own output with process.stdout.write, so everything that
 * arrives through `console` is the runtime's (or a library's) and goes to a log file instead.
 */
import fs from "node:fs";
import { format } from "node:util";

const KEPT_LINES = 5_000;

/** Warnings and errors count the Worker's own structured (JSON) lines; anything else is `other`. */
export type CapturedLog = { lines: number; warnings: number; errors: number; other: number; kept: string[] };

export class ConsoleCapture {
  readonly log: CapturedLog = { lines: 0, warnings: 0, errors: 0, other: 0, kept: [] };
  #restore: (() => void) | undefined;

  install(): void {
    const original = { log: console.log, info: console.info, warn: console.warn, error: console.error, debug: console.debug };
    const capture = () => (...args: unknown[]) => {
      const text = format(...args);
      // Colours off (Miniflare paints warnings red): the file is read later, not on a terminal.
      for (const line of text.replace(/\u001b\[[0-9;]*m/g, "").split("\n")) {
        if (!line.trim()) continue;
        this.log.lines++;
        // wrangler's config notes (e.g. secrets it cannot see: the bench passes them itself) are "other".
        const level = /^\{"level":"(\w+)"/.exec(line)?.[1];
        if (level === "warn") this.log.warnings++;
        else if (level === "error") this.log.errors++;
        else if (!level) this.log.other++;
        if (this.log.kept.length < KEPT_LINES) this.log.kept.push(line);
      }
    };
    console.log = capture();
    console.info = capture();
    console.debug = capture();
    console.warn = capture();
    console.error = capture();
    this.#restore = () => Object.assign(console, original);
  }

  uninstall(): void {
    this.#restore?.();
    this.#restore = undefined;
  }

  writeTo(file: string): void {
    fs.writeFileSync(file, this.log.kept.join("\n") + (this.log.lines > this.log.kept.length ? `\n… ${this.log.lines - this.log.kept.length} more lines\n` : "\n"));
  }
}
