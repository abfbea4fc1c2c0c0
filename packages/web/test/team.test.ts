// The team story in two browsers: sign up, confirm the email from the outbox's link, create a team,
// invite; the invitee opens the link in another browser, chooses a password and lands in the team;
// the owner's page shows them without a reload; a MEMBER gets no member controls (and the API's 403
// on the page itself); promoted, the invitee's controls appear live.
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD, type Stack, signUpInApp, startStack, uniqueEmail } from './stack.js';

describe('a team in two browsers', () => {
  let stack: Stack;
  let owner: Page;
  let invitee: Page;
  const ownerEmail = uniqueEmail('owner');
  const inviteeEmail = uniqueEmail('invitee');
  let teamUrl = '';

  beforeAll(async () => {
    stack = await startStack();
    owner = await (await stack.context()).newPage();
    invitee = await (await stack.context()).newPage();
  });
  afterAll(async () => {
    await stack?.close();
  });

  it('signs up and confirms the email through the link the outbox holds', async () => {
    await signUpInApp(owner, ownerEmail, 'Olive Owner');
    await expect
      .poll(() => owner.getByRole('status').filter({ hasText: 'Confirm your email address' }).count())
      .toBe(1);

    const link = await stack.emailLink(ownerEmail, 'verify_email');
    // WEB_CLIENT_URL defaults to the server's own address: the link opens this app.
    expect(link.startsWith(`${stack.url}/confirm-email?token=`)).toBe(true);
    await owner.goto(link);
    await owner.getByText('Your email address is verified.').waitFor();
    await owner.getByRole('link', { name: 'Continue' }).click();
    await owner.waitForURL(/\/tasks$/);
    await expect.poll(() => owner.getByText('Confirm your email address').count()).toBe(0);
  });

  it('creates a team and invites a person', async () => {
    await owner.getByRole('link', { name: 'New team' }).click();
    await owner.getByLabel('Name').fill('Analytical Engines');
    await owner.getByRole('button', { name: 'Create' }).click();
    await owner.waitForURL(/\/organizations\/[0-9a-f-]+\/members$/);
    teamUrl = owner.url().replace(/\/members$/, '');
    await expect
      .poll(() => owner.locator('#org-switcher option:checked').textContent())
      .toBe('Analytical Engines');

    await owner.getByLabel('Email to invite').fill(inviteeEmail);
    await owner.getByRole('button', { name: 'Invite' }).click();
    await owner.getByText(`Invitation sent to ${inviteeEmail}`).waitFor();
    await owner.locator('tr', { hasText: inviteeEmail }).getByText('pending').waitFor();
  });

  it('the invitee accepts in another browser, choosing a password, and lands in the team', async () => {
    const link = await stack.emailLink(inviteeEmail, 'invitation');
    expect(link.startsWith(`${stack.url}/accept-invitation?token=`)).toBe(true);
    await invitee.goto(link);
    await invitee.getByText('invited').first().waitFor();
    await invitee.getByLabel('Your name').fill('Ivy Invitee');
    await invitee.getByLabel('Choose a password').fill(PASSWORD);
    await invitee.getByRole('button', { name: 'Create account and join' }).click();
    await invitee.waitForURL(`${teamUrl}/tasks`);
    await expect
      .poll(() => invitee.locator('#org-switcher option:checked').textContent())
      .toBe('Analytical Engines');
  });

  it("the owner's members page shows the new member without a reload", async () => {
    const row = owner.locator(`tr[data-member="${inviteeEmail}"]`);
    await row.waitFor({ timeout: 15_000 });
    await expect.poll(() => row.getByRole('combobox').inputValue()).toBe('MEMBER');
  });

  it('a MEMBER sees no member management, and the page itself answers with the API’s refusal', async () => {
    await expect
      .poll(() =>
        invitee.getByRole('navigation', { name: 'Organization' }).getByRole('link').allTextContents(),
      )
      .toEqual(['Tasks', 'Files', 'Settings']);
    await invitee.goto(`${teamUrl}/members`);
    const alert = invitee.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toBe(
      'This needs the MODERATOR role in the organization; yours is MEMBER.',
    );
    expect(await invitee.getByRole('button', { name: /Remove/ }).count()).toBe(0);
    expect(await invitee.getByLabel('Email to invite').count()).toBe(0);
  });

  it("promoted to MODERATOR, the invitee's controls appear without a reload", async () => {
    await invitee.goto(`${teamUrl}/tasks`);
    const changed = owner.waitForResponse((r) => r.url().includes('members.updateRole'));
    await owner.locator(`tr[data-member="${inviteeEmail}"]`).getByRole('combobox').selectOption('MODERATOR');
    // The change itself went through (so a failure below is the invitee's page not hearing of it).
    expect((await changed).status()).toBe(200);
    const nav = invitee.getByRole('navigation', { name: 'Organization' });
    await nav.getByRole('link', { name: 'Members' }).waitFor({ timeout: 15_000 });
    await nav.getByRole('link', { name: 'Members' }).click();
    // A MODERATOR may invite MEMBERs, and sees the owner with no controls.
    await invitee.getByLabel('Email to invite').waitFor();
    const ownerRow = invitee.locator(`tr[data-member="${ownerEmail}"]`);
    await ownerRow.waitFor();
    expect(await ownerRow.getByRole('combobox').count()).toBe(0);
    expect(await ownerRow.getByRole('button', { name: /Remove/ }).count()).toBe(0);
    expect(await invitee.getByLabel('Role', { exact: true }).locator('option').allTextContents()).toEqual([
      'MEMBER',
    ]);
  });
});
