// Live tasks and files in Chromium: a progress bar that reaches 100% as the events arrive, a
// websocket killed mid-task that resumes with every event exactly once, and a file that goes up
// through the signed-URL flow and comes back byte for byte.
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Page, WebSocketRoute } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, signUpInApp, startStack, uniqueEmail } from './stack.js';

const progressOf = (page: Page, taskId: string) =>
  page.locator(`[data-task-id="${taskId}"] [role="progressbar"]`).getAttribute('aria-valuenow').then(Number);

const taskIds = (page: Page) =>
  page.locator('[data-task-id]').evaluateAll((els) => els.map((e) => e.getAttribute('data-task-id') ?? ''));

/** Starts the demo task through the form; resolves to the id of the row that appeared for it. */
async function startDemo(page: Page, steps: number, intervalMs: number): Promise<string> {
  const before = new Set(await taskIds(page));
  await page.getByLabel('Steps', { exact: true }).fill(String(steps));
  await page.getByLabel('Interval (ms)').fill(String(intervalMs));
  await page.getByRole('button', { name: 'Start' }).click();
  let id: string | undefined;
  await expect
    .poll(async () => {
      id = (await taskIds(page)).find((candidate) => !before.has(candidate));
      return id;
    })
    .toBeDefined();
  return id!;
}

const seqsOf = (page: Page, taskId: string) =>
  page
    .locator(`[data-task-id="${taskId}"] .events li`)
    .evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-seq'))));

describe('tasks and files in the browser', () => {
  let stack: Stack;
  let page: Page;
  /** The app's tRPC websockets (page side, server side), routed through Playwright so the test can cut them. */
  const sockets: Array<[WebSocketRoute, WebSocketRoute]> = [];

  beforeAll(async () => {
    stack = await startStack();
    const context = await stack.context();
    page = await context.newPage();
    await page.routeWebSocket(/\/trpc/, (ws) => {
      sockets.push([ws, ws.connectToServer()]);
    });
    await signUpInApp(page, uniqueEmail('tasks'), 'Tess Tasks');
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('a started task’s progress bar reaches 100% live, every event shown once', async () => {
    const taskId = await startDemo(page, 8, 150);
    const seen = new Set<number>();
    await expect
      .poll(
        async () => {
          const value = await progressOf(page, taskId);
          seen.add(value);
          return value;
        },
        { timeout: 30_000, interval: 50 },
      )
      .toBe(100);
    // Values in between were shown: the bar moved with the events, not only at the end.
    expect([...seen].some((v) => v > 0 && v < 100)).toBe(true);
    await expect
      .poll(() => page.locator(`[data-task-id="${taskId}"]`).getAttribute('data-status'))
      .toBe('succeeded');
    const seqs = await seqsOf(page, taskId);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
    expect(seqs.length).toBeGreaterThanOrEqual(10); // task_start, 8 progress, task_end
  });

  it('a websocket killed mid-task resumes with no event missing or repeated', async () => {
    const taskId = await startDemo(page, 20, 200);
    await expect
      .poll(() => progressOf(page, taskId), { timeout: 30_000, interval: 50 })
      .toBeGreaterThanOrEqual(20);
    const before = sockets.length;
    const seqsAtCut = (await seqsOf(page, taskId)).length;
    for (const [pageSide, serverSide] of sockets.splice(0)) {
      await serverSide.close({ code: 4000, reason: 'cut by the test' }).catch(() => {});
      await pageSide.close({ code: 4000, reason: 'cut by the test' }).catch(() => {});
    }
    // The SDK reconnects (a new socket) and the stream resumes after the last event it delivered.
    await expect.poll(() => sockets.length, { timeout: 20_000 }).toBeGreaterThan(0);
    expect(before).toBeGreaterThan(0);
    await expect.poll(() => progressOf(page, taskId), { timeout: 40_000, interval: 100 }).toBe(100);
    await expect
      .poll(() => page.locator(`[data-task-id="${taskId}"]`).getAttribute('data-status'))
      .toBe('succeeded');
    const seqs = await seqsOf(page, taskId);
    expect(seqsAtCut).toBeLessThan(seqs.length);
    expect(seqs).toEqual(Array.from({ length: 22 }, (_, i) => i + 1));
  });

  it('uploads a file with progress, lists it, downloads the same bytes, deletes it', async () => {
    await page.getByRole('navigation', { name: 'Organization' }).getByRole('link', { name: 'Files' }).click();
    await page.getByText('No files yet.').waitFor();
    const bytes = Buffer.from(randomBytes(96 * 1024).toString('base64'));
    await page.locator('#upload').setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: bytes });
    await page.getByText('Uploaded notes.txt.').waitFor();
    const row = page.locator('tr[data-file="notes.txt"]');
    await row.waitFor();
    expect(await page.getByText(/^Storage: /).textContent()).toMatch(/Storage: \d/);

    const [download] = await Promise.all([
      page.waitForEvent('download'),
      row.getByRole('button', { name: 'Download notes.txt' }).click(),
    ]);
    const path = await download.path();
    expect(Buffer.compare(await readFile(path), bytes)).toBe(0);

    page.once('dialog', (dialog) => void dialog.accept());
    await row.getByRole('button', { name: 'Delete notes.txt' }).click();
    await page.getByText('No files yet.').waitFor();
  });

  it('a file type outside the allow-list gets the API’s message next to the upload', async () => {
    await page
      .locator('#upload')
      .setInputFiles({ name: 'tool.exe', mimeType: 'application/x-msdownload', buffer: Buffer.from('MZ') });
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(/not allowed|allow/i);
  });
});
