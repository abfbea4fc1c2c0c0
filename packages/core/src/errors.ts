// Errors are values with a code and a sentence a person can act on. The api layer maps the code to
// a tRPC error (and so to an HTTP status on REST); nothing here knows about HTTP.
export type AppErrorCode =
  | 'BAD_REQUEST'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'PRECONDITION_FAILED'
  | 'PAYLOAD_TOO_LARGE'
  | 'TOO_MANY_REQUESTS'
  | 'SERVICE_UNAVAILABLE';

export class AppError extends Error {
  readonly code: AppErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: AppErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'AppError';
    this.code = code;
    this.details = details;
  }
}

export const badRequest = (message: string, details?: Record<string, unknown>) =>
  new AppError('BAD_REQUEST', message, details);
export const unauthorized = (message = 'Sign in to continue.') => new AppError('UNAUTHORIZED', message);
export const forbidden = (message = 'You do not have permission to do that.') =>
  new AppError('FORBIDDEN', message);
export const notFound = (what: string) => new AppError('NOT_FOUND', `${what} not found.`);
export const conflict = (message: string) => new AppError('CONFLICT', message);
export const preconditionFailed = (message: string) => new AppError('PRECONDITION_FAILED', message);
export const tooManyRequests = (message: string, retryAfterSeconds: number) =>
  new AppError('TOO_MANY_REQUESTS', message, { retryAfterSeconds });

export const serviceUnavailable = (message: string, retryAfterSeconds = 5) =>
  new AppError('SERVICE_UNAVAILABLE', message, { retryAfterSeconds });

export const isAppError = (e: unknown): e is AppError => e instanceof AppError;

// Connection-level failures of PostgreSQL (the postgres driver's codes, SQLSTATE classes 08 and 57P,
// too_many_connections) and of Redis (ioredis): the dependency is down, not the request wrong.
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EPIPE',
  'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  '53300',
  '57P01',
  '57P02',
  '57P03',
]);

/**
 * An AppError (503, Retry-After) when `error` — or anything in its cause chain — says PostgreSQL
 * or Redis cannot be reached; undefined for every other error.
 */
export function dependencyUnavailable(error: unknown): AppError | undefined {
  for (let e = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const { code, name, message } = e as { code?: unknown; name?: unknown; message?: unknown };
    const which =
      typeof code === 'string' && (UNREACHABLE.has(code) || code.startsWith('08'))
        ? 'database'
        : name === 'MaxRetriesPerRequestError' ||
            (typeof message === 'string' && /^Connection is closed|^Stream isn't writeable/.test(message))
          ? 'event bus'
          : undefined;
    if (which)
      return serviceUnavailable(
        `The service is temporarily unavailable (its ${which} cannot be reached). Try again in a few seconds.`,
      );
  }
  return undefined;
}
