// Baseline (b) of `pnpm bench`: what a careful developer writes by hand for the same job —
// node:http + jose (key imported once) + the postgres driver. Verifies the JWT, checks the
// membership with one query and reads the organization with another. No framework, no cache.
import { createServer } from 'node:http';
import { jwtVerify } from 'jose';
import postgres from 'postgres';

const sql = postgres(process.env.DATABASE_URL!, { max: 10, onnotice: () => {} });
const key = await crypto.subtle.importKey(
  'raw',
  new TextEncoder().encode(process.env.JWT_SECRET!),
  { name: 'HMAC', hash: 'SHA-256' },
  false,
  ['verify'],
);
const issuer = process.env.JWT_ISSUER!;
const audience = process.env.JWT_AUDIENCE!;
const route = /^\/api\/organizations\/([0-9a-f-]{36})$/;

function send(res: import('node:http').ServerResponse, status: number, body: unknown) {
  const json = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
  res.end(json);
}

const server = createServer(async (req, res) => {
  try {
    const match = req.method === 'GET' ? route.exec(req.url ?? '') : null;
    if (!match) return send(res, 404, { message: 'not found' });
    const header = req.headers.authorization;
    if (!header?.startsWith('Bearer ')) return send(res, 401, { message: 'sign in' });
    let sub: string;
    try {
      const { payload } = await jwtVerify(header.slice(7), key, { algorithms: ['HS256'], issuer, audience });
      sub = String(payload.sub);
    } catch {
      return send(res, 401, { message: 'invalid token' });
    }
    const organizationId = match[1]!;
    const [membership] = await sql`
      select role from memberships where organization_id = ${organizationId} and user_id = ${sub}`;
    if (!membership) return send(res, 403, { message: 'not a member' });
    const [org] = await sql`
      select id, name, slug, is_solo, plan, owner_user_id, created_at from organizations
      where id = ${organizationId} and deleted_at is null`;
    if (!org) return send(res, 404, { message: 'no such organization' });
    send(res, 200, {
      id: org.id,
      name: org.name,
      slug: org.slug,
      isSolo: org.is_solo,
      plan: org.plan,
      createdAt: org.created_at,
      role: membership.role,
      isOwner: org.owner_user_id === sub,
    });
  } catch {
    send(res, 500, { message: 'error' });
  }
});
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(
    `${JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 })}\n`,
  );
});
process.on('SIGTERM', () => {
  server.close();
  void sql.end().then(() => process.exit(0));
});
