// No Docker engine runs here, so the image and compose files are checked structurally: the roles,
// health checks, start order and environment that service mode depends on.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const composePath = `${root}docker/compose.yml`;
const compose = parse(readFileSync(composePath, 'utf8'), { merge: true }) as {
  services: Record<
    string,
    {
      command?: string[];
      healthcheck?: { test?: string[]; disable?: boolean };
      depends_on?: Record<string, { condition: string }>;
      environment?: Record<string, string>;
      volumes?: string[];
      stop_grace_period?: string;
      build?: { dockerfile: string };
    }
  >;
  volumes: Record<string, unknown>;
};
const dockerfile = readFileSync(`${root}docker/Dockerfile`, 'utf8');
const entrypoint = readFileSync(`${root}docker/entrypoint.sh`, 'utf8');

function composeCli(): boolean {
  try {
    execFileSync('docker', ['compose', 'version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('docker/compose.yml', () => {
  it('declares postgres, redis, a one-shot migrate, api and worker', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['api', 'migrate', 'postgres', 'redis', 'worker']);
    expect(compose.services.migrate!.command).toEqual(['migrate']);
    expect(compose.services.api!.command).toEqual(['api']);
    expect(compose.services.worker!.command).toEqual(['worker']);
  });

  it('health-checks the stateful services and the api (on /readyz)', () => {
    expect(compose.services.postgres!.healthcheck?.test?.join(' ')).toMatch(/pg_isready/);
    expect(compose.services.redis!.healthcheck?.test?.join(' ')).toMatch(/redis-cli ping/);
    expect(compose.services.api!.healthcheck?.test?.join(' ')).toMatch(/\/readyz/);
  });

  it('starts api and worker only after a successful migration and a healthy redis', () => {
    for (const role of ['api', 'worker']) {
      const deps = compose.services[role]!.depends_on!;
      expect(deps.migrate).toEqual({ condition: 'service_completed_successfully' });
      expect(deps.redis).toEqual({ condition: 'service_healthy' });
    }
    expect(compose.services.migrate!.depends_on!.postgres).toEqual({ condition: 'service_healthy' });
  });

  it('gives every app container the variables service mode needs', () => {
    for (const role of ['api', 'worker', 'migrate']) {
      const env = compose.services[role]!.environment!;
      for (const name of [
        'DATABASE_URL',
        'REDIS_URL',
        'JWT_SECRET',
        'ENCRYPTION_KEY',
        'IS_PROD',
        'WEB_CLIENT_URL',
      ]) {
        expect(env, `${role}.${name}`).toHaveProperty(name);
      }
      // Secrets have no defaults: compose refuses to start without them.
      expect(env.JWT_SECRET).toMatch(/^\$\{JWT_SECRET:\?/);
      expect(env.ENCRYPTION_KEY).toMatch(/^\$\{ENCRYPTION_KEY:\?/);
    }
  });

  it('keeps data in named volumes and gives api and worker time to stop gracefully', () => {
    expect(Object.keys(compose.volumes)).toEqual(expect.arrayContaining(['postgres-data', 'redis-data']));
    expect(compose.services.api!.stop_grace_period).toBeDefined();
    expect(compose.services.worker!.stop_grace_period).toBeDefined();
  });

  it.runIf(composeCli())('is accepted by `docker compose config`', () => {
    execFileSync('docker', ['compose', '-f', composePath, 'config', '--quiet'], {
      env: { ...process.env, JWT_SECRET: 'x'.repeat(48), ENCRYPTION_KEY: 'y'.repeat(44) },
    });
  });
});

describe('docker/Dockerfile', () => {
  it('builds in stages with pnpm deploy and runs as a non-root user', () => {
    expect(dockerfile.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(2);
    expect(dockerfile).toMatch(/pnpm@12\.4\.2/);
    expect(dockerfile).toMatch(/pnpm install --frozen-lockfile/);
    expect(dockerfile).toMatch(/deploy --prod/);
    expect(dockerfile).toMatch(/^USER node$/m);
  });

  it('health-checks /readyz and ships the migrations where the migrate role looks for them', () => {
    expect(dockerfile).toMatch(/HEALTHCHECK[\s\S]*\/readyz/);
    expect(dockerfile).toMatch(/WOOPDI_MIGRATIONS_DIR=\/app\/drizzle/);
    expect(dockerfile).toMatch(/COPY .*drizzle \.\/drizzle/);
  });

  it('builds the compiled runtime and ships only production dependencies', () => {
    expect(dockerfile).toMatch(/^RUN pnpm --filter @woopdi\/server build$/m);
    const build = dockerfile.search(/^RUN pnpm --filter @woopdi\/server build$/m);
    expect(dockerfile.search(/deploy --prod/)).toBeGreaterThan(build);
  });

  it('has an entrypoint with the api, worker and migrate roles, exec-ing node on dist so signals reach it', () => {
    for (const [role, file] of [
      ['api', 'main-api.js'],
      ['worker', 'main-worker.js'],
      ['migrate', 'main-migrate.js'],
    ]) {
      expect(entrypoint).toMatch(new RegExp(`${role}\\) exec node /app/dist/${file} ;;`));
    }
    // No TypeScript at run time: neither tsx nor a loader hook.
    expect(entrypoint).not.toMatch(/tsx|--import|--loader|\.ts\b/);
  });

  it('runs from the deployed tree: the server package ships dist/, and so do the packages it uses', () => {
    for (const name of ['db', 'core', 'api', 'worker', 'server']) {
      const pkg = JSON.parse(readFileSync(`${root}packages/${name}/package.json`, 'utf8')) as {
        files?: string[];
        exports: Record<string, string | Record<string, string>>;
        dependencies?: Record<string, string>;
      };
      expect(pkg.files, name).toContain('dist');
      const main = pkg.exports['.'] as Record<string, string>;
      expect(main.default, name).toBe('./dist/index.js');
      expect(Object.keys(pkg.dependencies ?? {}), name).not.toContain('tsx');
    }
  });
});
