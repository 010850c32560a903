/** Identifiers in the formats StreamSpace uses (spec §2.2, §5.3). */

/** `cmd-<uuid>`: the original's 8-hex form collides at scale, so the full UUID is used. */
export function newCommandId(): string {
  return `cmd-${crypto.randomUUID()}`;
}

/**
 * `<user>-<template>-<8 hex>`. Agents use it as the name of Kubernetes objects (spec §1.9: the
 * Deployment, the Service, the `session=` label), so it must be a DNS-1035 label: at most 63
 * characters of lower-case letters, digits and dashes, starting with a letter and ending with a
 * letter or digit. Each part is cut to 25 characters for that; one with nothing name-safe in it
 * (a user "用户") is left out, and a name that would start with a digit gets an `s-` in front.
 */
export function newSessionId(user: string, template: string): string {
  const hex = crypto.randomUUID().replaceAll("-", "").slice(0, 8);
  const clean = (s: string) => s.toLowerCase().replace(/[^a-z0-9-]+/g, "-").slice(0, MAX_NAME_PART).replace(/^-+|-+$/g, "");
  const name = [clean(user), clean(template), hex].filter((part) => part !== "").join("-");
  return /^[a-z]/.test(name) ? name : `s-${name}`;
}

/** 25 + 1 + 25 + 1 + 8, and `s-` in front: 62, within a Kubernetes label value's 63. */
const MAX_NAME_PART = 25;

/** A short random id for requests and sockets. */
export function newRequestId(): string {
  return crypto.randomUUID();
}
