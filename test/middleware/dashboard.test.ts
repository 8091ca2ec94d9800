/** The Grafana dashboard charts only metrics the metrics() middleware really exports. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createLogger, createMemoryPair, createServer, metrics } from '../../src/index.js';

describe('dashboards/rampart.json', () => {
  it('queries only metric names the registry exposes', async () => {
    const dashboard = JSON.parse(
      readFileSync(new URL('../../dashboards/rampart.json', import.meta.url), 'utf8'),
    );
    const exprs: string[] = dashboard.panels.flatMap((p: { targets: { expr: string }[] }) =>
      p.targets.map((t) => t.expr),
    );
    const used = new Set(
      exprs.flatMap((e) => e.match(/\b(mcp_[a-z_]+|process_[a-z_]+|nodejs_[a-z_]+)\b/g) ?? []),
    );
    const m = metrics();
    const server = createServer({ name: 'd', version: '1', logger: createLogger({ level: 'silent' }) });
    server.use(m);
    await server.connect(createMemoryPair()[1]);
    const text = await m.registry.metrics();
    const exported = new Set(
      [...text.matchAll(/^# TYPE (\S+) (\w+)/gm)].flatMap(([, name, type]) =>
        type === 'histogram' ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name],
      ),
    );
    expect([...used].filter((name) => !exported.has(name))).toEqual([]);
    expect(used.size).toBeGreaterThanOrEqual(7);
  });
});
