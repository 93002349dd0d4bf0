/** The signed-in user (`me`) and signing in (`login`). */
import { useMutation, useQuery } from '@tanstack/react-query';
import { login, me } from '../../client';
import type { LoginRequest } from '../../client';
import { setToken } from '../../api/session';

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

export function useLogin() {
  return useMutation({
    mutationFn: async (body: LoginRequest) => (await login({ body, throwOnError: true })).data,
    onSuccess: (token) => setToken(token.access_token),
  });
}
