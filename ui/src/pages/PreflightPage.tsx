import { useEffect, useRef, useState } from 'react';
import { api, errorMessage, isAbort, type PreflightReport, type ReleaseInfo } from '../api';
import { Banner } from '../components/Banner';
import { explainRefusal, RefusalMessage, type Refusal } from '../components/DeployRefusal';
import { PreflightPanel } from '../components/PreflightPanel';
import { releaseLabel } from '../configForm';
import { useDocumentTitle } from '../hooks';
import { deploymentHref } from '../lifecycle';
import { navigate, useLocation } from '../router';

const RELEASE_SELECT_ID = 'preflight-release';

/** `?sequence=N` picks the release; anything else means the newest. */
function sequenceFromSearch(search: string): number | null {
  const value = new URLSearchParams(search).get('sequence');
  if (value === null || !/^\d+$/.test(value)) return null;
  return Number.parseInt(value, 10);
}

/**
 * Runs preflight for a release on the nodes its plan would use, shows every result grouped
 * cluster-wide / per node, and deploys from there (a blocking report needs the override).
 */
export function PreflightPage() {
  useDocumentTitle('Preflight');
  const { search } = useLocation();
  // null: not read yet.
  const [releases, setReleases] = useState<ReleaseInfo[] | null>(null);
  const [releasesError, setReleasesError] = useState<string | null>(null);
  const [sequence, setSequence] = useState<number | null>(null);
  const [report, setReport] = useState<PreflightReport | null>(null);
  const [running, setRunning] = useState(false);
  const [runError, setRunError] = useState<string | null>(null);
  const [deploying, setDeploying] = useState(false);
  const [refusal, setRefusal] = useState<Refusal | null>(null);
  const controllerRef = useRef<AbortController | null>(null);
  const requestedRef = useRef(sequenceFromSearch(search));

  useEffect(() => {
    const controller = new AbortController();
    api.releases(controller.signal).then(
      (list) => {
        setReleases(list);
        setReleasesError(null);
        const requested = requestedRef.current;
        const pick = list.find((r) => r.sequence === requested) ?? list[0];
        setSequence(pick ? pick.sequence : null);
      },
      (e: unknown) => {
        if (!isAbort(e)) setReleasesError(errorMessage(e));
      },
    );
    return () => {
      controller.abort();
      controllerRef.current?.abort();
    };
  }, []);

  function pick(value: string) {
    const next = Number.parseInt(value, 10);
    if (!Number.isFinite(next) || running || deploying) return;
    setSequence(next);
    setReport(null);
    setRunError(null);
    setRefusal(null);
  }

  async function run() {
    if (sequence === null || running || deploying) return;
    controllerRef.current?.abort();
    const controller = new AbortController();
    controllerRef.current = controller;
    setRunning(true);
    setRunError(null);
    setRefusal(null);
    setReport(null);
    try {
      const next = await api.preflight(sequence, controller.signal);
      if (controller.signal.aborted) return;
      setReport(next);
    } catch (e) {
      if (!isAbort(e) && !controller.signal.aborted) setRunError(errorMessage(e));
    } finally {
      if (controllerRef.current === controller) {
        controllerRef.current = null;
        setRunning(false);
      }
    }
  }

  async function deploy(override: boolean) {
    if (!report || deploying) return;
    setDeploying(true);
    setRefusal(null);
    try {
      const deployment = await api.deploy(report.sequence, override);
      navigate(deploymentHref(deployment.id));
    } catch (e) {
      setRefusal(await explainRefusal(e));
      setDeploying(false);
    }
  }

  const selected = releases?.find((r) => r.sequence === sequence) ?? null;

  return (
    <div className="page" data-testid="preflight-page">
      <div className="page-header">
        <h1>Preflight</h1>
      </div>
      <p className="page-intro">
        Checks every node a release would use before it is deployed: Docker, disk, memory, ports, clock, node count
        and the release's own requirements. Each result says what to do about it.
      </p>

      {releasesError ? (
        <Banner kind="error" title="The releases could not be loaded." testId="preflight-error">
          {releasesError}
        </Banner>
      ) : null}

      {releases === null && releasesError === null ? (
        <p className="muted" role="status">
          Loading…
        </p>
      ) : null}

      {releases !== null && releases.length === 0 ? (
        <section className="card" data-testid="preflight-empty">
          <h2 className="card-title">No release loaded</h2>
          <p className="muted">Load the release file you received from your vendor on the console host:</p>
          <pre className="command-block">outpostctl release load FILE</pre>
        </section>
      ) : null}

      {releases !== null && releases.length > 0 ? (
        <section className="card">
          <div className="config-release-row">
            <label className="label" htmlFor={RELEASE_SELECT_ID}>
              Release
            </label>
            <select
              id={RELEASE_SELECT_ID}
              className="input select"
              value={sequence ?? ''}
              disabled={running || deploying}
              onChange={(e) => pick(e.target.value)}
              data-testid="preflight-release"
            >
              {releases.map((r) => (
                <option key={r.sequence} value={r.sequence}>
                  {releaseLabel(r.version, r.sequence)}
                  {r.required ? ' · required' : ''}
                </option>
              ))}
            </select>
            <button
              type="button"
              className="btn btn-primary"
              onClick={() => void run()}
              disabled={sequence === null || running || deploying}
              data-testid="preflight-run"
            >
              {running ? 'Running preflight…' : report ? 'Run again' : 'Run preflight'}
            </button>
          </div>
          {selected && selected.notes ? <p className="hint release-notes">{selected.notes}</p> : null}
        </section>
      ) : null}

      {runError ? (
        <Banner kind="error" title="Preflight could not run." testId="preflight-error">
          {runError}
        </Banner>
      ) : null}

      {running ? (
        <p className="muted" role="status" data-testid="preflight-running">
          Asking every node… this can take a few seconds.
        </p>
      ) : null}

      {refusal ? (
        <Banner kind="error" title="The deployment was not started." testId="deploy-error">
          <RefusalMessage refusal={refusal} />
        </Banner>
      ) : null}

      {report ? (
        <section className="card">
          <h2 className="card-title">Results</h2>
          <PreflightPanel
            key={`${report.sequence}:${report.ran_at}`}
            report={report}
            busy={deploying}
            deployLabel={`Deploy ${releaseLabel(report.version, report.sequence)}`}
            onDeploy={(override) => void deploy(override)}
          />
        </section>
      ) : null}
    </div>
  );
}
