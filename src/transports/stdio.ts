/**
 * stdio transport: newline-delimited JSON-RPC on stdin/stdout (MCP "Transports › stdio").
 * stdout carries protocol messages only; logs belong on stderr. EOF on stdin closes the transport.
 */
import type { Readable, Writable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { ErrorCode, failure, type JsonRpcMessage } from '../protocol/jsonrpc.js';
import { stringifyMessage } from '../protocol/serialize.js';
import { newCorrelationId } from '../server/correlation.js';
import { publishTraffic } from './diagnostics.js';
import type { MessageExtra, Transport } from './types.js';

export interface StdioTransportOptions {
  stdin?: Readable;
  stdout?: Writable;
  /** Largest accepted message, in bytes of one line. Longer lines are discarded with an error. Default 4 MiB. */
  maxMessageBytes?: number;
}

/** A server-side stdio transport (also usable on any pair of streams, e.g. a child process's pipes). */
export class StdioServerTransport implements Transport {
  onmessage?: (message: any, extra?: MessageExtra) => void;
  onclose?: () => void;
  onerror?: (error: Error) => void;

  private readonly stdin: Readable;
  private readonly stdout: Writable;
  private readonly maxBytes: number;
  private buffer = '';
  /** Buffers are decoded across chunks: a character split between two reads stays whole. */
  private readonly decoder = new StringDecoder('utf8');
  private discarding = false;
  private closed = false;
  private corked = false;

  constructor(options: StdioTransportOptions = {}) {
    this.stdin = options.stdin ?? process.stdin;
    this.stdout = options.stdout ?? process.stdout;
    this.maxBytes = options.maxMessageBytes ?? 4 * 1024 * 1024;
  }

  private readonly onData = (chunk: Buffer | string) => {
    let text = this.buffer + (typeof chunk === 'string' ? chunk : this.decoder.write(chunk));
    let start = 0;
    let nl = text.indexOf('\n');
    while (nl !== -1) {
      const line = text.slice(start, nl);
      if (this.discarding) this.discarding = false;
      else this.handleLine(line);
      start = nl + 1;
      nl = text.indexOf('\n', start);
    }
    text = text.slice(start);
    // chars <= bytes, so this bounds the buffer; handleLine checks exact bytes.
    if (text.length > this.maxBytes) {
      // Never buffer without bound: drop the rest of this line and tell the client.
      if (!this.discarding) this.reject(ErrorCode.InvalidRequest, `Message exceeds ${this.maxBytes} bytes`);
      this.discarding = true;
      text = '';
    }
    this.buffer = text;
  };

  private handleLine(line: string): void {
    const trimmed = line.endsWith('\r') ? line.slice(0, -1) : line;
    if (trimmed.trim().length === 0) return;
    if (Buffer.byteLength(trimmed) > this.maxBytes) {
      this.reject(ErrorCode.InvalidRequest, `Message exceeds ${this.maxBytes} bytes`);
      return;
    }
    publishTraffic('stdio', 'in', trimmed);
    let message: unknown;
    try {
      message = JSON.parse(trimmed);
    } catch {
      this.reject(ErrorCode.ParseError, 'Parse error');
      return;
    }
    this.onmessage?.(message);
  }

  private reject(code: number, message: string): void {
    this.send(
      failure(null, {
        code,
        message,
        data: {
          type: code === ErrorCode.ParseError ? 'parse_error' : 'invalid_request',
          correlationId: newCorrelationId(),
        },
      }),
    ).catch((err) => this.onerror?.(err as Error));
  }

  private readonly onEnd = () => {
    void this.close();
  };

  private readonly onStreamError = (err: Error) => {
    this.onerror?.(err);
  };

  async start(): Promise<void> {
    this.stdin.on('data', this.onData);
    this.stdin.on('end', this.onEnd);
    this.stdin.on('error', this.onStreamError);
    this.stdout.on('error', this.onStreamError);
  }

  send(message: JsonRpcMessage): Promise<void> {
    if (this.closed && this.stdout.writableEnded)
      return Promise.reject(new Error('stdio transport is closed'));
    // Coalesce every message written in one tick into one write.
    if (!this.corked) {
      this.corked = true;
      this.stdout.cork();
      process.nextTick(() => {
        this.corked = false;
        this.stdout.uncork();
      });
    }
    const line = `${stringifyMessage(message)}\n`;
    publishTraffic('stdio', 'out', line);
    const ok = this.stdout.write(line);
    if (ok) return Promise.resolve();
    return new Promise((resolve) => this.stdout.once('drain', resolve));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stdin.off('data', this.onData);
    this.stdin.off('end', this.onEnd);
    this.stdin.off('error', this.onStreamError);
    // Let the process exit once stdin is done: stop reading, keep stdout open for late responses.
    this.stdin.pause();
    this.onclose?.();
  }
}
