/**
 * Transport traffic on `node:diagnostics_channel` (`rampart:transport`): what each transport read
 * and wrote, for metrics. Publishing is guarded by `hasSubscribers`, so it costs nothing unless
 * something (the metrics() middleware) listens.
 */
import diagnostics from 'node:diagnostics_channel';

/** One observation: a transport read or wrote `messages` messages in `bytes` bytes. */
export interface TransportTraffic {
  transport: 'stdio' | 'http' | 'sse' | 'websocket';
  direction: 'in' | 'out';
  bytes: number;
  messages: number;
}

export const transportChannel = diagnostics.channel('rampart:transport');

/** Publishes traffic when someone listens; `text` is measured only then. */
export function publishTraffic(
  transport: TransportTraffic['transport'],
  direction: TransportTraffic['direction'],
  text: string,
  messages = 1,
): void {
  if (!transportChannel.hasSubscribers) return;
  transportChannel.publish({
    transport,
    direction,
    bytes: Buffer.byteLength(text),
    messages,
  } satisfies TransportTraffic);
}
