// The hot-path data set (issue #11): 10,000 users, 2,000 team organizations, 50,000 memberships,
// and 1,000 (access token, organization) pairs of real members, each with its own session.
// Built with bulk SQL (one shared password hash); the tokens are signed by Woopdi's own
// access-token service for real session rows, exactly as a login issues them.
import { createAccessTokens } from '@woopdi/api';
import { hashPassword, loadConfig } from '@woopdi/core';
import { migrate } from '@woopdi/db';
import postgres from 'postgres';

export interface Dataset {
  databaseUrl: string;
  /** Every pair is a member's token and an organization they belong to. */
  pairs: Array<{ token: string; organizationId: string }>;
  jwt: { secret: string; issuer: string; audience: string };
  drop(): Promise<void>;
}

export const BENCH_JWT_SECRET = 'bench-Zq8fX2kLm9vR4tYw7nB3cJ6hD1sA5gE0';

export async function createDataset(
  adminUrl: string,
  sizes = { users: 10_000, orgs: 2_000, memberships: 50_000, pairs: 1_000 },
): Promise<Dataset> {
  const name = `woopdi_bench_${process.pid}`;
  const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`drop database if exists "${name}" with (force)`);
  await admin.unsafe(`create database "${name}"`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const databaseUrl = url.toString();
  await migrate(databaseUrl);

  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  const hash = await hashPassword('bench password 1');
  await sql.begin(async (tx) => {
    await tx`set constraints all deferred`;
    await tx`
      insert into users (id, email, password_hash, email_verified_at)
      select gen_random_uuid(), 'user' || i || '@bench.example', ${hash}, now()
      from generate_series(1, ${sizes.users}) i`;
    // Organization i is owned by user i (an ADMIN membership, as the schema requires).
    await tx`
      create temp table bench_users on commit drop as
      select id, row_number() over (order by email) as n from users`;
    await tx`
      insert into organizations (id, name, slug, owner_user_id)
      select gen_random_uuid(), 'Bench org ' || u.n, 'bench-org-' || u.n, u.id
      from bench_users u where u.n <= ${sizes.orgs}`;
    await tx`
      insert into memberships (organization_id, user_id, role)
      select o.id, o.owner_user_id, 'ADMIN' from organizations o`;
    // The rest spread evenly over the other users: (memberships - orgs) / orgs more per organization.
    const perOrg = Math.round((sizes.memberships - sizes.orgs) / sizes.orgs);
    const others = sizes.users - sizes.orgs;
    await tx`
      insert into memberships (organization_id, user_id, role)
      select o.id, u.id, (array['MEMBER','MEMBER','MODERATOR']::org_role[])[1 + (k % 3)]
      from (select id, row_number() over (order by id) as n from organizations) o
      cross join generate_series(0, ${perOrg - 1}) k
      join bench_users u on u.n = ${sizes.orgs} + 1 + ((o.n * ${perOrg} + k) * 7919) % ${others}
      on conflict do nothing`;
  });
  const [row] = await sql<{ count: number }[]>`select count(*)::int as count from memberships`;
  const count = row?.count ?? 0;
  if (count < sizes.memberships * 0.9) throw new Error(`bench data set: only ${count} memberships`);

  const config = loadConfig({ JWT_SECRET: BENCH_JWT_SECRET });
  const tokens = await createAccessTokens(config.jwt);
  const members = await sql<{ userId: string; organizationId: string }[]>`
    select distinct on (user_id) user_id as "userId", organization_id as "organizationId"
    from memberships order by user_id, random() limit ${sizes.pairs}`;
  const sessions = await sql<{ id: string; userId: string }[]>`
    insert into sessions (user_id, family_id, refresh_token_hash, expires_at)
    select u, gen_random_uuid(), md5(random()::text), now() + interval '1 day'
    from unnest(${members.map((m) => m.userId)}::uuid[]) u
    returning id, user_id as "userId"`;
  const sessionOf = new Map(sessions.map((s) => [s.userId, s.id]));
  const pairs = await Promise.all(
    members.map(async (m) => ({
      organizationId: m.organizationId,
      token: (await tokens.sign({ sub: m.userId, sid: sessionOf.get(m.userId)!, role: 'user' })).token,
    })),
  );
  await sql.end();
  return {
    databaseUrl,
    pairs,
    jwt: { secret: BENCH_JWT_SECRET, issuer: config.jwt.issuer, audience: config.jwt.audience },
    async drop() {
      await admin.unsafe(`drop database if exists "${name}" with (force)`);
      await admin.end();
    },
  };
}
