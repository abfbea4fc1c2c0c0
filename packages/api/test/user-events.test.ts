import type { UserEvent } from '@woopdi/core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { callerFor, createTestDeps, type TestDeps } from '../src/testing.js';
import { addMember, PASSWORD, signedIn, signUp, tokenFromOutbox, uniqueEmail } from './fixtures.js';

let deps: TestDeps;
beforeAll(async () => {
  deps = await createTestDeps();
});
afterAll(() => deps.close());

async function collect(stream: AsyncIterable<UserEvent>, until: (e: UserEvent) => boolean) {
  const events: UserEvent[] = [];
  for await (const e of stream) {
    events.push(e);
    if (until(e)) break;
  }
  return events;
}

it('streams membership.added to the user who gains a membership, and nobody else', async () => {
  const alice = await signUp(deps);
  const bob = await signUp(deps);
  const aliceStream = await alice.api.users.events();
  const bobStream = await bob.api.users.events();
  const bobEvents: UserEvent[] = [];
  const bobReading = (async () => {
    for await (const e of bobStream) bobEvents.push(e);
  })();
  const received = collect(aliceStream, (e) => e.type === 'membership.added');
  const org = await alice.api.organizations.create({ name: 'Streamed' });
  const events = await received;
  expect(events).toEqual([
    expect.objectContaining({ type: 'membership.added', organizationId: org.id, role: 'ADMIN' }),
  ]);
  await bob.api.auth.logout({ everywhere: false });
  await bobReading;
  expect(bobEvents.map((e) => e.type)).toEqual(['session.revoked']);
});

it('ends a sign-in’s stream when that sign-in is revoked, but not another one’s', async () => {
  const { email, api } = await signUp(deps);
  const other = signedIn(await callerFor(deps).auth.login({ email, password: PASSWORD }));
  const otherApi = callerFor(deps, other.tokens.accessToken);
  const mine = collect(await api.users.events(), () => false);
  const theirs = await otherApi.users.events();
  const theirEvents: UserEvent[] = [];
  const theirReading = (async () => {
    for await (const e of theirs) theirEvents.push(e);
  })();
  await otherApi.auth.logout({ everywhere: false });
  await theirReading; // completed by its own revocation
  expect(theirEvents).toEqual([
    expect.objectContaining({ type: 'session.revoked', familyId: expect.any(String) }),
  ]);
  // My stream saw the other sign-in's revocation but stays open until mine is revoked.
  await api.auth.logout({ everywhere: false });
  const myEvents = await mine;
  expect(myEvents.map((e) => e.type)).toEqual(['session.revoked', 'session.revoked']);
});

it('refuses an anonymous subscription', async () => {
  await expect(callerFor(deps).users.events()).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
});

it("announces joins, role changes and removals to the organization's MODERATORs and ADMINs, not to MEMBERs", async () => {
  const owner = await signUp(deps);
  const org = await owner.api.organizations.create({ name: 'Watched' });
  const moderator = await addMember(deps, org.id, 'MODERATOR');
  const member = await addMember(deps, org.id, 'MEMBER');
  const isChange = (e: UserEvent): e is Extract<UserEvent, { type: 'members.changed' }> =>
    e.type === 'members.changed';
  const ownerSaw = collect(await owner.api.users.events(), (e) => isChange(e) && e.change === 'removed');
  const moderatorSaw = collect(
    await moderator.api.users.events(),
    (e) => isChange(e) && e.change === 'removed',
  );
  const memberStream = await member.api.users.events();
  const memberEvents: UserEvent[] = [];
  const memberReading = (async () => {
    for await (const e of memberStream) memberEvents.push(e);
  })();

  const newcomer = uniqueEmail('newcomer');
  await owner.api.invitations.create({ organizationId: org.id, email: newcomer, role: 'MEMBER' });
  const token = await tokenFromOutbox(deps, newcomer, 'invitation');
  const joined = await callerFor(deps).invitations.accept({ token, password: PASSWORD });
  const userId = joined.user.id;
  await owner.api.members.updateRole({ organizationId: org.id, userId, role: 'MODERATOR' });
  await owner.api.members.remove({ organizationId: org.id, userId });

  const expected = ['joined', 'roleChanged', 'removed'].map((change) =>
    expect.objectContaining({ type: 'members.changed', organizationId: org.id, userId, change }),
  );
  expect((await ownerSaw).filter(isChange)).toEqual(expected);
  expect((await moderatorSaw).filter(isChange)).toEqual(expected);
  await member.api.auth.logout({ everywhere: false });
  await memberReading;
  expect(memberEvents.map((e) => e.type)).toEqual(['session.revoked']);
});

it("an API key's revocation reaches the key's own streams, not its creator's user events", async () => {
  const owner = await signUp(deps);
  const org = await owner.api.organizations.create({ name: 'Key revoked' });
  const { apiKey } = await owner.api.apiKeys.create({ organizationId: org.id, name: 'k', role: 'MEMBER' });
  // Subscribed before the revocation and the sign-out (started alongside, a sign-out that won the
  // race refused the subscription itself: 401).
  const stream = await owner.api.users.events();
  const events: UserEvent[] = [];
  const reading = (async () => {
    for await (const e of stream) events.push(e);
  })();
  await owner.api.apiKeys.revoke({ organizationId: org.id, apiKeyId: apiKey.id });
  await owner.api.auth.logout({ everywhere: false });
  await reading;
  // (A membership.added of the organization's creation may arrive first: it is not what this is about.)
  const revocations = events.filter((e) => e.type === 'session.revoked');
  expect(revocations).toHaveLength(1);
  expect(revocations[0]).toMatchObject({ familyId: expect.not.stringMatching(/^apikey:/) });
});
