/**
 * Coalescing of broadcast writes: the one place that decides when a connection's writes leave.
 *
 * The first broadcast a connection gets in a tick is written at once when its transport joins a
 * tick's writes by itself (Node's `res.write` does): most ticks carry one event, and corking it
 * would only add work. From the second one in the same tick on, the connection is corked, and
 * every corked connection is uncorked together when the tick ends, so a burst leaves in one
 * write per connection. A transport that writes through (a system call per write) is corked
 * from the first write of the tick instead.
 *
 * With a coalescing window (`coalesceMs`), a connection holds its writes itself, and one timer
 * per window length ends the window of every connection that wrote in it.
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
   * Corks the member when this write should wait, and uncorks it when the wait ends. With
   * `corkFirst`, the first write of the tick waits too.
   */
  beforeWrite(member: Corkable, stamp: number, corkFirst?: boolean): number;
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
    beforeWrite(member, stamp, corkFirst = false) {
      if (!scheduled) {
        scheduled = true;
        process.nextTick(endTick);
      }
      const wrote = tick * 2;
      if (stamp < wrote && !corkFirst) return wrote;
      if (stamp <= wrote) {
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

/**
 * The end of a coalescing window, keyed by a symbol so that only the window timer calls it.
 * Must not throw.
 */
export const kWindowEnd: unique symbol = Symbol('ssekit.windowEnd');
/** A member's place in its window's list, kept by the window. */
export const kWindowSlot: unique symbol = Symbol('ssekit.windowSlot');

/** What a coalescing window needs from a connection that holds writes in it. */
export interface WindowMember {
  /** The window this member joined has ended: its held writes may leave. */
  [kWindowEnd](): void;
  /** Where the member is in its window's list; set by {@link joinWindow}. */
  [kWindowSlot]: number;
}

/** The open window of one window length. */
interface OpenWindow {
  readonly members: WindowMember[];
  readonly timer: NodeJS.Timeout;
}

/** The open window of each window length. */
const windows = new Map<number, OpenWindow>();

/**
 * Adds `member` to the open window of `windowMs` milliseconds, opening one when there is none.
 * One timer serves every member of a window length, whatever the number of connections; a
 * window opens with its first member, so no write waits longer than `windowMs`. A member joins
 * at most once per window (the caller tracks that).
 */
export function joinWindow(member: WindowMember, windowMs: number): void {
  const open = windows.get(windowMs);
  if (open !== undefined) {
    member[kWindowSlot] = open.members.length;
    open.members.push(member);
    return;
  }
  member[kWindowSlot] = 0;
  windows.set(windowMs, { members: [member], timer: setTimeout(endWindow, windowMs, windowMs) });
}

/**
 * Takes a member that closed out of its window at once (it is not called at the window's end),
 * and stops the window's timer when it was the last member.
 */
export function leaveWindow(member: WindowMember, windowMs: number): void {
  const open = windows.get(windowMs);
  if (open === undefined) return;
  const members = open.members;
  const slot = member[kWindowSlot];
  if (members[slot] !== member) return;
  const last = members.pop()!;
  if (last !== member) {
    members[slot] = last;
    last[kWindowSlot] = slot;
  }
  if (members.length === 0) {
    clearTimeout(open.timer);
    windows.delete(windowMs);
  }
}

function endWindow(windowMs: number): void {
  const open = windows.get(windowMs);
  windows.delete(windowMs);
  if (open === undefined) return;
  for (const member of open.members) member[kWindowEnd]();
}

/** Open windows and the members waiting in them, over every window length (for leak tests). */
export function windowStats(): { windows: number; members: number } {
  let members = 0;
  for (const open of windows.values()) members += open.members.length;
  return { windows: windows.size, members };
}
