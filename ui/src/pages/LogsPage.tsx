import { useEffect, useId, useLayoutEffect, useRef, useState, type FormEvent } from 'react';
import { api, errorMessage, followLogs, isAbort, type AppStatus, type LogLine } from '../api';
import { Banner } from '../components/Banner';
import { useDocumentTitle } from '../hooks';
import { logsHref } from '../lifecycle';
import { navigate, useLocation } from '../router';

export const DEFAULT_TAIL = 200;
export const MAX_TAIL = 5000;
/** Lines kept in the page while following; older ones are dropped. */
export const MAX_FOLLOW_LINES = 10_000;
/** How close to the bottom (px) counts as "at the bottom" for auto-scroll. */
const STICK_PX = 24;

/** The tail count typed by the admin, or `null` when it is not a whole number in 1–5000. */
export function parseTail(text: string): number | null {
  const trimmed = text.trim();
  if (!/^\d+$/.test(trimmed)) return null;
  const n = Number.parseInt(trimmed, 10);
  return n >= 1 && n <= MAX_TAIL ? n : null;
}

interface Selection {
  service: string;
  replica: string;
}

function selectionFromSearch(search: string): Selection {
  const params = new URLSearchParams(search);
  return { service: params.get('service') ?? '', replica: params.get('replica') ?? '' };
}

/**
 * One replica's container log: the last N lines, or followed live (`application/x-ndjson`).
 * Lines are rendered as text only, never as markup. The selection lives in the address.
 */
export function LogsPage() {
  useDocumentTitle('Logs');
  const { search } = useLocation();
  const { service, replica } = selectionFromSearch(search);
  const selected = service !== '' && replica !== '';
  const tailId = useId();
  const serviceId = useId();
  const replicaId = useId();

  const [status, setStatus] = useState<AppStatus | null>(null);
  const [statusError, setStatusError] = useState<string | null>(null);
  const [tailText, setTailText] = useState(String(DEFAULT_TAIL));
  const [tail, setTail] = useState(DEFAULT_TAIL);
  const [tailError, setTailError] = useState<string | null>(null);
  const [loadKey, setLoadKey] = useState(0);
  const [lines, setLines] = useState<LogLine[]>([]);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [follow, setFollow] = useState(false);
  const [ended, setEnded] = useState(false);
  const [dropped, setDropped] = useState(0);
  const followRef = useRef(false);
  const boxRef = useRef<HTMLDivElement>(null);
  const stickRef = useRef(true);

  // The services and replicas to choose from.
  useEffect(() => {
    const controller = new AbortController();
    api.appStatus(controller.signal).then(
      (next) => {
        setStatus(next);
        setStatusError(null);
      },
      (e: unknown) => {
        if (!isAbort(e)) setStatusError(errorMessage(e));
      },
    );
    return () => controller.abort();
  }, []);

  // Nothing chosen yet: the first replica of the first service.
  useEffect(() => {
    if (selected || !status) return;
    const first = status.services.find((s) => s.replicas.length > 0);
    if (first) navigate(logsHref(first.service, first.replicas[0].replica), { replace: true });
  }, [selected, status]);

  // The last `tail` lines, when not following.
  useEffect(() => {
    if (!selected || followRef.current) return;
    const controller = new AbortController();
    setLoading(true);
    setError(null);
    setEnded(false);
    setDropped(0);
    api.logs({ service, replica, tail }, controller.signal).then(
      (answer) => {
        setLines(answer.lines);
        setLoading(false);
        stickRef.current = true;
      },
      (e: unknown) => {
        if (isAbort(e) || controller.signal.aborted) return;
        setLines([]);
        setError(errorMessage(e));
        setLoading(false);
      },
    );
    return () => controller.abort();
  }, [selected, service, replica, tail, loadKey]);

  // Following: the stream starts with the last `tail` lines, then every new line until stopped.
  useEffect(() => {
    if (!follow || !selected) return;
    const controller = new AbortController();
    let buffer: LogLine[] = [];
    let flushing = false;
    // Lines in the page since the stream started (it starts empty).
    let shown = 0;
    const flush = () => {
      flushing = false;
      if (controller.signal.aborted || buffer.length === 0) return;
      const batch = buffer;
      buffer = [];
      const over = Math.max(0, shown + batch.length - MAX_FOLLOW_LINES);
      shown = Math.min(MAX_FOLLOW_LINES, shown + batch.length);
      if (over > 0) setDropped((n) => n + over);
      setLines((prev) => {
        const next = prev.concat(batch);
        return next.length <= MAX_FOLLOW_LINES ? next : next.slice(next.length - MAX_FOLLOW_LINES);
      });
    };
    setLines([]);
    setDropped(0);
    setError(null);
    setEnded(false);
    setLoading(false);
    stickRef.current = true;
    followLogs(
      { service, replica, tail },
      (line) => {
        buffer.push(line);
        if (!flushing) {
          flushing = true;
          queueMicrotask(flush);
        }
      },
      controller.signal,
    ).then(
      () => {
        flush();
        if (controller.signal.aborted) return;
        followRef.current = false;
        setFollow(false);
        setEnded(true);
      },
      (e: unknown) => {
        if (isAbort(e) || controller.signal.aborted) return;
        flush();
        followRef.current = false;
        setFollow(false);
        setError(errorMessage(e));
      },
    );
    return () => controller.abort();
  }, [follow, selected, service, replica, tail]);

  // Keep the newest line in view while following, unless the admin scrolled up to read.
  useLayoutEffect(() => {
    const box = boxRef.current;
    if (!box || !follow || !stickRef.current) return;
    box.scrollTop = box.scrollHeight;
  }, [lines, follow]);

  function onScroll() {
    const box = boxRef.current;
    if (!box) return;
    stickRef.current = box.scrollHeight - box.scrollTop - box.clientHeight <= STICK_PX;
  }

  function toggleFollow(next: boolean) {
    followRef.current = next;
    if (next) stickRef.current = true;
    setFollow(next);
  }

  function choose(nextService: string, nextReplica: string) {
    navigate(logsHref(nextService, nextReplica), { replace: true });
  }

  function pickService(name: string) {
    const svc = status?.services.find((s) => s.service === name);
    choose(name, svc?.replicas[0]?.replica ?? '');
  }

  function apply(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const parsed = parseTail(tailText);
    if (parsed === null) {
      setTailError(`Enter a whole number from 1 to ${MAX_TAIL}.`);
      return;
    }
    setTailError(null);
    setTail(parsed);
    setLoadKey((n) => n + 1);
  }

  const services = status?.services ?? [];
  const current = services.find((s) => s.service === service) ?? null;
  const replicas = current?.replicas ?? [];
  const replicaInfo = replicas.find((r) => r.replica === replica) ?? null;
  const serviceOptions = services.map((s) => s.service);
  if (service !== '' && !serviceOptions.includes(service)) serviceOptions.unshift(service);
  const replicaOptions = replicas.map((r) => ({
    value: r.replica,
    label: `${r.replica}${r.node_name ? ` on ${r.node_name}` : ''}`,
  }));
  if (replica !== '' && !replicaOptions.some((o) => o.value === replica)) {
    replicaOptions.unshift({ value: replica, label: replica });
  }

  return (
    <div className="page page-wide" data-testid="logs-page">
      <div className="page-header">
        <h1>Logs</h1>
      </div>
      <p className="page-intro">
        The output of one container of your application, as its node's Docker engine keeps it. Errors the container
        wrote to stderr are marked.
      </p>

      {statusError ? (
        <Banner kind="warning" title="The list of services could not be read." testId="logs-status-error">
          {statusError}
        </Banner>
      ) : null}

      <section className="card">
        <form className="logs-controls" onSubmit={apply} noValidate>
          <div className="logs-control">
            <label className="label" htmlFor={serviceId}>
              Service
            </label>
            <select
              id={serviceId}
              className="input select"
              value={service}
              onChange={(e) => pickService(e.target.value)}
              data-testid="logs-service"
            >
              {service === '' ? <option value="">Choose…</option> : null}
              {serviceOptions.map((name) => (
                <option key={name} value={name}>
                  {name}
                </option>
              ))}
            </select>
          </div>
          <div className="logs-control">
            <label className="label" htmlFor={replicaId}>
              Replica
            </label>
            <select
              id={replicaId}
              className="input select"
              value={replica}
              onChange={(e) => choose(service, e.target.value)}
              disabled={service === ''}
              data-testid="logs-replica"
            >
              {replica === '' ? <option value="">Choose…</option> : null}
              {replicaOptions.map((o) => (
                <option key={o.value} value={o.value}>
                  {o.label}
                </option>
              ))}
            </select>
          </div>
          <div className="logs-control">
            <label className="label" htmlFor={tailId}>
              Last lines
            </label>
            <input
              id={tailId}
              className="input logs-tail"
              type="number"
              inputMode="numeric"
              min={1}
              max={MAX_TAIL}
              value={tailText}
              onChange={(e) => setTailText(e.target.value)}
              aria-invalid={tailError ? true : undefined}
              data-testid="logs-tail"
            />
          </div>
          <div className="logs-control logs-control-buttons">
            <button type="submit" className="btn btn-secondary" disabled={!selected} data-testid="logs-load">
              {follow ? 'Apply' : 'Load'}
            </button>
            <label className="config-switch logs-follow">
              <input
                type="checkbox"
                role="switch"
                checked={follow}
                disabled={!selected}
                onChange={(e) => toggleFollow(e.target.checked)}
                data-testid="logs-follow"
              />
              <span>Follow</span>
            </label>
          </div>
        </form>
        {tailError ? (
          <p className="config-item-error" role="alert" data-testid="logs-tail-error">
            {tailError}
          </p>
        ) : null}
        {selected ? (
          <p className="hint" data-testid="logs-source">
            Service <span className="mono">{service}</span>, replica <span className="mono">{replica}</span>
            {replicaInfo ? (
              <>
                {' '}
                on {replicaInfo.node_name || replicaInfo.node} · container{' '}
                <span className="mono">{replicaInfo.container}</span>
              </>
            ) : null}
          </p>
        ) : null}
      </section>

      {error ? (
        <Banner kind="error" title="The log could not be read." testId="logs-error">
          {error}
        </Banner>
      ) : null}
      {ended ? (
        <Banner kind="info" testId="logs-follow-ended">
          The console ended the live stream (it does after 10 minutes). Turn Follow on again to go on.
        </Banner>
      ) : null}

      {selected ? (
        <section className="card card-flush">
          <div className="logs-header">
            <span className="small muted" role="status">
              {follow ? (
                <span data-testid="logs-following">Following · new lines appear as they are written</span>
              ) : loading ? (
                'Loading…'
              ) : (
                `${lines.length} ${lines.length === 1 ? 'line' : 'lines'}`
              )}
              {dropped > 0 ? ` · ${dropped} older lines dropped` : ''}
            </span>
          </div>
          <div
            ref={boxRef}
            className="log-box"
            role="log"
            aria-label="Log lines"
            tabIndex={0}
            onScroll={onScroll}
            data-testid="logs-lines"
          >
            {lines.length === 0 && !loading ? (
              <div className="log-empty muted" data-testid="logs-empty">
                {follow ? 'Waiting for lines…' : 'No lines.'}
              </div>
            ) : null}
            {lines.map((line, i) => (
              <div
                key={i}
                className={`log-line${line.stream === 'stderr' ? ' log-stderr' : ''}`}
                data-testid="logs-line"
                data-stream={line.stream}
              >
                <span className="log-stream" aria-hidden={line.stream === 'stderr' ? undefined : true}>
                  {line.stream === 'stderr' ? 'err' : ''}
                </span>
                <span className="log-text" data-testid="logs-text">
                  {line.line}
                </span>
              </div>
            ))}
          </div>
        </section>
      ) : status !== null && services.every((s) => s.replicas.length === 0) ? (
        <section className="card" data-testid="logs-no-replicas">
          <p className="muted">No container of the application is running, so there is no log to show.</p>
        </section>
      ) : null}
    </div>
  );
}
