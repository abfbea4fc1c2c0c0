import { TRPCError } from '@trpc/server';
import { type AppError, isAppError } from '@woopdi/core';

/** Turns a core AppError into the tRPC error that carries its code (and so its HTTP status). */
export function toTRPCError(error: AppError): TRPCError {
  const e = new TRPCError({ code: error.code, message: error.message, cause: error });
  return e;
}

export function appErrorOf(error: unknown): AppError | undefined {
  if (isAppError(error)) return error;
  if (error instanceof TRPCError && isAppError(error.cause)) return error.cause;
  return undefined;
}
