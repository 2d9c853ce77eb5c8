import { useEffect, useState } from 'react';
import { api, errorMessage, isAbort, type NodeInfo } from '../api';
import { Link } from '../router';
import { Banner } from './Banner';

/** How often the dashboard card re-reads the node list. */
export const NODES_SUMMARY_REFRESH_MS = 10_000;

/** The dashboard's nodes card: how many nodes are online, linking to the Nodes page. */
export function NodesSummary() {
  // null: not read yet.
  const [nodes, setNodes] = useState<NodeInfo[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let controller: AbortController | null = null;
    const load = () => {
      if (controller) return; // the previous read is still running
      const current = new AbortController();
      controller = current;
      api.nodes(current.signal).then(
        (value) => {
          setNodes(value);
          setError(null);
        },
        (e: unknown) => {
          if (!isAbort(e)) setError(errorMessage(e));
        },
      ).finally(() => {
        if (controller === current) controller = null;
      });
    };
    load();
    const timer = window.setInterval(load, NODES_SUMMARY_REFRESH_MS);
    return () => {
      window.clearInterval(timer);
      controller?.abort();
      controller = null;
    };
  }, []);

  const online = nodes ? nodes.filter((n) => n.status === 'online') : [];
  const offline = nodes ? nodes.filter((n) => n.status !== 'online') : [];

  return (
    <section className="card" data-testid="dashboard-nodes">
      <div className="card-header">
        <h2 className="card-title">Nodes</h2>
        <Link to="/nodes" className="btn btn-small btn-secondary">
          {nodes && nodes.length === 0 ? 'Add a node' : 'View nodes'}
        </Link>
      </div>

      {error ? (
        <Banner kind="error" title="The node list could not be read.">
          {error}
        </Banner>
      ) : null}

      {nodes === null && error === null ? (
        <p className="muted" role="status">
          Loading…
        </p>
      ) : null}

      {nodes !== null ? (
        <p className="nodes-summary">
          <Link
            to="/nodes"
            className="nodes-summary-count"
            data-testid="dashboard-nodes-summary"
            data-online={online.length}
            data-total={nodes.length}
          >
            {online.length} of {nodes.length} online
          </Link>
          {nodes.length === 0 ? (
            <span className="muted"> · no node has joined yet</span>
          ) : offline.length > 0 ? (
            <span className="muted" data-testid="dashboard-nodes-offline">
              {' '}
              · offline: {offline.map((n) => n.hostname || n.id).join(', ')}
            </span>
          ) : null}
        </p>
      ) : null}
    </section>
  );
}
