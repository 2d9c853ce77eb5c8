import { useEffect, useState } from 'react';
import { api, errorMessage, isAbort, type LicenseInfo } from '../api';
import { describeDaysLeft, expiryBadgeClass, formatDate, licenseExpiryLevel } from '../format';
import { Link } from '../router';
import { Banner } from './Banner';

/** The dashboard's license card: who it is for and until when, or a pointer to the License page. */
export function LicenseSummary() {
  // undefined: not read yet; null: no license loaded.
  const [license, setLicense] = useState<LicenseInfo | null | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const controller = new AbortController();
    api.license(controller.signal).then(
      (value) => {
        setLicense(value);
        setError(null);
      },
      (e: unknown) => {
        if (!isAbort(e)) setError(errorMessage(e));
      },
    );
    return () => controller.abort();
  }, []);

  const level = license ? licenseExpiryLevel(license.expires_at) : 'ok';
  const left = license ? describeDaysLeft(license.expires_at) : null;

  return (
    <section className="card" data-testid="dashboard-license">
      <div className="card-header">
        <h2 className="card-title">License</h2>
        {license ? (
          <Link to="/license" className="btn btn-small btn-secondary">
            View license
          </Link>
        ) : null}
      </div>

      {error ? (
        <Banner kind="error" title="The license could not be read.">
          {error}
        </Banner>
      ) : null}

      {license === undefined && error === null ? (
        <p className="muted" role="status">
          Loading…
        </p>
      ) : null}

      {license === null ? (
        <p data-testid="dashboard-license-none">
          No license loaded —{' '}
          <Link to="/license" data-testid="dashboard-license-load">
            Load a license
          </Link>
        </p>
      ) : null}

      {license ? (
        <div className="stats">
          <div className="stat">
            <div className="stat-label">Customer</div>
            <div className="stat-value stat-value-small" data-testid="dashboard-license-customer">
              {license.customer}
            </div>
          </div>
          <div className="stat">
            <div className="stat-label">Application</div>
            <div className="stat-value stat-value-small mono">
              {license.app_id} <span className="muted">· {license.channel}</span>
            </div>
          </div>
          <div className="stat">
            <div className="stat-label">Expires</div>
            <div className="stat-value stat-value-small">
              <span data-testid="dashboard-license-expiry" data-value={license.expires_at}>
                {formatDate(license.expires_at)}
              </span>
              {left !== null ? <span className={expiryBadgeClass(level)}>{left}</span> : null}
            </div>
          </div>
        </div>
      ) : null}
    </section>
  );
}
