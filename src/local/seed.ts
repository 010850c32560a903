/**
 * Demo data for `npm run dev`: a `firefox-browser` template and an approved agent `demo-agent`
 * whose key is kept in .data/demo-agent.key, so the walk-through works without approval steps.
 */
import fs from "node:fs";
import path from "node:path";
import pg from "pg";
import { hashAgentKey, newAgentKey } from "./agent-key";
import { PROJECT_ROOT } from "./dev-vars";

export const DEMO_AGENT_ID = "demo-agent";
const KEY_FILE = path.join(PROJECT_ROOT, ".data/demo-agent.key");

const DEMO_MANIFEST = {
  apiVersion: "stream.space/v1alpha1",
  kind: "Template",
  metadata: { name: "firefox-browser", namespace: "streamspace" },
  spec: {
    displayName: "Firefox",
    baseImage: "lscr.io/linuxserver/firefox:latest",
    ports: [{ name: "vnc", containerPort: 3000, protocol: "TCP" }],
    defaultResources: { memory: "2Gi", cpu: "1000m" },
  },
};

/** Seeds the demo rows (idempotent); returns the demo agent's key. */
export async function seedDemo(url: string): Promise<{ agentId: string; agentKey: string }> {
  let agentKey = fs.existsSync(KEY_FILE) ? fs.readFileSync(KEY_FILE, "utf8").trim() : "";
  if (!/^[0-9a-f]{64}$/.test(agentKey)) {
    agentKey = newAgentKey();
    fs.mkdirSync(path.dirname(KEY_FILE), { recursive: true });
    fs.writeFileSync(KEY_FILE, agentKey + "\n", { mode: 0o600 });
  }
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(
      `insert into templates (name, manifest) values ('firefox-browser', $1) on conflict (name) do nothing`,
      [JSON.stringify(DEMO_MANIFEST)],
    );
    await client.query(
      `insert into agents (agent_id, platform, region, status, approval_status, approved_at, approved_by, api_key_hash, api_key_created_at)
       values ($1, 'kubernetes', 'default', 'offline', 'approved', now(), 'npm run dev', $2, now())
       on conflict (agent_id) do update set api_key_hash = excluded.api_key_hash`,
      [DEMO_AGENT_ID, hashAgentKey(agentKey)],
    );
  } finally {
    await client.end();
  }
  return { agentId: DEMO_AGENT_ID, agentKey };
}
