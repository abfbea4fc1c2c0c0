import { expect } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';

/** The one-line message loadConfig refuses `env` with (fails the test if it accepts it). */
export function configError(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).message;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}
