// OAuth 2.0 / OpenID Connect sign-in providers, read from the environment (issue #18). Each is
// optional: Google (GOOGLE_CLIENT_ID/_SECRET), GitHub (GITHUB_CLIENT_ID/_SECRET) and any OpenID
// provider by discovery (OIDC_<NAME>_ISSUER/_CLIENT_ID/_CLIENT_SECRET → provider `<name>`).

export interface OAuthProviderConfig {
  /** The name in the URLs (/oauth/{name}/start) and in user_identities.provider. */
  name: string;
  /** What a sign-in button says: "Google", "GitHub", or the name as written. */
  label: string;
  kind: 'oidc' | 'github';
  /** OpenID issuer, found by discovery (oidc only). */
  issuer?: string;
  clientId: string;
  clientSecret: string;
}

export interface OAuthConfig {
  providers: OAuthProviderConfig[];
  /** GitHub's web host (GITHUB_OAUTH_BASE_URL) and API host (GITHUB_API_BASE_URL): tests point them at a local server. */
  github: { oauthBaseUrl: string; apiBaseUrl: string };
}

const GOOGLE_ISSUER = 'https://accounts.google.com';
const NAME = /^[a-z0-9][a-z0-9-]{0,39}$/;

const trimmed = (v: string | undefined) => (v === undefined || v.trim() === '' ? undefined : v.trim());

function httpUrl(name: string, value: string, isProd: boolean): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`${name} must be a URL such as https://accounts.example.com`);
  }
  const allowed = isProd ? ['https:'] : ['https:', 'http:'];
  if (!allowed.includes(url.protocol))
    throw new Error(`${name} must be an ${isProd ? 'https' : 'http(s)'} URL, not ${url.protocol}`);
  return value.replace(/\/+$/, '');
}

/**
 * Reads the providers. A provider with only some of its variables set is refused with IS_PROD
 * (a half-configured sign-in button would fail for every user); in development it is left out.
 * Throws an Error whose message names the variable and the fix.
 */
export function parseOAuthConfig(env: Record<string, string | undefined>, isProd: boolean): OAuthConfig {
  const candidates: Array<{
    name: string;
    label: string;
    kind: 'oidc' | 'github';
    vars: Record<string, string>;
  }> = [
    {
      name: 'google',
      label: 'Google',
      kind: 'oidc',
      vars: { clientId: 'GOOGLE_CLIENT_ID', clientSecret: 'GOOGLE_CLIENT_SECRET' },
    },
    {
      name: 'github',
      label: 'GitHub',
      kind: 'github',
      vars: { clientId: 'GITHUB_CLIENT_ID', clientSecret: 'GITHUB_CLIENT_SECRET' },
    },
  ];
  const oidcNames = new Set<string>();
  for (const key of Object.keys(env)) {
    const m = /^OIDC_([A-Z0-9_]+?)_(ISSUER|CLIENT_ID|CLIENT_SECRET)$/.exec(key);
    if (m && trimmed(env[key]) !== undefined) oidcNames.add(m[1]!);
  }
  for (const upper of [...oidcNames].sort()) {
    const name = upper.toLowerCase().replace(/_/g, '-');
    if (!NAME.test(name) || name === 'google' || name === 'github') {
      throw new Error(
        `OIDC_${upper}_ISSUER: the provider name "${name}" is ${NAME.test(name) ? 'reserved (use GOOGLE_* or GITHUB_*)' : 'not usable: use letters and digits, at most 40'}`,
      );
    }
    candidates.push({
      name,
      label: upper.charAt(0) + upper.slice(1).toLowerCase().replace(/_/g, ' '),
      kind: 'oidc',
      vars: {
        issuer: `OIDC_${upper}_ISSUER`,
        clientId: `OIDC_${upper}_CLIENT_ID`,
        clientSecret: `OIDC_${upper}_CLIENT_SECRET`,
      },
    });
  }

  const providers: OAuthProviderConfig[] = [];
  for (const c of candidates) {
    const values = Object.fromEntries(Object.entries(c.vars).map(([field, v]) => [field, trimmed(env[v])]));
    const missing = Object.entries(c.vars)
      .filter(([field]) => values[field] === undefined)
      .map(([, v]) => v);
    if (missing.length === Object.keys(c.vars).length) continue;
    if (missing.length > 0) {
      if (!isProd) continue;
      const set = Object.values(c.vars).filter((v) => !missing.includes(v));
      throw new Error(
        `${missing[0]} is required when ${set.join(' and ')} ${set.length > 1 ? 'are' : 'is'} set: give every variable of the ${c.label} sign-in, or unset them all`,
      );
    }
    if (values.clientId!.length > 512 || values.clientSecret!.length > 2048)
      throw new Error(`${c.vars.clientId}: the client id or secret is too long to be real`);
    providers.push({
      name: c.name,
      label: c.label,
      kind: c.kind,
      ...(c.kind === 'oidc' && {
        issuer: c.vars.issuer ? httpUrl(c.vars.issuer, values.issuer!, isProd) : GOOGLE_ISSUER,
      }),
      clientId: values.clientId!,
      clientSecret: values.clientSecret!,
    });
  }

  return {
    providers,
    github: {
      oauthBaseUrl: httpUrl(
        'GITHUB_OAUTH_BASE_URL',
        trimmed(env.GITHUB_OAUTH_BASE_URL) ?? 'https://github.com',
        isProd,
      ),
      apiBaseUrl: httpUrl(
        'GITHUB_API_BASE_URL',
        trimmed(env.GITHUB_API_BASE_URL) ?? 'https://api.github.com',
        isProd,
      ),
    },
  };
}
