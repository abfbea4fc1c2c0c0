// Every page, signed out and signed in, at desktop and phone width: axe-core finds no serious or
// critical WCAG 2 A/AA violation, and a screenshot of each is kept under test-artifacts/ (ignored).
// Also the sign-in form's rate-limit message with its wait time.
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  expectAccessible,
  type Stack,
  screenshot,
  signInInApp,
  signUpInApp,
  startStack,
  uniqueEmail,
} from './stack.js';

/** Every loading state on the page has resolved (into content, an empty state or an error). */
const settled = (page: Page) => expect.poll(() => page.getByText(/…$/).count()).toBe(0);

describe('every page is accessible, at desktop and phone width', () => {
  let stack: Stack;
  const adminEmail = uniqueEmail('admin');
  let teamId = '';
  let inviteLink = '';

  beforeAll(async () => {
    stack = await startStack();
    // A superadmin who owns a team with a task, a file, an invitation and an audit trail.
    const context = await stack.context();
    const page = await context.newPage();
    await signUpInApp(page, adminEmail, 'Ada Admin');
    await stack.sql`update users set system_role = 'superadmin' where email = ${adminEmail}`;
    await page.getByRole('link', { name: 'New team' }).click();
    await page.getByLabel('Name').fill('Difference Engines');
    await page.getByRole('button', { name: 'Create' }).click();
    await page.waitForURL(/\/members$/);
    teamId = page.url().split('/organizations/')[1]!.split('/')[0]!;
    const invited = uniqueEmail('guest');
    await page.getByLabel('Email to invite').fill(invited);
    await page.getByRole('button', { name: 'Invite' }).click();
    await page.getByText(`Invitation sent to ${invited}`).waitFor();
    inviteLink = await stack.emailLink(invited, 'invitation');
    await page.goto(`/organizations/${teamId}/tasks`);
    await page.getByLabel('Steps', { exact: true }).fill('3');
    await page.getByLabel('Interval (ms)').fill('0');
    await page.getByRole('button', { name: 'Start' }).click();
    await page.locator('[data-status="succeeded"]').first().waitFor({ timeout: 30_000 });
    await page.goto(`/organizations/${teamId}/files`);
    await page
      .locator('#upload')
      .setInputFiles({ name: 'plan.txt', mimeType: 'text/plain', buffer: Buffer.from('the plan') });
    await page.locator('tr[data-file="plan.txt"]').waitFor();
    await context.close();
  });
  afterAll(async () => {
    await stack?.close();
  });

  const publicPages: Array<[string, () => string, string]> = [
    ['sign-in', () => '/sign-in', 'Sign in'],
    ['sign-up', () => '/sign-up', 'Create your account'],
    ['forgot-password', () => '/forgot-password', 'Reset your password'],
    ['reset-password', () => '/reset-password?token=not-a-real-token-0000', 'Choose a new password'],
    ['confirm-email-bad-link', () => '/confirm-email?token=not-a-real-token-0000', 'Confirm your email'],
    [
      'accept-invitation',
      () => new URL(inviteLink).pathname + new URL(inviteLink).search,
      'Join Difference Engines',
    ],
  ];
  const appPages: Array<[string, () => string, string]> = [
    ['tasks', () => `/organizations/${teamId}/tasks`, 'Tasks'],
    ['files', () => `/organizations/${teamId}/files`, 'Files'],
    ['members', () => `/organizations/${teamId}/members`, 'Members'],
    ['billing', () => `/organizations/${teamId}/billing`, 'Billing'],
    ['audit', () => `/organizations/${teamId}/audit`, 'Audit log'],
    ['settings', () => `/organizations/${teamId}/settings`, 'Settings'],
    ['account', () => '/account', 'Your account'],
    ['admin', () => '/admin', 'Administration'],
    ['new-team', () => '/new-team', 'Create a team organization'],
  ];

  for (const phone of [false, true]) {
    describe(phone ? 'phone width' : 'desktop width', () => {
      let context: BrowserContext;
      let page: Page;
      beforeAll(async () => {
        context = await stack.context({ phone });
        page = await context.newPage();
      });
      afterAll(async () => {
        await context.close();
      });

      it.each(publicPages)('%s', async (name, path, heading) => {
        await page.goto(path());
        await page.getByRole('heading', { level: 1, name: heading }).waitFor();
        await settled(page);
        await expectAccessible(page, name);
        await screenshot(page, name);
      });

      it('signs in', async () => {
        await signInInApp(page, adminEmail);
      });

      it.each(appPages)('%s', async (name, path, heading) => {
        await page.goto(path());
        await page.getByRole('heading', { level: 1, name: heading }).waitFor();
        await settled(page);
        await expectAccessible(page, name);
        await screenshot(page, name);
      });
    });
  }

  it('billing says it is not configured when the server has no Stripe keys', async () => {
    const page = await (await stack.context()).newPage();
    await signInInApp(page, adminEmail);
    await page.goto(`/organizations/${teamId}/billing`);
    await page.getByText('Billing is not configured on this server').waitFor();
    expect(await page.getByRole('button', { name: 'Upgrade to Pro' }).count()).toBe(0);
  });

  it('the sign-in form shows the rate limit with its wait time', async () => {
    const page = await (await stack.context()).newPage();
    await page.goto('/sign-in');
    // An address no earlier test signed in with: its limiter window starts with this test.
    await page.getByLabel('Email').fill(`limited-${Date.now()}@example.com`);
    const button = page.getByRole('button', { name: 'Sign in' });
    // RATE_LIMIT_LOGIN's default: 5 failed attempts per account a minute, counted before the check,
    // in fixed windows — so up to 11 attempts if a window ends mid-loop.
    let limited = false;
    for (let attempt = 1; attempt <= 12 && !limited; attempt++) {
      await page.getByLabel('Password').fill(`wrong password ${attempt}`);
      const answered = page.waitForResponse((r) => r.url().includes('auth.login'));
      await button.click();
      await answered;
      // The message and the button read from one snapshot of the page, once it shows the answer:
      // the countdown may reach 0 (a window ending a second later) between two separate reads.
      const snapshot = () =>
        page.evaluate(() => {
          const submit = document.querySelector<HTMLButtonElement>('button[type="submit"]');
          return {
            text: document.querySelector('[role="alert"]')?.textContent ?? '',
            pending: submit?.textContent === 'Signing in…',
            disabled: submit?.disabled ?? false,
          };
        });
      await expect
        .poll(async () => {
          const now = await snapshot();
          return !now.pending && now.text !== '';
        })
        .toBe(true);
      const shown = await snapshot();
      if (/Try again in/.test(shown.text)) {
        limited = true;
        expect(shown.text).toMatch(/^Too many sign-in attempts\. Try again in \d+ seconds?\.$/);
        expect(shown.disabled).toBe(true);
      } else {
        expect(shown.text).toBe('The email or password is incorrect.');
      }
    }
    expect(limited).toBe(true);
  });
});
