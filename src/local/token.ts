/**
 * `npm run token -- --user <name> [--admin] [--hours N]`: mints an HS256 JWT with the configured
 * JWT_SECRET (environment, else .dev.vars), for operators and scripts.
 */
import { parseArgs } from "node:util";
import { sign } from "hono/jwt";
import { jwtSecret } from "./dev-vars";
import { isMain } from "./is-main";

/** Signs a user token the Worker accepts. */
export async function mintToken(user: string, admin: boolean, hours = 24, secret = jwtSecret()): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return sign({ sub: user, role: admin ? "admin" : "user", iat: now, exp: now + hours * 3600 }, secret, "HS256");
}

if (isMain(import.meta.url)) {
  const { values } = parseArgs({
    options: { user: { type: "string" }, admin: { type: "boolean", default: false }, hours: { type: "string", default: "24" } },
  });
  if (!values.user) {
    console.error("usage: npm run token -- --user <name> [--admin] [--hours N]");
    process.exit(2);
  }
  console.log(await mintToken(values.user, values.admin ?? false, Number(values.hours)));
}
