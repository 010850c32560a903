/**
 * `npm run sweep [-- --url http://127.0.0.1:8787]`: runs the cron sweep of `npm run dev`'s Worker
 * now, through wrangler's test-scheduled endpoint (what `npm run dev` also does every minute). The
 * counts appear in the Worker's log when the pass changed anything.
 */
import { parseArgs } from "node:util";

const { values } = parseArgs({ options: { url: { type: "string", default: "http://127.0.0.1:8787" } } });
// `npm run dev` starts wrangler with --test-scheduled, which serves the trigger here.
const endpoint = `${values.url}/__scheduled?cron=${encodeURIComponent("* * * * *")}`;
try {
  const res = await fetch(endpoint);
  console.log(`${res.status} ${await res.text()}`);
  process.exit(res.ok ? 0 : 1);
} catch (err) {
  console.error(`could not reach ${values.url}: is \`npm run dev\` running? (${String(err)})`);
  process.exit(1);
}
