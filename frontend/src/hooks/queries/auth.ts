/** The signed-in user (`me`), signing in (`login`) and out (`logout`). */
import { useMutation, useQuery } from '@tanstack/react-query';
import { createSession, deleteSession, me } from '../../client';
import type { LoginRequest } from '../../client';
import { setSignedIn } from '../../api/session';

export const authKeys = {
  all: ['auth'] as const,
  me: () => [...authKeys.all, 'me'] as const,
};

export function useMe(enabled = true) {
  return useQuery({
    queryKey: authKeys.me(),
    queryFn: async () => (await me({ throwOnError: true })).data,
    enabled,
    staleTime: 30_000,
  });
}

/** Signs in with a session cookie; the response carries no token to keep. */
export function useLogin() {
  return useMutation({
    mutationFn: async (body: LoginRequest) => (await createSession({ body, throwOnError: true })).data,
    onSuccess: () => setSignedIn(true),
  });
}

export function useLogout() {
  return useMutation({
    mutationFn: async () => {
      await deleteSession({ throwOnError: true });
    },
    // Signed out here whatever the server said: the cookies are its to clear.
    onSettled: () => setSignedIn(false),
  });
}
