import { Fragment, useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import { api, errorMessage, isAbort, type NodeInfo } from '../api';
import { Banner } from '../components/Banner';
import { JoinTokenPanel } from '../components/JoinTokenPanel';
import { LabelsEditor } from '../components/LabelsEditor';
import { NodeRemoveDialog } from '../components/NodeRemoveDialog';
import { useDocumentTitle } from '../hooks';
import {
  CLOCK_SKEW_WARN_MS,
  formatAgo,
  formatBytes,
  formatDateTime,
  formatIn,
  formatSkew,
  skewTooLarge,
} from '../format';
import { labelRows, labelsFromRows, type LabelRow } from '../labels';

/** How often the page re-reads GET /api/v1/nodes while it is open. */
export const NODES_REFRESH_MS = 3000;

/** Addresses shown in the table row; the rest are in the details. */
const ROW_ADDRESSES = 3;

/** A disk with less than this share free is marked. */
const LOW_DISK_SHARE = 0.1;

const TTL_SELECT_ID = 'join-ttl';

function byName(a: NodeInfo, b: NodeInfo): number {
  return a.hostname.localeCompare(b.hostname) || a.id.localeCompare(b.id);
}

export function NodesPage() {
  useDocumentTitle('Nodes');
  // null: not read yet.
  const [nodes, setNodes] = useState<NodeInfo[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [now, setNow] = useState(() => new Date());
  const [notice, setNotice] = useState<string | null>(null);
  const [expanded, setExpanded] = useState<ReadonlySet<string>>(new Set());
  const [editing, setEditing] = useState<string | null>(null);
  const [removing, setRemoving] = useState<NodeInfo | null>(null);
  const [removeBusy, setRemoveBusy] = useState(false);
  const [removeError, setRemoveError] = useState<string | null>(null);
  const controllerRef = useRef<AbortController | null>(null);

  /**
   * Reads the node list. A timer tick does not start a second read while one is in flight
   * (a slow console is not flooded); `force` (after a change) replaces it, so an answer from
   * before the change cannot overwrite the change.
   */
  const load = useCallback(async (force: boolean) => {
    if (controllerRef.current && !force) return;
    controllerRef.current?.abort();
    const controller = new AbortController();
    controllerRef.current = controller;
    try {
      const next = await api.nodes(controller.signal);
      if (controller.signal.aborted) return;
      setNodes(next);
      setNow(new Date());
      setError(null);
    } catch (e) {
      if (!isAbort(e) && !controller.signal.aborted) setError(errorMessage(e));
    } finally {
      if (controllerRef.current === controller) controllerRef.current = null;
    }
  }, []);

  useEffect(() => {
    void load(true);
    const timer = window.setInterval(() => {
      setNow(new Date());
      if (document.visibilityState !== 'hidden') void load(false);
    }, NODES_REFRESH_MS);
    return () => {
      window.clearInterval(timer);
      controllerRef.current?.abort();
      controllerRef.current = null;
    };
  }, [load]);

  function toggleDetails(id: string) {
    setExpanded((prev) => {
      const next = new Set(prev);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });
  }

  function labelsSaved(node: NodeInfo) {
    setNodes((prev) => prev?.map((n) => (n.id === node.id ? node : n)) ?? prev);
    setEditing(null);
    setNotice(`The labels of ${node.hostname || node.id} are saved.`);
    void load(true);
  }

  function askRemove(node: NodeInfo) {
    setRemoveError(null);
    setRemoving(node);
  }

  async function confirmRemove() {
    if (!removing || removeBusy) return;
    const node = removing;
    setRemoveBusy(true);
    setRemoveError(null);
    try {
      await api.removeNode(node.id);
      setNodes((prev) => prev?.filter((n) => n.id !== node.id) ?? prev);
      if (editing === node.id) setEditing(null);
      setRemoving(null);
      setNotice(
        `Node ${node.hostname || node.id} is removed. Its certificate is revoked; its agent is refused from now on.`,
      );
      void load(true);
    } catch (e) {
      setRemoveError(errorMessage(e));
    } finally {
      setRemoveBusy(false);
    }
  }

  function goToAddNode() {
    const select = document.getElementById(TTL_SELECT_ID);
    select?.scrollIntoView?.({ behavior: 'smooth', block: 'center' });
    select?.focus();
  }

  const sorted = nodes ? [...nodes].sort(byName) : null;
  const online = nodes ? nodes.filter((n) => n.status === 'online').length : 0;

  return (
    <div className="page page-wide" data-testid="nodes-page">
      <div className="page-header">
        <h1>Nodes</h1>
        {nodes && nodes.length > 0 ? (
          <span className="muted small" data-testid="nodes-summary" data-online={online} data-total={nodes.length}>
            {online} of {nodes.length} online · updates every {NODES_REFRESH_MS / 1000} s
          </span>
        ) : null}
      </div>
      <p className="page-intro">
        The hosts that run your application. Each runs <span className="mono">outpost-agent</span>, which keeps a
        connection to this console; a node is offline after 3 missed heartbeats (15 s).
      </p>

      {error ? (
        <Banner kind="error" title="The node list could not be loaded." testId="nodes-error">
          {error} {nodes ? 'The table shows the last successful update; the page keeps trying.' : null}
        </Banner>
      ) : null}
      {notice ? (
        <Banner kind="success" testId="nodes-notice">
          {notice}
        </Banner>
      ) : null}

      {sorted === null && error === null ? (
        <p className="muted" role="status">
          Loading…
        </p>
      ) : null}

      {sorted !== null && sorted.length === 0 ? (
        <section className="card" data-testid="nodes-empty">
          <h2 className="card-title">No nodes yet</h2>
          <p className="muted">
            No host has joined this console. Use <strong>Add a node</strong> below: make a join command and run it on the
            host. The node appears here as soon as its agent has joined.
          </p>
          <button type="button" className="btn btn-secondary btn-small" onClick={goToAddNode} data-testid="nodes-empty-add">
            Add a node
          </button>
        </section>
      ) : null}

      {sorted !== null && sorted.length > 0 ? (
        <section className="card card-flush table-scroll">
          <table className="table table-nodes" data-testid="nodes-table">
            <thead>
              <tr>
                <th scope="col">Node</th>
                <th scope="col">Status</th>
                <th scope="col">Labels</th>
                <th scope="col">System</th>
                <th scope="col">Free disk</th>
                <th scope="col">Certificate</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {sorted.map((node) => (
                <Fragment key={node.id}>
                  <NodeRow
                    node={node}
                    now={now}
                    expanded={expanded.has(node.id)}
                    editing={editing === node.id}
                    onToggleDetails={() => toggleDetails(node.id)}
                    onEditLabels={() => {
                      setNotice(null);
                      setEditing(editing === node.id ? null : node.id);
                    }}
                    onRemove={() => askRemove(node)}
                  />
                  {editing === node.id ? (
                    <tr className="node-subrow">
                      <td colSpan={7}>
                        <NodeLabelsEditor node={node} onSaved={labelsSaved} onCancel={() => setEditing(null)} />
                      </td>
                    </tr>
                  ) : null}
                  {expanded.has(node.id) ? (
                    <tr className="node-subrow">
                      <td colSpan={7}>
                        <NodeDetails node={node} now={now} />
                      </td>
                    </tr>
                  ) : null}
                </Fragment>
              ))}
            </tbody>
          </table>
        </section>
      ) : null}

      <JoinTokenPanel ttlId={TTL_SELECT_ID} />

      {removing ? (
        <NodeRemoveDialog
          node={removing}
          busy={removeBusy}
          error={removeError}
          onConfirm={() => void confirmRemove()}
          onCancel={() => {
            if (!removeBusy) setRemoving(null);
          }}
        />
      ) : null}
    </div>
  );
}

interface RowProps {
  node: NodeInfo;
  now: Date;
  expanded: boolean;
  editing: boolean;
  onToggleDetails(): void;
  onEditLabels(): void;
  onRemove(): void;
}

function NodeRow({ node, now, expanded, editing, onToggleDetails, onEditLabels, onRemove }: RowProps) {
  const { facts } = node;
  const labels = Object.entries(node.labels).sort(([a], [b]) => a.localeCompare(b));
  const addresses = facts?.addresses ?? [];
  const lastSeen = formatAgo(node.last_seen_at, now);
  const skewWarn = skewTooLarge(node.clock_skew_ms);
  const certLeft = formatIn(node.cert_expires_at, now);
  const detailsId = `node-details-${node.id}`;

  return (
    <tr data-testid="node-row" data-node-id={node.id} data-status={node.status}>
      <td className="node-name">
        <div className="node-hostname" data-testid="node-hostname">
          {node.hostname}
        </div>
        <div className="mono small muted" data-testid="node-id">
          {node.id}
        </div>
        {addresses.length > 0 ? (
          <div className="node-addresses mono small" data-testid="node-addresses" title={addresses.join('\n')}>
            {addresses.slice(0, ROW_ADDRESSES).join(', ')}
            {addresses.length > ROW_ADDRESSES ? (
              <span className="muted"> +{addresses.length - ROW_ADDRESSES} more</span>
            ) : null}
          </div>
        ) : null}
      </td>
      <td className="nowrap">
        <span
          className={`badge ${node.status === 'online' ? 'badge-ok' : 'badge-neutral'}`}
          data-testid="node-status"
          data-value={node.status}
        >
          {node.status}
        </span>
        <div className="small muted">
          {node.last_seen_at === null ? (
            <span data-testid="node-last-seen" data-value="">
              never connected
            </span>
          ) : (
            <>
              seen{' '}
              <span
                data-testid="node-last-seen"
                data-value={node.last_seen_at}
                title={formatDateTime(node.last_seen_at)}
              >
                {lastSeen ?? node.last_seen_at}
              </span>
            </>
          )}
        </div>
        {node.clock_skew_ms !== null ? (
          <div className="small">
            <span className="muted">clock </span>
            <span
              className={skewWarn ? 'badge badge-warn badge-inline' : 'muted'}
              data-testid="node-skew"
              data-value={node.clock_skew_ms}
              data-warn={skewWarn ? 'true' : 'false'}
              title={
                skewWarn
                  ? `The node's clock differs from the console's by more than ${CLOCK_SKEW_WARN_MS / 1000} s. Check its time sync (NTP).`
                  : "Node clock minus console clock"
              }
            >
              {formatSkew(node.clock_skew_ms)}
            </span>
          </div>
        ) : null}
      </td>
      <td>
        {labels.length === 0 ? (
          <span className="muted small" data-testid="node-labels">
            None
          </span>
        ) : (
          <ul className="chips" data-testid="node-labels">
            {labels.map(([key, value]) => (
              <li key={key} className="chip" data-testid="node-label" data-key={key} data-value={value}>
                {key}={value}
              </li>
            ))}
          </ul>
        )}
      </td>
      <td className="node-system">
        {facts ? (
          <>
            <div data-testid="node-os">
              {facts.os || 'Unknown OS'}
              {facts.kernel ? <span className="muted"> · {facts.kernel}</span> : null}
            </div>
            <div>
              <span data-testid="node-cpus" data-value={facts.cpus}>
                {facts.cpus} {facts.cpus === 1 ? 'CPU' : 'CPUs'}
              </span>
              <span className="muted"> · </span>
              <span data-testid="node-memory" data-value={facts.memory_bytes}>
                {formatBytes(facts.memory_bytes)}
              </span>
            </div>
            <div data-testid="node-docker" data-value={facts.docker?.version ?? ''}>
              {facts.docker ? (
                <>Docker {facts.docker.version}</>
              ) : (
                <span className="badge badge-warn badge-inline">No Docker</span>
              )}
            </div>
          </>
        ) : (
          <span className="muted small" data-testid="node-no-facts">
            Not reported yet
          </span>
        )}
      </td>
      <td className="nowrap">
        {facts && facts.disks.length > 0 ? (
          facts.disks.map((disk) => {
            const low = disk.total_bytes > 0 && disk.free_bytes / disk.total_bytes < LOW_DISK_SHARE;
            return (
              <div
                key={`${disk.role}:${disk.path}`}
                data-testid="node-disk"
                data-role={disk.role}
                data-value={disk.free_bytes}
                title={`${disk.path}: ${formatBytes(disk.free_bytes)} free of ${formatBytes(disk.total_bytes)}`}
              >
                <span className="muted">{disk.role} </span>
                <span className={low ? 'badge badge-warn badge-inline' : undefined}>{formatBytes(disk.free_bytes)}</span>
              </div>
            );
          })
        ) : (
          <span className="muted small">—</span>
        )}
      </td>
      <td className="nowrap">
        <span
          data-testid="node-cert-expiry"
          data-value={node.cert_expires_at}
          title={formatDateTime(node.cert_expires_at)}
        >
          {certLeft !== null ? (
            <span className="muted">expires {certLeft}</span>
          ) : (
            <span className="badge badge-bad">expired</span>
          )}
        </span>
      </td>
      <td>
        <div className="node-actions">
          <button
            type="button"
            className="btn btn-small btn-ghost"
            aria-expanded={expanded}
            aria-controls={expanded ? detailsId : undefined}
            onClick={onToggleDetails}
            data-testid="node-details-toggle"
          >
            {expanded ? 'Hide details' : 'Details'}
          </button>
          <button
            type="button"
            className="btn btn-small btn-secondary"
            aria-pressed={editing}
            onClick={onEditLabels}
            data-testid="node-labels-button"
          >
            Labels
          </button>
          <button type="button" className="btn btn-small btn-danger-ghost" onClick={onRemove} data-testid="node-remove">
            Remove
          </button>
        </div>
      </td>
    </tr>
  );
}

function NodeDetails({ node, now }: { node: NodeInfo; now: Date }) {
  const { facts } = node;
  return (
    <div className="node-details" id={`node-details-${node.id}`} data-testid="node-details" data-node-id={node.id}>
      <dl className="fields fields-compact node-facts">
        <div className="field">
          <dt>Node ID</dt>
          <dd className="mono">{node.id}</dd>
        </div>
        <div className="field">
          <dt>Joined</dt>
          <dd>{formatDateTime(node.joined_at)}</dd>
        </div>
        <div className="field">
          <dt>Last seen</dt>
          <dd>
            {node.last_seen_at === null
              ? 'Never connected'
              : `${formatDateTime(node.last_seen_at)} (${formatAgo(node.last_seen_at, now) ?? ''})`}
          </dd>
        </div>
        <div className="field">
          <dt>Clock skew</dt>
          <dd>
            {node.clock_skew_ms === null ? (
              <span className="muted">Not measured yet</span>
            ) : (
              <>
                {node.clock_skew_ms} ms <span className="muted">(node clock minus console clock)</span>
                {skewTooLarge(node.clock_skew_ms) ? (
                  <span className="badge badge-warn">over {CLOCK_SKEW_WARN_MS / 1000} s: check time sync</span>
                ) : null}
              </>
            )}
          </dd>
        </div>
        <div className="field">
          <dt>Certificate expires</dt>
          <dd>
            {formatDateTime(node.cert_expires_at)}{' '}
            <span className="muted">(the agent renews it at half its life)</span>
          </dd>
        </div>
        {facts ? (
          <>
            <div className="field">
              <dt>Operating system</dt>
              <dd>{facts.os || '—'}</dd>
            </div>
            <div className="field">
              <dt>Kernel</dt>
              <dd className="mono">{facts.kernel || '—'}</dd>
            </div>
            <div className="field">
              <dt>CPUs / memory</dt>
              <dd>
                {facts.cpus} · {formatBytes(facts.memory_bytes)}
              </dd>
            </div>
            <div className="field">
              <dt>Docker</dt>
              <dd>
                {facts.docker ? (
                  <>
                    {facts.docker.version}{' '}
                    <span className="muted">
                      (API {facts.docker.api_version || '—'}, storage driver {facts.docker.storage_driver || '—'})
                    </span>
                  </>
                ) : (
                  'Not found on this host'
                )}
              </dd>
            </div>
            <div className="field">
              <dt>Disks</dt>
              <dd>
                {facts.disks.length === 0 ? (
                  <span className="muted">None reported</span>
                ) : (
                  facts.disks.map((disk) => (
                    <div key={`${disk.role}:${disk.path}`}>
                      <span className="muted">{disk.role}</span> <span className="mono">{disk.path}</span>:{' '}
                      {formatBytes(disk.free_bytes)} free of {formatBytes(disk.total_bytes)}
                    </div>
                  ))
                )}
              </dd>
            </div>
            <div className="field">
              <dt>Addresses</dt>
              <dd>
                {facts.addresses.length === 0 ? (
                  <span className="muted">None reported</span>
                ) : (
                  <ul className="chips">
                    {facts.addresses.map((address) => (
                      <li key={address} className="chip chip-ip">
                        {address}
                      </li>
                    ))}
                  </ul>
                )}
              </dd>
            </div>
          </>
        ) : (
          <div className="field">
            <dt>Facts</dt>
            <dd className="muted">The agent has not reported its host facts yet.</dd>
          </div>
        )}
      </dl>
    </div>
  );
}

interface EditorProps {
  node: NodeInfo;
  onSaved(node: NodeInfo): void;
  onCancel(): void;
}

/** Inline editor for one node's labels: the whole set is replaced on save. */
function NodeLabelsEditor({ node, onSaved, onCancel }: EditorProps) {
  // Starts from the labels at the moment it opens; live updates of the table do not overwrite edits.
  const [rows, setRows] = useState<LabelRow[]>(() => labelRows(node.labels));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

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
    try {
      const saved = await api.setNodeLabels(node.id, parsed.labels);
      setBusy(false);
      onSaved(saved);
    } catch (e) {
      setError(errorMessage(e));
      setBusy(false);
    }
  }

  return (
    <form className="node-labels-edit" onSubmit={onSubmit} noValidate data-testid="node-labels-edit" data-node-id={node.id}>
      <div className="node-labels-edit-title">
        Labels of <strong>{node.hostname || node.id}</strong>
      </div>
      {error ? (
        <Banner kind="error" title="The labels were not saved." testId="node-labels-error">
          {error}
        </Banner>
      ) : null}
      <LabelsEditor rows={rows} onChange={setRows} disabled={busy} />
      <p className="hint">
        Keys: letters, digits, <span className="mono">- _ . /</span>; values: letters, digits,{' '}
        <span className="mono">- _ .</span>; up to 63 characters each. Saving replaces all labels of this node.
      </p>
      <div className="form-actions">
        <button type="submit" className="btn btn-primary btn-small" disabled={busy} data-testid="node-labels-save">
          {busy ? 'Saving…' : 'Save labels'}
        </button>
        <button type="button" className="btn btn-secondary btn-small" onClick={onCancel} disabled={busy} data-testid="node-labels-cancel">
          Cancel
        </button>
      </div>
    </form>
  );
}
