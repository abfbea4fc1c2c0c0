// Who is signed in, for every page: the tokens' presence (the SDK's store) and the user behind them.
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useCallback, useSyncExternalStore } from 'react';
import { trpc } from './lib/trpc';
import { authStore, woopdi } from './lib/woopdi';

export const useSignedIn = () => useSyncExternalStore(authStore.subscribe, authStore.signedIn);

export function useMe() {
  const signedIn = useSignedIn();
  return useQuery({ ...trpc.users.me.queryOptions(), enabled: signedIn });
}

export function useMemberships() {
  const signedIn = useSignedIn();
  return useQuery({ ...trpc.users.memberships.queryOptions({ includeSolo: true }), enabled: signedIn });
}

/** Signs out here (the server ends this sign-in, or every one) and forgets every cached answer. */
export function useSignOut() {
  const queryClient = useQueryClient();
  return useCallback(
    async (everywhere = false) => {
      try {
        await woopdi.logout({ everywhere });
      } finally {
        queryClient.clear();
      }
    },
    [queryClient],
  );
}
