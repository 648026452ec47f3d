/* global Deno */
// Deno.serve: prints LISTENING <port> once the server is up.
import { configFromEnv, createApp } from './app.mjs';

const app = createApp(configFromEnv(Deno.env.toObject()));
Deno.serve({ port: 0, hostname: '127.0.0.1', onListen: ({ port }) => console.log(`LISTENING ${port}`) }, app.fetch);
Deno.addSignalListener('SIGTERM', () => Deno.exit(0));
