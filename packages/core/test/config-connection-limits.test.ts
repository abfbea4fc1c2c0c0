// WS_MAX_PER_USER, WS_MAX_PER_ADDRESS and WS_FIRST_MESSAGE_TIMEOUT_MS: open websockets and SSE
// streams per api process (issue #14; enforced in packages/server/src/socket-limits.ts).
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { configError } from './config-error.js';

describe('connection limits', () => {
  it('default to 20 per user, 200 per address and 5 s for a /trpc socket to speak', () => {
    expect(loadConfig({}).connectionLimits).toEqual({
      maxPerUser: 20,
      maxPerAddress: 200,
      firstMessageTimeoutMs: 5_000,
    });
    // An empty variable (a copied .env.example) is unset.
    expect(loadConfig({ WS_MAX_PER_USER: '' }).connectionLimits.maxPerUser).toBe(20);
  });

  it('take whole numbers within their bounds', () => {
    const limits = loadConfig({
      WS_MAX_PER_USER: '1',
      WS_MAX_PER_ADDRESS: '1000000',
      WS_FIRST_MESSAGE_TIMEOUT_MS: '100',
    }).connectionLimits;
    expect(limits).toEqual({ maxPerUser: 1, maxPerAddress: 1_000_000, firstMessageTimeoutMs: 100 });
  });

  it.each([
    ['WS_MAX_PER_USER', '0', /one user may have open.*from 1 to 100000 \(default 20\)/],
    ['WS_MAX_PER_USER', 'many', /one user may have open/],
    ['WS_MAX_PER_USER', '2.5', /a whole number/],
    ['WS_MAX_PER_ADDRESS', '1000001', /one client address may have open.*\(default 200\)/],
    ['WS_FIRST_MESSAGE_TIMEOUT_MS', '10', /first message .*from 100 to 600000 \(default 5000\)/],
    ['WS_FIRST_MESSAGE_TIMEOUT_MS', '5s', /first message/],
  ])('%s=%j is refused with one line naming it and what to give', (name, value, what) => {
    const message = configError({ [name]: value });
    expect(message).toMatch(new RegExp(`^${name} is invalid: `));
    expect(message).toMatch(what);
    expect(message).not.toContain('\n');
  });
});
