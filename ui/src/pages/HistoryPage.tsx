import { useCallback, useEffect, useRef, useState } from 'react';
import {
  api,
  ApiError,
  errorMessage,
  isAbort,
  sameId,
  type AppStatus,
  type Deployment,
  type DeploymentId,
  type DeploymentList,
} from '../api';
import { Banner } from '../components/Banner';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { explainRefusal, RefusalMessage, type Refusal } from '../components/DeployRefusal';
import { releaseLabel } from '../configForm';
import { formatDateTime, formatRelative } from '../format';
import { useDocumentTitle } from '../hooks';
import { deploymentHref, deploymentStateBadge, deploymentStateLabel, kindLabel, shortHash } from '../lifecycle';
import { Link, navigate } from '../router';

/** How many deployments the page asks for. */
export const HISTORY_LIMIT = 100;

/** While a deployment runs, the list is re-read this often. */
export const HISTORY_REFRESH_MS = 3000;

/**
 * The deployment that is installed now: the app status says so; without it, the newest
 * successful deployment is taken as the installed one.
 */
export function installedDeploymentId(
  deployments: Deployment[],
  status: AppStatus | null,
): DeploymentId | null {
  if (status?.installed) return status.installed.deployment_id;
  return deployments.find((d) => d.state === 'succeeded')?.id ?? null;
}

/** A deployment that can be rolled back to: it succeeded and it is not what is installed. */
export function canRollBackTo(deployment: Deployment, installedId: DeploymentId | null): boolean {
  return deployment.state === 'succeeded' && !sameId(deployment.id, installedId);
}

/** Every deployment, newest first, with rollback to an earlier successful one. */
export function HistoryPage() {
  useDocumentTitle('Deployment history');
  const [list, setList] = useState<DeploymentList | null>(null);
  const [status, setStatus] = useState<AppStatus | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const [expanded, setExpanded] = useState<ReadonlySet<string>>(new Set());
  const [target, setTarget] = useState<Deployment | null>(null);
  const [rollbackBusy, setRollbackBusy] = useState(false);
  const [refusal, setRefusal] = useState<Refusal | null>(null);
  const controllerRef = useRef<AbortController | null>(null);

  const load = useCallback(async () => {
    controllerRef.current?.abort();
    const controller = new AbortController();
    controllerRef.current = controller;
    setLoading(true);
    try {
      const [next, nextStatus] = await Promise.all([
        api.deployments(HISTORY_LIMIT, controller.signal),
        // The installed deployment comes from the status; the page works without it.
        api.appStatus(controller.signal).catch((e: unknown) => {
          if (isAbort(e)) throw e;
          return null;
        }),
      ]);
      if (controller.signal.aborted) return;
      setList(next);
      setStatus(nextStatus);
      setError(null);
    } catch (e) {
      if (!isAbort(e) && !controller.signal.aborted) setError(errorMessage(e));
    } finally {
      if (controllerRef.current === controller) {
        controllerRef.current = null;
        setLoading(false);
      }
    }
  }, []);

  useEffect(() => {
    void load();
    return () => {
      controllerRef.current?.abort();
      controllerRef.current = null;
    };
  }, [load]);

  const active = list?.active ?? null;

  // Follow a running deployment until it ends, so its row and the rollback buttons stay right.
  useEffect(() => {
    if (active === null) return;
    const timer = window.setInterval(() => {
      if (document.visibilityState !== 'hidden' && controllerRef.current === null) void load();
    }, HISTORY_REFRESH_MS);
    return () => window.clearInterval(timer);
  }, [active, load]);

  function toggle(id: DeploymentId) {
    setExpanded((prev) => {
      const next = new Set(prev);
      const key = String(id);
      if (next.has(key)) next.delete(key);
      else next.add(key);
      return next;
    });
  }

  function askRollback(deployment: Deployment) {
    setRefusal(null);
    setTarget(deployment);
  }

  async function confirmRollback() {
    if (!target || rollbackBusy) return;
    setRollbackBusy(true);
    setRefusal(null);
    try {
      const started = await api.rollback(target.id);
      setTarget(null);
      setRollbackBusy(false);
      navigate(deploymentHref(started.id));
    } catch (e) {
      setRefusal(await explainRefusal(e));
      setRollbackBusy(false);
      if (e instanceof ApiError && e.status === 409) void load();
    }
  }

  const deployments = list?.deployments ?? null;
  const installedId = deployments ? installedDeploymentId(deployments, status) : null;
  const now = new Date();

  return (
    <div className="page page-wide" data-testid="history-page">
      <div className="page-header">
        <h1>Deployment history</h1>
        <button
          type="button"
          className="btn btn-small btn-secondary"
          onClick={() => void load()}
          disabled={loading}
          data-testid="history-refresh"
        >
          Refresh
        </button>
      </div>
      <p className="page-intro">
        Every deployment of the application, newest first. Rolling back redeploys an earlier successful deployment's
        release <strong>and</strong> the config it ran with.
      </p>

      {error ? (
        <Banner kind="error" title="The deployment history could not be loaded." testId="history-error">
          {error}
        </Banner>
      ) : null}

      {active !== null ? (
        <Banner kind="info" testId="history-active">
          A deployment is running:{' '}
          <Link to={deploymentHref(active)} data-testid="history-active-link">
            follow deployment {String(active)}
          </Link>
          . Rolling back is possible when it has finished.
        </Banner>
      ) : null}

      {deployments === null && error === null ? (
        <p className="muted" role="status">
          Loading…
        </p>
      ) : null}

      {deployments !== null && deployments.length === 0 ? (
        <section className="card" data-testid="history-empty">
          <p className="muted">
            Nothing was deployed yet. <Link to="/deploy">Deploy a release</Link>.
          </p>
        </section>
      ) : null}

      {deployments !== null && deployments.length > 0 ? (
        <section className="card card-flush table-scroll">
          <table className="table table-history" data-testid="history-table">
            <thead>
              <tr>
                <th scope="col">Deployment</th>
                <th scope="col">Release</th>
                <th scope="col">By</th>
                <th scope="col">Started / finished</th>
                <th scope="col">Config</th>
                <th scope="col">Outcome</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {deployments.map((d) => {
                const key = String(d.id);
                const isInstalled = sameId(d.id, installedId);
                const open = expanded.has(key);
                return (
                  <HistoryRow
                    key={key}
                    deployment={d}
                    installed={isInstalled}
                    open={open}
                    now={now}
                    rollbackAllowed={canRollBackTo(d, installedId)}
                    rollbackBlocked={active !== null}
                    onToggle={() => toggle(d.id)}
                    onRollback={() => askRollback(d)}
                  />
                );
              })}
            </tbody>
          </table>
        </section>
      ) : null}

      {target ? (
        <ConfirmDialog
          title={`Roll back to ${releaseLabel(target.version, target.sequence)}?`}
          confirmLabel="Roll back"
          busyLabel="Starting rollback…"
          tone="danger"
          busy={rollbackBusy}
          error={refusal ? <RefusalMessage refusal={refusal} /> : null}
          errorTitle="The rollback was not started."
          testId="rollback"
          onConfirm={() => void confirmRollback()}
          onCancel={() => {
            if (!rollbackBusy) setTarget(null);
          }}
        >
          <p>
            The console redeploys release <strong>{releaseLabel(target.version, target.sequence)}</strong> with the
            config of deployment <span className="mono">{String(target.id)}</span> (config hash{' '}
            <span className="mono" title={target.config_hash}>
              {shortHash(target.config_hash)}
            </span>
            ), as it ran on {formatDateTime(target.started_at)}.
          </p>
          <p>
            Config changes made since then are not used by this deployment. The application may be briefly
            unavailable while its containers are replaced. The rollback is recorded in the audit log.
          </p>
        </ConfirmDialog>
      ) : null}
    </div>
  );
}

interface RowProps {
  deployment: Deployment;
  installed: boolean;
  open: boolean;
  now: Date;
  rollbackAllowed: boolean;
  rollbackBlocked: boolean;
  onToggle(): void;
  onRollback(): void;
}

function HistoryRow({
  deployment: d,
  installed,
  open,
  now,
  rollbackAllowed,
  rollbackBlocked,
  onToggle,
  onRollback,
}: RowProps) {
  const id = String(d.id);
  const detailsId = `history-details-${id}`;
  return (
    <>
      <tr
        data-testid={`history-row-${id}`}
        data-state={d.state}
        data-kind={d.kind}
        data-sequence={d.sequence}
        className={installed ? 'row-current' : undefined}
      >
        <td className="nowrap">
          <Link to={deploymentHref(d.id)} className="mono" data-testid={`history-link-${id}`}>
            {id}
          </Link>
          {installed ? (
            <span className="badge badge-ok badge-gap" data-testid="history-installed">
              installed
            </span>
          ) : null}
          <div className="small">{kindLabel(d.kind)}</div>
          {d.preflight_overridden ? (
            <div className="small">
              <span className="badge badge-warn badge-inline" title="Deployed despite failing preflight checks">
                preflight overridden
              </span>
            </div>
          ) : null}
        </td>
        <td className="nowrap">
          <span className="mono">{d.version || '—'}</span> <span className="muted">({d.sequence})</span>
        </td>
        <td>{d.actor}</td>
        <td className="nowrap small">
          <div title={formatRelative(d.started_at, now)}>{formatDateTime(d.started_at)}</div>
          <div className="muted">{d.finished_at ? formatDateTime(d.finished_at) : 'not finished'}</div>
        </td>
        <td>
          <span
            className="mono"
            title={d.config_hash}
            data-testid="history-config-hash"
            data-value={d.config_hash}
          >
            {shortHash(d.config_hash) || '—'}
          </span>
        </td>
        <td className="history-outcome">
          <span className={deploymentStateBadge(d.state)} data-testid="history-state" data-value={d.state}>
            {deploymentStateLabel(d.state)}
          </span>
          {d.message ? (
            <div className="small detail" data-testid="history-message">
              {d.message}
            </div>
          ) : null}
        </td>
        <td>
          <div className="node-actions">
            <button
              type="button"
              className="btn btn-small btn-ghost"
              aria-expanded={open}
              aria-controls={open ? detailsId : undefined}
              onClick={onToggle}
              data-testid={`history-toggle-${id}`}
            >
              {open ? 'Hide' : 'Details'}
            </button>
            {rollbackAllowed ? (
              <button
                type="button"
                className="btn btn-small btn-secondary"
                disabled={rollbackBlocked}
                title={rollbackBlocked ? 'A deployment is running.' : undefined}
                onClick={onRollback}
                data-testid={`rollback-${id}`}
              >
                Roll back
              </button>
            ) : null}
          </div>
        </td>
      </tr>
      {open ? (
        <tr className="node-subrow" data-testid={`history-details-${id}`}>
          <td colSpan={7} id={detailsId}>
            <dl className="fields fields-compact">
              <div className="field">
                <dt>Deployment</dt>
                <dd>
                  <Link to={deploymentHref(d.id)}>Open deployment {id}</Link> (steps and events)
                </dd>
              </div>
              <div className="field">
                <dt>Previous release</dt>
                <dd>{d.previous_sequence !== null ? `Sequence ${d.previous_sequence}` : 'None'}</dd>
              </div>
              {d.rollback_of !== null ? (
                <div className="field">
                  <dt>Undoes</dt>
                  <dd>
                    <Link to={deploymentHref(d.rollback_of)}>deployment {String(d.rollback_of)}</Link>
                  </dd>
                </div>
              ) : null}
              <div className="field">
                <dt>Config hash</dt>
                <dd className="mono">{d.config_hash || '—'}</dd>
              </div>
              <div className="field">
                <dt>Progress</dt>
                <dd>
                  {d.progress.done} of {d.progress.total} steps
                </dd>
              </div>
              <div className="field">
                <dt>Outcome</dt>
                <dd>{d.message ?? <span className="muted">No message.</span>}</dd>
              </div>
            </dl>
          </td>
        </tr>
      ) : null}
    </>
  );
}
