import { useCallback, useEffect, useRef, useState } from 'react';
import { api, errorMessage, isAbort, type Status } from '../api';
import { AppSummary } from '../components/AppSummary';
import { Banner } from '../components/Banner';
import { CertificateDetails } from '../components/CertificateDetails';
import { LicenseSummary } from '../components/LicenseSummary';
import { NodesSummary } from '../components/NodesSummary';
import { UpdatesSummary } from '../components/UpdatesSummary';
import { useDocumentTitle } from '../hooks';
import { formatDateTime, formatRelative, formatUptime } from '../format';
import { Link } from '../router';

/** How often the dashboard re-reads /api/v1/status. */
export const STATUS_REFRESH_MS = 10_000;

export function DashboardPage() {
  useDocumentTitle('Dashboard');
  const [status, setStatus] = useState<Status | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loadedAt, setLoadedAt] = useState<Date | null>(null);
  const controllerRef = useRef<AbortController | null>(null);

  const load = useCallback(async () => {
    controllerRef.current?.abort();
    const controller = new AbortController();
    controllerRef.current = controller;
    try {
      const next = await api.status(controller.signal);
      setStatus(next);
      setLoadedAt(new Date());
      setError(null);
    } catch (e) {
      if (!isAbort(e)) setError(errorMessage(e));
    }
  }, []);

  useEffect(() => {
    void load();
    const timer = window.setInterval(() => void load(), STATUS_REFRESH_MS);
    return () => {
      window.clearInterval(timer);
      controllerRef.current?.abort();
    };
  }, [load]);

  return (
    <div className="page" data-testid="dashboard">
      <div className="page-header">
        <h1>Dashboard</h1>
        {loadedAt ? (
          <span className="muted small" title={loadedAt.toISOString()}>
            Updated {formatDateTime(loadedAt.toISOString())}
          </span>
        ) : null}
      </div>

      {error ? (
        <Banner kind="error" title="The console status could not be loaded.">
          {error} {status ? 'The values below are from the last successful update.' : null}
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
            <h2 className="card-title">Console</h2>
            <div className="stats">
              <div className="stat">
                <div className="stat-label">Version</div>
                <div className="stat-value mono">{status.version}</div>
              </div>
              <div className="stat">
                <div className="stat-label">Uptime</div>
                <div className="stat-value" data-testid="uptime" data-value={status.uptime_seconds}>
                  {formatUptime(status.uptime_seconds)}
                </div>
              </div>
              <div className="stat">
                <div className="stat-label">Started at</div>
                <div className="stat-value stat-value-small" title={formatRelative(status.started_at)}>
                  {formatDateTime(status.started_at)}
                </div>
              </div>
            </div>
          </section>

          <LicenseSummary />

          <AppSummary />

          <UpdatesSummary />

          <NodesSummary />

          <section className="card">
            <div className="card-header">
              <h2 className="card-title">TLS certificate</h2>
              <Link to="/settings/tls" className="btn btn-small btn-secondary">
                Replace certificate
              </Link>
            </div>
            <CertificateDetails tls={status.tls} />
          </section>
        </>
      ) : null}
    </div>
  );
}
