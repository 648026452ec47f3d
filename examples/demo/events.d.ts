/**
 * The demo's events, by name: what `server.mjs` broadcasts and what `public/app.js` receives.
 * The page's stream is typed with it (`connect<DemoEvents>()`), so a listener for an event the
 * server does not send, or a field it does not have, fails `npm run typecheck`.
 */

/** What every broadcast carries: its topic, its number in broadcast order, and when it was sent. */
export interface Stamp {
  topic: string;
  n: number;
  at: number;
}

export interface Quote {
  symbol: string;
  price: number;
  /** Change since the opening price, in percent. */
  change: number;
}

export interface DemoEvents {
  /** Every listing's quote, every `tickMs`, on topic `ticker`. */
  tick: Stamp & { quotes: Quote[] };
  /** A chat message, on topic `chat`. */
  chat: Stamp & { name: string; text: string };
  /**
   * Sent (without an id) once a stream's replay has been written: `liveAfter` is the last `n`
   * broadcast before the stream was registered.
   */
  hello: { client: string; topics: string[]; liveAfter: number; resumedAfter: string | null; gap: boolean };
}
