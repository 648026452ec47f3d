// One fetchSse instance for the whole app: every route handler imports this module. It is kept
// on globalThis so that `next dev`, which re-evaluates modules on every edit, keeps one hub.
import { fetchSse, MemoryReplayer, type FetchSse, type Hub } from '@ssekit/fetch';

const shared = globalThis as typeof globalThis & { ssekit?: FetchSse<Hub> };

export const sse: FetchSse<Hub> = (shared.ssekit ??= fetchSse({ replayer: new MemoryReplayer(1000), retryMs: 1000 }));
