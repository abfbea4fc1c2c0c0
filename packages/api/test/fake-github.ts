// A local HTTP server answering like GitHub's OAuth endpoints (/login/oauth/authorize,
// /login/oauth/access_token) and its REST API (/user, /user/emails), for GITHUB_OAUTH_BASE_URL and
// GITHUB_API_BASE_URL. Like GitHub, the token endpoint answers 200 with an `error` for a bad code,
// and it checks the client secret, the redirect URI and the PKCE verifier.
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface GitHubUser {
  id: number;
  login: string;
  name: string | null;
  emails: { email: string; primary: boolean; verified: boolean }[];
}

export interface FakeGitHub {
  url: string;
  /** The user the next authorization signs in as. */
  signInAs(user: GitHubUser): void;
  tokenRequests: URLSearchParams[];
  close(): Promise<void>;
}

const readBody = async (req: IncomingMessage) => {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
};

export async function startFakeGitHub(client: { id: string; secret: string }): Promise<FakeGitHub> {
  let next: GitHubUser | undefined;
  const codes = new Map<string, { user: GitHubUser; challenge: string | null; redirectUri: string }>();
  const tokens = new Map<string, GitHubUser>();
  const tokenRequests: URLSearchParams[] = [];
  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
    res.end(JSON.stringify(body));
  };

  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://github.test');
    if (req.method === 'GET' && url.pathname === '/login/oauth/authorize') {
      const q = url.searchParams;
      if (q.get('client_id') !== client.id || !next) return json(res, 404, { message: 'Not Found' });
      const code = randomBytes(10).toString('hex');
      codes.set(code, {
        user: next,
        challenge: q.get('code_challenge_method') === 'S256' ? q.get('code_challenge') : null,
        redirectUri: q.get('redirect_uri') ?? '',
      });
      const back = new URL(q.get('redirect_uri')!);
      back.searchParams.set('code', code);
      if (q.get('state')) back.searchParams.set('state', q.get('state')!);
      res.writeHead(302, { location: back.href });
      return res.end();
    }
    if (req.method === 'POST' && url.pathname === '/login/oauth/access_token') {
      const body = new URLSearchParams(await readBody(req));
      tokenRequests.push(body);
      const basic = req.headers.authorization?.startsWith('Basic ')
        ? Buffer.from(req.headers.authorization.slice(6), 'base64')
            .toString()
            .split(':')
            .map(decodeURIComponent)
        : [];
      const id = body.get('client_id') ?? basic[0];
      const secret = body.get('client_secret') ?? basic[1];
      if (id !== client.id || secret !== client.secret)
        return json(res, 200, {
          error: 'incorrect_client_credentials',
          error_description: 'The client_id and/or client_secret passed are incorrect.',
        });
      const entry = codes.get(body.get('code') ?? '');
      codes.delete(body.get('code') ?? '');
      const verifier = body.get('code_verifier') ?? '';
      const challenge = createHash('sha256').update(verifier).digest('base64url');
      if (
        !entry ||
        entry.redirectUri !== body.get('redirect_uri') ||
        (entry.challenge && entry.challenge !== challenge)
      )
        return json(res, 200, {
          error: 'bad_verification_code',
          error_description: 'The code passed is incorrect or expired.',
        });
      const token = `gho_${randomBytes(16).toString('hex')}`;
      tokens.set(token, entry.user);
      return json(res, 200, { access_token: token, token_type: 'bearer', scope: 'read:user,user:email' });
    }
    const user = tokens.get(req.headers.authorization?.replace(/^Bearer /, '') ?? '');
    if (req.method === 'GET' && (url.pathname === '/user' || url.pathname === '/user/emails')) {
      if (!user) return json(res, 401, { message: 'Bad credentials' });
      if (url.pathname === '/user')
        return json(res, 200, { id: user.id, login: user.login, name: user.name });
      return json(
        res,
        200,
        user.emails.map((e) => ({ ...e, visibility: e.primary ? 'private' : null })),
      );
    }
    json(res, 404, { message: 'Not Found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    signInAs(user) {
      next = user;
    },
    tokenRequests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
