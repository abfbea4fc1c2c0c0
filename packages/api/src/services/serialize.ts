import type { organizations, users } from '@woopdi/db';

type UserRow = typeof users.$inferSelect;
type OrgRow = typeof organizations.$inferSelect;

export const publicUser = (u: UserRow) => ({
  id: u.id,
  email: u.email,
  name: u.name,
  systemRole: u.systemRole,
  emailVerified: u.emailVerifiedAt !== null,
  emailVerifiedAt: u.emailVerifiedAt?.toISOString() ?? null,
  lastActiveOrganizationId: u.lastActiveOrganizationId,
  createdAt: u.createdAt.toISOString(),
});

export const publicOrganization = (o: OrgRow) => ({
  id: o.id,
  name: o.name,
  slug: o.slug,
  isSolo: o.isSolo,
  ownerUserId: o.ownerUserId,
  plan: o.plan,
  requireTwoFactor: o.requireTwoFactor,
  createdAt: o.createdAt.toISOString(),
  updatedAt: o.updatedAt.toISOString(),
});
