import { Deadlines } from '../src/lifetime';

describe('Deadlines (one shared timer for every deadline)', () => {
  it('fires each item once, never early, and stops its timer when empty', async () => {
    const fired: [string, number][] = [];
    const d = new Deadlines<string>(10, (item) => fired.push([item, Date.now()]));
    const now = Date.now();
    d.add('a', now + 30);
    d.add('b', now + 60);
    d.add('c', now + 60);
    d.add('gone', now + 40);
    d.delete('gone');
    expect(d.running).toBe(true);
    expect(d.size).toBe(3);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(fired.map(([item]) => item).sort()).toEqual(['a', 'b', 'c']);
    expect(fired.find(([i]) => i === 'a')![1]).toBeGreaterThanOrEqual(now + 30);
    expect(fired.find(([i]) => i === 'b')![1]).toBeGreaterThanOrEqual(now + 60);
    expect(d.running).toBe(false);
    expect(d.size).toBe(0);
  });

  it('a deadline already past fires on the next tick; delete of the last one stops the timer', async () => {
    const fired: string[] = [];
    const d = new Deadlines<string>(10, (item) => fired.push(item));
    d.add('late', Date.now() - 1000);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(fired).toEqual(['late']);
    d.add('x', Date.now() + 10_000);
    expect(d.running).toBe(true);
    d.delete('x');
    expect(d.running).toBe(false);
  });
});
