/** A template's manifest written through the admin API and read back as stored. */
import { sql } from "drizzle-orm";
import { query } from "./db";
import { call, tokenFor } from "./http";

/** PUT /api/v1/admin/templates/:name as an administrator; the raw answer. */
export async function putTemplate(name: string, manifest: unknown): Promise<Response> {
  return call("PUT", `/api/v1/admin/templates/${name}`, { token: await tokenFor("root", { admin: true }), body: { manifest } });
}

/** The manifest stored for `name`, or undefined. */
export async function storedManifest(name: string): Promise<unknown> {
  return (await query<{ manifest: unknown }>(sql`select manifest from templates where name = ${name}`))[0]?.manifest;
}
