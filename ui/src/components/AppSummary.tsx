import { useEffect, useState } from 'react';
import { api, ApiError, errorMessage, isAbort, type AppStatus } from '../api';
import { releaseLabel } from '../configForm';
import { appStateBadge, appStateLabel, deploymentHref } from '../lifecycle';
import { Link } from '../router';

/** How often the dashboard card re-reads the app status. */
export const APP_SUMMARY_REFRESH_MS = 10_000;

/**
 * The dashboard's application card: state, installed release, the running deployment if any.
 * A console that cannot tell (no status route yet, an error) leaves a quiet note, not an alarm.
 */
export function AppSummary() {
  // undefined: not read yet.
  const [status, setStatus] = useState<AppStatus | undefined>(undefined);
  const [problem, setProblem] = useState<string | null>(null);

  useEffect(() => {
    let controller: AbortController | null = null;
    const load = () => {
      if (controller) return; // the previous read is still running
      const current = new AbortController();
      controller = current;
      api
        .appStatus(current.signal)
        .then(
          (value) => {
            setStatus(value);
            setProblem(null);
          },
          (e: unknown) => {
            if (isAbort(e)) return;
            setProblem(
              e instanceof ApiError && e.status === 404
                ? 'This console does not report the application status.'
                : errorMessage(e),
            );
          },
        )
        .finally(() => {
          if (controller === current) controller = null;
        });
    };
    load();
    const timer = window.setInterval(load, APP_SUMMARY_REFRESH_MS);
    return () => {
      window.clearInterval(timer);
      controller?.abort();
      controller = null;
    };
  }, []);

  return (
    <section className="card" data-testid="dashboard-app">
      <div className="card-header">
        <h2 className="card-title">Application</h2>
        <Link to="/app" className="btn btn-small btn-secondary" data-testid="dashboard-app-link">
          View application
        </Link>
      </div>

      {problem !== null && status === undefined ? (
        <p className="muted" data-testid="dashboard-app-unavailable">
          The application status is not available: {problem}
        </p>
      ) : null}

      {status === undefined && problem === null ? (
        <p className="muted" role="status">
          Loading…
        </p>
      ) : null}

      {status !== undefined ? (
        <>
          <div className="stats">
            <div className="stat">
              <div className="stat-label">State</div>
              <div className="stat-value stat-value-small">
                <span
                  className={`${appStateBadge(status.state)} badge-inline`}
                  data-testid="dashboard-app-state"
                  data-value={status.state}
                >
                  {appStateLabel(status.state)}
                </span>
              </div>
            </div>
            <div className="stat">
              <div className="stat-label">Installed release</div>
              <div className="stat-value stat-value-small" data-testid="dashboard-app-version">
                {status.installed ? (
                  releaseLabel(status.installed.version, status.installed.sequence)
                ) : (
                  <span className="muted">
                    None · <Link to="/deploy">deploy</Link>
                  </span>
                )}
              </div>
            </div>
            <div className="stat">
              <div className="stat-label">Deployment</div>
              <div className="stat-value stat-value-small">
                {status.active_deployment !== null ? (
                  <Link to={deploymentHref(status.active_deployment)} data-testid="dashboard-app-deployment">
                    Running: follow it
                  </Link>
                ) : (
                  <Link to="/history" className="muted-link">
                    None running
                  </Link>
                )}
              </div>
            </div>
          </div>
          {problem !== null ? <p className="hint">Last update failed: {problem}</p> : null}
        </>
      ) : null}
    </section>
  );
}
