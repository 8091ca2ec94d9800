#!/usr/bin/env node
// The `rampart` command. From a clone the sources run through tsx (a devDependency); an installed
// package runs its compiled dist/. TypeScript entries need tsx either way.
import { existsSync } from 'node:fs';

const source = new URL('../src/cli/main.ts', import.meta.url);
const tsx = await import('tsx/esm/api').catch(() => undefined);
tsx?.register();
const { main } =
  existsSync(source) && tsx
    ? await import(source.href)
    : await import(new URL('../dist/cli/main.js', import.meta.url).href);
await main(process.argv.slice(2));
