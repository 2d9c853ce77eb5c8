import { useCallback, useEffect, useRef, useState } from 'react';
import { api, errorMessage, isAbort, type OutboundEntry, type OutboundPair } from '../api';
import { Banner } from '../components/Banner';
import { useDocumentTitle } from '../hooks';
import { formatBytes, formatDateTime, formatDuration, formatRelative } from '../format';

export const OUTBOUND_PAGE_SIZE = 50;

/** The table's column count, for the details row. */
const COLUMNS = 8;

/** An answer with a 2xx status and no error is a success; anything else (no answer, an error, 4xx/5xx) is not. */
export function outboundSucceeded(entry: OutboundEntry): boolean {
  return entry.status !== null && entry.status >= 200 && entry.status < 300 && entry.error === null;
}

/** The status badge's text: the HTTP status, or why there is none. */
export function outboundStatusLabel(entry: OutboundEntry): string {
  if (entry.status !== null) return String(entry.status);
  return entry.error !== null ? 'failed' : 'no answer';
}

/** Appends `more` to `list`, dropping ids already shown (entries may arrive while paging). */
export function mergeOutboundEntries(list: OutboundEntry[], more: OutboundEntry[]): OutboundEntry[] {
  const seen = new Set(list.map((e) => e.id));
  return [...list, ...more.filter((e) => !seen.has(e.id))];
}

export function OutboundPage() {
  useDocumentTitle('Outbound log');
  const [entries, setEntries] = useState<OutboundEntry[] | null>(null);
  const [nextBefore, setNextBefore] = useState<number | null>(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [expanded, setExpanded] = useState<ReadonlySet<number>>(new Set());
  const controllerRef = useRef<AbortController | null>(null);

  const load = useCallback(async (before: number | null) => {
    controllerRef.current?.abort();
    const controller = new AbortController();
    controllerRef.current = controller;
    setLoading(true);
    setError(null);
    try {
      const page = await api.outbound({ limit: OUTBOUND_PAGE_SIZE, before }, controller.signal);
      setEntries((prev) =>
        before === null || prev === null ? page.entries : mergeOutboundEntries(prev, page.entries),
      );
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

  function toggle(id: number) {
    setExpanded((prev) => {
      const next = new Set(prev);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });
  }

  const now = new Date();

  return (
    <div className="page page-wide" data-testid="outbound-page">
      <div className="page-header">
        <h1>Outbound log</h1>
        <button
          type="button"
          className="btn btn-small btn-secondary"
          onClick={() => void load(null)}
          disabled={loading}
          data-testid="outbound-refresh"
        >
          Refresh
        </button>
      </div>
      <p className="page-intro">
        Every connection this console opened to outside the install (the vendor's api host), newest first: what was
        sent, with secrets masked, and how it ended. Open a row to see the request's headers and fields exactly as
        sent.
      </p>

      {error ? (
        <Banner kind="error" title="The outbound log could not be loaded." testId="outbound-error">
          {error}
        </Banner>
      ) : null}

      {entries === null && loading ? (
        <p className="muted" role="status">
          Loading…
        </p>
      ) : null}

      {entries !== null ? (
        <section className="card card-flush table-scroll">
          {entries.length === 0 ? (
            <p className="empty" data-testid="outbound-empty">
              Nothing has been sent out of this install.
            </p>
          ) : (
            <table className="table table-outbound" data-testid="outbound-table">
              <thead>
                <tr>
                  <th scope="col">Time</th>
                  <th scope="col">Method</th>
                  <th scope="col">URL</th>
                  <th scope="col">Purpose</th>
                  <th scope="col">Status</th>
                  <th scope="col">Sent / received</th>
                  <th scope="col">Duration</th>
                  <th scope="col">
                    <span className="visually-hidden">Details</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {entries.map((entry) => (
                  <OutboundRow
                    key={entry.id}
                    entry={entry}
                    open={expanded.has(entry.id)}
                    now={now}
                    onToggle={() => toggle(entry.id)}
                  />
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
                data-testid="outbound-more"
              >
                {loading ? 'Loading…' : 'Load older'}
              </button>
            </div>
          ) : entries.length > 0 ? (
            <div className="table-footer muted small">End of the outbound log.</div>
          ) : null}
        </section>
      ) : null}
    </div>
  );
}

interface RowProps {
  entry: OutboundEntry;
  open: boolean;
  now: Date;
  onToggle(): void;
}

function OutboundRow({ entry, open, now, onToggle }: RowProps) {
  const detailsId = `outbound-details-${entry.id}`;
  const ok = outboundSucceeded(entry);
  return (
    <>
      <tr data-testid="outbound-row" data-id={entry.id}>
        <td className="nowrap" title={formatRelative(entry.at, now)}>
          {formatDateTime(entry.at)}
        </td>
        <td className="mono nowrap">{entry.method}</td>
        <td className="mono outbound-url">{entry.url}</td>
        <td>{entry.purpose}</td>
        <td className="outbound-outcome">
          <span
            className={ok ? 'badge badge-ok' : 'badge badge-bad'}
            data-testid="outbound-status"
            data-value={entry.status ?? ''}
            title={entry.status === null && entry.error === null ? 'The console stopped before the answer.' : undefined}
          >
            {outboundStatusLabel(entry)}
          </span>
          {entry.error !== null ? (
            <div className="small detail" data-testid="outbound-row-error">
              {entry.error}
            </div>
          ) : null}
        </td>
        <td className="nowrap small">
          <div>{formatBytes(entry.bytes_sent)} sent</div>
          <div className="muted">{formatBytes(entry.bytes_received)} received</div>
        </td>
        <td className="nowrap">{formatDuration(entry.duration_ms)}</td>
        <td>
          <button
            type="button"
            className="btn btn-small btn-ghost nowrap"
            aria-expanded={open}
            aria-controls={open ? detailsId : undefined}
            onClick={onToggle}
            data-testid={`outbound-toggle-${entry.id}`}
          >
            {open ? 'Hide' : 'Details'}
          </button>
        </td>
      </tr>
      {open ? (
        <tr className="outbound-subrow" data-testid={detailsId}>
          <td colSpan={COLUMNS} id={detailsId}>
            <h3 className="section-title outbound-section-title">Request headers</h3>
            <PairList pairs={entry.request_headers} testId="outbound-header" empty="No headers were logged." />
            <h3 className="section-title outbound-section-title">Request fields</h3>
            <PairList
              pairs={entry.request_fields}
              testId="outbound-field"
              empty="No fields were sent besides what the URL shows."
            />
          </td>
        </tr>
      ) : null}
    </>
  );
}

/** `name: value` lines, as text only (the values are whatever the console logged). */
function PairList({ pairs, testId, empty }: { pairs: OutboundPair[]; testId: string; empty: string }) {
  if (pairs.length === 0) return <p className="muted small outbound-none">{empty}</p>;
  return (
    <ul className="outbound-pairs mono">
      {pairs.map((pair, index) => (
        <li key={`${index}-${pair.name}`} data-testid={testId} data-name={pair.name}>
          <span className="outbound-pair-name">{pair.name}</span>:{' '}
          <span className="outbound-pair-value">{pair.value}</span>
        </li>
      ))}
    </ul>
  );
}
