import { useCallback, useEffect, useRef, useState } from 'react';
import { api, errorMessage, isAbort, type AuditEntry } from '../api';
import { Banner } from '../components/Banner';
import { useDocumentTitle } from '../hooks';
import { formatDateTime, formatRelative } from '../format';

export const AUDIT_PAGE_SIZE = 50;

function actionClass(action: string): string {
  if (action.endsWith('.failed') || action.endsWith('.rejected') || action.endsWith('.rate_limited')) {
    return 'badge badge-bad';
  }
  return 'badge badge-neutral';
}

/** Appends `more` to `list`, dropping ids already shown (entries may arrive while paging). */
export function mergeAuditEntries(list: AuditEntry[], more: AuditEntry[]): AuditEntry[] {
  const seen = new Set(list.map((e) => e.id));
  return [...list, ...more.filter((e) => !seen.has(e.id))];
}

export function AuditPage() {
  useDocumentTitle('Audit log');
  const [entries, setEntries] = useState<AuditEntry[] | null>(null);
  const [nextBefore, setNextBefore] = useState<number | null>(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const controllerRef = useRef<AbortController | null>(null);

  const load = useCallback(async (before: number | null) => {
    controllerRef.current?.abort();
    const controller = new AbortController();
    controllerRef.current = controller;
    setLoading(true);
    setError(null);
    try {
      const page = await api.audit({ limit: AUDIT_PAGE_SIZE, before }, controller.signal);
      setEntries((prev) => (before === null || prev === null ? page.entries : mergeAuditEntries(prev, page.entries)));
      setNextBefore(page.next_before);
      setLoading(false);
    } catch (e) {
      if (isAbort(e)) return;
      setError(errorMessage(e));
      setLoading(false);
    }
  }, []);

  useEffect(() => {
    void load(null);
    return () => controllerRef.current?.abort();
  }, [load]);

  const now = new Date();

  return (
    <div className="page" data-testid="audit-page">
      <div className="page-header">
        <h1>Audit log</h1>
        <button type="button" className="btn btn-small btn-secondary" onClick={() => void load(null)} disabled={loading}>
          Refresh
        </button>
      </div>
      <p className="page-intro">
        Every admin action and sign-in attempt on this console, newest first.
      </p>

      {error ? (
        <Banner kind="error" title="The audit log could not be loaded.">
          {error}
        </Banner>
      ) : null}

      {entries === null && loading ? (
        <p className="muted" role="status">
          Loading…
        </p>
      ) : null}

      {entries !== null ? (
        <section className="card card-flush">
          {entries.length === 0 ? (
            <p className="empty">No audit entries yet.</p>
          ) : (
            <table className="table">
              <thead>
                <tr>
                  <th scope="col">Time</th>
                  <th scope="col">Actor</th>
                  <th scope="col">Action</th>
                  <th scope="col">Source</th>
                  <th scope="col">Detail</th>
                </tr>
              </thead>
              <tbody>
                {entries.map((entry) => (
                  <tr key={entry.id} data-testid="audit-row" data-action={entry.action}>
                    <td className="nowrap" title={formatRelative(entry.at, now)}>
                      {formatDateTime(entry.at)}
                    </td>
                    <td>{entry.actor}</td>
                    <td>
                      <span className={actionClass(entry.action)}>{entry.action}</span>
                    </td>
                    <td className="mono nowrap">{entry.source}</td>
                    <td className="detail">{entry.detail}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {nextBefore !== null ? (
            <div className="table-footer">
              <button
                type="button"
                className="btn btn-secondary"
                onClick={() => void load(nextBefore)}
                disabled={loading}
                data-testid="audit-load-more"
              >
                {loading ? 'Loading…' : 'Load more'}
              </button>
            </div>
          ) : entries.length > 0 ? (
            <div className="table-footer muted small">End of the audit log.</div>
          ) : null}
        </section>
      ) : null}
    </div>
  );
}
