// The API's errors as people read them: its own message (written for people), the field it
// concerns, and how long to wait after a 429.
import { isTRPCClientError } from '@woopdi/sdk';

interface ErrorData {
  code?: string;
  fieldErrors?: Record<string, string[] | undefined>;
  retryAfterSeconds?: number;
}

const dataOf = (error: unknown): ErrorData | undefined =>
  isTRPCClientError(error) ? ((error.data ?? undefined) as ErrorData | undefined) : undefined;

export const errorCode = (error: unknown): string | undefined => dataOf(error)?.code;

export function errorMessage(error: unknown): string {
  if (isTRPCClientError(error)) {
    // No answer at all (offline, server down): the client error carries fetch's message.
    if (!error.data) return 'The server could not be reached. Check your connection and try again.';
    return error.message;
  }
  if (error instanceof Error) return error.message;
  return String(error);
}

/** The messages the API gave for one input field (zod's field errors), if any. */
export function fieldError(error: unknown, field: string): string | undefined {
  const messages = dataOf(error)?.fieldErrors?.[field];
  return messages?.length ? messages.join(', ') : undefined;
}

export const retryAfterSeconds = (error: unknown): number | undefined => dataOf(error)?.retryAfterSeconds;
