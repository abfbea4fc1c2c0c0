// The task quotas' variables (issue #14, finding 13): defaults, overrides, and a one-line refusal
// naming the variable and the fix for a value out of bounds.
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';

describe('task quotas', () => {
  it('default to 3 tasks at once on Free, 20 on Pro, and 30 starts per user a minute', () => {
    const config = loadConfig({});
    expect(config.plans.free.concurrentTasks).toBe(3);
    expect(config.plans.pro.concurrentTasks).toBe(20);
    expect(config.rateLimits.taskStart).toEqual({ points: 30, seconds: 60 });
  });

  it('are read from PLAN_FREE_CONCURRENT_TASKS, PLAN_PRO_CONCURRENT_TASKS and RATE_LIMIT_TASK_STARTS', () => {
    const config = loadConfig({
      PLAN_FREE_CONCURRENT_TASKS: '5',
      PLAN_PRO_CONCURRENT_TASKS: '50',
      RATE_LIMIT_TASK_STARTS: '10/30',
    });
    expect(config.plans.free.concurrentTasks).toBe(5);
    expect(config.plans.pro.concurrentTasks).toBe(50);
    expect(config.rateLimits.taskStart).toEqual({ points: 10, seconds: 30 });
  });

  it.for([
    ['PLAN_FREE_CONCURRENT_TASKS', '0'],
    ['PLAN_FREE_CONCURRENT_TASKS', 'many'],
    ['PLAN_PRO_CONCURRENT_TASKS', '2.5'],
    ['PLAN_PRO_CONCURRENT_TASKS', '10001'],
  ])('refuse %s=%s with one line naming it and the range', ([name, value]) => {
    expect(() => loadConfig({ [name!]: value! })).toThrow(ConfigError);
    expect(() => loadConfig({ [name!]: value! })).toThrow(
      new RegExp(
        `^${name} is invalid: ${name} must be a whole number from 1 to 10000 .*Fix it in your environment`,
      ),
    );
  });

  it('refuse a RATE_LIMIT_TASK_STARTS that is not "attempts/seconds"', () => {
    expect(() => loadConfig({ RATE_LIMIT_TASK_STARTS: '30 per minute' })).toThrow(
      /^RATE_LIMIT_TASK_STARTS is invalid: RATE_LIMIT_TASK_STARTS must look like "5\/60"/,
    );
  });
});
