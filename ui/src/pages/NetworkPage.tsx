import { useCallback, useEffect, useRef, useState } from 'react';
import { api, errorMessage, isAbort, type NetworkCheck, type NetworkReport } from '../api';
import { Banner } from '../components/Banner';
import { releaseLabel } from '../configForm';
import { formatDateTime } from '../format';
import { useDocumentTitle } from '../hooks';
import { Link } from '../router';
import { networkResultBadge } from '../updates';

/**
 * What the install needs from the network (ports in, hosts out), each with a live check. Reading
 * the report runs the checks, so it takes a while (up to ~15 s).
 */
export function NetworkPage() {
  useDocumentTitle('Network');
  const [report, setReport] = useState<NetworkReport | null>(null);
  const [ranAt, setRanAt] = useState<Date | null>(null);
  const [running, setRunning] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const controllerRef = useRef<AbortController | null>(null);

  const run = useCallback(async () => {
    controllerRef.current?.abort();
    const controller = new AbortController();
    controllerRef.current = controller;
    setRunning(true);
    setError(null);
    try {
      const next = await api.network(controller.signal);
      if (controller.signal.aborted) return;
      setReport(next);
      setRanAt(new Date());
    } catch (e) {
      if (isAbort(e) || controller.signal.aborted) return;
      setError(errorMessage(e));
    } finally {
      if (controllerRef.current === controller) {
        controllerRef.current = null;
        setRunning(false);
      }
    }
  }, []);

  useEffect(() => {
    void run();
    return () => controllerRef.current?.abort();
  }, [run]);

  return (
    <div className="page page-wide" data-testid="network-page">
      <div className="page-header">
        <h1>Network</h1>
        <div className="page-header-actions">
          {ranAt && !running ? (
            <span className="muted small" data-testid="network-ran-at">
              Checked {formatDateTime(ranAt.toISOString())}
            </span>
          ) : null}
          <button
            type="button"
            className="btn btn-small btn-secondary"
            onClick={() => void run()}
            disabled={running}
            aria-busy={running || undefined}
            data-testid="network-run"
          >
            {running ? 'Running checks…' : 'Run checks'}
          </button>
        </div>
      </div>
      <p className="page-intro">
        The connections this install needs: ports other machines open to the console and the nodes, and hosts the
        console and the nodes' Docker engines connect to. Each is checked live. Change the proxy or airgap mode in the{' '}
        <Link to="/settings/outbound">outbound settings</Link>.
      </p>

      {error ? (
        <Banner kind="error" title="The network checks could not run." testId="network-error">
          {error} {report ? 'The results below are from the last run.' : null}
        </Banner>
      ) : null}

      {running ? (
        <p className="muted" role="status" data-testid="network-running">
          Running the checks on the console and every node; this can take up to 15 seconds…
        </p>
      ) : null}

      {report ? <Report report={report} /> : null}
    </div>
  );
}

function Report({ report }: { report: NetworkReport }) {
  return (
    <>
      <section className="card" data-testid="network-summary">
        <div className="stats">
          <div className="stat">
            <div className="stat-label">Problems</div>
            <div className="stat-value" data-testid="network-problems" data-value={report.problems}>
              {report.problems}
              {report.problems === 0 ? (
                <span className="badge badge-ok">none</span>
              ) : (
                <span className="badge badge-bad">to fix</span>
              )}
            </div>
          </div>
          <div className="stat">
            <div className="stat-label">Proxy in use</div>
            <div className="stat-value stat-value-small" data-testid="network-proxy">
              {report.airgap ? (
                <span className="muted">none (airgap mode)</span>
              ) : report.proxy ? (
                <span className="mono">{report.proxy}</span>
              ) : (
                <span className="muted">none: direct connections</span>
              )}
            </div>
          </div>
          <div className="stat">
            <div className="stat-label">Ports for</div>
            <div className="stat-value stat-value-small" data-testid="network-release">
              {report.release ? (
                <>
                  <span className="mono">{releaseLabel(report.release.version, report.release.sequence)}</span>
                  <span className="muted">{report.release.installed ? ' · installed' : ' · newest loaded'}</span>
                </>
              ) : (
                <span className="muted">no release loaded</span>
              )}
            </div>
          </div>
        </div>
      </section>

      {report.airgap ? (
        <Banner kind="info" title="Airgap mode: no outbound connection at all." testId="network-airgap">
          {report.airgap} The console and the nodes connect to nothing outside the install; releases, images and
          licenses come in airgap bundles.
        </Banner>
      ) : null}

      <section className="card card-flush table-scroll" data-testid="network-inbound">
        <div className="card-header card-header-padded">
          <h2 className="card-title">Inbound: ports to open</h2>
        </div>
        {report.inbound.length === 0 ? (
          <p className="empty">No inbound port is listed.</p>
        ) : (
          <table className="table table-network">
            <thead>
              <tr>
                <th scope="col">Where</th>
                <th scope="col">Port</th>
                <th scope="col">Protocol</th>
                <th scope="col">Purpose</th>
                <th scope="col">From</th>
                <th scope="col">Airgap</th>
                <th scope="col">Checks</th>
              </tr>
            </thead>
            <tbody>
              {report.inbound.map((row, i) => (
                <tr key={`${row.role}:${row.port}:${i}`} data-testid={`inbound-${row.port}`} data-role={row.role}>
                  <td className="nowrap">{row.role}</td>
                  <td className="mono nowrap">{row.port}</td>
                  <td className="nowrap">{row.protocol}</td>
                  <td>{row.purpose}</td>
                  <td className="detail">{row.from}</td>
                  <td className="nowrap">
                    {row.needed_in_airgap ? (
                      <span className="badge badge-info" data-testid="inbound-airgap">
                        needed in airgap
                      </span>
                    ) : (
                      <span className="muted small">online only</span>
                    )}
                  </td>
                  <td>
                    {row.checks.length === 0 ? (
                      <span className="muted small">not checked</span>
                    ) : (
                      <ul className="network-checks">
                        {row.checks.map((check, j) => (
                          <CheckItem key={`${check.on}:${j}`} check={check} showOn />
                        ))}
                      </ul>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>

      <section className="card card-flush table-scroll" data-testid="network-outbound">
        <div className="card-header card-header-padded">
          <h2 className="card-title">Outbound: hosts to reach</h2>
        </div>
        {report.outbound.length === 0 ? (
          <p className="empty" data-testid="network-outbound-none">
            {report.airgap ? 'Airgap mode: no outbound connection at all.' : 'No outbound connection is needed.'}
          </p>
        ) : (
          <table className="table table-network">
            <thead>
              <tr>
                <th scope="col">Host</th>
                <th scope="col">Protocol</th>
                <th scope="col">Purpose</th>
                <th scope="col">From</th>
                <th scope="col">Airgap</th>
                <th scope="col">Check</th>
              </tr>
            </thead>
            <tbody>
              {report.outbound.map((row, i) => (
                <tr
                  key={`${row.host}:${row.port}:${row.from}:${i}`}
                  data-testid={`outbound-${row.host}`}
                  data-port={row.port}
                >
                  <td className="mono">
                    {row.host}:{row.port}
                  </td>
                  <td className="nowrap">{row.protocol}</td>
                  <td>{row.purpose}</td>
                  <td className="detail">{row.from}</td>
                  <td className="nowrap">
                    {row.needed_in_airgap ? (
                      <span className="badge badge-info">needed in airgap</span>
                    ) : (
                      <span className="badge badge-neutral" data-testid="outbound-not-airgap">
                        not needed in airgap
                      </span>
                    )}
                  </td>
                  <td>
                    <ul className="network-checks">
                      <CheckItem check={row.check} showOn={row.check.on !== 'console'} />
                    </ul>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>

      {report.engines.length > 0 && (
        <section className="card card-flush table-scroll" data-testid="network-engines">
          <div className="card-header card-header-padded">
            <h2 className="card-title">Docker engine proxies</h2>
          </div>
          <p className="detail card-note">
            Each node&apos;s Docker engine pulls images through its own proxy setting, which the console cannot change.
          </p>
          <table className="table table-network">
            <thead>
              <tr>
                <th scope="col">Node</th>
                <th scope="col">Proxy</th>
                <th scope="col">Check</th>
              </tr>
            </thead>
            <tbody>
              {report.engines.map((engine) => (
                <tr key={engine.node} data-testid={`engine-${engine.node}`}>
                  <td className="mono">{engine.node}</td>
                  <td className="mono">{engine.https_proxy ?? 'direct'}</td>
                  <td>
                    <ul className="network-checks">
                      <CheckItem check={engine.check} showOn={false} />
                    </ul>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      )}
    </>
  );
}

function CheckItem({ check, showOn }: { check: NetworkCheck; showOn: boolean }) {
  return (
    <li data-testid="network-check" data-on={check.on} data-result={check.result}>
      <span className={networkResultBadge(check.result)} data-testid="network-check-result">
        {check.result}
      </span>
      {showOn ? <span className="network-check-on">{check.on}</span> : null}
      {check.detail ? <span className="detail small"> {check.detail}</span> : null}
    </li>
  );
}
