/**
 * BatchedDestination on a descriptor that takes part of a batch (a full non-blocking pipe): the rest
 * follows from where the write stopped, counted in bytes — nothing lost, nothing written twice.
 */
import { describe, expect, it, vi } from 'vitest';

const received: Buffer[] = [];
let calls = 0;
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  return {
    ...fs,
    // Takes 7 bytes, then answers EAGAIN once, then takes everything.
    writeSync: (_fd: number, data: string | Buffer, offset?: number, length?: number) => {
      calls++;
      const bytes =
        typeof data === 'string'
          ? Buffer.from(data)
          : data.subarray(offset ?? 0, (offset ?? 0) + (length ?? data.length));
      if (calls === 2) throw Object.assign(new Error('EAGAIN'), { code: 'EAGAIN' });
      const taken = calls === 1 ? bytes.subarray(0, 7) : bytes;
      received.push(Buffer.from(taken));
      return taken.length;
    },
  };
});

const { BatchedDestination } = await import('../../src/server/log-destination.js');

describe('BatchedDestination, partial writes', () => {
  it('goes on from the byte where a write stopped, past EAGAIN, multi-byte text intact', () => {
    const destination = new BatchedDestination(99);
    destination.write('é-one\n');
    destination.write('ü-two\n');
    destination.flushSync();
    expect(Buffer.concat(received).toString('utf8')).toBe('é-one\nü-two\n');
    expect(calls).toBe(3);
  });
});
