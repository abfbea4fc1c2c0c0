// tRPC's TanStack Query integration over the SDK's typed client: `trpc.users.me.queryOptions()`,
// `trpc.members.updateRole.mutationOptions()`, `trpc.tasks.list.queryKey(...)` for invalidation.
import { QueryClient } from '@tanstack/react-query';
import { createTRPCOptionsProxy } from '@trpc/tanstack-react-query';
import type { AppRouter } from '@woopdi/sdk';
import { errorCode } from './errors';
import { woopdi } from './woopdi';

/** Answers that another try cannot change: shown at once instead of retried. */
const FINAL = new Set([
  'BAD_REQUEST',
  'UNAUTHORIZED',
  'FORBIDDEN',
  'NOT_FOUND',
  'CONFLICT',
  'PRECONDITION_FAILED',
  'TOO_MANY_REQUESTS',
]);

export const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      staleTime: 10_000,
      retry: (failures, error) => !FINAL.has(errorCode(error) ?? '') && failures < 2,
    },
  },
});

export const trpc = createTRPCOptionsProxy<AppRouter>({ client: woopdi.api, queryClient });
