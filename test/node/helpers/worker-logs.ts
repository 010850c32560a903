/**
 * The Worker's own log lines, as evidence of what happened inside workerd. Miniflare forwards
 * workerd's stdout/stderr to this process's console.log / console.error (warn and error lines
 * go to console.error, coloured); the Worker logs one JSON object per line (src/lib/log.ts).
 */

/** One JSON log line; `receivedAt` (ms) is when this process read it. */
export type WorkerLogLine = { level?: string; msg?: string; receivedAt: number; [field: string]: unknown };

export type WorkerLogCapture = {
  readonly lines: WorkerLogLine[];
  /** The first captured line matching `pred`, or undefined (for use inside `eventually`). */
  find(pred: (line: WorkerLogLine) => boolean): WorkerLogLine | undefined;
  /** Puts console back as it was. */
  stop(): void;
};

const ANSI = /\u001b\[[0-9;]*m/g;

/** Starts collecting the Worker's JSON log lines; the lines are still printed. */
export function captureWorkerLogs(): WorkerLogCapture {
  const lines: WorkerLogLine[] = [];
  const original = { log: console.log, error: console.error, warn: console.warn };
  const tap =
    (write: (...args: unknown[]) => void) =>
    (...args: unknown[]) => {
      for (const arg of args) {
        if (typeof arg !== "string") continue;
        for (const raw of arg.replace(ANSI, "").split("\n")) {
          const start = raw.indexOf("{");
          if (start < 0) continue;
          try {
            const parsed: unknown = JSON.parse(raw.slice(start));
            if (typeof parsed === "object" && parsed !== null && "msg" in parsed) {
              lines.push({ ...(parsed as object), receivedAt: Date.now() } as WorkerLogLine);
            }
          } catch {
            // Not one of the Worker's JSON lines.
          }
        }
      }
      write(...args);
    };
  console.log = tap(original.log);
  console.error = tap(original.error);
  console.warn = tap(original.warn);
  return {
    lines,
    find: (pred) => lines.find(pred),
    stop() {
      console.log = original.log;
      console.error = original.error;
      console.warn = original.warn;
    },
  };
}
