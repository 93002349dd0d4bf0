/**
 * Stores: the paginated list, one store with its steps, its events, and the
 * create / retry / delete / resize mutations. Keys are stable so the live stream
 * (src/live) can patch or refresh exactly what changed.
 */
import { useMutation, useQuery, useQueryClient, keepPreviousData } from '@tanstack/react-query';
import type { QueryClient } from '@tanstack/react-query';
import {
  createBackup,
  createStore,
  deleteStore,
  getStore,
  listBackups,
  listStores,
  restoreStore,
  resumeStore,
  retryStore,
  storeEvents,
  storeLogs,
  storeMail,
  storeOperations,
  suspendStore,
  updateStore,
} from '../../client';
import type { ListStoresData, StoreCreate, StoreDetail, StoreLogsData, StoreOut, StorePage } from '../../client';
import { authKeys } from './auth';
import { usePollInterval } from '../../live/LiveStatus';

export type StoreListParams = NonNullable<ListStoresData['query']>;
export type LogSource = NonNullable<NonNullable<StoreLogsData['query']>['source']>;

export const storeKeys = {
  all: ['stores'] as const,
  lists: () => [...storeKeys.all, 'list'] as const,
  list: (params: StoreListParams) => [...storeKeys.lists(), params] as const,
  details: () => [...storeKeys.all, 'detail'] as const,
  detail: (id: number) => [...storeKeys.details(), id] as const,
  events: (id: number) => [...storeKeys.all, 'events', id] as const,
  mail: (id: number) => [...storeKeys.all, 'mail', id] as const,
  logs: (id: number, source: LogSource, q: string) => [...storeKeys.all, 'logs', id, source, q] as const,
  backups: (id: number) => [...storeKeys.all, 'backups', id] as const,
  operations: (id: number) => [...storeKeys.all, 'operations', id] as const,
};

/** Phases in which a store is still changing on its own. */
export const BUSY_PHASES: ReadonlySet<StoreOut['status']> = new Set(['pending', 'provisioning', 'deleting']);

export function useStores(params: StoreListParams) {
  const poll = usePollInterval();
  return useQuery({
    queryKey: storeKeys.list(params),
    queryFn: async ({ signal }) => (await listStores({ query: params, signal, throwOnError: true })).data,
    placeholderData: keepPreviousData,
    refetchInterval: poll,
  });
}

export function useStore(id: number) {
  const poll = usePollInterval();
  return useQuery({
    queryKey: storeKeys.detail(id),
    queryFn: async ({ signal }) => (await getStore({ path: { store_id: id }, signal, throwOnError: true })).data,
    refetchInterval: poll,
  });
}

export function useStoreEvents(id: number) {
  const poll = usePollInterval();
  return useQuery({
    queryKey: storeKeys.events(id),
    queryFn: async ({ signal }) => (await storeEvents({ path: { store_id: id }, signal, throwOnError: true })).data,
    refetchInterval: poll,
  });
}

/** The mail a store sent (local stores keep it in a mailbox of their own). */
export function useStoreMail(id: number, enabled: boolean) {
  const poll = usePollInterval();
  return useQuery({
    queryKey: storeKeys.mail(id),
    queryFn: async ({ signal }) => (await storeMail({ path: { store_id: id }, signal, throwOnError: true })).data,
    refetchInterval: poll || 10_000,
    enabled,
  });
}

/** How often an open Logs card asks for new lines. */
export const LOGS_REFRESH_MS = 5_000;

/**
 * A store's log lines, newest first and redacted (PHP errors or the access
 * log), refreshed while the card is open. A Kubernetes store's are read by a
 * worker: the answer may take a few seconds, or be a 503 when none answers.
 */
export function useStoreLogs(id: number, source: LogSource, q: string, enabled: boolean) {
  return useQuery({
    queryKey: storeKeys.logs(id, source, q),
    queryFn: async ({ signal }) =>
      (
        await storeLogs({
          path: { store_id: id },
          query: { source, q: q || undefined, limit: 200 },
          signal,
          throwOnError: true,
        })
      ).data,
    refetchInterval: LOGS_REFRESH_MS,
    enabled,
  });
}

/** Puts a changed store into every cached list page and its detail. */
export function applyStoreChange(qc: QueryClient, store: StoreOut): void {
  let listed = false;
  qc.setQueriesData<StorePage>({ queryKey: storeKeys.lists() }, (page) => {
    if (!page) return page;
    const i = page.items.findIndex((s) => s.id === store.id);
    if (i < 0) return page;
    listed = true;
    const items = page.items.slice();
    items[i] = store;
    return { ...page, items };
  });
  // A new store, or one that left (deleted), changes which rows a page holds.
  if (!listed || store.status === 'deleted') void qc.invalidateQueries({ queryKey: storeKeys.lists() });
  qc.setQueryData<StoreDetail>(storeKeys.detail(store.id), (old) => (old ? { ...old, ...store } : old));
  void qc.invalidateQueries({ queryKey: storeKeys.detail(store.id) });
  void qc.invalidateQueries({ queryKey: storeKeys.events(store.id) });
  void qc.invalidateQueries({ queryKey: storeKeys.backups(store.id) });
  void qc.invalidateQueries({ queryKey: storeKeys.operations(store.id) });
  void qc.invalidateQueries({ queryKey: authKeys.me() });
}

export function useCreateStore() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async (body: StoreCreate) => (await createStore({ body, throwOnError: true })).data,
    onSuccess: (store) => {
      void qc.invalidateQueries({ queryKey: storeKeys.lists() });
      void qc.invalidateQueries({ queryKey: authKeys.me() });
      const { admin_password: _secret, ...rest } = store;
      qc.setQueryData<StoreDetail>(storeKeys.detail(store.id), {
        ...rest,
        steps: [],
        backup_schedule_hours: 24,
        backup_schedule_is_default: true,
      });
    },
  });
}

export function useRetryStore(id: number) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async () => (await retryStore({ path: { store_id: id }, throwOnError: true })).data,
    onSuccess: (store) => applyStoreChange(qc, store),
  });
}

export function useDeleteStore(id: number) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async () => (await deleteStore({ path: { store_id: id }, throwOnError: true })).data,
    onSuccess: (store) => applyStoreChange(qc, store),
  });
}

/** A store's backups, newest first. */
export function useBackups(id: number, enabled = true) {
  const poll = usePollInterval();
  return useQuery({
    queryKey: storeKeys.backups(id),
    queryFn: async ({ signal }) =>
      (await listBackups({ path: { store_id: id }, signal, throwOnError: true })).data,
    refetchInterval: poll || 5_000,
    enabled,
  });
}

/** Everything done to a store, newest first, with each operation's steps. */
export function useOperations(id: number) {
  const poll = usePollInterval();
  return useQuery({
    queryKey: storeKeys.operations(id),
    queryFn: async ({ signal }) =>
      (await storeOperations({ path: { store_id: id }, query: { limit: 20 }, signal, throwOnError: true })).data,
    refetchInterval: poll || 5_000,
  });
}

function useStoreAction<T>(id: number, run: () => Promise<T>) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: run,
    onSuccess: () => {
      void qc.invalidateQueries({ queryKey: storeKeys.detail(id) });
      void qc.invalidateQueries({ queryKey: storeKeys.backups(id) });
      void qc.invalidateQueries({ queryKey: storeKeys.operations(id) });
      void qc.invalidateQueries({ queryKey: storeKeys.events(id) });
    },
  });
}

export function useTakeBackup(id: number) {
  return useStoreAction(id, async () => (await createBackup({ path: { store_id: id }, throwOnError: true })).data);
}

export function useRestoreBackup(id: number) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async (backupId: number) =>
      (await restoreStore({ path: { store_id: id }, body: { backup_id: backupId }, throwOnError: true })).data,
    onSuccess: () => {
      void qc.invalidateQueries({ queryKey: storeKeys.detail(id) });
      void qc.invalidateQueries({ queryKey: storeKeys.operations(id) });
    },
  });
}

export function useSuspendStore(id: number) {
  return useStoreAction(id, async () => (await suspendStore({ path: { store_id: id }, throwOnError: true })).data);
}

export function useResumeStore(id: number) {
  return useStoreAction(id, async () => (await resumeStore({ path: { store_id: id }, throwOnError: true })).data);
}

/**
 * Gives the store another plan: the API answers 202 with the store, whose
 * `current_operation` is then `resize` (its steps show like any operation's);
 * the plan field changes once the resize has succeeded.
 */
export function useResizeStore(id: number) {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async (plan: string) =>
      (await updateStore({ path: { store_id: id }, body: { plan }, throwOnError: true })).data,
    onSuccess: (store) => applyStoreChange(qc, store),
  });
}
