// tRPC copies call options and context at every middleware level with a spread helper that
// Woopdi patches for speed (patches/@trpc__server@11.25.2.patch, issue #11). These pin what the
// patched helper must still do exactly as a spread.
import { initTRPC } from '@trpc/server';
import { describe, expect, it } from 'vitest';

const t = initTRPC.context<Record<string, unknown>>().create();

describe('the patched tRPC spread', () => {
  it('merges a middleware context over the previous one, keeping the rest', async () => {
    const router = t.router({
      who: t.procedure
        .use(({ next }) => next({ ctx: { a: 1, b: 1 } }))
        .use(({ next }) => next({ ctx: { b: 2, [Symbol.for('s')]: 3 } }))
        .query(({ ctx }) => ({
          base: (ctx as { base?: boolean }).base,
          a: ctx.a,
          b: ctx.b,
          s: ctx[Symbol.for('s') as never],
        })),
    });
    expect(await router.createCaller({ base: true }).who()).toEqual({ base: true, a: 1, b: 2, s: 3 });
  });

  it('keeps a "__proto__" key from JSON a plain property: no context gets another prototype', async () => {
    const router = t.router({
      probe: t.procedure
        .use(({ next }) => next({ ctx: JSON.parse('{"__proto__": {"isAdmin": true}, "y": 2}') }))
        .query(({ ctx }) => ({
          plainPrototype: Object.getPrototypeOf(ctx) === Object.prototype,
          isAdmin: (ctx as { isAdmin?: boolean }).isAdmin,
          ownProto: Object.hasOwn(ctx, '__proto__'),
        })),
    });
    expect(await router.createCaller({}).probe()).toEqual({
      plainPrototype: true,
      isAdmin: undefined,
      ownProto: true,
    });
    expect(({} as { isAdmin?: boolean }).isAdmin).toBeUndefined();
  });
});
