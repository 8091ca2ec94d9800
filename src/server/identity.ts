/** Who credentials belong to, as one string per principal. */
import { createHash } from 'node:crypto';
import type { AuthInfo } from '../transports/types.js';

/** Worked out once per verified principal: verifiers hand out cached AuthInfo objects. */
const identities = new WeakMap<AuthInfo, string>();

/**
 * A principal's identity: `sub:<subject>`, else `client:<client id>`, else `token:<SHA-256 of the
 * token>` — namespaced, so a subject and a client id that read the same stay apart — or
 * `undefined` when the credentials name no one (nothing then may be keyed on them).
 */
export function identityOf(info: AuthInfo): string | undefined {
  let identity = identities.get(info);
  if (identity === undefined) {
    if (info.subject !== undefined) identity = `sub:${info.subject}`;
    else if (info.clientId !== undefined) identity = `client:${info.clientId}`;
    else if (info.token !== undefined)
      identity = `token:${createHash('sha256').update(info.token).digest('base64url')}`;
    else return undefined;
    identities.set(info, identity);
  }
  return identity;
}
