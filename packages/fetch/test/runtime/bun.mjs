/* global Bun */
// Bun.serve: prints LISTENING <port> once the server is up. idleTimeout stays at Bun's default
// (10 s), so the suite proves the default heartbeat keeps streams open under it.
import { configFromEnv, createApp } from './app.mjs';

const app = createApp(configFromEnv(process.env));
const server = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: app.fetch });
console.log(`LISTENING ${server.port}`);
process.once('SIGTERM', () => {
  server.stop(true);
  process.exit(0);
});
