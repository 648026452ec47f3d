import { defineConfig } from 'tsup';
import base from '../../tsup.base';

/**
 * Two entries, `@ssekit/core` and `@ssekit/core/integration`, over one copy of the code: with
 * splitting (for CommonJS too), what both use lives in a shared chunk, so there is one
 * heartbeat scheduler, one coalescer and one `SseConnection` class per format, whichever entry
 * a dependent loads.
 */
export default defineConfig({
  ...(base as object),
  entry: ['src/index.ts', 'src/integration.ts'],
  splitting: true,
});
