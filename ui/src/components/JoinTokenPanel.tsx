import { useState, type FormEvent } from 'react';
import { api, errorMessage, type JoinTokenInfo, type JoinTokenTtl } from '../api';
import { formatDateTime, formatRelative } from '../format';
import { labelsFromRows, type LabelRow } from '../labels';
import { Banner } from './Banner';
import { CopyButton } from './CopyButton';
import { LabelsEditor } from './LabelsEditor';

export const JOIN_TTLS: { value: JoinTokenTtl; label: string }[] = [
  { value: '15m', label: '15 minutes' },
  { value: '1h', label: '1 hour' },
  { value: '24h', label: '24 hours' },
];

export const DEFAULT_JOIN_TTL: JoinTokenTtl = '1h';

interface Props {
  /** The TTL select gets this id, so the empty state can point (and move focus) here. */
  ttlId: string;
}

/**
 * "Add a node": makes a one-time join token (`POST /nodes/join-token`) and shows the command to
 * run on the new host. The new node shows up in the table once its agent has joined.
 */
export function JoinTokenPanel({ ttlId }: Props) {
  const [ttl, setTtl] = useState<JoinTokenTtl>(DEFAULT_JOIN_TTL);
  const [rows, setRows] = useState<LabelRow[]>([]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [token, setToken] = useState<JoinTokenInfo | null>(null);

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (busy) return;
    setError(null);
    const parsed = labelsFromRows(rows);
    if (parsed.error !== null) {
      setError(parsed.error);
      return;
    }
    setBusy(true);
    setToken(null);
    try {
      setToken(await api.createJoinToken(ttl, parsed.labels));
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="card" data-testid="node-add" aria-labelledby={`${ttlId}-title`}>
      <h2 className="card-title" id={`${ttlId}-title`}>
        Add a node
      </h2>
      <p className="muted">
        Make a join command and run it on the new host, where <span className="mono">outpost-agent</span> is installed.
        The agent connects out to this console (the address and port are in the command); the host needs no open port.
        The node shows up on this page as soon as it has joined.
      </p>

      {error ? (
        <Banner kind="error" title="No join command was made." testId="join-error">
          {error}
        </Banner>
      ) : null}

      <form className="form" onSubmit={onSubmit} noValidate>
        <label className="label" htmlFor={ttlId}>
          Valid for
        </label>
        <select
          id={ttlId}
          className="input select"
          value={ttl}
          disabled={busy}
          onChange={(e) => setTtl(e.target.value as JoinTokenTtl)}
          data-testid="join-ttl"
        >
          {JOIN_TTLS.map((option) => (
            <option key={option.value} value={option.value}>
              {option.label}
            </option>
          ))}
        </select>
        <div className="label">Labels for the new node (optional)</div>
        <LabelsEditor rows={rows} onChange={setRows} disabled={busy} emptyText="No labels: you can add them later." />
        <div className="form-actions">
          <button type="submit" className="btn btn-primary" disabled={busy} data-testid="join-token-create">
            {busy ? 'Making…' : token ? 'Make another join command' : 'Make join command'}
          </button>
        </div>
      </form>

      {token ? (
        <div className="join-result" data-testid="join-result">
          <div className="join-result-header">
            <span className="stat-label">Run this on the new host</span>
            <CopyButton text={token.command} label="Copy command" />
          </div>
          <pre className="command-block" data-testid="join-command">
            {token.command}
          </pre>
          <p className="small">
            The token in this command works <strong>once</strong>, for one node, until{' '}
            <span data-testid="join-expiry" data-value={token.expires_at} title={formatRelative(token.expires_at)}>
              {formatDateTime(token.expires_at)}
            </span>
            . Treat it like a password until then; for another node, make another command.
          </p>
        </div>
      ) : null}
    </section>
  );
}
