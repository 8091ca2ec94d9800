/**
 * A custom transport, worked end to end (see docs/transports.md): MCP over a Unix domain socket,
 * newline-delimited JSON-RPC, one connection = one session. The server side implements Rampart's
 * Transport interface; the client side the same interface, so the official SDK client runs on it.
 */
import { connect, createServer as createNetServer, type Server, type Socket } from 'node:net';
import type { JsonRpcMessage, McpServer, MessageExtra, Transport } from '../../src/index.js';

/** Newline framing shared by both ends: bounded buffer, one JSON value per line. */
class LineChannel {
  private buffer = '';
  constructor(
    private readonly socket: Socket,
    private readonly onLine: (line: string) => void,
    private readonly onOverflow: () => void,
    private readonly maxBytes = 4 * 1024 * 1024,
  ) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.read(chunk));
  }

  private read(chunk: string): void {
    this.buffer += chunk;
    let nl = this.buffer.indexOf('\n');
    while (nl !== -1) {
      const line = this.buffer.slice(0, nl).trim();
      this.buffer = this.buffer.slice(nl + 1);
      if (line) this.onLine(line);
      nl = this.buffer.indexOf('\n');
    }
    // Every buffer has a bound: a line that never ends is refused.
    if (this.buffer.length > this.maxBytes) {
      this.buffer = '';
      this.onOverflow();
    }
  }

  /** Writes one message; resolves once the socket took it (waits for 'drain' under backpressure). */
  write(message: unknown): Promise<void> {
    if (this.socket.destroyed) return Promise.reject(new Error('socket closed'));
    const ok = this.socket.write(`${JSON.stringify(message)}\n`);
    return ok ? Promise.resolve() : new Promise((resolve) => this.socket.once('drain', () => resolve()));
  }
}

/** The server side of one connection. */
export class UnixSocketServerTransport implements Transport {
  onmessage?: (message: any, extra?: MessageExtra) => void;
  onclose?: () => void;
  onerror?: (error: Error) => void;
  readonly sessionId: string;
  private readonly channel: LineChannel;
  private closed = false;

  constructor(
    private readonly socket: Socket,
    id: string,
  ) {
    this.sessionId = id;
    // What every message carries: the connection it came on, and (here) who is on the other end.
    // A Unix socket is as trusted as its file permissions; a real transport would verify credentials.
    const extra: MessageExtra = { sessionId: id, authInfo: { subject: `unix:${id}`, scopes: [] } };
    this.channel = new LineChannel(
      socket,
      (line) => {
        let message: unknown;
        try {
          message = JSON.parse(line);
        } catch {
          void this.send({ jsonrpc: '2.0', id: null, error: { code: -32700, message: 'Parse error' } });
          return;
        }
        // Malformed messages are the server's to answer: pass on whatever parsed.
        this.onmessage?.(message, extra);
      },
      () =>
        void this.send({ jsonrpc: '2.0', id: null, error: { code: -32600, message: 'Message too large' } }),
    );
    socket.on('close', () => this.finish());
    socket.on('error', (err) => this.onerror?.(err));
  }

  async start(): Promise<void> {}

  send(message: JsonRpcMessage): Promise<void> {
    return this.channel.write(message);
  }

  async close(): Promise<void> {
    this.socket.end();
    this.finish();
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.onclose?.();
  }
}

/** Serves `server` on a Unix socket path: each connection gets its own session. */
export async function listenUnix(server: McpServer<any>, path: string): Promise<Server> {
  let seq = 0;
  const net = createNetServer((socket) => {
    void server.connect(new UnixSocketServerTransport(socket, `uds${++seq}`));
  });
  await new Promise<void>((resolve, reject) => {
    net.once('error', reject);
    net.listen(path, () => resolve());
  });
  // Closing the server closes its sessions (draining them); closing the listener stops new ones.
  server.onClose(() => new Promise<void>((resolve) => net.close(() => resolve())));
  return net;
}

/** The client side, for the official SDK client: `client.connect(new UnixSocketClientTransport(path))`. */
export class UnixSocketClientTransport implements Transport {
  onmessage?: (message: any) => void;
  onclose?: () => void;
  onerror?: (error: Error) => void;
  private socket: Socket | undefined;
  private channel: LineChannel | undefined;

  constructor(private readonly path: string) {}

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = connect(this.path, () => resolve());
      this.socket = socket;
      socket.once('error', reject);
      this.channel = new LineChannel(
        socket,
        (line) => this.onmessage?.(JSON.parse(line)),
        () => this.onerror?.(new Error('message too large')),
      );
      socket.on('close', () => this.onclose?.());
    });
  }

  send(message: JsonRpcMessage | object): Promise<void> {
    return this.channel!.write(message);
  }

  async close(): Promise<void> {
    this.socket?.end();
  }
}
