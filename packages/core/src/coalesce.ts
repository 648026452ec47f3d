/**
 * Coalescing of broadcast writes: the one place that decides when a connection's writes leave.
 *
 * The first broadcast a connection gets in a tick is written at once: most ticks carry one
 * event, and corking it would only add work. From the second one in the same tick on, the
 * connection is corked, and every corked connection is uncorked together when the tick ends, so
 * a burst leaves in one write per connection.
 */

/** The cork a {@link Coalescer} works, keyed by symbols so that only the coalescer calls it. */
export const kCork: unique symbol = Symbol('ssekit.cork');
/** See {@link kCork}. */
export const kUncork: unique symbol = Symbol('ssekit.uncork');

/** What the coalescer needs from a connection. */
export interface Corkable {
  /** Holds the connection's writes until {@link Corkable[kUncork]}. */
  [kCork](): void;
  /** Lets the held writes leave. Must not throw. */
  [kUncork](): void;
}

/** Decides, per broadcast write, whether a connection's writes are held back for a while. */
export interface Coalescer {
  /**
   * Called before each broadcast write to `member`. `stamp` is what this returned for the
   * member's previous write (`-1` before the first); the result is passed on the next write.
   * Corks the member when this write should wait, and uncorks it when the wait ends.
   */
  beforeWrite(member: Corkable, stamp: number): number;
}

/** The stamp of a connection that has not had a broadcast write yet. */
export const NO_STAMP = -1;

/**
 * A coalescer over the ticks of the event loop. A stamp is `2 * tick` for a member that wrote
 * once in that tick and `2 * tick + 1` for one that is corked, so no per-member state lives here.
 */
export function createCoalescer(): Coalescer {
  let tick = 0;
  let scheduled = false;
  let corked: Corkable[] = [];

  const endTick = (): void => {
    tick++;
    scheduled = false;
    const list = corked;
    if (list.length === 0) return;
    corked = [];
    for (const member of list) member[kUncork]();
  };

  return {
    beforeWrite(member, stamp) {
      if (!scheduled) {
        scheduled = true;
        process.nextTick(endTick);
      }
      const wrote = tick * 2;
      if (stamp < wrote) return wrote;
      if (stamp === wrote) {
        // A second event in this tick: hold this one and the rest until the tick ends.
        member[kCork]();
        corked.push(member);
        return wrote + 1;
      }
      return stamp;
    },
  };
}

/** The process-wide coalescer every connection uses (one per copy of this package). */
export const defaultCoalescer: Coalescer = createCoalescer();
