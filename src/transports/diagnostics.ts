/**
 * Transport traffic: what each transport read and wrote, for metrics. Two ways to see it, both free
 * until used: process-wide totals that `metrics()` reads when it is scraped (`trafficTotals`; a
 * message then costs a byte count and two additions), and `node:diagnostics_channel`
 * (`rampart:transport`), one object per observation, for subscribers of your own.
 */
import diagnostics from 'node:diagnostics_channel';

type TransportName = 'stdio' | 'http' | 'sse' | 'websocket';
type Direction = 'in' | 'out';

/** One observation: a transport read or wrote `messages` messages in `bytes` bytes. */
export interface TransportTraffic {
  transport: TransportName;
  direction: Direction;
  bytes: number;
  messages: number;
}

export const transportChannel = diagnostics.channel('rampart:transport');

/** Bytes and messages one transport moved in one direction since the process started counting. */
export class TrafficTotal {
  bytes = 0;
  messages = 0;
}

const pair = () => ({ in: new TrafficTotal(), out: new TrafficTotal() });
/** Every transport's totals, fixed (no lookup by a built key per message). */
const TOTALS: Record<TransportName, Record<Direction, TrafficTotal>> = {
  stdio: pair(),
  http: pair(),
  sse: pair(),
  websocket: pair(),
};
let counting = false;

/** Starts the process-wide totals (if not yet) and returns them; they only grow. */
export function trafficTotals(): Readonly<Record<TransportName, Readonly<Record<Direction, TrafficTotal>>>> {
  counting = true;
  return TOTALS;
}

/**
 * Counts traffic when someone counts it: `data` is what moved (measured only then) or its size in
 * bytes, where the transport knows it already.
 */
export function publishTraffic(
  transport: TransportName,
  direction: Direction,
  data: string | number,
  messages = 1,
): void {
  const subscribed = transportChannel.hasSubscribers;
  if (!counting && !subscribed) return;
  const bytes = typeof data === 'number' ? data : Buffer.byteLength(data);
  if (counting) {
    const total = TOTALS[transport][direction];
    total.bytes += bytes;
    total.messages += messages;
  }
  if (subscribed) {
    transportChannel.publish({ transport, direction, bytes, messages } satisfies TransportTraffic);
  }
}
