import { emailOutbox } from '@woopdi/db';
import { desc, eq } from 'drizzle-orm';
import type { ServiceDeps } from '../src/services/deps.js';
import { callerFor } from '../src/testing.js';

let n = 0;
export const uniqueEmail = (prefix = 'user') => `${prefix}-${Date.now().toString(36)}-${++n}@example.com`;
export const PASSWORD = 'correct horse battery';

export async function signUp(deps: ServiceDeps, email = uniqueEmail(), password = PASSWORD) {
  const res = await callerFor(deps).auth.signup({ email, password });
  return { ...res, email, password, api: callerFor(deps, res.tokens.accessToken) };
}

/** The token of the newest email of `template` sent to `to`, read from the link in its payload. */
export async function tokenFromOutbox(deps: ServiceDeps, to: string, template: string) {
  const rows = await deps.db
    .select()
    .from(emailOutbox)
    .where(eq(emailOutbox.to, to))
    .orderBy(desc(emailOutbox.createdAt));
  const row = rows.find((r) => r.template === template);
  if (!row) throw new Error(`no ${template} email to ${to}`);
  return new URL(String(row.payload.url)).searchParams.get('token')!;
}

/** Resolves to the tRPC error code the promise rejects with. */
export async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as { code?: string }).code ?? 'UNKNOWN';
  }
  return 'OK';
}
