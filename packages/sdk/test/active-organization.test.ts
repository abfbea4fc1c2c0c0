import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { closeClients, harness, PASSWORD, startServer, type TestServer, uniqueEmail } from './helpers.js';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterEach(() => closeClients());
afterAll(() => server?.close());

it('remembers the active organization on the account, so another device starts there', async () => {
  const changes: (string | null)[] = [];
  const email = uniqueEmail('active');
  const { client } = harness(server, { onActiveOrganizationChange: (id) => void changes.push(id) });
  await client.signup({ email, password: PASSWORD });
  expect(client.activeOrganizationId()).toBeNull();
  const team = await client.api.organizations.create.mutate({ name: 'Active team' });
  await client.setActiveOrganization(team.id);
  expect(client.activeOrganizationId()).toBe(team.id);

  const { client: laptop } = harness(server);
  await laptop.login(email, PASSWORD);
  expect(laptop.activeOrganizationId()).toBe(team.id);

  await client.logout();
  expect(client.activeOrganizationId()).toBeNull();
  expect(changes).toEqual([team.id, null]);
});

it('refuses an organization the user does not belong to, and keeps the current one', async () => {
  const { client } = harness(server);
  await client.signup({ email: uniqueEmail('active'), password: PASSWORD });
  const { client: other } = harness(server);
  await other.signup({ email: uniqueEmail('other'), password: PASSWORD });
  const theirs = await other.api.organizations.create.mutate({ name: 'Not yours' });
  await expect(client.setActiveOrganization(theirs.id)).rejects.toMatchObject({
    data: { code: 'FORBIDDEN' },
  });
  expect(client.activeOrganizationId()).toBeNull();
});
