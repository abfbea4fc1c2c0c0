// graphile-worker's own logging, made quiet: warnings and errors go to our pino logger (a failed job
// attempt as one structured line), informational chatter such as "Completed task …" only at debug.
import type { Logger } from '@woopdi/core';
import { Logger as GraphileLogger, type Job } from 'graphile-worker';

export function createGraphileLogger(logger: Logger): GraphileLogger {
  return new GraphileLogger((scope) => (level, message, meta) => {
    const failure = meta?.failure === true ? (meta.job as Job | undefined) : undefined;
    if (failure) {
      const final = failure.attempts >= failure.max_attempts;
      logger[final ? 'error' : 'warn'](
        {
          task: failure.task_identifier,
          jobId: failure.id,
          attempt: failure.attempts,
          maxAttempts: failure.max_attempts,
          err: meta?.error,
        },
        `job ${failure.task_identifier} #${failure.id} failed (attempt ${failure.attempts} of ${failure.max_attempts}); ${final ? 'giving up' : 'will retry'}`,
      );
      return;
    }
    const fields = { ...scope, ...(meta?.error ? { err: meta.error } : {}) };
    switch (level as string) {
      case 'error':
        logger.error(fields, message);
        break;
      case 'warning':
        logger.warn(fields, message);
        break;
      case 'info':
        if (logger.isLevelEnabled('debug')) logger.debug(fields, message);
        break;
      default:
        if (logger.isLevelEnabled('trace')) logger.trace(fields, message);
    }
  });
}
