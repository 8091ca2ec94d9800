/**
 * Serves the everything example over stdio: `npm run example:stdio`.
 * stdout carries MCP messages only; logs go to stderr.
 */
import { logging, StdioServerTransport } from '../src/index.js';
import { createEverythingServer } from './everything.js';

const server = createEverythingServer();
server.use(logging());
await server.connect(new StdioServerTransport());
