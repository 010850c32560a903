/**
 * Frames the DO could not write because Postgres was unreachable, kept in the DO's own SQLite
 * in arrival order until a retry applies them: an agent's answer is never dropped. Used only by
 * AgentObject; covered by test/node/faults.postgres-unreachable.test.ts.
 */
import type { WorkFrame } from "./frames";

export type KeptFrame = { seq: number; agentId: string; frame: WorkFrame };

export class FrameOutbox {
  constructor(private readonly sql: SqlStorage) {
    sql.exec("CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, agent_id TEXT NOT NULL, frame TEXT NOT NULL)");
  }

  keep(agentId: string, frame: WorkFrame): void {
    this.sql.exec("INSERT INTO outbox (agent_id, frame) VALUES (?, ?)", agentId, JSON.stringify(frame));
  }

  size(): number {
    return this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM outbox").one().n;
  }

  /** The oldest `limit` kept frames. */
  oldest(limit: number): KeptFrame[] {
    return this.sql
      .exec<{ seq: number; agent_id: string; frame: string }>("SELECT seq, agent_id, frame FROM outbox ORDER BY seq LIMIT ?", limit)
      .toArray()
      .map((r) => ({ seq: r.seq, agentId: r.agent_id, frame: JSON.parse(r.frame) as WorkFrame }));
  }

  remove(seq: number): void {
    this.sql.exec("DELETE FROM outbox WHERE seq = ?", seq);
  }
}
