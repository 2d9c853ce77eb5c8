import { useCallback, useEffect, useRef, useState } from 'react';
import {
  api,
  ApiError,
  errorMessage,
  isAbort,
  type AppStatus,
  type DeploymentId,
  type FetchResult,
  type PreflightReport,
  type ReleaseInfo,
} from '../api';
import { Banner } from '../components/Banner';
import { DeploymentView } from '../components/DeploymentView';
import { explainRefusal, RefusalMessage, type Refusal } from '../components/DeployRefusal';
import { PreflightPanel } from '../components/PreflightPanel';
import { releaseLabel } from '../configForm';
import { formatDateTime } from '../format';
import { useDocumentTitle } from '../hooks';
import { deploymentHref } from '../lifecycle';
import { Link, navigate, useLocation } from '../router';

/** The preflight run started by a release's Deploy button. */
interface Pending {
  sequence: number;
  report: PreflightReport | null;
  error: string | null;
}

/** "1.1.0 (sequence 2)" when the release is in the list, else "sequence 2". */
function sequenceLabel(sequence: number, releases: ReleaseInfo[] | null): string {
  const release = releases?.find((r) => r.sequence === sequence);
  return release ? releaseLabel(release.version, release.sequence) : `sequence ${sequence}`;
}

/** What `POST /releases/fetch` did, in words; the refused releases are listed with their reasons. */
function FetchSummary({ result, releases }: { result: FetchResult; releases: ReleaseInfo[] | null }) {
  const names = (list: number[]) => list.map((sequence) => sequenceLabel(sequence, releases)).join(', ');
  return (
    <>
      {result.fetched.length > 0 ? (
        <p data-testid="releases-fetch-fetched" data-sequences={result.fetched.join(',')}>
          Loaded {result.fetched.length === 1 ? 'one new release' : `${result.fetched.length} new releases`}:{' '}
          {names(result.fetched)}.
        </p>
      ) : (
        <p data-testid="releases-fetch-fetched" data-sequences="">
          No new release: the vendor has published nothing that is not loaded here.
        </p>
      )}
      {result.present.length > 0 ? (
        <p className="small muted" data-testid="releases-fetch-present" data-sequences={result.present.join(',')}>
          Already loaded: {names(result.present)}.
        </p>
      ) : null}
      {result.refused.length > 0 ? (
        <>
          <p>
            {result.refused.length === 1 ? 'One listed release was' : `${result.refused.length} listed releases were`}{' '}
            not loaded:
          </p>
          <ul>
            {result.refused.map((refusal) => (
              <li key={refusal.sequence} data-testid="releases-fetch-refused" data-sequence={refusal.sequence}>
                <strong>sequence {refusal.sequence}</strong>: {refusal.reason || 'no reason given'}
              </li>
            ))}
          </ul>
        </>
      ) : null}
    </>
  );
}

/** What a release's button does, relative to the installed release. */
export function deployVerb(sequence: number, installed: number | null): string {
  if (installed === null) return 'Deploy';
  if (sequence > installed) return 'Update';
  if (sequence === installed) return 'Redeploy';
  return 'Deploy';
}

function idFromSearch(search: string): string | null {
  const id = new URLSearchParams(search).get('id');
  return id === null || id.trim() === '' ? null : id;
}

/** `?release=N`: the release another page sent the admin here for (marked in the list). */
function targetFromSearch(search: string): number | null {
  const value = new URLSearchParams(search).get('release');
  if (value === null || !/^[0-9]{1,15}$/.test(value)) return null;
  return Number(value);
}

/**
 * The loaded releases with a Deploy / Update button each (preflight runs first), and one
 * deployment followed live: `?id=` or else the one running now.
 */
export function DeployPage() {
  useDocumentTitle('Deploy');
  const { search } = useLocation();
  const queryId = idFromSearch(search);
  const target = targetFromSearch(search);
  const [releases, setReleases] = useState<ReleaseInfo[] | null>(null);
  const [releasesError, setReleasesError] = useState<string | null>(null);
  // undefined: not read yet; null: not available (no app status route answer).
  const [status, setStatus] = useState<AppStatus | null | undefined>(undefined);
  const [statusError, setStatusError] = useState<string | null>(null);
  // The running deployment found when the page opened without `?id=`; kept after it finishes.
  const [followedId, setFollowedId] = useState<DeploymentId | null>(null);
  const [pending, setPending] = useState<Pending | null>(null);
  const [deploying, setDeploying] = useState(false);
  const [refusal, setRefusal] = useState<Refusal | null>(null);
  const [fetching, setFetching] = useState(false);
  const [fetchResult, setFetchResult] = useState<FetchResult | null>(null);
  const [fetchError, setFetchError] = useState<string | null>(null);
  const releasesRef = useRef<AbortController | null>(null);
  const preflightRef = useRef<AbortController | null>(null);
  const statusRef = useRef<AbortController | null>(null);
  const panelRef = useRef<HTMLElement>(null);

  const loadStatus = useCallback(async () => {
    statusRef.current?.abort();
    const controller = new AbortController();
    statusRef.current = controller;
    try {
      const next = await api.appStatus(controller.signal);
      if (controller.signal.aborted) return;
      setStatus(next);
      setStatusError(null);
      if (next.active_deployment !== null) setFollowedId((prev) => prev ?? next.active_deployment);
    } catch (e) {
      if (isAbort(e) || controller.signal.aborted) return;
      setStatus(null);
      // A console without the status route (404) simply shows no installed release.
      setStatusError(e instanceof ApiError && e.status === 404 ? null : errorMessage(e));
    } finally {
      if (statusRef.current === controller) statusRef.current = null;
    }
  }, []);

  const loadReleases = useCallback(async () => {
    releasesRef.current?.abort();
    const controller = new AbortController();
    releasesRef.current = controller;
    try {
      const list = await api.releases(controller.signal);
      if (controller.signal.aborted) return;
      setReleases(list);
      setReleasesError(null);
    } catch (e) {
      if (isAbort(e) || controller.signal.aborted) return;
      setReleasesError(errorMessage(e));
    } finally {
      if (releasesRef.current === controller) releasesRef.current = null;
    }
  }, []);

  useEffect(() => {
    void loadReleases();
    return () => {
      releasesRef.current?.abort();
      preflightRef.current?.abort();
    };
  }, [loadReleases]);

  // Fetches the channel's releases from the vendor's api host, then reads the list again.
  async function fetchReleases() {
    if (fetching) return;
    setFetching(true);
    setFetchError(null);
    setFetchResult(null);
    try {
      const result = await api.fetchReleases();
      await loadReleases();
      setFetchResult(result);
    } catch (e) {
      setFetchError(errorMessage(e));
    } finally {
      setFetching(false);
    }
  }

  // The installed release and the running deployment; read again whenever another deployment is shown.
  useEffect(() => {
    void loadStatus();
  }, [loadStatus, queryId]);

  useEffect(
    () => () => {
      statusRef.current?.abort();
    },
    [],
  );

  // The preflight panel opens above the list (and below a shown deployment): bring it into view.
  const pendingSequence = pending?.sequence ?? null;
  useEffect(() => {
    if (pendingSequence !== null) panelRef.current?.scrollIntoView?.({ behavior: 'smooth', block: 'nearest' });
  }, [pendingSequence]);

  async function startPreflight(sequence: number) {
    if (deploying) return;
    preflightRef.current?.abort();
    const controller = new AbortController();
    preflightRef.current = controller;
    setRefusal(null);
    setPending({ sequence, report: null, error: null });
    try {
      const report = await api.preflight(sequence, controller.signal);
      if (controller.signal.aborted) return;
      setPending({ sequence, report, error: null });
    } catch (e) {
      if (isAbort(e) || controller.signal.aborted) return;
      setPending({ sequence, report: null, error: errorMessage(e) });
    } finally {
      if (preflightRef.current === controller) preflightRef.current = null;
    }
  }

  function cancelPreflight() {
    preflightRef.current?.abort();
    preflightRef.current = null;
    setPending(null);
  }

  async function deploy(sequence: number, override: boolean) {
    if (deploying) return;
    setDeploying(true);
    setRefusal(null);
    try {
      const deployment = await api.deploy(sequence, override);
      setPending(null);
      setDeploying(false);
      navigate(deploymentHref(deployment.id));
    } catch (e) {
      setRefusal(await explainRefusal(e));
      setDeploying(false);
    }
  }

  const viewId: DeploymentId | null = queryId ?? followedId;
  const installed = status?.installed?.sequence ?? null;
  const active = status?.active_deployment ?? null;
  const busyReason =
    active !== null ? 'A deployment is running. Start another one when it has finished.' : null;
  const runningFor = pending && pending.report === null && pending.error === null ? pending.sequence : null;
  const pendingRelease = pending ? releases?.find((r) => r.sequence === pending.sequence) ?? null : null;

  return (
    <div className="page page-wide" data-testid="deploy-page">
      <div className="page-header">
        <h1>Deploy</h1>
        <div className="page-header-actions">
          <button
            type="button"
            className="btn btn-small btn-secondary"
            disabled={fetching}
            aria-busy={fetching}
            onClick={() => void fetchReleases()}
            data-testid="releases-fetch"
          >
            {fetching ? 'Fetching releases…' : 'Fetch releases from the vendor'}
          </button>
          <Link to="/history" className="btn btn-small btn-secondary">
            Deployment history
          </Link>
        </div>
      </div>
      <p className="page-intro">
        Deploy a loaded release, or update to a newer one. Preflight runs first on every node the release would use.
        If an update fails its health checks, the console restores the previous release by itself.
      </p>

      {viewId !== null ? (
        <DeploymentView key={String(viewId)} id={viewId} onFinished={() => void loadStatus()} />
      ) : null}

      {refusal ? (
        <Banner kind="error" title="The deployment was not started." testId="deploy-error">
          <RefusalMessage refusal={refusal} />
        </Banner>
      ) : null}

      {pending ? (
        <section ref={panelRef} className="card" data-testid="deploy-preflight" data-sequence={pending.sequence}>
          <div className="card-header">
            <h2 className="card-title">
              Preflight for {pendingRelease ? releaseLabel(pendingRelease.version, pendingRelease.sequence) : `sequence ${pending.sequence}`}
            </h2>
          </div>
          {pending.error ? (
            <Banner kind="error" title="Preflight could not run." testId="preflight-error">
              {pending.error}
            </Banner>
          ) : null}
          {pending.report === null && pending.error === null ? (
            <p className="muted" role="status" data-testid="preflight-running">
              Running preflight on every node…
            </p>
          ) : null}
          {pending.report ? (
            <PreflightPanel
              key={`${pending.report.sequence}:${pending.report.ran_at}`}
              report={pending.report}
              busy={deploying}
              disabledReason={busyReason}
              deployLabel={`${deployVerb(pending.sequence, installed)} ${releaseLabel(pending.report.version, pending.report.sequence)}`}
              onDeploy={(override) => void deploy(pending.sequence, override)}
              onCancel={cancelPreflight}
            />
          ) : (
            <div className="form-actions">
              <button type="button" className="btn btn-secondary" onClick={cancelPreflight} data-testid="preflight-cancel">
                Cancel
              </button>
            </div>
          )}
        </section>
      ) : null}

      {statusError ? (
        <Banner kind="warning" title="The installed release could not be read." testId="deploy-status-error">
          {statusError}
        </Banner>
      ) : null}

      {fetchError ? (
        <Banner kind="error" title="No release was fetched from the vendor." testId="releases-fetch-error">
          {fetchError}
        </Banner>
      ) : null}

      {fetchResult ? (
        <Banner
          kind={fetchResult.refused.length > 0 ? 'warning' : 'success'}
          title={`Fetched the channel index (version ${fetchResult.index_version}) from the vendor.`}
          testId="releases-fetch-result"
        >
          <FetchSummary result={fetchResult} releases={releases} />
        </Banner>
      ) : null}

      {releasesError ? (
        <Banner kind="error" title="The releases could not be loaded." testId="releases-error">
          {releasesError}
        </Banner>
      ) : null}

      {releases === null && releasesError === null ? (
        <p className="muted" role="status">
          Loading…
        </p>
      ) : null}

      {releases !== null && releases.length === 0 ? (
        <section className="card" data-testid="releases-empty">
          <h2 className="card-title">No release loaded</h2>
          <p className="muted">
            Fetch the releases your vendor published with <strong>Fetch releases from the vendor</strong> above, or load
            a release file you received on the console host:
          </p>
          <pre className="command-block">outpostctl release load FILE</pre>
        </section>
      ) : null}

      {releases !== null && releases.length > 0 ? (
        <section className="card card-flush table-scroll">
          <div className="card-header card-header-padded">
            <h2 className="card-title">Loaded releases</h2>
            <Link to="/preflight" className="btn btn-small btn-secondary">
              Preflight only
            </Link>
          </div>
          <table className="table" data-testid="releases-table">
            <thead>
              <tr>
                <th scope="col">Version</th>
                <th scope="col">Sequence</th>
                <th scope="col">Notes</th>
                <th scope="col">Loaded</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {releases.map((release) => {
                const isInstalled = release.sequence === installed;
                const isTarget = release.sequence === target;
                const verb = deployVerb(release.sequence, installed);
                const classes = [isInstalled ? 'row-current' : '', isTarget ? 'row-target' : ''].filter(Boolean);
                return (
                  <tr
                    key={release.sequence}
                    data-testid="release-row"
                    data-sequence={release.sequence}
                    data-installed={isInstalled ? 'true' : 'false'}
                    data-target={isTarget ? 'true' : undefined}
                    className={classes.length > 0 ? classes.join(' ') : undefined}
                    ref={isTarget ? (row) => row?.scrollIntoView?.({ block: 'center' }) : undefined}
                  >
                    <td className="nowrap">
                      <strong className="mono">{release.version || '—'}</strong>
                      {isInstalled ? (
                        <span className="badge badge-ok badge-gap" data-testid="release-installed">
                          installed
                        </span>
                      ) : null}
                      {release.required ? (
                        <span
                          className="badge badge-warn badge-gap"
                          data-testid="release-required"
                          title="The vendor marks this release as required: install it before later ones."
                        >
                          required
                        </span>
                      ) : null}
                    </td>
                    <td className="mono">{release.sequence}</td>
                    <td className="detail release-notes" data-testid="release-notes">
                      {release.notes || <span className="muted">No notes.</span>}
                    </td>
                    <td className="nowrap small muted">{formatDateTime(release.loaded_at)}</td>
                    <td className="nowrap">
                      <button
                        type="button"
                        className={`btn btn-small ${verb === 'Update' ? 'btn-primary' : 'btn-secondary'}`}
                        disabled={deploying || busyReason !== null || runningFor === release.sequence}
                        title={busyReason ?? undefined}
                        onClick={() => void startPreflight(release.sequence)}
                        data-testid={`deploy-button-${release.sequence}`}
                      >
                        {verb}
                      </button>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </section>
      ) : null}
    </div>
  );
}
