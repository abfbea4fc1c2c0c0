import { pgEnum } from 'drizzle-orm/pg-core';

export const systemRole = pgEnum('system_role', ['superadmin', 'admin', 'user']);
export const orgRole = pgEnum('org_role', ['ADMIN', 'MODERATOR', 'MEMBER']);
export const oneTimeTokenPurpose = pgEnum('one_time_token_purpose', ['verify_email', 'reset_password']);
export const emailStatus = pgEnum('email_status', ['pending', 'sent', 'failed']);

export type SystemRole = (typeof systemRole.enumValues)[number];
export type OrgRole = (typeof orgRole.enumValues)[number];
export type OneTimeTokenPurpose = (typeof oneTimeTokenPurpose.enumValues)[number];
