/** MCP protocol versions and the two eras Rampart serves. */

/** Versions negotiated with `initialize` (sessions), newest first. */
export const LEGACY_VERSIONS = ['2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05'] as const;

/** Versions served statelessly with a per-request `_meta` envelope, newest first. */
export const MODERN_VERSIONS = ['2026-07-28'] as const;

export const LATEST_LEGACY_VERSION = LEGACY_VERSIONS[0];
export const LATEST_VERSION = MODERN_VERSIONS[0];

export type Era = 'legacy' | 'modern';

/** Reserved `_meta` keys of the 2026-07-28 per-request envelope. */
export const META = {
  protocolVersion: 'io.modelcontextprotocol/protocolVersion',
  clientInfo: 'io.modelcontextprotocol/clientInfo',
  clientCapabilities: 'io.modelcontextprotocol/clientCapabilities',
  logLevel: 'io.modelcontextprotocol/logLevel',
  serverInfo: 'io.modelcontextprotocol/serverInfo',
  subscriptionId: 'io.modelcontextprotocol/subscriptionId',
  related: 'io.modelcontextprotocol/related',
} as const;

/** The legacy version to answer `initialize` with: the client's if we serve it, else our newest. */
export function negotiateLegacyVersion(requested: unknown): string {
  return typeof requested === 'string' && (LEGACY_VERSIONS as readonly string[]).includes(requested)
    ? requested
    : LATEST_LEGACY_VERSION;
}

export function isModernVersion(version: string): boolean {
  return (MODERN_VERSIONS as readonly string[]).includes(version);
}

export function isSupportedVersion(version: string): boolean {
  return isModernVersion(version) || (LEGACY_VERSIONS as readonly string[]).includes(version);
}

/** JSON-RPC batches exist only in 2025-03-26 (added there, removed in 2025-06-18). */
export function allowsBatches(version: string | undefined): boolean {
  return version === '2025-03-26';
}

/**
 * Whether a tool's arguments failing its input schema is a tool execution error (`isError: true`, so
 * the model can correct itself), as 2025-11-25 and later say, rather than a -32602 protocol error.
 */
export function inputErrorsAreToolResults(version: string | undefined): boolean {
  return versionAtLeast(version, '2025-11-25');
}

/** Whether `version` (a date, as every MCP version is) is `floor` or later; an unknown one is not. */
export function versionAtLeast(version: string | undefined, floor: string): boolean {
  return version !== undefined && version >= floor;
}
