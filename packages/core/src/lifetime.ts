/**
 * Deadlines of streams (`maxLifetimeMs`, the `expiresAt` that `authorize` returns) on one
 * shared timer: a timer wheel of fixed slots, so that a handler with any number of streams
 * runs one interval, and only while some stream has a deadline. A deadline never fires early;
 * it fires at most one slot late.
 */

/** Slot width of a handler's wheel, in milliseconds, when no lifetime asks for a finer one. */
export const DEFAULT_DEADLINE_RESOLUTION_MS = 250;

/** Deadlines of items of type `T`, each expired once through the callback. */
export class Deadlines<T> {
  private readonly resolutionMs: number;
  private readonly expire: (item: T) => void;
  /** Items by slot number (deadline / resolution, rounded up). */
  private readonly slots = new Map<number, Set<T>>();
  private readonly slotOf = new Map<T, number>();
  private timer: NodeJS.Timeout | undefined;
  /** The first slot not yet expired. */
  private nextSlot = 0;

  /**
   * @param resolutionMs - slot width: how late (at most) a deadline fires.
   * @param expire - called once per item when its deadline has passed; must not throw.
   */
  constructor(resolutionMs: number, expire: (item: T) => void) {
    this.resolutionMs = resolutionMs;
    this.expire = expire;
  }

  /** Items waiting for their deadline. */
  get size(): number {
    return this.slotOf.size;
  }

  /** True while the shared timer runs. */
  get running(): boolean {
    return this.timer !== undefined;
  }

  /** Expires `item` at `atMs` (a `Date.now()` time), or at the next tick if that has passed. Replaces an earlier deadline of the same item. */
  add(item: T, atMs: number): void {
    this.delete(item);
    if (this.timer === undefined) {
      this.nextSlot = Math.floor(Date.now() / this.resolutionMs);
      this.timer = setInterval(() => this.tick(), this.resolutionMs);
      // Deadlines alone must never keep a process alive.
      this.timer.unref();
    }
    const slot = Math.max(this.nextSlot, Math.ceil(atMs / this.resolutionMs));
    let items = this.slots.get(slot);
    if (items === undefined) {
      items = new Set();
      this.slots.set(slot, items);
    }
    items.add(item);
    this.slotOf.set(item, slot);
  }

  /** Forgets `item`'s deadline; the timer stops when none is left. */
  delete(item: T): void {
    const slot = this.slotOf.get(item);
    if (slot === undefined) return;
    this.slotOf.delete(item);
    const items = this.slots.get(slot);
    items?.delete(item);
    if (items?.size === 0) this.slots.delete(slot);
    if (this.slotOf.size === 0) this.stop();
  }

  /** Forgets every deadline and stops the timer. */
  clear(): void {
    this.slots.clear();
    this.slotOf.clear();
    this.stop();
  }

  private tick(): void {
    const now = Math.floor(Date.now() / this.resolutionMs);
    for (; this.nextSlot <= now; this.nextSlot++) {
      const due = this.slots.get(this.nextSlot);
      if (due === undefined) continue;
      this.slots.delete(this.nextSlot);
      for (const item of due) {
        this.slotOf.delete(item);
        this.expire(item);
      }
    }
    if (this.slotOf.size === 0) this.stop();
  }

  private stop(): void {
    if (this.timer === undefined) return;
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
