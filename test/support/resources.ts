/** What the process holds, for leak checks: a test compares a count before and after. */

/** Active resources (sockets, timers, ...) by kind, from `process.getActiveResourcesInfo()`. */
export function activeResources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
}
