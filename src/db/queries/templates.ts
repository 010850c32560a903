/** Named queries for `templates`. */
import { asc, eq, sql } from "drizzle-orm";
import type { Queryable } from "../client";
import { templates } from "../schema";
import type { TemplateRow } from "../schema";

export async function templateGetByName(db: Queryable, name: string): Promise<TemplateRow | undefined> {
  const [row] = await db.select().from(templates).where(eq(templates.name, name)).limit(1);
  return row;
}

export async function templateList(db: Queryable): Promise<TemplateRow[]> {
  return db.select().from(templates).orderBy(asc(templates.name));
}

/** Creates or replaces the template's manifest; returns the stored row. */
export async function templateUpsert(db: Queryable, name: string, manifest: unknown): Promise<TemplateRow> {
  const [row] = await db
    .insert(templates)
    .values({ name, manifest })
    .onConflictDoUpdate({ target: templates.name, set: { manifest, updatedAt: sql`now()` } })
    .returning();
  return row!;
}
