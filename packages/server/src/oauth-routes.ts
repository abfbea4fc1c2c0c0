// The browser's side of OAuth sign-in (issue #18): redirects only, the rules live in the api's
// services/oauth.ts. Tokens never appear in a URL: the callback hands the front end a one-time code
// that it exchanges with POST /api/auth/oauth/exchange.
import {
  type ApiDeps,
  appErrorOf,
  assertSupportMay,
  authenticate,
  createContextFactory,
  finishAuthorization,
  OAUTH_STATE_TTL_MS,
  startAuthorization,
} from '@woopdi/api';
import { forbidden } from '@woopdi/core';
import express, { type Request, type Response, Router } from 'express';
import { errorResponseOf } from './errors.js';

/** Binds a started sign-in to the browser that started it (checked at the callback). */
const STATE_COOKIE = 'woopdi_oauth_state';

function cookie(req: Request, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return decodeURIComponent(value.join('='));
  }
  return undefined;
}

const origin = (req: Request) => `${req.protocol}://${req.get('host')}`;

function refuse(req: Request, res: Response, error: unknown) {
  const answer = errorResponseOf(error);
  if (!answer) {
    req.log?.error({ err: error }, 'oauth route failed');
    res.status(500).json({
      code: 'INTERNAL_SERVER_ERROR',
      message: 'Something went wrong on our side. It has been logged; try again shortly.',
    });
    return;
  }
  const seconds = appErrorOf(error)?.details?.retryAfterSeconds;
  if (typeof seconds === 'number') res.setHeader('Retry-After', String(Math.max(1, Math.ceil(seconds))));
  res.status(answer.status).json(answer.body);
}

const text = (v: unknown) => (typeof v === 'string' ? v : undefined);

export function oauthRoutes(deps: ApiDeps): Router {
  const router = Router();
  const createContext = createContextFactory(deps);
  const secure = (req: Request) => req.secure || (deps.config.apiHost?.startsWith('https://') ?? false);

  // Sign-in: a plain browser navigation. ?redirectTo= a page of the web app.
  router.get('/oauth/:provider/start', async (req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    try {
      if (req.query.link !== undefined) {
        throw forbidden(
          'Linking needs your session: POST /oauth/{provider}/start with your access token (Authorization: Bearer) and { redirectTo }, then send the browser to the `url` it answers.',
        );
      }
      const started = await startAuthorization(deps, String(req.params.provider), {
        redirectTo: text(req.query.redirectTo),
        requestOrigin: origin(req),
        ip: req.ip ?? null,
      });
      res.cookie(STATE_COOKIE, started.state, {
        httpOnly: true,
        sameSite: 'lax',
        secure: secure(req),
        path: '/oauth',
        maxAge: OAUTH_STATE_TTL_MS,
      });
      res.redirect(302, started.url);
    } catch (error) {
      refuse(req, res, error);
    }
  });

  // Linking from the account page: the signed-in user is proven by the Bearer token of this call
  // (a browser redirect could not carry it without putting it in a URL); it answers the URL to open.
  router.post('/oauth/:provider/start', express.json({ limit: '16kb' }), async (req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    try {
      const session = await authenticate(createContext({ req }));
      if (session.apiKey) {
        throw forbidden('API keys cannot link sign-in providers: use the access token of a signed-in user.');
      }
      // A support session never adds a way into the account it acts as (services/impersonation.ts).
      assertSupportMay(session, { type: 'mutation', path: 'oauth.link', notUnderImpersonation: true });
      const started = await startAuthorization(deps, String(req.params.provider), {
        redirectTo: text(req.body?.redirectTo) ?? text(req.query.redirectTo),
        requestOrigin: origin(req),
        linkUserId: session.userId,
      });
      res.json({ url: started.url });
    } catch (error) {
      refuse(req, res, error);
    }
  });

  router.get('/oauth/:provider/callback', async (req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Referrer-Policy', 'no-referrer');
    try {
      const query = new URLSearchParams(req.originalUrl.split('?')[1] ?? '');
      const target = await finishAuthorization(deps, String(req.params.provider), {
        query,
        browserState: cookie(req, STATE_COOKIE),
        ip: req.ip ?? null,
      });
      res.clearCookie(STATE_COOKIE, { path: '/oauth', httpOnly: true, sameSite: 'lax', secure: secure(req) });
      res.redirect(302, target);
    } catch (error) {
      refuse(req, res, error);
    }
  });

  return router;
}
