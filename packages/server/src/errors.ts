import type { TRPCError } from '@trpc/server';
import { appErrorOf } from '@woopdi/api';

/** Adds Retry-After to 429 answers, on tRPC and REST alike. */
export function retryAfterHeaders(errors: readonly TRPCError[]): Record<string, string> | undefined {
  for (const error of errors) {
    const seconds = appErrorOf(error)?.details?.retryAfterSeconds;
    if (error.code === 'TOO_MANY_REQUESTS' && typeof seconds === 'number') {
      return { 'Retry-After': String(Math.max(1, Math.ceil(seconds))) };
    }
  }
  return undefined;
}
