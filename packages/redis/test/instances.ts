/**
 * App instances in their own Node processes (test/fixtures/instance.ts), driven over HTTP.
 */
import { join } from 'node:path';
import type { SseEvent } from '@ssekit/core';
import { connect, startProcess, waitFor, type Child, type SseClient } from '@ssekit/testkit';

const FIXTURES = join(__dirname, 'fixtures');

/** How long an instance may take to listen. */
export const START_TIMEOUT_MS = 60_000;

export interface BroadcastReply {
  status: number;
  body: { id?: string; name?: string; code?: string; stored?: false | 'unknown'; message?: string };
}

export class Instance {
  private constructor(
    private readonly child: Child,
    readonly port: number,
  ) {}

  /**
   * Starts an instance against Redis on `redisPort`; resolves once it listens. The bound is
   * generous: the process compiles the TypeScript sources first, which on a loaded machine
   * can take a while, and it is not what the tests measure.
   */
  static async start(redisPort: number, maxLen?: number): Promise<Instance> {
    const args = [join(FIXTURES, 'instance.ts'), String(redisPort)];
    if (maxLen !== undefined) args.push(String(maxLen));
    const child = startProcess(args[0]!, args.slice(1), { nodeArgs: ['-r', join(FIXTURES, 'register.cjs')], stdin: true, label: 'instance' });
    const [, port] = await child.waitForOutput(/\{"port":(\d+)\}/, START_TIMEOUT_MS);
    return new Instance(child, Number(port));
  }

  /** What the process wrote to stdout and stderr. */
  get output(): string {
    return this.child.output();
  }

  get alive(): boolean {
    return this.child.alive;
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  /** Opens an event stream on this instance and waits until it is registered. */
  async connect(topics: string[] = [], lastEventId?: string): Promise<SseClient> {
    const before = (await this.stats()).connections;
    const query = topics.length > 0 ? `?topics=${encodeURIComponent(topics.join(','))}` : '';
    const client = await connect(this.url(`/events${query}`), lastEventId === undefined ? {} : { 'last-event-id': lastEventId });
    if (client.status !== 200) throw new Error(`status ${client.status}`);
    await waitFor(async () => (await this.stats()).connections > before, 5000, 'the stream to be registered', 10);
    return client;
  }

  async broadcast(event: SseEvent, topic?: string): Promise<BroadcastReply> {
    const query = topic === undefined ? '' : `?topic=${encodeURIComponent(topic)}`;
    const response = await fetch(this.url(`/broadcast${query}`), { method: 'POST', body: JSON.stringify(event) });
    return { status: response.status, body: (await response.json()) as BroadcastReply['body'] };
  }

  async stats(): Promise<{ connections: number; errors: number }> {
    const response = await fetch(this.url('/stats'));
    return (await response.json()) as { connections: number; errors: number };
  }

  /**
   * Asks the instance to close everything, then waits for the process to exit by itself:
   * resolves with its exit code, or rejects (after killing it) if something kept it alive.
   */
  async close(timeoutMs = 10_000): Promise<number | null> {
    if (this.alive) this.child.child.stdin!.end('close\n');
    const exit = await this.child.stop({ message: null, signal: null, graceMs: timeoutMs });
    if (exit.forced) throw new Error(`instance did not exit within ${timeoutMs} ms after close():\n${this.output}`);
    return exit.code;
  }

  kill(): void {
    this.child.kill();
  }
}
