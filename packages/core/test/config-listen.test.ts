// HOST and WEB_CONCURRENCY: where the api binds and how many api processes `start:api` runs.
import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { configError } from './config-error.js';

describe('HOST', () => {
  it('defaults to every IPv4 interface; empty means unset', () => {
    expect(loadConfig({}).host).toBe('0.0.0.0');
    expect(loadConfig({ HOST: '' }).host).toBe('0.0.0.0');
  });

  it('takes an IPv4 or IPv6 address or a host name', () => {
    for (const host of ['127.0.0.1', '10.1.2.3', '::', '::1', 'localhost', 'api.internal']) {
      expect(loadConfig({ HOST: host }).host).toBe(host);
    }
    expect(loadConfig({ HOST: ' 127.0.0.1 ' }).host).toBe('127.0.0.1');
  });

  it('refuses a URL or garbage with one line naming HOST and what to give', () => {
    for (const host of ['http://0.0.0.0', '0.0.0.0:8000', 'my host', '-bad']) {
      const message = configError({ HOST: host });
      expect(message).toMatch(/^HOST is invalid: give the address to listen on: 0\.0\.0\.0/);
      expect(message).not.toContain('\n');
    }
  });
});

describe('WEB_CONCURRENCY', () => {
  it('defaults to one process', () => {
    expect(loadConfig({}).webConcurrency).toBe(1);
    expect(loadConfig({ WEB_CONCURRENCY: '' }).webConcurrency).toBe(1);
  });

  it('takes a whole number, or auto for one process per CPU core', () => {
    expect(loadConfig({ WEB_CONCURRENCY: '4' }).webConcurrency).toBe(4);
    expect(loadConfig({ WEB_CONCURRENCY: 'auto' }).webConcurrency).toBe(availableParallelism());
    expect(loadConfig({ WEB_CONCURRENCY: 'AUTO' }).webConcurrency).toBe(availableParallelism());
  });

  it('refuses anything else with one line naming WEB_CONCURRENCY and what to give', () => {
    for (const value of ['0', '-1', '1.5', 'two', '257', 'auto2']) {
      const message = configError({ WEB_CONCURRENCY: value });
      expect(message).toBe(
        'WEB_CONCURRENCY is invalid: give the number of api processes: a whole number from 1 to 256, or auto for one per CPU core (default 1). Fix it in your environment or .env file.',
      );
    }
  });
});
