/** Users (admins only): list, create, and update (disable, role, quotas). */
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { createUser, listUsers, updateUser } from '../../client';
import type { UserCreate, UserUpdate } from '../../client';

export const userKeys = {
  all: ['users'] as const,
  lists: () => [...userKeys.all, 'list'] as const,
  list: (params: { limit: number; offset: number }) => [...userKeys.lists(), params] as const,
};

export function useUsers(params: { limit: number; offset: number }) {
  return useQuery({
    queryKey: userKeys.list(params),
    queryFn: async ({ signal }) => (await listUsers({ query: params, signal, throwOnError: true })).data,
    placeholderData: keepPreviousData,
  });
}

export function useCreateUser() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async (body: UserCreate) => (await createUser({ body, throwOnError: true })).data,
    onSuccess: () => qc.invalidateQueries({ queryKey: userKeys.lists() }),
  });
}

export function useUpdateUser() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async ({ id, body }: { id: number; body: UserUpdate }) =>
      (await updateUser({ path: { user_id: id }, body, throwOnError: true })).data,
    onSuccess: () => qc.invalidateQueries({ queryKey: userKeys.lists() }),
  });
}
