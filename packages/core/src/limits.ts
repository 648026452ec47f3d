/**
 * Admission: how many streams may be open at once, in all and per client address. A stream
 * holds its slot from the moment it is admitted (while it is authorized and opened, too) until
 * it closes or is refused.
 */
import { SseHttpError } from './errors.js';

/** Gives back the slot {@link ConnectionLimits.admit} took. Calling it again does nothing. */
export type ReleaseSlot = () => void;

const noop: ReleaseSlot = () => {};

/** The limits of one handler. */
export class ConnectionLimits {
  private readonly maxConnections: number | undefined;
  private readonly maxPerIp: number | undefined;
  private readonly retryAfter: string;
  private active = 0;
  private readonly perIp = new Map<string, number>();

  /**
   * @param maxConnections - streams at once; over it: 503. Unlimited when `undefined`.
   * @param maxPerIp - streams at once per address; over it: 429. Unlimited when `undefined`.
   * @param retryAfter - the `Retry-After` value of a refusal.
   */
  constructor(maxConnections: number | undefined, maxPerIp: number | undefined, retryAfter: string) {
    this.maxConnections = maxConnections;
    this.maxPerIp = maxPerIp;
    this.retryAfter = retryAfter;
  }

  /** True when admission needs the client's address. */
  get perAddress(): boolean {
    return this.maxPerIp !== undefined;
  }

  /**
   * Takes a slot for a stream from `ip` (`'unknown'` when the address is not known).
   * @returns the one-shot release of that slot.
   * @throws {SseHttpError} 503 when all slots are taken, 429 when `ip`'s are.
   */
  admit(ip: string | undefined): ReleaseSlot {
    if (this.maxConnections === undefined && this.maxPerIp === undefined) return noop;
    if (this.maxConnections !== undefined && this.active >= this.maxConnections) {
      throw new SseHttpError(503, 'Too many open event streams', { 'Retry-After': this.retryAfter });
    }
    const address = this.maxPerIp === undefined ? undefined : (ip ?? 'unknown');
    if (address !== undefined) {
      const n = this.perIp.get(address) ?? 0;
      if (n >= this.maxPerIp!) {
        throw new SseHttpError(429, 'Too many open event streams from this address', { 'Retry-After': this.retryAfter });
      }
      this.perIp.set(address, n + 1);
    }
    this.active++;
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.active--;
      if (address === undefined) return;
      const n = (this.perIp.get(address) ?? 1) - 1;
      if (n <= 0) this.perIp.delete(address);
      else this.perIp.set(address, n);
    };
  }
}
