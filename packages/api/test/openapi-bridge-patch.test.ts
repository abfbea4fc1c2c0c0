// The REST bridge's per-call work that Woopdi patches out (patches/trpc-to-openapi@3.3.0.patch,
// issue #12): a procedure's input parsers are computed once, not merged into a new zod schema per
// call, and the call's abort signal is made without building a fetch Request. These pin what the
// patched functions must still do.
import { once } from 'node:events';
import { createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { initTRPC } from '@trpc/server';
import { getInputOutputParsers, getRequestSignal } from 'trpc-to-openapi';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';

const t = initTRPC.create();

describe('the patched REST bridge', () => {
  it('merges a procedure’s inputs once and still validates every part of them', () => {
    const gated = t.procedure
      .input(z.object({ organizationId: z.uuid() }))
      .input(z.object({ name: z.string() }));
    const procedure = gated.mutation(() => 'ok');
    const first = getInputOutputParsers(procedure as never);
    expect(getInputOutputParsers(procedure as never)).toBe(first);
    const parser = first.inputParser as z.ZodType;
    const organizationId = '7f1d2c3e-4b5a-4c6d-8e9f-0a1b2c3d4e5f';
    expect(parser.parse({ organizationId, name: 'Acme' })).toEqual({ organizationId, name: 'Acme' });
    expect(parser.safeParse({ organizationId }).success).toBe(false);
    expect(parser.safeParse({ organizationId: 'nope', name: 'Acme' }).success).toBe(false);
    // Another procedure gets its own parsers.
    const other = t.procedure.input(z.object({ id: z.string() })).query(() => 'ok');
    expect(getInputOutputParsers(other as never)).not.toBe(first);
  });

  it('aborts the call’s signal when the client goes away before the response, not after it ended', async () => {
    const signals: AbortSignal[] = [];
    const closed: string[] = [];
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      signals.push(getRequestSignal(req, res, undefined));
      res.once('close', () => closed.push(req.url ?? ''));
      if (req.url === '/answered') res.end('done');
      // '/abandoned' is never answered: the client goes away.
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    try {
      const answered = request({ port, host: '127.0.0.1', path: '/answered', agent: false });
      answered.end();
      const [res] = (await once(answered, 'response')) as [IncomingMessage];
      res.resume();
      await once(res, 'end');
      while (!closed.includes('/answered')) await new Promise((resolve) => setTimeout(resolve, 5));
      expect(signals[0]!.aborted).toBe(false);

      const abandoned = request({ port, host: '127.0.0.1', path: '/abandoned', agent: false });
      abandoned.on('error', () => undefined);
      abandoned.end();
      while (signals.length < 2) await new Promise((resolve) => setTimeout(resolve, 5));
      expect(signals[1]!.aborted).toBe(false);
      const aborted = once(signals[1]!, 'abort');
      abandoned.destroy();
      await aborted;
      expect(signals[1]!.aborted).toBe(true);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
