// Vitest globalSetup shared by every package: finds PostgreSQL (or starts an embedded one on a
// machine without it), builds the migrated template once, probes Redis, and hands the coordinates
// to the test files through `inject('testDb')` and `inject('testRedisUrl')`.
import { connect as tcpConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { type EmbeddedPostgres, startEmbeddedPostgres } from './embedded.js';
import { canConnect, DEFAULT_TEST_DATABASE_URL, DEFAULT_TEST_REDIS_URL, ensureTemplate } from './testing.js';

/** Reused across runs, so only the first run on a machine pays for initdb. */
const embeddedDataDir = fileURLToPath(new URL('../../../.data/test-postgres', import.meta.url));

const inCi = () => process.env.CI === 'true';

/** A RESP command: works whatever bytes the arguments hold. */
const command = (...args: string[]) =>
  `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;

/** Resolves true when a Redis server at `url` answers PING (after AUTH, when the URL has credentials). */
export function redisAnswers(url: string, timeoutMs = 1500): Promise<boolean> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return Promise.resolve(false);
  }
  const host = u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
  const port = Number(u.port || 6379);
  let request = '';
  if (u.password) {
    const password = decodeURIComponent(u.password);
    request += u.username
      ? command('AUTH', decodeURIComponent(u.username), password)
      : command('AUTH', password);
  }
  request += command('PING');
  return new Promise((resolve) => {
    const socket =
      u.protocol === 'rediss:' ? tlsConnect({ host, port, servername: host }) : tcpConnect({ host, port });
    let answer = '';
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once(u.protocol === 'rediss:' ? 'secureConnect' : 'connect', () => socket.write(request));
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      answer += chunk;
      if (answer.includes('+PONG')) done(true);
      else if (answer.startsWith('-') || answer.includes('\r\n-')) done(false);
    });
    socket.on('error', () => done(false));
    socket.on('close', () => done(false));
  });
}

export default async function setup(project: TestProject) {
  const teardown: Array<() => Promise<void>> = [];

  let adminUrl = process.env.TEST_DATABASE_URL ?? DEFAULT_TEST_DATABASE_URL;
  if (!(await canConnect(adminUrl))) {
    if (inCi()) {
      throw new Error(
        `No PostgreSQL answers at ${adminUrl} (CI=true: a missing database service is a failure). Start it, or set TEST_DATABASE_URL.`,
      );
    }
    let embedded: EmbeddedPostgres;
    try {
      // Test data is thrown away with each run: durability settings off make the run faster.
      embedded = await startEmbeddedPostgres({
        dataDir: embeddedDataDir,
        settings: {
          fsync: 'off',
          synchronous_commit: 'off',
          full_page_writes: 'off',
          max_connections: '200',
        },
      });
    } catch (error) {
      throw new Error(
        `No PostgreSQL answers at ${adminUrl}, and the embedded fallback failed: ${(error as Error).message}`,
      );
    }
    console.info(
      `PostgreSQL not reachable at ${adminUrl}: using embedded PostgreSQL in ${embeddedDataDir} (port ${embedded.port}).`,
    );
    adminUrl = embedded.adminUrl;
    teardown.push(() => embedded.stop());
  }

  try {
    const template = await ensureTemplate(adminUrl);
    project.provide('testDb', { adminUrl, template });

    const redisUrl = process.env.TEST_REDIS_URL || DEFAULT_TEST_REDIS_URL;
    if (await redisAnswers(redisUrl)) {
      // Test workers start after this setup and inherit the environment.
      process.env.TEST_REDIS_URL = redisUrl;
      project.provide('testRedisUrl', redisUrl);
    } else {
      if (inCi()) {
        throw new Error(
          `Redis not reachable at ${redisUrl} (CI=true: a missing Redis service is a failure). Start it, or set TEST_REDIS_URL.`,
        );
      }
      delete process.env.TEST_REDIS_URL;
      project.provide('testRedisUrl', null);
      console.warn(`Redis not reachable at ${redisUrl}: Redis-backed tests are skipped`);
    }
  } catch (error) {
    for (const stop of teardown) await stop();
    throw error;
  }

  return async () => {
    for (const stop of teardown) await stop();
  };
}
