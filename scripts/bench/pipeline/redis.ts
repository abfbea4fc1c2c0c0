// ioredis for the benchmarks' raw clients: a dependency of @woopdi/core, not of the workspace root,
// so it is loaded from core's package directory (and typed by the little the benchmarks use).
import { createRequire } from 'node:module';

export interface RedisClient {
  publish(channel: string, message: string): Promise<number>;
  subscribe(...channels: string[]): Promise<unknown>;
  on(event: 'message', listener: (channel: string, message: string) => void): unknown;
  quit(): Promise<unknown>;
}

const ioredis = createRequire(new URL('../../../packages/core/package.json', import.meta.url))('ioredis') as {
  Redis: new (url: string, options?: Record<string, unknown>) => RedisClient;
};

export const createRedis = (url = process.env.REDIS_URL || 'redis://127.0.0.1:6379') =>
  new ioredis.Redis(url, { maxRetriesPerRequest: 3 });
