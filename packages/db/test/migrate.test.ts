import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import { afterAll, expect, inject, it } from 'vitest';
import { migrate } from '../src/migrate.js';

const { adminUrl } = inject('testDb');
const name = `woopdi_migrate_${randomBytes(4).toString('hex')}`;
const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
const url = Object.assign(new URL(adminUrl), { pathname: `/${name}` }).toString();

afterAll(async () => {
  await admin.unsafe(`drop database if exists "${name}" with (force)`);
  await admin.end();
});

it('migrates an empty database, and a second run changes nothing', async () => {
  await admin.unsafe(`create database "${name}"`);
  await migrate(url);
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const tables = async () =>
      (
        await sql`select table_schema || '.' || table_name as t from information_schema.tables
                 where table_schema in ('public', 'graphile_worker') order by 1`
      ).map((r) => r.t as string);
    const applied = async () =>
      (await sql`select count(*)::int as n from drizzle.__drizzle_migrations`)[0]!.n;
    const before = { tables: await tables(), applied: await applied() };
    expect(before.tables).toEqual(
      expect.arrayContaining([
        'public.users',
        'public.organizations',
        'public.memberships',
        'public.tasks',
        'public.task_events',
      ]),
    );
    expect(before.tables.some((t) => t.startsWith('graphile_worker.'))).toBe(true);
    await migrate(url);
    expect({ tables: await tables(), applied: await applied() }).toEqual(before);
  } finally {
    await sql.end();
  }
});
