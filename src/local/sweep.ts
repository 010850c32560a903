/**
 * `npm run sweep [-- --url http://127.0.0.1:8787]`: runs the cron sweep of a local Worker now,
 * through Miniflare's scheduled endpoint (what `npm run dev` also does every minute). The
 * counts appear in the Worker's log when the pass changed anything.
 */
import { parseArgs } from "node:util";

const { values } = parseArgs({ options: { url: { type: "string", default: "http://127.0.0.1:8787" } } });
const endpoint = `${values.url}/cdn-cgi/local/scheduled?cron=${encodeURIComponent("* * * * *")}`;
try {
  const res = await fetch(endpoint);
  console.log(`${res.status} ${await res.text()}`);
  process.exit(res.ok ? 0 : 1);
} catch (err) {
  console.error(`could not reach ${values.url}: is \`npm run dev\` running? (${String(err)})`);
  process.exit(1);
}
