import { pgEnum } from 'drizzle-orm/pg-core';

export const systemRole = pgEnum('system_role', ['superadmin', 'admin', 'user']);
export const orgRole = pgEnum('org_role', ['ADMIN', 'MODERATOR', 'MEMBER']);
export const oneTimeTokenPurpose = pgEnum('one_time_token_purpose', [
  'verify_email',
  'reset_password',
  'oauth_sign_in',
]);
export const invitationStatus = pgEnum('invitation_status', ['pending', 'accepted', 'revoked', 'expired']);
export const taskStatus = pgEnum('task_status', ['queued', 'running', 'succeeded', 'failed', 'cancelled']);
export const assetStatus = pgEnum('asset_status', ['pending', 'ready']);
export const emailStatus = pgEnum('email_status', ['pending', 'sent', 'failed']);

export type SystemRole = (typeof systemRole.enumValues)[number];
export type OrgRole = (typeof orgRole.enumValues)[number];
export type OneTimeTokenPurpose = (typeof oneTimeTokenPurpose.enumValues)[number];
export type InvitationStatus = (typeof invitationStatus.enumValues)[number];
export type TaskStatus = (typeof taskStatus.enumValues)[number];
export type AssetStatus = (typeof assetStatus.enumValues)[number];
