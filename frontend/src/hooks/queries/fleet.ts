/**
 * The fleet: its summary (stores by phase, time to ready), the releases new
 * stores get, the plans a store may have, and fleet upgrades with their
 * progress.
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { createFleetUpgrade, fleetPlans, fleetReleases, fleetSummary, getFleetUpgrade, listFleetUpgrades } from '../../client';
import type { FleetUpgradeCreate } from '../../client';
import { usePollInterval } from '../../live/LiveStatus';

export const fleetKeys = {
  all: ['fleet'] as const,
  summary: () => [...fleetKeys.all, 'summary'] as const,
  releases: () => [...fleetKeys.all, 'releases'] as const,
  plans: () => [...fleetKeys.all, 'plans'] as const,
  upgrades: () => [...fleetKeys.all, 'upgrades'] as const,
  upgrade: (id: number) => [...fleetKeys.all, 'upgrade', id] as const,
};

export function useFleetSummary() {
  const poll = usePollInterval();
  return useQuery({
    queryKey: fleetKeys.summary(),
    queryFn: async ({ signal }) => (await fleetSummary({ signal, throwOnError: true })).data,
    refetchInterval: poll || 5_000,
  });
}

export function useFleetReleases() {
  return useQuery({
    queryKey: fleetKeys.releases(),
    queryFn: async ({ signal }) => (await fleetReleases({ signal, throwOnError: true })).data,
  });
}

/**
 * The plans a store may have, with the default and whether the signed-in
 * user may give a store each one (members: the operator's member plans).
 * They change only when the operator restarts the platform.
 */
export function useFleetPlans() {
  return useQuery({
    queryKey: fleetKeys.plans(),
    queryFn: async ({ signal }) => (await fleetPlans({ signal, throwOnError: true })).data,
    staleTime: 5 * 60_000,
  });
}

export function useFleetUpgrades() {
  return useQuery({
    queryKey: fleetKeys.upgrades(),
    queryFn: async ({ signal }) => (await listFleetUpgrades({ query: { limit: 10 }, signal, throwOnError: true })).data,
    // An upgrade in progress changes every few seconds.
    refetchInterval: (q) => (q.state.data?.items.some((u) => u.status === 'running') ? 2_000 : 15_000),
  });
}

export function useFleetUpgrade(id: number | null) {
  return useQuery({
    queryKey: fleetKeys.upgrade(id ?? 0),
    queryFn: async ({ signal }) =>
      (await getFleetUpgrade({ path: { upgrade_id: id ?? 0 }, signal, throwOnError: true })).data,
    enabled: id !== null,
    refetchInterval: (q) => (q.state.data?.status === 'running' ? 2_000 : false),
  });
}

export function useStartFleetUpgrade() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async (body: FleetUpgradeCreate) => (await createFleetUpgrade({ body, throwOnError: true })).data,
    onSuccess: () => void qc.invalidateQueries({ queryKey: fleetKeys.all }),
  });
}
