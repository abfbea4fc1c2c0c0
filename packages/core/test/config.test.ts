import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, withWebClientUrl } from '../src/config.js';

// Fixed, obviously-random production values, so no test depends on chance.
const STRONG_JWT = 'q7Vw2Lx9Pz4Rk8Tn3Hb6Jm1Yc5Fd0GsAeUiOpZ';
const keyBytes = (seed: number) =>
  Buffer.from(Array.from({ length: 32 }, (_, i) => (seed * 31 + i * 7) % 256));
const KEY_A = keyBytes(1).toString('base64');
const KEY_B = keyBytes(2).toString('base64');
const PROD = { IS_PROD: 'true', JWT_SECRET: STRONG_JWT, ENCRYPTION_KEY: KEY_A };

/** The ConfigError that loadConfig throws for `env`; fails the test when it does not throw one. */
function configError(env: Record<string, string | undefined>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    const e = error as ConfigError;
    // The process prints this at start: one line, naming the variable and the fix.
    expect(e.message).not.toContain('\n');
    return e;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('development defaults', () => {
  it('an empty environment gives a working development config', () => {
    const config = loadConfig({});
    expect(config.isProd).toBe(false);
    expect(config.port).toBe(8000);
    expect(config.logLevel).toBe('info');
    expect(config.webClientUrl).toBe('http://localhost:3000');
    expect(config.corsOrigins).toEqual(['http://localhost:3000']);
    expect(config.databaseUrl).toBeUndefined();
    expect(config.redisUrl).toBeUndefined();
  });

  it('without SendGrid, mail goes to the outbox; without Stripe, billing is off', () => {
    const config = loadConfig({});
    expect(config.sendgrid).toBeUndefined();
    expect(config.mailFrom).toBe('no-reply@woopdi.local');
    expect(config.stripe).toBeUndefined();
    expect(config.gcs).toBeUndefined();
  });

  it('development uses the labelled dev JWT secret and a single 32-byte dev encryption key', () => {
    const config = loadConfig({});
    expect(config.jwt.secret).toMatch(/dev/);
    expect(config.jwt.secret.length).toBeGreaterThanOrEqual(32);
    expect(config.encryptionKeys).toHaveLength(1);
    expect(config.encryptionKeys[0]!.id).toBe('dev');
    expect(config.encryptionKeys[0]!.key).toHaveLength(32);
  });

  it('empty variables (a copied .env.example) count as unset', () => {
    const config = loadConfig({
      PORT: '',
      API_HOST: '',
      WEB_CLIENT_URL: '',
      SENDGRID_API_KEY: '',
      SENDGRID_FROM_EMAIL: '',
      REDIS_HOST: 'redis.internal',
      REDIS_PORT: '',
      IS_PROD: '',
    });
    expect(config.port).toBe(8000);
    expect(config.apiHost).toBeUndefined();
    expect(config.webClientUrl).toBe('http://localhost:3000');
    expect(config.sendgrid).toBeUndefined();
    expect(config.redisUrl).toBe('redis://redis.internal:6379');
    expect(config.isProd).toBe(false);
  });
});

describe('the web app address', () => {
  it('a process serving the app itself points the default WEB_CLIENT_URL and CORS at its own address', () => {
    const config = withWebClientUrl(loadConfig({}), 'http://localhost:8000/');
    expect(config.webClientUrl).toBe('http://localhost:8000');
    expect(config.corsOrigins).toEqual(['http://localhost:8000']);
  });

  it('an explicit WEB_CLIENT_URL wins, and CORS_ORIGINS stays as given', () => {
    const set = withWebClientUrl(
      loadConfig({ WEB_CLIENT_URL: 'https://app.woopdi.test' }),
      'http://localhost:8000',
    );
    expect(set.webClientUrl).toBe('https://app.woopdi.test');
    expect(set.corsOrigins).toEqual(['https://app.woopdi.test']);
    const cors = withWebClientUrl(
      loadConfig({ CORS_ORIGINS: 'https://a.test,https://b.test' }),
      'http://localhost:8000',
    );
    expect(cors.webClientUrl).toBe('http://localhost:8000');
    expect(cors.corsOrigins).toEqual(['https://a.test', 'https://b.test']);
  });

  it('an empty WEB_CLIENT_URL (a copied .env.example) counts as unset', () => {
    expect(withWebClientUrl(loadConfig({ WEB_CLIENT_URL: '' }), 'http://127.0.0.1:9000').webClientUrl).toBe(
      'http://127.0.0.1:9000',
    );
  });
});

describe('production refuses missing, weak and default secrets', () => {
  it('strong secrets load in production', () => {
    const config = loadConfig(PROD);
    expect(config.isProd).toBe(true);
    expect(config.jwt.secret).toBe(STRONG_JWT);
    expect(config.encryptionKeys[0]!.key.equals(keyBytes(1))).toBe(true);
  });

  it('IS_PROD=true without JWT_SECRET stops with one line naming JWT_SECRET and the fix', () => {
    const e = configError({ ...PROD, JWT_SECRET: undefined });
    expect(e.message).toMatch(/^JWT_SECRET /);
    expect(e.message).toMatch(/IS_PROD=true/);
    expect(e.message).toMatch(/at least 32 characters/);
    expect(e.message).toMatch(/openssl rand/);
  });

  it.each([
    ['a short secret', 'tooshort-but-random-X7q'],
    ['the development default', loadConfig({}).jwt.secret],
    ['a change-me placeholder', 'change-me-change-me-change-me-change-me'],
    ['a secret that says "secret"', 'my-super-secret-jwt-key-for-production-use'],
  ])('IS_PROD=true refuses %s as JWT_SECRET', (_label, secret) => {
    const e = configError({ ...PROD, JWT_SECRET: secret });
    expect(e.message).toMatch(/^JWT_SECRET is too weak/);
    expect(e.message).toMatch(/openssl rand/);
  });

  it('IS_PROD=true without ENCRYPTION_KEY stops naming ENCRYPTION_KEY', () => {
    const e = configError({ ...PROD, ENCRYPTION_KEY: undefined });
    expect(e.message).toMatch(/^ENCRYPTION_KEY is required when IS_PROD=true/);
    expect(e.message).toMatch(/openssl rand -base64 32/);
  });

  it('IS_PROD=true refuses the development encryption key, whatever its id', () => {
    const dev = loadConfig({}).encryptionKeys[0]!;
    const devB64 = dev.key.toString('base64');
    for (const value of [`dev:${devB64}`, devB64, `k9:${devB64}`, `new:${KEY_A},dev:${devB64}`]) {
      expect(configError({ ...PROD, ENCRYPTION_KEY: value }).message).toMatch(
        /^ENCRYPTION_KEY is the development default/,
      );
    }
  });

  it('IS_PROD=true refuses a constant-byte encryption key, current or old', () => {
    const zeros = Buffer.alloc(32).toString('base64');
    const sevens = Buffer.alloc(32, 7).toString('base64');
    expect(configError({ ...PROD, ENCRYPTION_KEY: zeros }).message).toMatch(/^ENCRYPTION_KEY is too weak/);
    expect(configError({ ...PROD, ENCRYPTION_KEY: `new:${KEY_A},old:${sevens}` }).message).toMatch(
      /^ENCRYPTION_KEY is too weak/,
    );
  });

  it('outside production the same weak secrets are accepted', () => {
    expect(() =>
      loadConfig({ JWT_SECRET: 'short', ENCRYPTION_KEY: Buffer.alloc(32).toString('base64') }),
    ).not.toThrow();
  });
});

describe('invalid values name the variable', () => {
  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['WEB_CLIENT_URL', 'not a url'],
    // zod alone takes "localhost:8000" for a URL with the scheme "localhost:".
    ['API_HOST', 'localhost:8000'],
    ['WEB_CLIENT_URL', 'ftp://files.woopdi.test'],
    ['IS_PROD', 'yes'],
    ['LOG_LEVEL', 'loud'],
    ['SENDGRID_FROM_EMAIL', 'not-an-email'],
  ])('%s=%j is refused with a message naming the variable', (name, value) => {
    const e = configError({ [name]: value });
    expect(e.message).toMatch(new RegExp(`^${name} is invalid: `));
    expect(e.message).toMatch(/Fix it in your environment or \.env file\.$/);
  });

  it('a URL message shows an example of a valid value', () => {
    expect(configError({ WEB_CLIENT_URL: 'nope' }).message).toContain('http://localhost:3000');
  });

  it('a trailing slash is dropped from URLs', () => {
    const config = loadConfig({
      WEB_CLIENT_URL: 'https://app.woopdi.test/',
      API_HOST: 'https://api.woopdi.test//',
    });
    expect(config.webClientUrl).toBe('https://app.woopdi.test');
    expect(config.apiHost).toBe('https://api.woopdi.test');
    expect(config.corsOrigins).toEqual(['https://app.woopdi.test']);
  });

  it('SENDGRID_API_KEY without SENDGRID_FROM_EMAIL is refused, naming SENDGRID_FROM_EMAIL', () => {
    const e = configError({ SENDGRID_API_KEY: 'SG.key' });
    expect(e.message).toMatch(/^SENDGRID_FROM_EMAIL is required when SENDGRID_API_KEY is set/);
  });

  it('SENDGRID_API_KEY with SENDGRID_FROM_EMAIL turns SendGrid on', () => {
    const config = loadConfig({ SENDGRID_API_KEY: 'SG.key', SENDGRID_FROM_EMAIL: 'hello@woopdi.test' });
    expect(config.sendgrid).toEqual({ apiKey: 'SG.key', fromEmail: 'hello@woopdi.test' });
    expect(config.mailFrom).toBe('hello@woopdi.test');
  });
});

describe('connection URLs', () => {
  it('POSTGRES_* builds DATABASE_URL with the credentials URL-encoded', () => {
    const password = 'p@ss:w/rd #%?';
    const config = loadConfig({
      POSTGRES_HOST: 'db.internal',
      POSTGRES_PORT: '6543',
      POSTGRES_USER: 'app user',
      POSTGRES_PASSWORD: password,
      POSTGRES_DB: 'woopdi',
    });
    const u = new URL(config.databaseUrl!);
    expect(u.protocol).toBe('postgres:');
    expect(u.hostname).toBe('db.internal');
    expect(u.port).toBe('6543');
    expect(decodeURIComponent(u.username)).toBe('app user');
    expect(decodeURIComponent(u.password)).toBe(password);
    expect(u.pathname).toBe('/woopdi');
    expect(u.search).toBe('');
    expect(u.hash).toBe('');
  });

  it('POSTGRES_HOST alone defaults to port 5432, user and database postgres', () => {
    expect(loadConfig({ POSTGRES_HOST: 'db' }).databaseUrl).toBe('postgres://postgres@db:5432/postgres');
  });

  it('DATABASE_URL wins over POSTGRES_*', () => {
    const config = loadConfig({ DATABASE_URL: 'postgres://u@h:1/d', POSTGRES_HOST: 'other' });
    expect(config.databaseUrl).toBe('postgres://u@h:1/d');
  });

  it('REDIS_HOST/REDIS_PORT build REDIS_URL, with the password encoded', () => {
    expect(loadConfig({ REDIS_HOST: 'redis.internal', REDIS_PORT: '6380' }).redisUrl).toBe(
      'redis://redis.internal:6380',
    );
    expect(loadConfig({ REDIS_HOST: 'r' }).redisUrl).toBe('redis://r:6379');
    const withPassword = new URL(loadConfig({ REDIS_HOST: 'r', REDIS_PASSWORD: 'a@b:c' }).redisUrl!);
    expect(decodeURIComponent(withPassword.password)).toBe('a@b:c');
  });

  it('REDIS_URL wins over REDIS_HOST', () => {
    expect(loadConfig({ REDIS_URL: 'redis://x:1', REDIS_HOST: 'other' }).redisUrl).toBe('redis://x:1');
  });
});

describe('ENCRYPTION_KEY parsing', () => {
  it('"id:key,id:key" gives every key in order, the current key first', () => {
    const { encryptionKeys } = loadConfig({ ENCRYPTION_KEY: `2025-06:${KEY_B}, 2024_01:${KEY_A}` });
    expect(encryptionKeys.map((k) => k.id)).toEqual(['2025-06', '2024_01']);
    expect(encryptionKeys[0]!.key.equals(keyBytes(2))).toBe(true);
    expect(encryptionKeys[1]!.key.equals(keyBytes(1))).toBe(true);
  });

  it('a single base64 key gets the id k1', () => {
    const { encryptionKeys } = loadConfig({ ENCRYPTION_KEY: KEY_A });
    expect(encryptionKeys).toHaveLength(1);
    expect(encryptionKeys[0]!.id).toBe('k1');
    expect(encryptionKeys[0]!.key.equals(keyBytes(1))).toBe(true);
  });

  it.each([
    ['a 16-byte key', Buffer.alloc(16, 9).toString('base64')],
    ['a 33-byte key', Buffer.alloc(33, 9).toString('base64')],
    ['a list with one short key', `new:${KEY_A},old:${Buffer.alloc(16, 9).toString('base64')}`],
    ['an entry without a key', `new:${KEY_A},old:`],
    ['an entry without an id', `:${KEY_A}`],
    // The id is a field of the dot-separated sealed format.
    ['an id containing a dot', `2024.06:${KEY_A}`],
  ])('%s is refused, naming ENCRYPTION_KEY and how to generate one', (_label, value) => {
    const e = configError({ ENCRYPTION_KEY: value });
    expect(e.message).toMatch(/^ENCRYPTION_KEY is invalid/);
    expect(e.message).toMatch(/openssl rand -base64 32/);
  });
});
