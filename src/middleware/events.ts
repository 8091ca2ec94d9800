/**
 * What the protection middleware did, on `node:diagnostics_channel` (`rampart:protection`):
 * rejections, timeouts, cache hits. `metrics()` counts them; publishing costs nothing without a
 * subscriber.
 */
import diagnostics from 'node:diagnostics_channel';
import type { Context } from '../server/context.js';
import type { McpServer } from '../server/server.js';

export type ProtectionEvent = (
  | { kind: 'rate_limited'; rule: string }
  | { kind: 'timeout'; rule: string; method: string }
  | { kind: 'concurrency_rejected'; rule: string }
  | { kind: 'concurrency_queued'; rule: string }
  | { kind: 'cache'; rule: string; result: 'hit' | 'miss' | 'shared' }
  | { kind: 'auth_failed'; reason: string }
) & {
  /** The request it is about, when there is one: only its server's `metrics()` count it. */
  ctx?: Context<any>;
  /** Without a request (an HTTP authentication failure): the server it happened on, whose `metrics()` count it. */
  server?: McpServer<any>;
};

export const protectionChannel = diagnostics.channel('rampart:protection');

export function publishProtection(event: ProtectionEvent): void {
  if (protectionChannel.hasSubscribers) protectionChannel.publish(event);
}
