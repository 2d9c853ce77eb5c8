import { useId, useState } from 'react';
import type { PreflightReport } from '../api';
import { releaseLabel } from '../configForm';
import { formatDateTime, formatRelative } from '../format';
import { countOutcomes, groupPreflight, outcomeBadge, outcomeSummary } from '../lifecycle';
import { Banner } from './Banner';

export const OVERRIDE_TEXT = 'I understand the failing checks; this is recorded in the audit log';

interface Props {
  report: PreflightReport;
  /** The deploy request is in flight. */
  busy: boolean;
  /** Why deploying is not possible right now (e.g. another deployment runs), or `null`. */
  disabledReason?: string | null;
  /** The button's text when nothing blocks: `Deploy`, `Update to 1.2.0`... */
  deployLabel: string;
  /** `override` is true only when the report is blocking and the admin ticked the override. */
  onDeploy(override: boolean): void;
  onCancel?(): void;
}

/**
 * A preflight report grouped cluster-wide / per node, and the way on to deploying. When a check
 * failed (`blocking`), deploying needs the explicit override, which the console records in the audit log.
 * Give it a `key` per report, so a new run starts with the override unticked.
 */
export function PreflightPanel({ report, busy, disabledReason = null, deployLabel, onDeploy, onCancel }: Props) {
  const [override, setOverride] = useState(false);
  const overrideId = useId();
  const groups = groupPreflight(report.results);
  const counts = countOutcomes(report.results);
  const canDeploy = !busy && disabledReason === null && (!report.blocking || override);

  return (
    <div className="preflight" data-testid="preflight-report" data-sequence={report.sequence}>
      <div className="preflight-summary">
        <span
          className={`${outcomeBadge(report.outcome)} badge-inline badge-large`}
          data-testid="preflight-outcome"
          data-value={report.outcome}
          data-blocking={report.blocking ? 'true' : 'false'}
        >
          {outcomeSummary(report.outcome)}
        </span>
        <span className="muted small">
          {releaseLabel(report.version, report.sequence)} · {counts.fail} failed · {counts.warn}{' '}
          {counts.warn === 1 ? 'warning' : 'warnings'} · {counts.pass} passed ·{' '}
          <span title={formatRelative(report.ran_at)}>ran {formatDateTime(report.ran_at)}</span>
        </span>
      </div>

      {report.results.length === 0 ? <p className="muted">No checks ran for this release.</p> : null}

      {groups.map((group) => (
        <section
          key={group.node ?? ''}
          className="preflight-group"
          data-testid="preflight-group"
          data-node={group.node ?? ''}
        >
          <h3 className="preflight-group-title">
            {group.node === null ? 'Cluster-wide' : <>Node {group.title}</>}
            {group.node !== null && group.node !== group.title ? (
              <span className="mono small muted"> {group.node}</span>
            ) : null}
          </h3>
          <table className="table table-compact preflight-table">
            <thead>
              <tr>
                <th scope="col">Result</th>
                <th scope="col">Check</th>
                <th scope="col">What to do</th>
              </tr>
            </thead>
            <tbody>
              {group.results.map((result, i) => (
                <tr
                  key={`${result.check}:${i}`}
                  data-testid="preflight-result"
                  data-check={result.check}
                  data-node={result.node ?? ''}
                  data-outcome={result.outcome}
                >
                  <td className="nowrap">
                    <span className={outcomeBadge(result.outcome)}>{result.outcome}</span>
                  </td>
                  <td className="mono nowrap">{result.check}</td>
                  <td className="detail" data-testid="preflight-message">
                    {result.message}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      ))}

      {report.blocking ? (
        <Banner kind="error" title="A check failed: deploying is blocked." testId="preflight-blocking">
          <p>Fix what the failing checks say and run preflight again.</p>
          <p>
            If you are sure the release will work anyway, you can deploy despite the failing checks. The override is
            recorded in the audit log with your name.
          </p>
          <label className="override-check" htmlFor={overrideId}>
            <input
              id={overrideId}
              type="checkbox"
              checked={override}
              disabled={busy}
              onChange={(e) => setOverride(e.target.checked)}
              data-testid="preflight-override"
            />
            <span>{OVERRIDE_TEXT}</span>
          </label>
        </Banner>
      ) : report.outcome === 'warn' ? (
        <Banner kind="warning" testId="preflight-warnings">
          Deploying is possible. Read the warnings first: they name what may not work as expected.
        </Banner>
      ) : null}

      {disabledReason !== null ? <p className="hint">{disabledReason}</p> : null}

      <div className="form-actions">
        <button
          type="button"
          className={`btn ${report.blocking ? 'btn-danger' : 'btn-primary'}`}
          disabled={!canDeploy}
          onClick={() => onDeploy(report.blocking && override)}
          data-testid="preflight-deploy"
        >
          {busy ? 'Starting…' : report.blocking ? 'Deploy anyway' : deployLabel}
        </button>
        {onCancel ? (
          <button
            type="button"
            className="btn btn-secondary"
            disabled={busy}
            onClick={onCancel}
            data-testid="preflight-cancel"
          >
            Cancel
          </button>
        ) : null}
      </div>
    </div>
  );
}
