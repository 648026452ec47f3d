import { joinChunks } from './shared-bytes.js';

/**
 * Encoded events a connection holds back instead of writing them at once: during a coalescing
 * window, or while its client is behind and conflatable events arrive. Held events leave in
 * one write. A conflatable event (one with a key) replaces the held event of the same key,
 * which is dropped, and takes the newest place, so the ids a client sees still only grow.
 */
export class PendingWrites {
  /** Held events in order; `undefined` marks one that a newer event of its key replaced. */
  private items: (Uint8Array | undefined)[] = [];
  /** Conflation key to the index of its held event in {@link PendingWrites.items}. */
  private keys: Map<string, number> | undefined;
  /** Slots in {@link PendingWrites.items} that were replaced. */
  private holes = 0;
  /** Bytes held. */
  size = 0;

  /** True when nothing is held. */
  get empty(): boolean {
    return this.size === 0 && this.items.length === this.holes;
  }

  /** Bytes of the held event of `key` (what adding a new one with this key would free). */
  sizeOf(key: string): number {
    const index = this.keys?.get(key);
    return index === undefined ? 0 : this.items[index]!.length;
  }

  /** Holds one event; with a `key`, the held event of that key is dropped. */
  push(bytes: Uint8Array, key?: string): void {
    if (key !== undefined) {
      const keys = (this.keys ??= new Map());
      const index = keys.get(key);
      if (index !== undefined) {
        this.size -= this.items[index]!.length;
        this.items[index] = undefined;
        this.holes++;
      }
      keys.set(key, this.items.length);
    }
    this.items.push(bytes);
    this.size += bytes.length;
    // A reader that never catches up must not grow the array with holes: keep it at most twice
    // the events it holds.
    if (this.holes > 32 && this.holes * 2 > this.items.length) this.compact();
  }

  /** Everything held, as one chunk, in order; the queue is empty afterwards. */
  take(): Uint8Array {
    const items = this.items;
    let chunk: Uint8Array;
    if (this.holes === 0 && items.length === 1) chunk = items[0]!;
    else if (this.holes === 0) chunk = joinChunks(items as Uint8Array[], this.size);
    else {
      const parts: Uint8Array[] = [];
      for (const item of items) if (item !== undefined) parts.push(item);
      chunk = joinChunks(parts, this.size);
    }
    this.items = [];
    this.keys?.clear();
    this.holes = 0;
    this.size = 0;
    return chunk;
  }

  /** Drops everything held. */
  clear(): void {
    this.items = [];
    this.keys = undefined;
    this.holes = 0;
    this.size = 0;
  }

  private compact(): void {
    const kept: Uint8Array[] = [];
    const where = new Map<number, number>();
    for (let i = 0; i < this.items.length; i++) {
      const item = this.items[i];
      if (item === undefined) continue;
      where.set(i, kept.length);
      kept.push(item);
    }
    if (this.keys) for (const [key, index] of this.keys) this.keys.set(key, where.get(index)!);
    this.items = kept;
    this.holes = 0;
  }
}
