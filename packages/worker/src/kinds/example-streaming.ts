import { setTimeout as sleep } from 'node:timers/promises';
import { defineKind } from './define.js';

/**
 * The demo: N steps, one progress event each. A retry resumes after the last reported step.
 * `intervalMs: 0` reports as fast as the events can be written (no timer at all).
 */
export const exampleStreaming = defineKind('example_streaming', async ({ steps, intervalMs }, report) => {
  const from = await report.resumePoint();
  for (let step = from + 1; step <= steps; step++) {
    if (intervalMs > 0) await sleep(intervalMs);
    await report.progress({ current: step, total: steps, message: `Processing step ${step}/${steps}` });
  }
  return { message: 'Example streaming task completed successfully', data: { steps } };
});
