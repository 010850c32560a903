/** Whether the module at `importMetaUrl` is the script Node was started with (a CLI entry). */
import fs from "node:fs";
import { pathToFileURL } from "node:url";

export function isMain(importMetaUrl: string): boolean {
  const script = process.argv[1];
  if (!script) return false;
  // A URL, not `file://` + the path: a path with a space or a # is percent-encoded in the URL.
  return importMetaUrl === pathToFileURL(fs.realpathSync(script)).href;
}
