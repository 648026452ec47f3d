/**
 * One cleanup registry for every server, client, socket and child process a test opens.
 *
 * Importing the kit installs the hooks: what a test (or its `beforeEach`) registers is closed
 * after that test, failed or not; what a `beforeAll` registers is closed after the file. Cleanups
 * run newest first. A cleanup that fails because its resource is already gone is fine and is
 * ignored; a failed assertion inside a cleanup fails the test.
 */

type Cleanup = () => unknown;

const perTest: Cleanup[] = [];
const perFile: Cleanup[] = [];
let inTest = false;

/** Registers a cleanup: after the current test, or after the file outside a test. */
export function track(cleanup: Cleanup): void {
  (inTest ? perTest : perFile).push(cleanup);
}

async function drain(list: Cleanup[]): Promise<void> {
  let failure: unknown;
  while (list.length > 0) {
    const cleanup = list.pop()!;
    try {
      await cleanup();
    } catch (error) {
      // Closing something already gone is fine; an assertion that failed is not.
      if (failure === undefined && typeof error === 'object' && error !== null && 'matcherResult' in error) failure = error;
    }
  }
  if (failure !== undefined) throw failure;
}

/**
 * Closes what the current test registered. The kit calls it after every test; a file may
 * call it earlier, e.g. before checking that nothing is left open.
 */
export function closeAll(): Promise<void> {
  return drain(perTest);
}

// Jest globals exist only inside a test file: the kit can also be loaded by a plain script.
if (typeof beforeEach === 'function' && typeof afterEach === 'function' && typeof afterAll === 'function') {
  beforeEach(() => {
    inTest = true;
  });
  afterEach(async () => {
    try {
      await drain(perTest);
    } finally {
      inTest = false;
    }
  });
  afterAll(() => drain(perFile));
}
