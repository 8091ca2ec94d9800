/** BatchedDestination: the default log destination writes lines in batches, and loses none on exit. */
import { execFile } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { BatchedDestination } from '../../src/index.js';

const run = promisify(execFile);
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'rampart-log-'));
  dirs.push(dir);
  return join(dir, 'out.log');
}

describe('BatchedDestination', () => {
  it('holds lines for up to flushMs, then writes them together, in order — and again later', async () => {
    const path = tempFile();
    const fd = openSync(path, 'w');
    const destination = new BatchedDestination(fd, undefined, 20);
    destination.write('one\n');
    destination.write('two\n');
    expect(readFileSync(path, 'utf8')).toBe('');
    await new Promise((r) => setImmediate(r));
    expect(readFileSync(path, 'utf8')).toBe('');
    await new Promise((r) => setTimeout(r, 60));
    expect(readFileSync(path, 'utf8')).toBe('one\ntwo\n');
    // The timer is re-armed for the next batch.
    destination.write('three\n');
    await new Promise((r) => setTimeout(r, 60));
    expect(readFileSync(path, 'utf8')).toBe('one\ntwo\nthree\n');
    closeSync(fd);
  });

  it('with flushMs 0, writes once the event loop turns', async () => {
    const path = tempFile();
    const fd = openSync(path, 'w');
    const destination = new BatchedDestination(fd, undefined, 0);
    destination.write('one\n');
    destination.write('two\n');
    expect(readFileSync(path, 'utf8')).toBe('');
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(readFileSync(path, 'utf8')).toBe('one\ntwo\n');
    closeSync(fd);
  });

  it('writes at once past its bound, and on flush', () => {
    const path = tempFile();
    const fd = openSync(path, 'w');
    const destination = new BatchedDestination(fd, 10);
    destination.write('0123456789ab\n');
    expect(readFileSync(path, 'utf8')).toBe('0123456789ab\n');
    destination.write('é\n');
    let flushed = false;
    destination.flush(() => {
      flushed = true;
    });
    expect(flushed).toBe(true);
    expect(readFileSync(path, 'utf8')).toBe('0123456789ab\né\n');
    closeSync(fd);
  });

  it('keeps order when a line that might not fit sends out what waits, and multi-byte text whole', () => {
    const path = tempFile();
    const fd = openSync(path, 'w');
    const destination = new BatchedDestination(fd, 16);
    destination.write('abc\n');
    destination.write('éé\n'); // 3 units: up to 9 bytes, 12 free: waits
    expect(readFileSync(path, 'utf8')).toBe('');
    destination.write('€\n'); // up to 6 bytes, 7 free: waits (4 bytes)
    expect(readFileSync(path, 'utf8')).toBe('');
    destination.write('de\n'); // up to 9 bytes, 3 free: what waits goes first
    expect(readFileSync(path, 'utf8')).toBe('abc\néé\n€\n');
    destination.write('x'.repeat(20)); // bigger than the buffer: straight out, after the waiting line
    expect(readFileSync(path, 'utf8')).toBe(`abc\néé\n€\nde\n${'x'.repeat(20)}`);
    destination.flushSync();
    expect(readFileSync(path, 'utf8')).toBe(`abc\néé\n€\nde\n${'x'.repeat(20)}`);
    closeSync(fd);
  });

  it('writes what is waiting when the process exits', async () => {
    const path = tempFile();
    const script = `
      import { openSync } from 'node:fs';
      import { BatchedDestination, createLogger } from './src/index.js';
      const log = createLogger({ destination: new BatchedDestination(openSync(${JSON.stringify(path)}, 'w')) });
      for (let i = 0; i < 1000; i++) log.info({ i }, 'line');
      process.exit(0);
    `;
    await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: new URL('../..', import.meta.url).pathname,
    });
    const lines = readFileSync(path, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(1000);
    expect(JSON.parse(lines[999]).i).toBe(999);
  });

  it('is what createLogger writes to by default (stderr)', async () => {
    const script = `
      import { createLogger } from './src/index.js';
      createLogger({ name: 'default' }).info('to stderr');
    `;
    const { stderr, stdout } = await run(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      { cwd: new URL('../..', import.meta.url).pathname },
    );
    expect(stdout).toBe('');
    expect(JSON.parse(stderr.trim())).toMatchObject({ name: 'default', msg: 'to stderr' });
  });
});
