/**
 * Pacing of new streams (`maxConnectsPerSecond`): a token bucket, and the `retry:` hint that
 * spreads the connects it turns away.
 *
 * A deploy or a network blip makes every client reconnect at once. A 503 would stop native
 * EventSource clients for good (the spec fails the connection on any status but 200), so a
 * connect past the rate is answered 200 with a `retry:` hint and an ended stream: the browser
 * comes back after the hint. The hints are spread at random over a window as long as the
 * backlog needs at the configured rate, so the clients turned away come back at about that rate.
 *
 * @see https://html.spec.whatwg.org/multipage/server-sent-events.html#processing-model
 */

/** The shortest `retry:` hint, in milliseconds. */
const MIN_RETRY_MS = 500;
/** The shortest window the hints are spread over, in milliseconds. */
const MIN_WINDOW_MS = 1000;

/** Admits at most `rate` connects per second (bursts up to one second's worth). */
export class ConnectPacer {
  readonly rate: number;
  private tokens: number;
  private last: number;
  /** Connects turned away recently, decaying by half every second: the backlog to spread. */
  private backlog = 0;
  private backlogAt: number;
  private readonly now: () => number;
  private readonly random: () => number;

  constructor(rate: number, now: () => number = Date.now, random: () => number = Math.random) {
    this.rate = rate;
    this.now = now;
    this.random = random;
    this.tokens = rate;
    this.last = now();
    this.backlogAt = this.last;
  }

  /** True when a connect may go ahead now (it takes a token). */
  admit(): boolean {
    const now = this.now();
    this.tokens = Math.min(this.rate, this.tokens + ((now - this.last) * this.rate) / 1000);
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    return false;
  }

  /**
   * The `retry:` hint for a connect turned away: at random over a window long enough for the
   * recent backlog to come back at the rate (at least a second), starting at 500 ms.
   */
  retryMs(): number {
    const now = this.now();
    this.backlog = this.backlog * 0.5 ** ((now - this.backlogAt) / 1000) + 1;
    this.backlogAt = now;
    const window = Math.max(MIN_WINDOW_MS, Math.ceil((this.backlog / this.rate) * 1000));
    return MIN_RETRY_MS + Math.floor(this.random() * window);
  }
}
