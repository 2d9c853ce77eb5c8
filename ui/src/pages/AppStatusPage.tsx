import { useCallback, useEffect, useRef, useState } from 'react';
import { api, ApiError, errorMessage, isAbort, type AppAction, type AppStatus, type ServiceStatus } from '../api';
import { Banner } from '../components/Banner';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { releaseLabel } from '../configForm';
import { formatAgo, formatDateTime } from '../format';
import { useDocumentTitle } from '../hooks';
import {
  appStateBadge,
  appStateLabel,
  containerStateBadge,
  deploymentHref,
  healthBadge,
  logsHref,
  shortHash,
} from '../lifecycle';
import { Link } from '../router';

/** How often the page re-reads GET /api/v1/app/status while it is open. */
export const APP_STATUS_REFRESH_MS = 3000;

const ACTION_TEXT: Record<AppAction, { done: string; busy: string; failed: string }> = {
  start: { done: 'The application is started.', busy: 'Starting…', failed: 'The application was not started.' },
  stop: { done: 'The application is stopped.', busy: 'Stopping…', failed: 'The application was not stopped.' },
  restart: {
    done: 'The application is restarted.',
    busy: 'Restarting…',
    failed: 'The application was not restarted.',
  },
};

/** The running application: state, installed release, every service's replicas; start / stop / restart. */
export function AppStatusPage() {
  useDocumentTitle('Application');
  const [status, setStatus] = useState<AppStatus | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [now, setNow] = useState(() => new Date());
  const [busy, setBusy] = useState<AppAction | null>(null);
  const [confirming, setConfirming] = useState<'stop' | 'restart' | null>(null);
  const [dialogError, setDialogError] = useState<string | null>(null);
  const [actionError, setActionError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const controllerRef = useRef<AbortController | null>(null);
  // While an action runs, a timer read must not overwrite the answer the action brings.
  const busyRef = useRef(false);

  const load = useCallback(async (force: boolean) => {
    if (controllerRef.current && !force) return;
    if (busyRef.current && !force) return;
    controllerRef.current?.abort();
    const controller = new AbortController();
    controllerRef.current = controller;
    try {
      const next = await api.appStatus(controller.signal);
      if (controller.signal.aborted) return;
      setStatus(next);
      setNow(new Date());
      setError(null);
    } catch (e) {
      if (!isAbort(e) && !controller.signal.aborted) setError(errorMessage(e));
    } finally {
      if (controllerRef.current === controller) controllerRef.current = null;
    }
  }, []);

  useEffect(() => {
    void load(true);
    const timer = window.setInterval(() => {
      setNow(new Date());
      if (document.visibilityState !== 'hidden') void load(false);
    }, APP_STATUS_REFRESH_MS);
    return () => {
      window.clearInterval(timer);
      controllerRef.current?.abort();
      controllerRef.current = null;
    };
  }, [load]);

  async function act(action: AppAction) {
    if (busyRef.current) return;
    busyRef.current = true;
    controllerRef.current?.abort();
    controllerRef.current = null;
    setBusy(action);
    setDialogError(null);
    setActionError(null);
    setNotice(null);
    try {
      const next = await api.appAction(action);
      setStatus(next);
      setNow(new Date());
      setError(null);
      setConfirming(null);
      setNotice(ACTION_TEXT[action].done);
    } catch (e) {
      const message = errorMessage(e);
      if (action === 'start') setActionError(message);
      else setDialogError(message);
      // 409 not_deployed / deploy_in_progress: the state changed under us.
      if (e instanceof ApiError && e.status === 409) void load(true);
    } finally {
      busyRef.current = false;
      setBusy(null);
    }
  }

  function ask(action: 'stop' | 'restart') {
    setDialogError(null);
    setNotice(null);
    setConfirming(action);
  }

  const state = status?.state ?? null;
  const deployed = state !== null && state !== 'not_deployed';
  const locked = busy !== null || !deployed || state === 'deploying';
  const replicaCount = status ? status.services.reduce((n, s) => n + s.replicas.length, 0) : 0;

  return (
    <div className="page page-wide" data-testid="app-page">
      <div className="page-header">
        <h1>Application</h1>
        {status ? (
          <span className="muted small">
            {status.services.length} {status.services.length === 1 ? 'service' : 'services'} · {replicaCount}{' '}
            {replicaCount === 1 ? 'replica' : 'replicas'} · updates every {APP_STATUS_REFRESH_MS / 1000} s
          </span>
        ) : null}
      </div>
      <p className="page-intro">
        What runs on your nodes now, as each node's agent reports it. Stop and restart interrupt the application for
        its users.
      </p>

      {error ? (
        <Banner kind="error" title="The application status could not be loaded." testId="app-error">
          {error} {status ? 'What is shown is from the last successful update; the page keeps trying.' : null}
        </Banner>
      ) : null}
      {actionError ? (
        <Banner kind="error" title={ACTION_TEXT.start.failed} testId="app-action-failed">
          {actionError}
        </Banner>
      ) : null}
      {notice ? (
        <Banner kind="success" testId="app-notice">
          {notice}
        </Banner>
      ) : null}

      {status === null && error === null ? (
        <p className="muted" role="status">
          Loading…
        </p>
      ) : null}

      {status ? (
        <>
          <section className="card">
            <div className="card-header">
              <h2 className="card-title">
                {status.app_id || 'Application'}
                <span
                  className={`${appStateBadge(status.state)} badge-large`}
                  data-testid="app-state"
                  data-value={status.state}
                >
                  {appStateLabel(status.state)}
                </span>
              </h2>
              <div className="app-actions">
                <button
                  type="button"
                  className="btn btn-small btn-secondary"
                  disabled={locked || status.state === 'running'}
                  onClick={() => void act('start')}
                  data-testid="app-start"
                >
                  {busy === 'start' ? ACTION_TEXT.start.busy : 'Start'}
                </button>
                <button
                  type="button"
                  className="btn btn-small btn-secondary"
                  disabled={locked}
                  onClick={() => ask('restart')}
                  data-testid="app-restart"
                >
                  {busy === 'restart' ? ACTION_TEXT.restart.busy : 'Restart'}
                </button>
                <button
                  type="button"
                  className="btn btn-small btn-danger-ghost"
                  disabled={locked || status.state === 'stopped'}
                  onClick={() => ask('stop')}
                  data-testid="app-stop"
                >
                  {busy === 'stop' ? ACTION_TEXT.stop.busy : 'Stop'}
                </button>
              </div>
            </div>

            {status.unreachable.length > 0 ? (
              <Banner kind="warning" title="Some nodes did not answer." testId="app-unreachable">
                Not asked: {status.unreachable.join(', ')}. Their containers are missing below; see{' '}
                <Link to="/nodes">Nodes</Link>.
              </Banner>
            ) : null}

            {status.active_deployment !== null ? (
              <Banner kind="info" testId="app-deploying">
                A deployment is running.{' '}
                <Link to={deploymentHref(status.active_deployment)} data-testid="app-active-deployment">
                  Follow it
                </Link>
                . Start, stop and restart wait until it has finished.
              </Banner>
            ) : null}

            {status.installed ? (
              <div className="stats">
                <div className="stat">
                  <div className="stat-label">Installed release</div>
                  <div
                    className="stat-value stat-value-small"
                    data-testid="app-installed"
                    data-sequence={status.installed.sequence}
                  >
                    {releaseLabel(status.installed.version, status.installed.sequence)}
                  </div>
                </div>
                <div className="stat">
                  <div className="stat-label">Deployed by</div>
                  <div className="stat-value stat-value-small">
                    <Link to={deploymentHref(status.installed.deployment_id)} data-testid="app-installed-deployment">
                      deployment {String(status.installed.deployment_id)}
                    </Link>
                  </div>
                </div>
                <div className="stat">
                  <div className="stat-label">Config hash</div>
                  <div className="stat-value stat-value-small mono" title={status.installed.config_hash}>
                    {shortHash(status.installed.config_hash) || '—'}
                  </div>
                </div>
              </div>
            ) : (
              <p data-testid="app-not-deployed">
                The application is not deployed yet. <Link to="/deploy">Deploy a release</Link> after{' '}
                <Link to="/preflight">running preflight</Link>.
              </p>
            )}
          </section>

          {status.services.map((service) => (
            <ServiceCard key={service.service} service={service} now={now} />
          ))}
        </>
      ) : null}

      {confirming ? (
        <ConfirmDialog
          title={confirming === 'stop' ? 'Stop the application?' : 'Restart the application?'}
          confirmLabel={confirming === 'stop' ? 'Stop application' : 'Restart application'}
          busyLabel={ACTION_TEXT[confirming].busy}
          tone="danger"
          busy={busy !== null}
          error={dialogError}
          errorTitle={ACTION_TEXT[confirming].failed}
          testId="app-action"
          onConfirm={() => void act(confirming)}
          onCancel={() => {
            if (busy === null) setConfirming(null);
          }}
        >
          {confirming === 'stop' ? (
            <p>
              Every container of the application stops on every node. Its users cannot reach it until you start it
              again. Data in volumes is kept.
            </p>
          ) : (
            <p>
              Every container of the application is restarted on every node. Its users may see errors for a short
              while.
            </p>
          )}
          <p className="muted small">The action is recorded in the audit log.</p>
        </ConfirmDialog>
      ) : null}
    </div>
  );
}

function ServiceCard({ service, now }: { service: ServiceStatus; now: Date }) {
  return (
    <section
      className="card card-flush table-scroll"
      data-testid={`service-${service.service}`}
      data-service={service.service}
      data-state={service.state}
    >
      <div className="card-header card-header-padded">
        <h2 className="card-title">
          <span className="mono">{service.service}</span>
          <span className={appStateBadge(service.state)} data-testid="service-state" data-value={service.state}>
            {service.state}
          </span>
        </h2>
        <span className="muted small">
          {service.replicas.length} {service.replicas.length === 1 ? 'replica' : 'replicas'}
        </span>
      </div>
      {service.replicas.length === 0 ? (
        <p className="empty">No replica is running.</p>
      ) : (
        <table className="table">
          <thead>
            <tr>
              <th scope="col">Replica</th>
              <th scope="col">Node</th>
              <th scope="col">Container</th>
              <th scope="col">State</th>
              <th scope="col">Health</th>
              <th scope="col">Restarts</th>
              <th scope="col">Started</th>
              <th scope="col">
                <span className="visually-hidden">Logs</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {service.replicas.map((replica) => (
              <tr
                key={`${replica.replica}:${replica.node}`}
                data-testid="replica-row"
                data-replica={replica.replica}
                data-node={replica.node}
              >
                <td className="mono">{replica.replica}</td>
                <td className="nowrap">{replica.node_name || replica.node}</td>
                <td>
                  <div className="mono" data-testid="replica-container">
                    {replica.container}
                  </div>
                  {replica.image ? <div className="mono small muted replica-image">{replica.image}</div> : null}
                </td>
                <td className="nowrap">
                  <span className={containerStateBadge(replica.state)} data-testid="replica-state">
                    {replica.state || 'unknown'}
                  </span>
                </td>
                <td className="nowrap">
                  {replica.health ? (
                    <span className={healthBadge(replica.health)} data-testid="replica-health">
                      {replica.health}
                    </span>
                  ) : (
                    <span className="muted small" data-testid="replica-health">
                      no check
                    </span>
                  )}
                </td>
                <td>
                  <span
                    className={replica.restarts > 0 ? 'badge badge-warn badge-inline' : undefined}
                    data-testid="replica-restarts"
                  >
                    {replica.restarts}
                  </span>
                </td>
                <td className="nowrap small">
                  {replica.started_at ? (
                    <span title={formatDateTime(replica.started_at)} data-testid="replica-started" data-value={replica.started_at}>
                      {formatAgo(replica.started_at, now) ?? formatDateTime(replica.started_at)}
                    </span>
                  ) : (
                    <span className="muted">—</span>
                  )}
                </td>
                <td>
                  <Link
                    to={logsHref(service.service, replica.replica)}
                    className="btn btn-small btn-secondary"
                    data-testid="replica-logs"
                  >
                    Logs
                  </Link>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
