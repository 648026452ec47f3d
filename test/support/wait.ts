/**
 * Bounded waits: a test awaits the state it expects and fails with a message saying what it
 * waited for, instead of sleeping and hoping.
 */

/** Rejects with a readable message when `promise` does not settle within `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what = 'operation'): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

/**
 * Resolves once `check` (sync or async) holds, checking again `everyMs` after each miss;
 * rejects after `ms` (default 2000). `everyMs` defaults to 2: use more when each check is a
 * network round trip.
 */
export async function waitFor(check: () => boolean | Promise<boolean>, ms = 2000, what = 'condition', everyMs = 2): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** A promise with its resolve and reject functions outside. */
export interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
}

/** Creates a {@link Deferred}. */
export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A queue whose `next()` waits (bounded) for the next pushed item. */
export class Inbox<T> {
  /** Every item pushed, in order (taken or not). */
  readonly items: T[] = [];
  private read = 0;
  private waiter: (() => void) | undefined;

  push(item: T): void {
    this.items.push(item);
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }

  /** Items pushed but not yet taken by {@link Inbox.next}. */
  get pending(): number {
    return this.items.length - this.read;
  }

  /** The next item not yet taken; rejects after `timeoutMs` (default 2000). */
  async next(timeoutMs = 2000, what = 'item'): Promise<T> {
    while (this.read >= this.items.length) {
      await withTimeout(new Promise<void>((resolve) => (this.waiter = resolve)), timeoutMs, what);
    }
    return this.items[this.read++]!;
  }
}
