// Node 20+ through @hono/node-server: prints LISTENING <port> once the server is up.
import { serve } from '@hono/node-server';
import { configFromEnv, createApp } from './app.mjs';

const app = createApp(configFromEnv(process.env));
const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => {
  console.log(`LISTENING ${info.port}`);
});
process.once('SIGTERM', () => {
  server.close();
  process.exit(0);
});
