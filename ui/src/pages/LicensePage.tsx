import { useCallback, useEffect, useRef, useState } from 'react';
import { api, errorMessage, isAbort, type LicenseInfo } from '../api';
import { Banner } from '../components/Banner';
import { Fingerprint } from '../components/Fingerprint';
import { LicenseDetails } from '../components/LicenseDetails';
import { LicenseLoader } from '../components/LicenseLoader';
import { useDocumentTitle } from '../hooks';
import { formatDateTime } from '../format';

interface Loaded {
  license: LicenseInfo;
  pinned: boolean;
}

export function LicensePage() {
  useDocumentTitle('License');
  // undefined: not read yet; null: no license loaded.
  const [license, setLicense] = useState<LicenseInfo | null | undefined>(undefined);
  const [readError, setReadError] = useState<string | null>(null);
  const [replacing, setReplacing] = useState(false);
  const [loaded, setLoaded] = useState<Loaded | null>(null);
  const controllerRef = useRef<AbortController | null>(null);

  const read = useCallback(async () => {
    controllerRef.current?.abort();
    const controller = new AbortController();
    controllerRef.current = controller;
    setReadError(null);
    try {
      setLicense(await api.license(controller.signal));
    } catch (e) {
      if (!isAbort(e)) setReadError(errorMessage(e));
    }
  }, []);

  useEffect(() => {
    void read();
    return () => controllerRef.current?.abort();
  }, [read]);

  function onLoaded(next: LicenseInfo, pinned: boolean) {
    setLicense(next);
    setLoaded({ license: next, pinned });
    setReplacing(false);
  }

  function startReplace() {
    setLoaded(null);
    setReplacing(true);
  }

  return (
    <div className="page" data-testid="license-page">
      <div className="page-header">
        <h1>License</h1>
      </div>
      <p className="page-intro">
        The license from your software vendor says which application this console may install, on which channel, until
        when, and with what entitlements.
      </p>

      {readError ? (
        <Banner kind="error" title="The license could not be read.">
          <p>{readError}</p>
          <p>
            <button type="button" className="btn btn-small btn-secondary" onClick={() => void read()}>
              Try again
            </button>
          </p>
        </Banner>
      ) : null}

      {loaded ? (
        <Banner kind="success" title="The license is loaded." testId="license-success">
          <p>
            {loaded.license.customer}, <span className="mono">{loaded.license.app_id}</span>, valid until{' '}
            {formatDateTime(loaded.license.expires_at)}.
          </p>
          {loaded.pinned ? (
            <p>The vendor key is now trusted. Later licenses must be signed by the same key.</p>
          ) : null}
        </Banner>
      ) : null}

      {license === undefined && readError === null ? (
        <p className="muted" role="status">
          Loading…
        </p>
      ) : null}

      {license === null ? (
        <section className="card" data-testid="license-empty">
          <h2 className="card-title">No license loaded</h2>
          <p className="muted">
            Load the license file you received from your vendor. It is signed by the vendor: on the first load the
            console shows the fingerprint of the vendor's key, you compare it with the fingerprint your vendor gave you,
            and the console then trusts that key. Later licenses must be signed by the same key.
          </p>
          <LicenseLoader current={null} onLoaded={onLoaded} />
        </section>
      ) : null}

      {license ? (
        <>
          <section className="card">
            <div className="card-header">
              <h2 className="card-title">Current license</h2>
              {!replacing ? (
                <button
                  type="button"
                  className="btn btn-small btn-secondary"
                  onClick={startReplace}
                  data-testid="license-replace"
                >
                  Replace license
                </button>
              ) : null}
            </div>
            <LicenseDetails license={license} />
          </section>

          {replacing ? (
            <section className="card" data-testid="license-replace-form">
              <h2 className="card-title">Replace the license</h2>
              <p className="muted">
                The new license must be signed by the trusted vendor key and be for the same application. Trusted key:
              </p>
              <Fingerprint value={license.vendor_key_fingerprint} />
              <div className="spacer" />
              <LicenseLoader
                current={license}
                onLoaded={onLoaded}
                onCancel={() => setReplacing(false)}
                submitLabel="Load new license"
              />
            </section>
          ) : null}
        </>
      ) : null}
    </div>
  );
}
