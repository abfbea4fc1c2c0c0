import type { TRPCError } from '@trpc/server';
import { appErrorOf } from '@woopdi/api';
import { type AppErrorCode, dependencyUnavailable } from '@woopdi/core';

/** Adds Retry-After to 429 and 503 answers, on tRPC and REST alike. */
export function retryAfterHeaders(errors: readonly TRPCError[]): Record<string, string> | undefined {
  for (const error of errors) {
    const seconds = appErrorOf(error)?.details?.retryAfterSeconds;
    if (
      (error.code === 'TOO_MANY_REQUESTS' || error.code === 'SERVICE_UNAVAILABLE') &&
      typeof seconds === 'number'
    ) {
      return { 'Retry-After': String(Math.max(1, Math.ceil(seconds))) };
    }
  }
  return undefined;
}

/** HTTP status of each error code, as on the REST API (DESIGN §5). */
export const httpStatusOf: Record<AppErrorCode, number> = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PRECONDITION_FAILED: 412,
  PAYLOAD_TOO_LARGE: 413,
  TOO_MANY_REQUESTS: 429,
  SERVICE_UNAVAILABLE: 503,
};

export interface ErrorResponse {
  status: number;
  body: { code: string; message: string };
}

/** Status and JSON body for a core AppError (routes outside tRPC); undefined for anything else. */
export function errorResponseOf(error: unknown): ErrorResponse | undefined {
  const appError = appErrorOf(error) ?? dependencyUnavailable(error);
  if (!appError) return undefined;
  return {
    status: httpStatusOf[appError.code] ?? 400,
    body: { code: appError.code, message: appError.message },
  };
}
