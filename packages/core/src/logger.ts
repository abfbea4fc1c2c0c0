import { pino } from 'pino';
import { batchedDestination } from './log-destination.js';

export type Logger = pino.Logger;

export function createLogger(
  options: { level?: string; name?: string; destination?: pino.DestinationStream } = {},
): Logger {
  // stdout written asynchronously, one write per event-loop turn (see log-destination.ts): a
  // synchronous write per line blocked the event loop on every request of the hot path.
  const destination = options.destination ?? batchedDestination(1);
  return pino(
    {
      name: options.name ?? 'woopdi',
      level: options.level ?? 'info',
      // Credentials never reach the log, whatever object is passed in.
      redact: {
        paths: [
          'password',
          '*.password',
          'newPassword',
          '*.newPassword',
          'token',
          '*.token',
          'refreshToken',
          '*.refreshToken',
          'req.headers.authorization',
          'req.headers.cookie',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
