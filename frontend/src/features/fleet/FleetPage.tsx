/**
 * The fleet (admins): stores by phase and time from request to ready (p50 and
 * p95), the releases new stores get, starting a fleet upgrade, and the upgrade
 * in progress store by store, wave by wave, with why it halted.
 */
import { useState } from 'react';
import { Link } from 'react-router-dom';
import { errorMessage } from '../../api/errors';
import type { FleetSummary, FleetUpgradeOut } from '../../client';
import { ErrorState, Loading } from '../../components/States';
import { formatDateTime } from '../../components/format';
import { usePageTitle } from '../../components/usePageTitle';
import {
  useFleetReleases,
  useFleetSummary,
  useFleetUpgrade,
  useFleetUpgrades,
  useStartFleetUpgrade,
} from '../../hooks/queries/fleet';

function seconds(value: number | null | undefined): string {
  if (value === null || value === undefined) return '—';
  if (value < 90) return `${value.toFixed(0)} s`;
  return `${(value / 60).toFixed(1)} min`;
}

export function PhaseChart({ summary }: { summary: FleetSummary }) {
  const shown = summary.phases.filter((p) => p.stores > 0 || ['ready', 'failed'].includes(p.phase));
  const most = Math.max(1, ...shown.map((p) => p.stores));
  return (
    <>
      <dl className="phase-chart" aria-label="Stores by phase">
        {shown.map((p) => (
          <div key={p.phase} style={{ display: 'contents' }} data-phase-row={p.phase}>
            <dt>{p.phase}</dt>
            <dd>
              <div className="phase-bar" data-phase={p.phase} style={{ width: `${(100 * p.stores) / most}%` }} />
            </dd>
            <dd data-count={p.phase}>{p.stores}</dd>
          </div>
        ))}
      </dl>
      <div className="stat-row">
        <div className="stat">
          <span className="muted">Time to ready, median</span>
          <strong data-stat="p50">{seconds(summary.ready_seconds_p50)}</strong>
        </div>
        <div className="stat">
          <span className="muted">95th percentile</span>
          <strong data-stat="p95">{seconds(summary.ready_seconds_p95)}</strong>
        </div>
        <div className="stat">
          <span className="muted">From</span>
          <strong>{summary.ready_samples} stores</strong>
        </div>
      </div>
    </>
  );
}

function StartUpgrade() {
  const releases = useFleetReleases();
  const start = useStartFleetUpgrade();
  const [wordpress, setWordpress] = useState('');
  const [woocommerce, setWoocommerce] = useState('');
  const [waves, setWaves] = useState('1, 25%, rest');
  if (releases.isPending) return <Loading label="Loading releases…" />;
  if (releases.isError) return <ErrorState error={releases.error} />;
  const r = releases.data;
  return (
    <form
      className="form"
      onSubmit={(e) => {
        e.preventDefault();
        start.mutate({
          wordpress: wordpress || null,
          woocommerce: woocommerce || null,
          waves: waves.split(',').map((w) => w.trim()).filter(Boolean),
        });
      }}
    >
      <p>
        New stores get WordPress <strong>{r.wordpress}</strong> and WooCommerce <strong>{r.woocommerce}</strong>.
      </p>
      <div className="field">
        <label htmlFor="fleet-wordpress">WordPress</label>
        <select id="fleet-wordpress" value={wordpress} onChange={(e) => setWordpress(e.target.value)}>
          <option value="">as now ({r.wordpress})</option>
          {r.known.wordpress?.map((v) => (
            <option key={v} value={v}>
              {v}
            </option>
          ))}
        </select>
      </div>
      <div className="field">
        <label htmlFor="fleet-woocommerce">WooCommerce</label>
        <select id="fleet-woocommerce" value={woocommerce} onChange={(e) => setWoocommerce(e.target.value)}>
          <option value="">as now ({r.woocommerce})</option>
          {r.known.woocommerce?.map((v) => (
            <option key={v} value={v}>
              {v}
            </option>
          ))}
        </select>
      </div>
      <div className="field">
        <label htmlFor="fleet-waves">Waves</label>
        <input id="fleet-waves" value={waves} onChange={(e) => setWaves(e.target.value)} />
        <p className="muted small">Store counts, percentages of the fleet, or “rest”.</p>
      </div>
      {start.isError && (
        <p className="form-error" role="alert">
          {errorMessage(start.error)}
        </p>
      )}
      <div className="actions">
        <button type="submit" className="button button-primary" disabled={start.isPending}>
          {start.isPending ? 'Starting…' : 'Start upgrade'}
        </button>
      </div>
    </form>
  );
}

export function UpgradeProgress({ upgrade }: { upgrade: FleetUpgradeOut }) {
  return (
    <div className="card" data-upgrade={upgrade.id} data-upgrade-status={upgrade.status}>
      <h2>
        Fleet upgrade {upgrade.id}: {upgrade.status}
      </h2>
      <p className="muted">
        WordPress {upgrade.previous_wordpress} → {upgrade.wordpress}, WooCommerce {upgrade.previous_woocommerce} →{' '}
        {upgrade.woocommerce}
        {upgrade.waves.length > 0 ? `; waves of ${upgrade.waves.join(', ')} store(s)` : ''}; asked by{' '}
        {upgrade.requested_by},{' '}
        {formatDateTime(upgrade.created_at)}.
      </p>
      {upgrade.halted_reason && (
        <div className="callout callout-danger" role="alert">
          <div>
            <h2>Halted</h2>
            <p>{upgrade.halted_reason}</p>
          </div>
        </div>
      )}
      {upgrade.stores.length === 0 ? (
        <p className="muted">No store needed it.</p>
      ) : (
        <table className="table upgrade-table" aria-label="Stores in this upgrade">
          <thead>
            <tr>
              <th scope="col">Wave</th>
              <th scope="col">Store</th>
              <th scope="col">Upgrade</th>
              <th scope="col">Runs</th>
              <th scope="col">Took</th>
            </tr>
          </thead>
          <tbody>
            {upgrade.stores.map((st) => (
              <tr key={st.operation_id} data-store={st.name}>
                <td>{st.wave + 1}</td>
                <td>
                  <Link to={`/stores/${st.store_id}`}>{st.name}</Link>
                </td>
                <td className={`wave-status-${st.status}`}>
                  {st.status}
                  {st.current_step ? ` (${st.current_step})` : ''}
                  {st.failure_reason && <div className="small">{st.failure_reason}</div>}
                </td>
                <td>
                  WP {st.wordpress_version}, WC {st.woocommerce_version}
                </td>
                <td>{seconds(st.duration_seconds)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

export function FleetPage() {
  usePageTitle('Fleet');
  const summary = useFleetSummary();
  const upgrades = useFleetUpgrades();
  const latest = upgrades.data?.items[0] ?? null;
  const detail = useFleetUpgrade(latest?.id ?? null);
  const shown = detail.data ?? latest;
  return (
    <section className="page" aria-labelledby="fleet-title">
      <header className="page-head">
        <h1 id="fleet-title">Fleet</h1>
      </header>
      <div className="grid-2">
        <div className="card">
          <h2>Stores by phase</h2>
          {summary.isPending && <Loading label="Loading…" />}
          {summary.isError && <ErrorState error={summary.error} />}
          {summary.data && <PhaseChart summary={summary.data} />}
        </div>
        <div className="card">
          <h2>Upgrade the fleet</h2>
          {shown?.status === 'running' ? (
            <p>An upgrade is in progress; a new one can start when it ends.</p>
          ) : (
            <StartUpgrade />
          )}
        </div>
      </div>
      {upgrades.isError && <ErrorState error={upgrades.error} />}
      {shown && <UpgradeProgress upgrade={shown} />}
      {upgrades.data && upgrades.data.items.length > 1 && (
        <div className="card">
          <h2>Earlier upgrades</h2>
          <ul>
            {upgrades.data.items.slice(1).map((u) => (
              <li key={u.id}>
                {formatDateTime(u.created_at)}: WordPress {u.wordpress}, WooCommerce {u.woocommerce} — {u.status}
                {u.halted_reason ? `: ${u.halted_reason}` : ''}
              </li>
            ))}
          </ul>
        </div>
      )}
    </section>
  );
}
