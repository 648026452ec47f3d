/**
 * Clients below `node:http`: requests written by hand on a socket (bytes `node:http` refuses
 * to send) and clients that stop reading on purpose. Closed by the cleanup registry.
 */
import { rawRequest as openRaw, streamRequest, type RawRequest } from '@ssekit/harness/raw';
import type { Socket } from 'node:net';
import { track } from './cleanup';
import { waitFor } from './wait';

export type { RawRequest };

/** Writes `request` on a new socket to 127.0.0.1:`port`; `response` resolves with every byte at the close. */
export function rawRequest(port: number, request: string | Uint8Array, options: { pause?: boolean } = {}): RawRequest {
  const raw = openRaw(port, request, options);
  track(() => raw.socket.destroy());
  return raw;
}

/** Waits until the bytes received on a raw socket contain `needle`; resolves with them as latin1. */
export async function rawWaitFor(raw: Pick<RawRequest, 'received'>, needle: string, ms = 5000): Promise<string> {
  await waitFor(() => raw.received().includes(needle), ms, `"${needle}" on the raw socket`);
  return raw.received().toString('latin1');
}

/** A client that stopped reading: `close()` drops it, `reset()` with a TCP reset. */
export interface StalledClient {
  socket: Socket;
  close(): void;
  reset(): void;
}

/** Sends a stream request for `url` and then never reads: its socket buffers fill up. */
export async function connectStalled(url: string, headers: Record<string, string> = {}): Promise<StalledClient> {
  const { port, pathname, search, host } = new URL(url);
  const raw = rawRequest(Number(port), streamRequest(`${pathname}${search}`, { Host: host, ...headers }), { pause: true });
  await raw.connected;
  return { socket: raw.socket, close: () => raw.socket.destroy(), reset: () => raw.socket.resetAndDestroy() };
}
