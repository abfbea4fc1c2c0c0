// Webhook endpoints through the real router (no worker here: deliveries stay pending): secrets shown
// only at creation and rotation and sealed at rest, the SSRF check on every URL set, the delivery
// row enqueued with the change, and the delivery log and redelivery scoped to their endpoint.
import { webhookDeliveries, webhookEndpoints } from '@woopdi/db';
import { queuedJobs } from '@woopdi/db/testing';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDeps, type TestDeps } from '../src/testing.js';
import { addMember, codeOf, signUp } from './fixtures.js';

let deps: TestDeps;
let owner: Awaited<ReturnType<typeof signUp>>;
let organizationId: string;
const PUBLIC = '93.184.215.14';

beforeAll(async () => {
  deps = await createTestDeps({ WEBHOOK_ALLOW_PRIVATE_TARGETS: 'false' });
  // Every host resolves to one public address, except the ones named for the private ranges.
  deps.webhookResolver = async (host) => [
    { address: host.startsWith('internal') ? '10.1.2.3' : PUBLIC, family: 4 },
  ];
  owner = await signUp(deps);
  organizationId = (await owner.api.organizations.create({ name: 'Hook Owners' })).id;
});
afterAll(() => deps.close());

describe('endpoints', () => {
  it('shows the secret once, seals it at rest, and never lists it', async () => {
    const { webhook, secret } = await owner.api.webhooks.create({
      organizationId,
      url: 'https://hooks.example.com/woopdi',
      eventTypes: ['member.added', 'member.added', 'task.failed'],
      description: 'CRM sync',
    });
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(webhook).toMatchObject({ enabled: true, eventTypes: ['member.added', 'task.failed'] });
    const [row] = await deps.db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, webhook.id));
    expect(JSON.stringify(row)).not.toContain(secret.slice(6));
    const listed = await owner.api.webhooks.list({ organizationId });
    expect(JSON.stringify(listed)).not.toContain(secret.slice(6));
    expect(listed.webhooks.map((w) => w.id)).toContain(webhook.id);
  });

  it('refuses a URL whose host resolves to a private address, at create and at update', async () => {
    const create = await owner.api.webhooks
      .create({ organizationId, url: 'https://internal.corp.example/x' })
      .catch((e: { code?: string; message?: string }) => e);
    expect((create as { code?: string }).code).toBe('BAD_REQUEST');
    expect((create as { message?: string }).message).toContain('resolves to 10.1.2.3');
    const { webhook } = await owner.api.webhooks.create({ organizationId, url: 'https://ok.example/x' });
    expect(
      await codeOf(
        owner.api.webhooks.update({ organizationId, webhookId: webhook.id, url: 'http://169.254.169.254/' }),
      ),
    ).toBe('BAD_REQUEST');
    expect(await codeOf(owner.api.webhooks.create({ organizationId, url: 'ftp://files.example/x' }))).toBe(
      'BAD_REQUEST',
    );
  });

  it('rotation answers a new secret and keeps the previous one for 24 h', async () => {
    const { webhook, secret } = await owner.api.webhooks.create({
      organizationId,
      url: 'https://r.example/x',
    });
    const rotated = await owner.api.webhooks.rotateSecret({ organizationId, webhookId: webhook.id });
    expect(rotated.secret).not.toBe(secret);
    const until = Date.parse(rotated.webhook.previousSecretExpiresAt!);
    expect(until - Date.now()).toBeGreaterThan(23.9 * 3600 * 1000);
    expect(until - Date.now()).toBeLessThanOrEqual(24 * 3600 * 1000);
  });

  it('is for ADMINs only', async () => {
    const moderator = await addMember(deps, organizationId, 'MODERATOR');
    expect(await codeOf(moderator.api.webhooks.list({ organizationId }))).toBe('FORBIDDEN');
  });
});

describe('deliveries', () => {
  it('a change writes one pending delivery and its job in its transaction; only selected types', async () => {
    const { webhook } = await owner.api.webhooks.create({
      organizationId,
      url: 'https://d.example/x',
      eventTypes: ['organization.updated'],
    });
    const before = (await queuedJobs(deps.sql, 'webhook_deliver')).length;
    await owner.api.organizations.update({ organizationId, name: 'Hook Owners Renamed' });
    await owner.api.invitations.create({ organizationId, email: 'not-selected@example.com', role: 'MEMBER' });
    const rows = await deps.db
      .select()
      .from(webhookDeliveries)
      .where(eq(webhookDeliveries.endpointId, webhook.id));
    expect(rows.map((r) => [r.eventType, r.status])).toEqual([['organization.updated', 'pending']]);
    expect(JSON.parse(rows[0]!.body)).toMatchObject({
      type: 'organization.updated',
      organizationId,
      data: { name: 'Hook Owners Renamed' },
    });
    expect((await queuedJobs(deps.sql, 'webhook_deliver')).length).toBeGreaterThan(before);
    const log = await owner.api.webhooks.deliveries({ organizationId, webhookId: webhook.id });
    expect(log.deliveries.map((d) => d.eventType)).toEqual(['organization.updated']);
    expect(log.deliveries[0]!.webhookMessageId).toMatch(/^msg_/);
  });

  it("redelivering another endpoint's delivery is NOT_FOUND; a disabled endpoint is 412", async () => {
    const a = await owner.api.webhooks.create({ organizationId, url: 'https://a.example/x' });
    const b = await owner.api.webhooks.create({ organizationId, url: 'https://b.example/x' });
    const { deliveryId } = await owner.api.webhooks.test({ organizationId, webhookId: a.webhook.id });
    expect(
      await codeOf(owner.api.webhooks.redeliver({ organizationId, webhookId: b.webhook.id, deliveryId })),
    ).toBe('NOT_FOUND');
    await owner.api.webhooks.update({ organizationId, webhookId: a.webhook.id, enabled: false });
    expect(
      await codeOf(owner.api.webhooks.redeliver({ organizationId, webhookId: a.webhook.id, deliveryId })),
    ).toBe('PRECONDITION_FAILED');
    expect(await codeOf(owner.api.webhooks.test({ organizationId, webhookId: a.webhook.id }))).toBe(
      'PRECONDITION_FAILED',
    );
    expect(await owner.api.webhooks.delete({ organizationId, webhookId: b.webhook.id })).toEqual({
      deleted: true,
    });
    expect(await codeOf(owner.api.webhooks.test({ organizationId, webhookId: b.webhook.id }))).toBe(
      'NOT_FOUND',
    );
  });
});
