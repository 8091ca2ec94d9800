/**
 * Optional peer dependencies (prom-client, @opentelemetry/api, ioredis, ws...): loaded only when the
 * feature that needs them is used, with an error that says which package to install.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** A feature was used whose optional peer dependency is not installed. */
export class MissingPeerError extends Error {
  constructor(
    readonly peer: string,
    feature: string,
  ) {
    super(`${feature} needs the optional peer dependency ${peer}: npm install ${peer}`);
    this.name = 'MissingPeerError';
  }
}

/** Loads `peer` for `feature` (e.g. `metrics()`), or throws a MissingPeerError. */
export function requirePeer<T>(peer: string, feature: string): T {
  try {
    return require(peer) as T;
  } catch {
    throw new MissingPeerError(peer, feature);
  }
}

/** Whether `peer` is installed. */
export function hasPeer(peer: string): boolean {
  try {
    require.resolve(peer);
    return true;
  } catch {
    return false;
  }
}
