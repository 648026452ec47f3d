/**
 * Heartbeats on shared timers: one interval per distinct period serves every connection using
 * that period, instead of a timer per connection. A member that wrote anything since the last
 * tick is skipped: its own traffic already keeps proxies awake.
 */

/** The method the scheduler calls, keyed by a symbol so that only the scheduler calls it. */
export const kHeartbeat: unique symbol = Symbol('ssekit.heartbeat');

/** What the scheduler needs from a connection. */
export interface HeartbeatMember {
  /** Called once per period; returns nothing, and must not throw. */
  [kHeartbeat](): void;
}

interface Group {
  readonly members: Set<HeartbeatMember>;
  readonly timer: NodeJS.Timeout;
}

const groups = new Map<number, Group>();

function tick(periodMs: number): void {
  const group = groups.get(periodMs);
  if (!group) return;
  for (const member of group.members) member[kHeartbeat]();
}

/** Adds a member to the shared timer of `periodMs`, starting the timer if needed. */
export function joinHeartbeat(member: HeartbeatMember, periodMs: number): void {
  let group = groups.get(periodMs);
  if (!group) {
    const timer = setInterval(tick, periodMs, periodMs);
    // Heartbeats alone must never keep a process alive.
    timer.unref();
    group = { members: new Set(), timer };
    groups.set(periodMs, group);
  }
  group.members.add(member);
}

/** Removes a member; the timer stops when its last member leaves. */
export function leaveHeartbeat(member: HeartbeatMember, periodMs: number): void {
  const group = groups.get(periodMs);
  if (!group) return;
  group.members.delete(member);
  if (group.members.size === 0) {
    clearInterval(group.timer);
    groups.delete(periodMs);
  }
}

/** Number of live heartbeat timers and members, for leak tests and diagnostics. */
export function heartbeatStats(): { timers: number; members: number } {
  let members = 0;
  for (const group of groups.values()) members += group.members.size;
  return { timers: groups.size, members };
}
