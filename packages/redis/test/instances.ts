/**
 * App instances in their own Node processes (test/fixtures/instance.ts), driven over HTTP.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { SseEvent } from '@ssekit/core';
import { SseClient } from './sse-client';

const FIXTURES = join(__dirname, 'fixtures');

export interface BroadcastReply {
  status: number;
  body: { id?: string; name?: string; code?: string; stored?: false | 'unknown'; message?: string };
}

export class Instance {
  private exited: Promise<number | null>;
  stderr = '';

  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
  ) {
    this.exited = new Promise((resolve) => {
      if (child.exitCode !== null) resolve(child.exitCode);
      else child.once('exit', (code) => resolve(code));
    });
  }

  /** Starts an instance against Redis on `redisPort`; resolves once it listens. */
  static async start(redisPort: number, maxLen?: number): Promise<Instance> {
    const args = ['-r', join(FIXTURES, 'register.cjs'), join(FIXTURES, 'instance.ts'), String(redisPort)];
    if (maxLen !== undefined) args.push(String(maxLen));
    const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => (stderr += chunk));
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`instance did not start:\n${stderr}`)), 20_000);
      const lines = createInterface({ input: child.stdout! });
      lines.once('line', (line) => {
        clearTimeout(timer);
        resolve((JSON.parse(line) as { port: number }).port);
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`instance exited with ${code}:\n${stderr}`));
      });
    });
    const instance = new Instance(child, port);
    child.stderr!.on('data', (chunk: string) => (instance.stderr += chunk));
    instance.stderr = stderr;
    return instance;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  /** Opens an event stream on this instance and waits until it is registered. */
  async connect(topics: string[] = [], lastEventId?: string): Promise<SseClient> {
    const before = (await this.stats()).connections;
    const query = topics.length > 0 ? `?topics=${encodeURIComponent(topics.join(','))}` : '';
    const client = await SseClient.connect(this.url(`/events${query}`), lastEventId);
    const deadline = Date.now() + 5000;
    while ((await this.stats()).connections <= before) {
      if (Date.now() > deadline) throw new Error('stream was not registered');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
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
    if (!this.alive) return this.exited;
    this.child.stdin!.end('close\n');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const result = await Promise.race([this.exited, timeout]);
    clearTimeout(timer);
    if (result === 'timeout') {
      this.child.kill('SIGKILL');
      throw new Error(`instance did not exit within ${timeoutMs} ms after close():\n${this.stderr}`);
    }
    return result;
  }

  kill(): void {
    if (this.alive) this.child.kill('SIGKILL');
  }
}
