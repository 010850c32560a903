/** Identifiers in the formats StreamSpace uses (spec §2.2, §5.3). */

/** `cmd-<uuid>`: the original's 8-hex form collides at scale, so the full UUID is used. */
export function newCommandId(): string {
  return `cmd-${crypto.randomUUID()}`;
}

/**
 * `<user>-<template>-<8 hex>`; also a Kubernetes object name, so lower-case and dash-safe, and
 * each part cut to 100 characters so the name fits its column (255) and Kubernetes' 253.
 */
export function newSessionId(user: string, template: string): string {
  const hex = crypto.randomUUID().replaceAll("-", "").slice(0, 8);
  const clean = (s: string) => s.toLowerCase().replace(/[^a-z0-9-]+/g, "-").slice(0, MAX_NAME_PART).replace(/^-+|-+$/g, "");
  // A part with nothing name-safe in it (a user "用户") is left out: a name may not start with "-".
  return [clean(user), clean(template), hex].filter((part) => part !== "").join("-");
}

const MAX_NAME_PART = 100;

/** A short random id for requests and sockets. */
export function newRequestId(): string {
  return crypto.randomUUID();
}
