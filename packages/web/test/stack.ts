// The real thing for browser tests: the built all-in-one server (`node packages/server/dist/main.js`:
// API, worker and the web app at `/`) on a free port, against a fresh clone of the test database and
// the test Redis, and the system's Chromium driven by playwright-core.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import AxeBuilder from '@axe-core/playwright';
import { createDb } from '@woopdi/db';
import { createTestDatabase, redisTestUrl } from '@woopdi/db/testing';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { expect, inject } from 'vitest';

const serverDir = fileURLToPath(new URL('../../server/', import.meta.url));
/** Screenshots land here (ignored by git), one per page and width. */
export const artifactsDir = fileURLToPath(new URL('../test-artifacts/', import.meta.url));

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
/** Without the background-networking flags Chromium tries the internet and stalls (STACK.md). */
const CHROMIUM_FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

export const PASSWORD = 'correct horse battery staple';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface Stack {
  url: string;
  sql: ReturnType<typeof createDb>['sql'];
  browser: Browser;
  /** A fresh browser profile (its own storage: its own sign-in). */
  context(options?: { phone?: boolean }): Promise<BrowserContext>;
  /** The newest link in an email of `template` to `to`, read from the outbox. */
  emailLink(to: string, template: 'verify_email' | 'reset_password' | 'invitation'): Promise<string>;
  output(): string;
  close(): Promise<void>;
}

export async function startStack(env: Record<string, string> = {}): Promise<Stack> {
  const { adminUrl, template } = inject('testDb');
  const database = await createTestDatabase(adminUrl, template);
  const storageDir = await mkdtemp(join(tmpdir(), 'woopdi-web-files-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let output = '';
  const child: ChildProcess = spawn(process.execPath, ['dist/main.js'], {
    cwd: serverDir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      DATABASE_URL: database.url,
      REDIS_URL: redisTestUrl() ?? '',
      PORT: String(port),
      HOST: '127.0.0.1',
      // Unset on purpose: the server points WEB_CLIENT_URL at itself, as `pnpm start` does.
      WEB_CLIENT_URL: '',
      CORS_ORIGINS: '',
      API_HOST: '',
      JWT_SECRET: 'web-test-jwt-secret-0123456789-abcdefghij',
      STORAGE_DIR: storageDir,
      LOG_LEVEL: 'warn',
      // 127.0.0.1 is every test's address (and Redis is shared): per-address limits out of the way.
      RATE_LIMIT_SIGNUP: '10000/60',
      RATE_LIMIT_LOGIN_ADDRESS: '10000/60',
      RATE_LIMIT_PASSWORD_RESET: '10000/60',
      RATE_LIMIT_EMAILS_PER_RECIPIENT: '10000/60',
      RATE_LIMIT_INVITATIONS: '10000/60',
      RATE_LIMIT_TASK_STARTS: '10000/60',
      PLAN_FREE_CONCURRENT_TASKS: '100',
      SENDGRID_API_KEY: '',
      STRIPE_SECRET_KEY: '',
      GCP_BUCKET_NAME: '',
      ...env,
    },
  });
  const keep = (d: string) => {
    output = (output + d).slice(-20_000);
  };
  child.stdout?.setEncoding('utf8').on('data', keep);
  child.stderr?.setEncoding('utf8').on('data', keep);
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));

  const stopServer = async () => {
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
    if (child.exitCode === null) child.kill('SIGKILL');
  };

  let browser: Browser;
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`the server exited:\n${output}`);
      const ok = await fetch(`${url}/healthz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok && output.includes('Woopdi is running')) break;
      if (Date.now() > deadline) throw new Error(`the server did not start:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    // launch() gives Chromium a fresh temporary profile (user-data-dir) of its own, removed on close.
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
  } catch (error) {
    await stopServer();
    await database.drop();
    await rm(storageDir, { recursive: true, force: true });
    throw error;
  }
  const { sql, close: closeDb } = createDb(database.url, { max: 2 });
  const contexts: BrowserContext[] = [];

  return {
    url,
    sql,
    browser,
    async context(options = {}) {
      const context = await browser.newContext({
        baseURL: url,
        acceptDownloads: true,
        viewport: options.phone ? { width: 390, height: 844 } : { width: 1280, height: 860 },
        ...(options.phone && { isMobile: true, hasTouch: true }),
      });
      contexts.push(context);
      return context;
    },
    async emailLink(to, emailTemplate) {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const [row] = await sql<{ url: string }[]>`
          select payload->>'url' as url from email_outbox
          where "to" = ${to.toLowerCase()} and template = ${emailTemplate}
          order by created_at desc limit 1`;
        if (row?.url) return row.url;
        if (Date.now() > deadline) throw new Error(`no ${emailTemplate} email to ${to} in the outbox`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    output: () => output,
    async close() {
      for (const context of contexts) await context.close().catch(() => {});
      await browser.close().catch(() => {});
      await stopServer();
      await closeDb();
      await database.drop();
      await rm(storageDir, { recursive: true, force: true });
    },
  };
}

let counter = 0;
export const uniqueEmail = (label: string) =>
  `${label}-${process.pid}-${Date.now().toString(36)}-${++counter}@example.com`;

/** Signs up through the app's form; resolves on the first organization page. */
export async function signUpInApp(page: Page, email: string, name: string): Promise<void> {
  await page.goto('/sign-up');
  await page.getByLabel('Name').fill(name);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.waitForURL(/\/organizations\/[0-9a-f-]+\/tasks$/);
}

export async function signInInApp(page: Page, email: string): Promise<void> {
  await page.goto('/sign-in');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/\/organizations\/[0-9a-f-]+\/tasks$/);
}

/** axe-core on the page as it is now: no serious or critical WCAG 2 A/AA violation. */
export async function expectAccessible(page: Page, name: string): Promise<void> {
  const results = await new AxeBuilder({ page })
    .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'])
    .analyze();
  const bad = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(
    bad.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`),
    `accessibility of ${name}`,
  ).toEqual([]);
}

export async function screenshot(page: Page, name: string): Promise<void> {
  const dir = join(artifactsDir, 'screenshots');
  await mkdir(dir, { recursive: true });
  const width = page.viewportSize()?.width ?? 0;
  await page.screenshot({ path: join(dir, `${name}-${width}.png`), fullPage: true });
}
