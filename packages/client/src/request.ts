/**
 * Builds the request of one connect: the URL with its query, the headers and the body, each
 * evaluated afresh (a function option is called every time, so a token can be refreshed).
 */
import type { PerRequest, QueryValue, RequestBody, RequestContext, ResolvedOptions } from './options.js';

/** What `fetch` is given. */
export interface BuiltRequest {
  readonly url: string;
  readonly init: RequestInit;
}

function evaluate<T>(value: PerRequest<T>, context: RequestContext): T | Promise<T> {
  return typeof value === 'function' ? (value as (context: RequestContext) => T | Promise<T>)(context) : value;
}

/** The entries of what a `headers` or `query` function returned, which must be an object. */
async function entries<T>(value: PerRequest<Record<string, T>>, context: RequestContext, name: string): Promise<[string, T][]> {
  const result = await evaluate(value, context);
  if (typeof result !== 'object' || result === null) throw new TypeError(`${name} must be an object`);
  return Object.entries(result);
}

function applyQuery(url: URL, query: [string, QueryValue][]): void {
  const params = url.searchParams;
  for (const [name, value] of query) {
    params.delete(name);
    if (value === undefined || value === null) continue;
    if (Array.isArray(value)) for (const item of value) params.append(name, String(item));
    else params.set(name, String(value));
  }
}

/**
 * Resolves `url` against the page (in a browser) and checks it can be fetched.
 * @returns the absolute URL, or `undefined` if it is not an http(s) URL.
 */
export function absoluteUrl(url: string | URL): URL | undefined {
  try {
    const resolved = new URL(url, (globalThis as { location?: { href?: string } }).location?.href);
    return /^https?:$/.test(resolved.protocol) ? resolved : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The request for one connect. Rejects when a `headers`, `query` or `body` function throws or
 * returns something that cannot be sent.
 */
export async function buildRequest(url: URL, options: ResolvedOptions, context: RequestContext, signal: AbortSignal): Promise<BuiltRequest> {
  const target = new URL(url);
  if (options.query !== undefined) applyQuery(target, await entries(options.query, context, 'query'));
  const headers = new Headers({ accept: 'text/event-stream' });
  if (options.headers !== undefined) {
    for (const [name, value] of await entries(options.headers, context, 'headers')) if (value !== undefined) headers.set(name, value);
  }
  // The server's position, not the caller's: it is what makes the resume exact.
  if (context.lastEventId) headers.set('last-event-id', context.lastEventId);
  const init: RequestInit & { duplex?: 'half' } = {
    method: options.method,
    headers,
    signal,
    cache: 'no-store',
    credentials: options.credentials,
  };
  if (options.body !== undefined) {
    const body: RequestBody = await evaluate(options.body, context);
    init.body = body;
    // A streamed body needs half-duplex (Chromium and Node.js refuse it otherwise).
    if (typeof ReadableStream === 'function' && body instanceof ReadableStream) init.duplex = 'half';
  }
  return { url: target.href, init };
}
