// One contract, two implementations: every behaviour below holds for the Redis bus and the
// in-process bus alike.
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { createMemoryBus, createRedisBus, type EventBus } from '../src/bus.js';

const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

type Factory = () => EventBus;
const prefix = `test:${randomBytes(4).toString('hex')}:`;
const implementations: Array<[string, Factory]> = [
  ['memory', () => createMemoryBus()],
  ['redis', () => createRedisBus({ url: redisUrl, prefix })],
];

const buses: EventBus[] = [];
afterEach(async () => {
  await Promise.all(buses.splice(0).map((b) => b.close()));
});

async function take<T>(iterable: AsyncIterable<T>, n: number, timeoutMs = 3000): Promise<T[]> {
  const out: T[] = [];
  const timer = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new Error(`only ${out.length}/${n} events arrived`)), timeoutMs),
  );
  const reading = (async () => {
    for await (const e of iterable) {
      out.push(e);
      if (out.length === n) break;
    }
    return out;
  })();
  return Promise.race([reading, timer]);
}

describe.each(implementations)('%s bus', (_name, make) => {
  const bus = () => {
    const b = make();
    buses.push(b);
    return b;
  };

  it('delivers every event published after `ready`, in order', async () => {
    const b = bus();
    const sub = b.subscribe<{ n: number }>('ch:order');
    await sub.ready;
    for (let n = 0; n < 200; n++) await b.publish('ch:order', { n });
    const got = await take(sub, 200);
    expect(got.map((e) => e.n)).toEqual([...Array(200).keys()]);
  });

  it('keeps the order of publishes issued together without waiting (auto-pipelined on Redis)', async () => {
    const b = bus();
    const sub = b.subscribe<{ n: number }>('ch:burst');
    await sub.ready;
    await Promise.all(Array.from({ length: 500 }, (_, n) => b.publish('ch:burst', { n })));
    const got = await take(sub, 500);
    expect(got.map((e) => e.n)).toEqual([...Array(500).keys()]);
  });

  it('gives each subscriber its own copy, and one leaving does not stop the other', async () => {
    const b = bus();
    const a = b.subscribe<{ v: number }>('ch:shared');
    const c = b.subscribe<{ v: number }>('ch:shared');
    await Promise.all([a.ready, c.ready]);
    const fromC = c[Symbol.asyncIterator]();
    await b.publish('ch:shared', { v: 1 });
    const [fromA] = await take(a, 1); // leaving the loop closes `a`
    const first = await fromC.next();
    expect(fromA).toEqual({ v: 1 });
    expect(first.value).toEqual({ v: 1 });
    fromA!.v = 99; // subscribers never share an object
    expect(first.value.v).toBe(1);
    await b.publish('ch:shared', { v: 2 });
    expect((await fromC.next()).value).toEqual({ v: 2 });
    c.close();
  });

  it('keeps channels apart', async () => {
    const b = bus();
    const one = b.subscribe('ch:one');
    await one.ready;
    await b.publish('ch:two', { wrong: true });
    await b.publish('ch:one', { right: true });
    expect(await take(one, 1)).toEqual([{ right: true }]);
  });

  it('does not replay events published before the subscription (callers backfill from storage)', async () => {
    const b = bus();
    await b.publish('ch:late', { early: true });
    const sub = b.subscribe('ch:late');
    await sub.ready;
    await b.publish('ch:late', { early: false });
    expect(await take(sub, 1)).toEqual([{ early: false }]);
  });

  it('ends the iteration on close() and on abort', async () => {
    const b = bus();
    const closed = b.subscribe('ch:end');
    await closed.ready;
    const done = take(closed, 5, 2000);
    closed.close();
    await expect(done).resolves.toEqual([]);

    const controller = new AbortController();
    const aborted = b.subscribe('ch:end', { signal: controller.signal });
    await aborted.ready;
    const stopped = take(aborted, 5, 2000);
    controller.abort();
    await expect(stopped).resolves.toEqual([]);
  });
});

describe('redis bus across processes', () => {
  it('fans an event out from one instance to subscribers of another', async () => {
    const publisher = createRedisBus({ url: redisUrl, prefix });
    const subscriber = createRedisBus({ url: redisUrl, prefix });
    buses.push(publisher, subscriber);
    const sub = subscriber.subscribe('ch:fanout');
    await sub.ready;
    await publisher.publish('ch:fanout', { hello: 'other instance' });
    expect(await take(sub, 1)).toEqual([{ hello: 'other instance' }]);
  });

  it('separates deployments by prefix', async () => {
    const mine = createRedisBus({ url: redisUrl, prefix: `${prefix}a:` });
    const theirs = createRedisBus({ url: redisUrl, prefix: `${prefix}b:` });
    buses.push(mine, theirs);
    const sub = mine.subscribe('ch:x');
    await sub.ready;
    await theirs.publish('ch:x', { from: 'b' });
    await mine.publish('ch:x', { from: 'a' });
    expect(await take(sub, 1)).toEqual([{ from: 'a' }]);
  });
});
