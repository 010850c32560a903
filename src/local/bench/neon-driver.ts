/**
 * The Neon serverless driver in Node, configured exactly as src/db/client.ts configures it in
 * the Worker (useLocalProxy), plus the WebSocket class Node needs. neonConfig is process-wide.
 */
import { neonConfig } from "@neondatabase/serverless";
import ws from "ws";

let configuredFor: string | undefined;

/** `pipeline`: the endpoint asks for a cleartext password (PgBouncer here, as Neon's do). */
export function configureNeonDriver(proxyPort: number, pipeline: boolean): void {
  if (configuredFor === `${proxyPort}:${pipeline}`) return;
  configuredFor = `${proxyPort}:${pipeline}`;
  neonConfig.webSocketConstructor = ws;
  neonConfig.wsProxy = (host, port) => `127.0.0.1:${proxyPort}/v1?address=${host}:${port}`;
  neonConfig.useSecureWebSocket = false;
  neonConfig.pipelineTLS = false;
  neonConfig.pipelineConnect = pipeline ? "password" : false;
  neonConfig.coalesceWrites = false;
}
