import { assertBuilt, connect, runScript, type RunningScript } from '@ssekit/testkit';

describe('examples/express', () => {
  let example: RunningScript;

  beforeAll(async () => {
    assertBuilt(['core', 'express']);
    example = await runScript('examples/express/server.mjs');
  });

  afterAll(async () => {
    await example?.stop('SIGKILL');
  });

  it('greets, streams the clock and delivers a notification to its user only', async () => {
    const ada = await connect(`${example.url}/events?user=ada`);
    const bob = await connect(`${example.url}/events?user=bob`);
    expect(ada.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    const welcome = await ada.waitFor((e) => e.event === 'welcome');
    expect(JSON.parse(welcome.data)).toEqual({ user: 'ada', resumed: false });
    await ada.waitFor((e) => e.event === 'time', 5000);

    const res = await fetch(`${example.url}/notify/ada`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'hello ada' }),
    });
    const { id } = (await res.json()) as { id: string };
    const note = await ada.waitFor((e) => e.event === 'notification');
    expect(note.id).toBe(id);
    expect(JSON.parse(note.data)).toEqual({ text: 'hello ada' });

    // bob is live too (he gets the clock after the notification) but never sees ada's note.
    const seq = (eventId: string): number => Number(eventId.slice(eventId.lastIndexOf('-') + 1));
    await bob.waitFor((e) => e.event === 'time' && seq(e.id!) > seq(id), 5000);
    expect(bob.events.filter((e) => e.event === 'notification')).toEqual([]);
    ada.close();
    bob.close();
  });

  it('answers 400 to an invalid user topic and exits cleanly on SIGTERM with a stream open', async () => {
    const bad = await fetch(`${example.url}/events?user=${'x'.repeat(300)}`);
    expect(bad.status).toBe(400);
    const open = await connect(`${example.url}/events?user=ada`);
    expect(await example.stop('SIGTERM')).toBe(0);
    open.close();
  });
});
