import { useEffect, useRef, useState } from 'react';
import { api, ApiError, errorMessage, isAbort, type Deployment, type DeploymentId } from '../api';
import { releaseLabel } from '../configForm';
import { formatDateTime, formatRelative } from '../format';
import {
  deploymentHref,
  deploymentStateBadge,
  deploymentStateLabel,
  formatByteProgress,
  isFinalState,
  kindLabel,
  percent,
  shortHash,
  stepStateBadge,
} from '../lifecycle';
import { Link } from '../router';
import { Banner, type BannerKind } from './Banner';
import { useUpdatesFeed } from '../updatesFeed';

/** How often a running deployment is re-read. */
export const DEPLOYMENT_POLL_MS = 1000;

/** How long to wait after a failed read before trying again. */
export const DEPLOYMENT_RETRY_MS = 3000;

interface Props {
  id: DeploymentId;
  /** Called once when the deployment is seen in a final state (succeeded, failed, ...). */
  onFinished?(deployment: Deployment): void;
}

/**
 * One deployment, live: `GET /app/deployments/{id}` every second while it is running, then once
 * more never. Shows progress, every step, the events and, once final, the outcome and why.
 */
export function DeploymentView({ id, onFinished }: Props) {
  const [deployment, setDeployment] = useState<Deployment | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notFound, setNotFound] = useState<string | null>(null);
  const onFinishedRef = useRef(onFinished);
  useEffect(() => {
    onFinishedRef.current = onFinished;
  });
  // A deployment that ends changes the installed release, and with it the update state and
  // the advisories the banner shows.
  const feed = useUpdatesFeed();
  const refreshRef = useRef(feed.refresh);
  useEffect(() => {
    refreshRef.current = feed.refresh;
  });

  useEffect(() => {
    let stopped = false;
    let timer: number | null = null;
    let controller: AbortController | null = null;

    const schedule = (ms: number) => {
      timer = window.setTimeout(() => {
        timer = null;
        void poll();
      }, ms);
    };

    const poll = async () => {
      const current = new AbortController();
      controller = current;
      try {
        const next = await api.deployment(id, current.signal);
        if (stopped) return;
        setDeployment(next);
        setError(null);
        // A failed update goes on (`rolling_back`) until its automatic rollback ends.
        if (!isFinalState(next.state)) schedule(DEPLOYMENT_POLL_MS);
        else {
          refreshRef.current();
          onFinishedRef.current?.(next);
        }
      } catch (e) {
        if (stopped || isAbort(e)) return;
        if (e instanceof ApiError && e.status === 404) {
          setNotFound(e.message);
          return;
        }
        // A failed read is shown and retried: the deployment goes on on the console either way.
        setError(errorMessage(e));
        schedule(DEPLOYMENT_RETRY_MS);
      } finally {
        if (controller === current) controller = null;
      }
    };

    void poll();
    return () => {
      stopped = true;
      if (timer !== null) window.clearTimeout(timer);
      controller?.abort();
    };
  }, [id]);

  if (notFound !== null) {
    return (
      <Banner kind="error" title={`There is no deployment ${String(id)}.`} testId="deployment-not-found">
        {notFound} See the <Link to="/history">deployment history</Link>.
      </Banner>
    );
  }

  if (deployment === null) {
    return error ? (
      <Banner kind="error" title="The deployment could not be read." testId="deployment-error">
        {error} The page keeps trying.
      </Banner>
    ) : (
      <p className="muted" role="status">
        Loading deployment…
      </p>
    );
  }

  const d = deployment;
  const running = d.state === 'running';
  const pct = percent(d.progress.done, d.progress.total);

  return (
    <section className="card deployment" data-testid="deployment" data-id={String(d.id)} data-state={d.state}>
      <div className="card-header">
        <h2 className="card-title">
          {kindLabel(d.kind)} of {releaseLabel(d.version, d.sequence)}
        </h2>
        <span
          className={`${deploymentStateBadge(d.state)} badge-large`}
          data-testid="deployment-state"
          data-value={d.state}
        >
          {deploymentStateLabel(d.state)}
        </span>
      </div>

      {error ? (
        <Banner kind="error" title="The deployment could not be re-read." testId="deployment-error">
          {error} What is shown is from the last successful read; the page keeps trying.
        </Banner>
      ) : null}

      <Outcome deployment={d} />

      <div className="deployment-progress-row">
        <progress
          className="progress"
          max={Math.max(d.progress.total, 1)}
          value={Math.min(d.progress.done, Math.max(d.progress.total, 1))}
          aria-label="Deployment progress"
          data-testid="deployment-progress"
          data-done={d.progress.done}
          data-total={d.progress.total}
        />
        <span className="small muted nowrap" data-testid="deployment-progress-text">
          {d.progress.done} of {d.progress.total} steps · {pct} %
        </span>
        {running ? (
          <span className="small muted nowrap" role="status">
            updates every {DEPLOYMENT_POLL_MS / 1000} s
          </span>
        ) : null}
      </div>

      <dl className="fields fields-compact deployment-meta">
        <div className="field">
          <dt>Deployment</dt>
          <dd className="mono" data-testid="deployment-id">
            {String(d.id)}
          </dd>
        </div>
        <div className="field">
          <dt>Started</dt>
          <dd title={formatRelative(d.started_at)}>
            {formatDateTime(d.started_at)} <span className="muted">by {d.actor || 'unknown'}</span>
          </dd>
        </div>
        <div className="field">
          <dt>Finished</dt>
          <dd>{d.finished_at ? formatDateTime(d.finished_at) : <span className="muted">Not yet</span>}</dd>
        </div>
        {d.previous_sequence !== null ? (
          <div className="field">
            <dt>Previous release</dt>
            <dd>Sequence {d.previous_sequence}</dd>
          </div>
        ) : null}
        <div className="field">
          <dt>Config hash</dt>
          <dd className="mono" title={d.config_hash} data-testid="deployment-config-hash" data-value={d.config_hash}>
            {shortHash(d.config_hash) || '—'}
          </dd>
        </div>
        {d.rollback_of !== null ? (
          <div className="field">
            <dt>Undoes</dt>
            <dd>
              <Link to={deploymentHref(d.rollback_of)} data-testid="deployment-rollback-of">
                deployment {String(d.rollback_of)}
              </Link>
            </dd>
          </div>
        ) : null}
        {d.preflight_overridden ? (
          <div className="field">
            <dt>Preflight</dt>
            <dd>
              <span className="badge badge-warn badge-inline" data-testid="deployment-overridden">
                deployed despite failing checks
              </span>
            </dd>
          </div>
        ) : null}
      </dl>

      <h3 className="section-title">Steps</h3>
      {d.steps.length === 0 ? (
        <p className="muted small">No steps yet.</p>
      ) : (
        <div className="table-scroll">
          <table className="table table-compact table-steps" data-testid="deployment-steps">
            <thead>
              <tr>
                <th scope="col">#</th>
                <th scope="col">Node</th>
                <th scope="col">Action</th>
                <th scope="col">Target</th>
                <th scope="col">State</th>
                <th scope="col">Detail</th>
              </tr>
            </thead>
            <tbody>
              {d.steps.map((step) => (
                <tr
                  key={`${step.index}:${step.node}`}
                  data-testid="deployment-step"
                  data-index={step.index}
                  data-state={step.state}
                  data-action={step.action}
                  data-node={step.node}
                >
                  <td className="muted">{step.index}</td>
                  <td className="nowrap">{step.node_name || step.node}</td>
                  <td className="nowrap">{step.action}</td>
                  <td>
                    <span className="mono step-target">{step.target}</span>
                    {step.service ? <div className="small muted">service {step.service}</div> : null}
                  </td>
                  <td className="nowrap">
                    <span className={stepStateBadge(step.state)} data-testid="step-state">
                      {step.state}
                    </span>
                  </td>
                  <td className="detail">
                    {step.progress ? (
                      <div className="step-progress">
                        <progress
                          className="progress progress-small"
                          max={Math.max(step.progress.total, 1)}
                          value={Math.min(step.progress.current, Math.max(step.progress.total, 1))}
                          aria-label={`Pulling ${step.target}`}
                        />
                        <span className="small nowrap" data-testid="step-progress" data-current={step.progress.current} data-total={step.progress.total}>
                          {formatByteProgress(step.progress)}
                        </span>
                      </div>
                    ) : null}
                    {step.message ? <div data-testid="step-message">{step.message}</div> : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}

      <h3 className="section-title">Events</h3>
      {d.events.length === 0 ? (
        <p className="muted small">No events yet.</p>
      ) : (
        <ol className="events" data-testid="deployment-events">
          {d.events.map((event, i) => (
            <li key={`${event.at}:${i}`} className="event" data-testid="deployment-event">
              <span className="event-time mono small muted">{formatDateTime(event.at)}</span>
              <span className="event-message">{event.message}</span>
            </li>
          ))}
        </ol>
      )}
    </section>
  );
}

const OUTCOMES: Record<Exclude<Deployment['state'], 'running' | 'rolling_back'>, { kind: BannerKind; title: string }> = {
  succeeded: { kind: 'success', title: 'The deployment succeeded.' },
  failed: { kind: 'error', title: 'The deployment failed.' },
  rolled_back: { kind: 'warning', title: 'The deployment failed and the previous release was restored.' },
  interrupted: { kind: 'error', title: 'The deployment was interrupted: the console stopped during it.' },
};

/** The final state and its message, prominently; while running, the latest message if any. */
function Outcome({ deployment }: { deployment: Deployment }) {
  if (deployment.state === 'running' || deployment.state === 'rolling_back') {
    return deployment.message ? (
      <p className="deployment-running-message" data-testid="deployment-message">
        {deployment.message}
      </p>
    ) : null;
  }
  const { kind, title } = OUTCOMES[deployment.state];
  const fallback =
    deployment.state === 'succeeded'
      ? `Release ${releaseLabel(deployment.version, deployment.sequence)} is installed.`
      : 'The console gave no reason. The events below show what happened.';
  return (
    <Banner kind={kind} title={title} testId="deployment-message">
      {deployment.message ?? fallback}
    </Banner>
  );
}
