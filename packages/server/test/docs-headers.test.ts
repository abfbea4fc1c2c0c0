// Issue #14, "Also": Redoc loads nothing from a CDN, and CSP upgrade-insecure-requests is sent only
// over TLS (directly or through a trusted proxy's X-Forwarded-Proto) or when API_HOST is https —
// sent over plain HTTP under any host name but localhost, it left /docs blank.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from './helpers.js';

let plain: TestServer;
let https: TestServer;
beforeAll(async () => {
  plain = await startTestServer();
  https = await startTestServer({ API_HOST: 'https://api.example.com' });
});
afterAll(async () => {
  await plain?.close();
  await https?.close();
});

const csp = async (url: string, headers: Record<string, string> = {}) =>
  (await fetch(url, { headers })).headers.get('content-security-policy') ?? '';

describe('upgrade-insecure-requests', () => {
  // /docs (its own policy), /healthz (express), /api/system-settings (the hot path).
  const paths = ['/docs', '/redoc', '/healthz', '/api/system-settings', '/trpc/system.settings'];

  it('is absent over plain HTTP, under another host name too', async () => {
    for (const path of paths) {
      const policy = await csp(`${plain.url}${path}`, { host: 'woopdi.internal:8000' });
      expect(policy, path).toMatch(/default-src 'self'/);
      expect(policy, path).not.toContain('upgrade-insecure-requests');
    }
  });

  it('is sent when a trusted proxy says the request came over TLS', async () => {
    for (const path of paths)
      expect(await csp(`${plain.url}${path}`, { 'x-forwarded-proto': 'https' }), path).toContain(
        'upgrade-insecure-requests',
      );
  });

  it('is always sent when API_HOST is https', async () => {
    for (const path of paths)
      expect(await csp(`${https.url}${path}`), path).toContain('upgrade-insecure-requests');
  });
});

describe('Redoc without a CDN', () => {
  it('serves the bundle pointing at a local logo, and the logo', async () => {
    const page = await (await fetch(`${plain.url}/redoc`)).text();
    expect(page).not.toMatch(/https?:\/\//);
    const bundle = await fetch(`${plain.url}/redoc/redoc.standalone.js`);
    expect(bundle.status).toBe(200);
    expect(bundle.headers.get('content-type')).toMatch(/javascript/);
    const js = await bundle.text();
    expect(js.length).toBeGreaterThan(100_000);
    expect(js).not.toContain('cdn.redoc.ly');
    expect(js).toContain('/redoc/logo-mini.svg');
    const logo = await fetch(`${plain.url}/redoc/logo-mini.svg`);
    expect(logo.status).toBe(200);
    expect(logo.headers.get('content-type')).toMatch(/image\/svg\+xml/);
  });
});
