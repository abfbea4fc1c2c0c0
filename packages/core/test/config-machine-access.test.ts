// API key hashing and outbound webhook settings: defaults, parsing, and the production refusal.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { configError } from './config-error.js';

const PROD = {
  IS_PROD: 'true',
  JWT_SECRET: 'q7Vw2Lx9Pz4Rk8Tn3Hb6Jm1Yc5Fd0GsAeUiOpZ',
  ENCRYPTION_KEY: Buffer.from(Array.from({ length: 32 }, (_, i) => (31 + i * 7) % 256)).toString('base64'),
};

describe('webhook settings', () => {
  it('allow private targets in embedded mode only, by default', () => {
    expect(loadConfig({}).webhooks.allowPrivateTargets).toBe(true);
    expect(loadConfig({ DATABASE_URL: 'postgres://db/x' }).webhooks.allowPrivateTargets).toBe(false);
    expect(loadConfig(PROD).webhooks.allowPrivateTargets).toBe(false);
    expect(
      loadConfig({ DATABASE_URL: 'postgres://db/x', WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true' }).webhooks
        .allowPrivateTargets,
    ).toBe(true);
  });

  it('refuse WEBHOOK_ALLOW_PRIVATE_TARGETS=true in production, naming the variable', () => {
    expect(configError({ ...PROD, WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true' })).toContain(
      'WEBHOOK_ALLOW_PRIVATE_TARGETS',
    );
  });

  it('parse the retry schedule and the disable period, and explain a bad one', () => {
    const defaults = loadConfig({}).webhooks;
    const total = defaults.retryDelaysMs.reduce((a, b) => a + b, 0);
    expect(total / 3_600_000).toBeGreaterThan(20); // about a day
    expect(total / 3_600_000).toBeLessThan(28);
    expect(defaults.disableAfterMs).toBe(5 * 86_400_000);
    expect(defaults.timeoutMs).toBe(10_000);
    const custom = loadConfig({
      WEBHOOK_RETRY_SCHEDULE: '100ms, 2s,1m',
      WEBHOOK_DISABLE_AFTER: '90s',
    }).webhooks;
    expect(custom.retryDelaysMs).toEqual([100, 2_000, 60_000]);
    expect(custom.disableAfterMs).toBe(90_000);
    expect(configError({ WEBHOOK_RETRY_SCHEDULE: 'soon' })).toMatch(
      /^WEBHOOK_RETRY_SCHEDULE is invalid: give the delays/,
    );
    expect(configError({ WEBHOOK_TIMEOUT_MS: '50' })).toContain('WEBHOOK_TIMEOUT_MS');
  });
});

describe('API key settings', () => {
  it('derive the hash secret from JWT_SECRET unless API_KEY_HASH_SECRET is set', () => {
    const a = loadConfig({ JWT_SECRET: 'a'.repeat(40) }).apiKeyHashSecret;
    const b = loadConfig({ JWT_SECRET: 'b'.repeat(40) }).apiKeyHashSecret;
    expect(a.equals(b)).toBe(false);
    expect(a.length).toBe(32);
    const explicit = 'k'.repeat(40);
    expect(loadConfig({ API_KEY_HASH_SECRET: explicit }).apiKeyHashSecret.toString()).toBe(explicit);
    expect(configError({ API_KEY_HASH_SECRET: 'short' })).toContain('API_KEY_HASH_SECRET');
    expect(loadConfig({ RATE_LIMIT_API_KEY: '5/10' }).rateLimits.apiKey).toEqual({ points: 5, seconds: 10 });
  });
});
