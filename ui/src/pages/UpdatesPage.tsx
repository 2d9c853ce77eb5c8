import { useCallback, useEffect, useRef, useState } from 'react';
import {
  api,
  errorMessage,
  isAbort,
  type Advisory,
  type AvailableRelease,
  type UpdateCheck,
  type UpdatesStatus,
} from '../api';
import { Banner } from '../components/Banner';
import { releaseLabel } from '../configForm';
import { describeDaysLeft, formatDateTime, formatIn, formatRelative, formatUptime } from '../format';
import { useDocumentTitle } from '../hooks';
import { Link } from '../router';
import {
  checkOutcomeBadge,
  checkOutcomeLabel,
  fixedInLabel,
  fixesOf,
  lastFailedCheck,
  severityBadge,
  updateStateLabel,
  updateStateTone,
} from '../updates';
import { useUpdatesFeed } from '../updatesFeed';

/**
 * Where updates stand: the state, "Check now", the releases newer than the installed one, the
 * advisories affecting it, the schedule, the channel index, the license and the recent checks.
 */
export function UpdatesPage() {
  useDocumentTitle('Updates');
  const { publish } = useUpdatesFeed();
  const [status, setStatus] = useState<UpdatesStatus | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [checking, setChecking] = useState(false);
  const [checkResult, setCheckResult] = useState<UpdateCheck | null>(null);
  const [checkError, setCheckError] = useState<string | null>(null);
  const controllerRef = useRef<AbortController | null>(null);

  const load = useCallback(async () => {
    controllerRef.current?.abort();
    const controller = new AbortController();
    controllerRef.current = controller;
    try {
      const next = await api.updates(controller.signal);
      if (controller.signal.aborted) return;
      setStatus(next);
      setLoadError(null);
      publish(next);
    } catch (e) {
      if (!isAbort(e) && !controller.signal.aborted) setLoadError(errorMessage(e));
    } finally {
      if (controllerRef.current === controller) controllerRef.current = null;
    }
  }, [publish]);

  useEffect(() => {
    void load();
    return () => controllerRef.current?.abort();
  }, [load]);

  async function checkNow() {
    if (checking) return;
    controllerRef.current?.abort();
    setChecking(true);
    setCheckError(null);
    setCheckResult(null);
    try {
      const answer = await api.checkUpdates();
      setStatus(answer.status);
      setLoadError(null);
      setCheckResult(answer.check);
      publish(answer.status);
    } catch (e) {
      setCheckError(errorMessage(e));
    } finally {
      setChecking(false);
    }
  }

  const now = new Date();

  return (
    <div className="page" data-testid="updates-page">
      <div className="page-header">
        <h1>Updates</h1>
        <button
          type="button"
          className="btn btn-primary"
          onClick={() => void checkNow()}
          disabled={checking}
          aria-busy={checking || undefined}
          data-testid="check-now"
        >
          {checking ? 'Checking…' : 'Check now'}
        </button>
      </div>
      <p className="page-intro">
        New releases and security advisories from the vendor's api host for the licensed channel. Checks run on a
        schedule; releases found are loaded, never deployed by themselves.
      </p>

      {loadError ? (
        <Banner kind="error" title="The update status could not be loaded." testId="updates-load-error">
          <p>
            {loadError} {status ? 'The values below are from the last successful read.' : null}
          </p>
          <p>
            <button type="button" className="btn btn-small btn-secondary" onClick={() => void load()}>
              Try again
            </button>
          </p>
        </Banner>
      ) : null}

      {checkError ? (
        <Banner kind="error" title="The check did not run." testId="check-error">
          {checkError}
        </Banner>
      ) : null}

      {checkResult ? <CheckResult check={checkResult} /> : null}

      {status === null && loadError === null ? (
        <p className="muted" role="status">
          Loading…
        </p>
      ) : null}

      {status ? (
        <>
          <StateBox status={status} now={now} />
          <InstalledCard status={status} />
          <AdvisoriesCard advisories={status.advisories} />
          <AvailableCard status={status} />
          <ScheduleCard status={status} now={now} />
          <IndexAndLicenseCard status={status} now={now} />
          <ChecksCard checks={status.checks} now={now} />
        </>
      ) : null}
    </div>
  );
}

function CheckResult({ check }: { check: UpdateCheck }) {
  const ok = check.outcome === 'ok';
  return (
    <Banner
      kind={ok ? 'success' : check.outcome === 'failed' ? 'warning' : 'info'}
      title={ok ? 'Check done.' : check.outcome === 'failed' ? 'The check failed.' : 'The check is running.'}
      testId="check-result"
    >
      <span data-testid="check-result-outcome" data-outcome={check.outcome ?? 'running'}>
        {check.summary || (ok ? 'The check found nothing new.' : '')}
      </span>
      {check.error ? (
        <span className="detail" data-testid="check-result-error">
          {' '}
          {check.error}
        </span>
      ) : null}
    </Banner>
  );
}

function StateBox({ status, now }: { status: UpdatesStatus; now: Date }) {
  const tone = updateStateTone(status.state);
  const failed = status.state === 'check_failed' ? lastFailedCheck(status) : null;
  const retryIn = status.next_check_at ? formatIn(status.next_check_at, now) : null;
  return (
    <section
      className={`updates-state updates-state-${tone}`}
      data-testid="updates-state"
      data-state={status.state}
      aria-labelledby="updates-state-title"
    >
      <h2 className="updates-state-title" id="updates-state-title">
        {updateStateLabel(status.state)}
      </h2>
      <p data-testid="updates-state-message">{status.message}</p>

      {status.state === 'airgap' && status.airgap ? (
        <p className="small" data-testid="updates-state-airgap">
          {status.airgap} Releases and advisories come in airgap bundles;{' '}
          <Link to="/settings/outbound">outbound settings</Link>.
        </p>
      ) : null}

      {status.state === 'check_failed' ? (
        <>
          {failed?.error ? (
            <p className="small" data-testid="updates-state-error">
              <strong>Error:</strong> {failed.error}
            </p>
          ) : null}
          <p className="small" data-testid="updates-state-retry">
            {status.next_check_at ? (
              <>
                Next retry at{' '}
                <span title={formatRelative(status.next_check_at, now)}>{formatDateTime(status.next_check_at)}</span>
                {retryIn ? ` (${retryIn})` : null}.
              </>
            ) : (
              'No retry is scheduled.'
            )}{' '}
            {status.failures > 0 ? `${status.failures} failed check${status.failures === 1 ? '' : 's'} in a row.` : null}
          </p>
        </>
      ) : null}

      {status.state === 'metadata_stale' ? (
        <p className="small" data-testid="updates-state-stale">
          The releases and advisories already known are kept and can still be deployed; nothing newer is accepted until
          the vendor's api host serves a current channel index.
        </p>
      ) : null}
    </section>
  );
}

function InstalledCard({ status }: { status: UpdatesStatus }) {
  return (
    <section className="card" data-testid="updates-installed">
      <h2 className="card-title">Installed release</h2>
      {status.installed ? (
        <p className="mono" data-testid="updates-installed-release" data-sequence={status.installed.sequence}>
          {releaseLabel(status.installed.version, status.installed.sequence)}
        </p>
      ) : (
        <p className="muted" data-testid="updates-installed-none">
          Nothing is deployed yet. <Link to="/deploy">Deploy a release</Link>.
        </p>
      )}
    </section>
  );
}

function AdvisoriesCard({ advisories }: { advisories: Advisory[] }) {
  return (
    <section className="card card-flush table-scroll" data-testid="updates-advisories">
      <div className="card-header card-header-padded">
        <h2 className="card-title">
          Security advisories
          {advisories.length > 0 ? <span className="badge badge-bad">{advisories.length}</span> : null}
        </h2>
      </div>
      {advisories.length === 0 ? (
        <p className="empty" data-testid="advisories-none">
          No known advisory affects the installed release.
        </p>
      ) : (
        <table className="table table-advisories">
          <thead>
            <tr>
              <th scope="col">Advisory</th>
              <th scope="col">Details</th>
              <th scope="col">Affects</th>
              <th scope="col">Fix</th>
            </tr>
          </thead>
          <tbody>
            {advisories.map((a) => {
              const fixedIn = fixedInLabel(a);
              return (
                <tr key={a.id} data-testid={`advisory-${a.id}`} data-severity={a.severity}>
                  <td className="nowrap">
                    <div className="mono">{a.id}</div>
                    <span className={severityBadge(a.severity)} data-testid="advisory-severity">
                      {a.severity}
                    </span>
                    {a.published_at ? <div className="small muted">{formatDateTime(a.published_at)}</div> : null}
                  </td>
                  <td>
                    <strong>{a.title}</strong>
                    {a.text ? <div className="detail release-notes">{a.text}</div> : null}
                  </td>
                  <td className="nowrap" data-testid="advisory-affected">
                    {a.affected.length > 0
                      ? `sequence${a.affected.length === 1 ? '' : 's'} ${a.affected.join(', ')}`
                      : '—'}
                  </td>
                  <td data-testid="advisory-fix" data-fix-available={a.fix_available}>
                    {fixedIn === null ? (
                      <span className="badge badge-warn">no fix yet</span>
                    ) : (
                      <>
                        <div className="nowrap">fixed in {fixedIn}</div>
                        {a.fix_available ? (
                          <>
                            <span className="badge badge-ok" data-testid="advisory-fix-loaded">
                              fix loaded
                            </span>{' '}
                            <Link
                              to={a.fixed_in === null ? '/deploy' : `/deploy?release=${a.fixed_in}`}
                              className="small"
                              data-testid="advisory-deploy-fix"
                            >
                              Deploy it
                            </Link>
                          </>
                        ) : (
                          <span className="badge badge-warn" data-testid="advisory-fix-missing">
                            fix not loaded yet
                          </span>
                        )}
                      </>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}

function AvailableCard({ status }: { status: UpdatesStatus }) {
  return (
    <section className="card card-flush table-scroll" data-testid="updates-available">
      <div className="card-header card-header-padded">
        <h2 className="card-title">Available releases</h2>
        {status.available.length > 0 ? (
          <Link to="/deploy" className="btn btn-small btn-secondary" data-testid="updates-deploy-link">
            Go to Deploy
          </Link>
        ) : null}
      </div>
      {status.available.length === 0 ? (
        <p className="empty" data-testid="available-none">
          No loaded release is newer than the installed one.
        </p>
      ) : (
        <table className="table">
          <thead>
            <tr>
              <th scope="col">Version</th>
              <th scope="col">Sequence</th>
              <th scope="col">Created</th>
              <th scope="col">Notes</th>
            </tr>
          </thead>
          <tbody>
            {status.available.map((release) => (
              <AvailableRow key={release.sequence} release={release} fixes={fixesOf(release, status.advisories)} />
            ))}
          </tbody>
        </table>
      )}
      {status.available.length > 0 ? (
        <div className="table-footer muted small">
          Loaded releases newer than the installed one, oldest first. Deploying one runs preflight first.
        </div>
      ) : null}
    </section>
  );
}

function AvailableRow({ release, fixes }: { release: AvailableRelease; fixes: string[] }) {
  return (
    <tr
      className={fixes.length > 0 ? 'row-fix' : undefined}
      data-testid={`release-${release.sequence}`}
      data-fixes={fixes.join(',')}
    >
      <td className="nowrap">
        <span className="mono">{release.version}</span>
        {release.required ? (
          <span className="badge badge-warn badge-gap" data-testid="release-required">
            required
          </span>
        ) : null}
        {fixes.length > 0 ? (
          <span className="badge badge-ok badge-gap" data-testid="release-fixes">
            fixes {fixes.join(', ')}
          </span>
        ) : null}
      </td>
      <td className="mono">{release.sequence}</td>
      <td className="nowrap">{release.created_at ? formatDateTime(release.created_at) : '—'}</td>
      <td className="detail release-notes">{release.notes || <span className="muted">No notes.</span>}</td>
    </tr>
  );
}

function ScheduleCard({ status, now }: { status: UpdatesStatus; now: Date }) {
  const { schedule } = status;
  const off = schedule.setting === 'off';
  return (
    <section className="card" data-testid="updates-schedule">
      <div className="card-header">
        <h2 className="card-title">Schedule</h2>
        <Link to="/settings/outbound" className="btn btn-small btn-secondary">
          Change
        </Link>
      </div>
      <dl className="fields">
        <div className="field">
          <dt>Checks</dt>
          <dd data-testid="updates-schedule-setting">
            <span className="mono">{schedule.setting || '—'}</span>
            {schedule.description && schedule.description !== schedule.setting ? (
              <span className="muted"> · {schedule.description}</span>
            ) : null}
            {!off && schedule.offset_seconds > 0 ? (
              <div className="hint">This install checks {formatUptime(schedule.offset_seconds)} into each period.</div>
            ) : null}
          </dd>
        </div>
        <div className="field">
          <dt>Next check</dt>
          <dd data-testid="updates-next-check">
            {status.next_check_at ? (
              <>
                {formatDateTime(status.next_check_at)}{' '}
                <span className="muted">{formatRelative(status.next_check_at, now)}</span>
              </>
            ) : (
              <span className="muted">None scheduled.</span>
            )}
          </dd>
        </div>
        <div className="field">
          <dt>Last successful check</dt>
          <dd data-testid="updates-last-success">
            {status.last_success_at ? (
              <>
                {formatDateTime(status.last_success_at)}{' '}
                <span className="muted">{formatRelative(status.last_success_at, now)}</span>
              </>
            ) : (
              <span className="muted">Never.</span>
            )}
            {status.failures > 0 ? (
              <span className="badge badge-warn">
                {status.failures} failure{status.failures === 1 ? '' : 's'} since
              </span>
            ) : null}
          </dd>
        </div>
      </dl>
    </section>
  );
}

function IndexAndLicenseCard({ status, now }: { status: UpdatesStatus; now: Date }) {
  const { index, license } = status;
  return (
    <section className="card" data-testid="updates-metadata">
      <h2 className="card-title">Channel index and license</h2>
      <dl className="fields">
        <div className="field" data-testid="updates-index">
          <dt>Channel index</dt>
          <dd>
            {index ? (
              <>
                version <span className="mono">{index.version}</span> · expires {formatDateTime(index.expires_at)}
                {index.expired ? (
                  <span className="badge badge-bad" data-testid="updates-index-expired">
                    EXPIRED
                  </span>
                ) : null}
                {index.accepted_at ? (
                  <div className="hint">Accepted {formatDateTime(index.accepted_at)}.</div>
                ) : null}
              </>
            ) : (
              <span className="muted">None held yet: no check has succeeded.</span>
            )}
          </dd>
        </div>
        <div className="field" data-testid="updates-license">
          <dt>License</dt>
          <dd>
            {license ? (
              <>
                expires {formatDateTime(license.expires_at)}
                {license.expired ? (
                  <span className="badge badge-bad" data-testid="updates-license-expired">
                    EXPIRED
                  </span>
                ) : (
                  <span className="muted"> · {describeDaysLeft(license.expires_at, now)}</span>
                )}
                {license.revoked ? (
                  <div className="hint updates-revoked" data-testid="updates-license-revoked">
                    <span className="badge badge-bad badge-inline">REVOKED</span> on{' '}
                    {formatDateTime(license.revoked.at)}: {license.revoked.reason || 'no reason given'}
                  </div>
                ) : null}
                <div className="hint">
                  Api host:{' '}
                  {license.api_host ? (
                    <span className="mono">{license.api_host}</span>
                  ) : (
                    'none (the license names no api host)'
                  )}
                </div>
              </>
            ) : (
              <span className="muted">
                No license loaded. <Link to="/license">Load a license</Link>.
              </span>
            )}
          </dd>
        </div>
      </dl>
    </section>
  );
}

function ChecksCard({ checks, now }: { checks: UpdateCheck[]; now: Date }) {
  return (
    <section className="card card-flush table-scroll" data-testid="updates-checks">
      <div className="card-header card-header-padded">
        <h2 className="card-title">Recent checks</h2>
      </div>
      {checks.length === 0 ? (
        <p className="empty" data-testid="checks-none">
          No check has run yet.
        </p>
      ) : (
        <table className="table table-compact">
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Trigger</th>
              <th scope="col">Outcome</th>
              <th scope="col">Problem</th>
              <th scope="col">Summary</th>
            </tr>
          </thead>
          <tbody>
            {checks.map((check) => (
              <tr key={check.id} data-testid="check-row" data-id={check.id} data-outcome={check.outcome ?? 'running'}>
                <td className="nowrap" title={formatRelative(check.started_at, now)}>
                  {formatDateTime(check.started_at)}
                </td>
                <td>{check.trigger}</td>
                <td>
                  <span className={checkOutcomeBadge(check)}>{checkOutcomeLabel(check)}</span>
                </td>
                <td className="mono small">{check.problem ?? '—'}</td>
                <td className="detail">
                  {check.summary}
                  {check.error ? (
                    <div className="small updates-check-error" data-testid="check-row-error">
                      {check.error}
                    </div>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
