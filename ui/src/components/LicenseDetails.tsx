import type { LicenseInfo } from '../api';
import {
  describeDaysLeft,
  expiryBadgeClass,
  formatDateTime,
  formatRelative,
  licenseExpiryLevel,
  EXPIRY_WARNING_DAYS,
} from '../format';
import { Banner } from './Banner';
import { Fingerprint } from './Fingerprint';

interface Props {
  license: LicenseInfo;
  now?: Date;
}

/**
 * The loaded license, field by field. Only named fields are rendered (never the whole object),
 * and there is no password: the console never sends one and the page has nowhere to show it.
 */
export function LicenseDetails({ license, now }: Props) {
  const at = now ?? new Date();
  const level = licenseExpiryLevel(license.expires_at, at);
  const left = describeDaysLeft(license.expires_at, at);
  const entitlements = Object.entries(license.entitlements).sort(([a], [b]) => a.localeCompare(b));

  return (
    <div className="license" data-testid="license-details">
      {level === 'expired' ? (
        <Banner kind="error" title="The license has expired." testId="license-expiry-error">
          Ask your vendor for a renewed license and load it with Replace license.
        </Banner>
      ) : null}
      {level === 'warning' ? (
        <Banner kind="warning" title="The license expires soon." testId="license-expiry-warning">
          It is valid for less than {EXPIRY_WARNING_DAYS} days. Ask your vendor for a renewed license before{' '}
          {formatDateTime(license.expires_at)}.
        </Banner>
      ) : null}

      <dl className="fields">
        <div className="field">
          <dt>Customer</dt>
          <dd data-testid="license-customer">{license.customer}</dd>
        </div>
        <div className="field">
          <dt>Application</dt>
          <dd className="mono" data-testid="license-app-id">
            {license.app_id}
          </dd>
        </div>
        <div className="field">
          <dt>Channel</dt>
          <dd className="mono" data-testid="license-channel">
            {license.channel}
          </dd>
        </div>
        <div className="field">
          <dt>License ID</dt>
          <dd className="mono" data-testid="license-id">
            {license.license_id}
          </dd>
        </div>
        <div className="field">
          <dt>Issued</dt>
          <dd>
            <span data-testid="license-issued" data-value={license.issued_at}>
              {formatDateTime(license.issued_at)}
            </span>
          </dd>
        </div>
        <div className="field">
          <dt>Expires</dt>
          <dd>
            <span data-testid="license-expiry" data-value={license.expires_at}>
              {formatDateTime(license.expires_at)}
            </span>
            {left !== null ? (
              <span className={expiryBadgeClass(level)} data-testid="license-days-left">
                {left}
              </span>
            ) : null}
          </dd>
        </div>
        <div className="field">
          <dt>Airgap installs</dt>
          <dd data-testid="license-airgap" data-value={String(license.airgap)}>
            {license.airgap ? 'Yes' : 'No'}
          </dd>
        </div>
        <div className="field">
          <dt>Max nodes</dt>
          <dd data-testid="license-max-nodes" data-value={license.max_nodes ?? ''}>
            {license.max_nodes === null ? 'Unlimited' : license.max_nodes}
          </dd>
        </div>
        <div className="field">
          <dt>API host</dt>
          <dd className={license.api_host ? 'mono' : 'muted'} data-testid="license-api-host">
            {license.api_host ?? 'None'}
          </dd>
        </div>
        {license.registry_username ? (
          <div className="field">
            <dt>Registry user</dt>
            <dd className="mono" data-testid="license-registry-user">
              {license.registry_username}
            </dd>
          </div>
        ) : null}
        <div className="field">
          <dt>Entitlements</dt>
          <dd>
            {entitlements.length === 0 ? (
              <span className="muted" data-testid="license-entitlements">
                None
              </span>
            ) : (
              <table className="table table-compact" data-testid="license-entitlements">
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col">Value</th>
                  </tr>
                </thead>
                <tbody>
                  {entitlements.map(([key, value]) => (
                    <tr key={key} data-testid="license-entitlement" data-key={key}>
                      <td className="mono">{key}</td>
                      <td className="mono">{value}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </dd>
        </div>
        <div className="field">
          <dt>Vendor key fingerprint</dt>
          <dd>
            <Fingerprint value={license.vendor_key_fingerprint} testId="license-fingerprint" />
          </dd>
        </div>
        <div className="field">
          <dt>Loaded at</dt>
          <dd>
            <span data-testid="license-loaded-at" data-value={license.loaded_at} title={formatRelative(license.loaded_at, at)}>
              {formatDateTime(license.loaded_at)}
            </span>
          </dd>
        </div>
      </dl>
    </div>
  );
}
