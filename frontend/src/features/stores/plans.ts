/**
 * Plans in words: what a store on a plan may use (GET /api/fleet/plans), so
 * a person picks "512 MiB of memory, 1 CPU, 5 PHP workers" rather than a name.
 */
import type { PlanOut } from '../../client';

export function formatMemory(mib: number): string {
  return mib >= 1024 && mib % 1024 === 0 ? `${mib / 1024} GiB` : `${mib} MiB`;
}

export function formatCpus(cpus: number): string {
  return `${Number.isInteger(cpus) ? cpus : cpus.toFixed(1)} ${cpus === 1 ? 'CPU' : 'CPUs'}`;
}

/** "512 MiB of memory, 1 CPU, 5 PHP workers" */
export function planSummary(plan: PlanOut): string {
  const workers = `${plan.php_workers} PHP ${plan.php_workers === 1 ? 'worker' : 'workers'}`;
  return `${formatMemory(plan.memory_mib)} of memory, ${formatCpus(plan.cpus)}, ${workers}`;
}

/** The longer version, for a hint: what the workers and the request limit mean. */
export function planDetails(plan: PlanOut): string {
  return (
    `Serves ${plan.php_workers} uncached requests at once, each up to ${formatMemory(plan.php_memory_mib)}; ` +
    `${plan.storage_gib} GiB of storage.`
  );
}

/** The plans the signed-in person may give a store (admins: every plan). */
export function pickablePlans(plans: PlanOut[]): PlanOut[] {
  return plans.filter((p) => p.yours_to_pick);
}

/** The plan to preselect: the platform's default when it may be picked. */
export function initialPlan(plans: PlanOut[]): string | undefined {
  const pickable = pickablePlans(plans);
  return (pickable.find((p) => p.default) ?? pickable[0])?.name;
}
