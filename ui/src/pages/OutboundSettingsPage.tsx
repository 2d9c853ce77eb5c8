import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import { api, errorMessage, isAbort, type OutboundSettings, type OutboundSettingsUpdate } from '../api';
import { Banner } from '../components/Banner';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { useDocumentTitle } from '../hooks';
import { Link } from '../router';
import { initialOutboundForm, isEmptyUpdate, outboundUpdate, type OutboundForm } from '../updates';

/**
 * How the console reaches outside the install: the update check schedule, airgap mode, and the
 * HTTPS proxy. Only changed fields are sent; turning airgap mode on asks first.
 */
export function OutboundSettingsPage() {
  useDocumentTitle('Outbound settings');
  const [settings, setSettings] = useState<OutboundSettings | null>(null);
  const [loaded, setLoaded] = useState<OutboundForm | null>(null);
  const [form, setForm] = useState<OutboundForm | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [saveError, setSaveError] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const [saving, setSaving] = useState(false);
  // The change set waiting for the airgap confirmation.
  const [confirming, setConfirming] = useState<OutboundSettingsUpdate | null>(null);
  const controllerRef = useRef<AbortController | null>(null);

  const show = useCallback((answer: OutboundSettings) => {
    const next = initialOutboundForm(answer);
    setSettings(answer);
    setLoaded(next);
    setForm(next);
  }, []);

  const load = useCallback(async () => {
    controllerRef.current?.abort();
    const controller = new AbortController();
    controllerRef.current = controller;
    setLoadError(null);
    try {
      const answer = await api.outboundSettings(controller.signal);
      if (controller.signal.aborted) return;
      show(answer);
    } catch (e) {
      if (!isAbort(e) && !controller.signal.aborted) setLoadError(errorMessage(e));
    } finally {
      if (controllerRef.current === controller) controllerRef.current = null;
    }
  }, [show]);

  useEffect(() => {
    void load();
    return () => controllerRef.current?.abort();
  }, [load]);

  function edit(patch: Partial<OutboundForm>) {
    if (!form) return;
    setForm({ ...form, ...patch });
    setSaved(false);
  }

  async function send(update: OutboundSettingsUpdate) {
    setSaveError(null);
    setSaved(false);
    setSaving(true);
    try {
      show(await api.saveOutboundSettings(update));
      setSaved(true);
    } catch (e) {
      // The edits stay, so they can be fixed and saved again.
      setSaveError(errorMessage(e));
    } finally {
      setSaving(false);
      setConfirming(null);
    }
  }

  function save(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (!form || !loaded || saving) return;
    const update = outboundUpdate(form, loaded);
    if (isEmptyUpdate(update)) return;
    if (update.airgap_mode === true) {
      setConfirming(update);
      return;
    }
    void send(update);
  }

  function discard() {
    if (!loaded || saving) return;
    setForm(loaded);
    setSaveError(null);
  }

  const update = form && loaded ? outboundUpdate(form, loaded) : {};
  const dirty = !isEmptyUpdate(update);
  // Airgap mode in effect without the switch: the license allows no outbound connection.
  const licenseAirgap = settings !== null && settings.airgap !== null && !settings.airgap_mode;

  return (
    <div className="page" data-testid="outbound-settings-page">
      <div className="page-header">
        <h1>Outbound settings</h1>
      </div>
      <p className="page-intro">
        When the console checks the vendor's api host for updates, whether it connects outside the install at all, and
        through which proxy. Every request it sends is in the <Link to="/outbound">outbound log</Link>; what the install
        needs from the network is on the <Link to="/network">Network</Link> page.
      </p>

      {loadError ? (
        <Banner kind="error" title="The outbound settings could not be loaded." testId="settings-load-error">
          <p>{loadError}</p>
          <p>
            <button type="button" className="btn btn-small btn-secondary" onClick={() => void load()}>
              Try again
            </button>
          </p>
        </Banner>
      ) : null}

      {form === null && loadError === null ? (
        <p className="muted" role="status">
          Loading…
        </p>
      ) : null}

      {saved ? (
        <Banner kind="success" testId="settings-saved">
          The outbound settings are saved and apply now.
        </Banner>
      ) : null}
      {saveError ? (
        <Banner kind="error" title="The outbound settings were not saved." testId="settings-error">
          {saveError}
        </Banner>
      ) : null}

      {form !== null && settings !== null ? (
        <form onSubmit={save} noValidate aria-busy={saving || undefined} autoComplete="off">
          <section className="card" data-testid="settings-updates">
            <h2 className="card-title">Update checks</h2>
            <label className="label" htmlFor="settings-schedule">
              Schedule
            </label>
            <input
              id="settings-schedule"
              className="input mono"
              spellCheck={false}
              autoComplete="off"
              value={form.update_schedule}
              disabled={saving}
              onChange={(e) => edit({ update_schedule: e.target.value })}
              aria-describedby="settings-schedule-help"
              data-testid="settings-schedule"
            />
            <p className="hint" id="settings-schedule-help">
              <span className="mono">every 1h</span> (or <span className="mono">every 30m</span>,{' '}
              <span className="mono">every 1d</span>) checks at a fixed interval;{' '}
              <span className="mono">cron 0 3 * * *</span> at set times (UTC); <span className="mono">off</span> only
              when you press Check now on the Updates page.
            </p>
            {settings.schedule_description ? (
              <p className="hint" data-testid="settings-schedule-description">
                Now: {settings.schedule_description}.
              </p>
            ) : null}
          </section>

          <section className="card" data-testid="settings-airgap-card">
            <h2 className="card-title">Airgap mode</h2>
            <label className="config-switch" htmlFor="settings-airgap">
              <input
                id="settings-airgap"
                type="checkbox"
                role="switch"
                checked={form.airgap_mode}
                disabled={saving}
                onChange={(e) => edit({ airgap_mode: e.target.checked })}
                data-testid="settings-airgap"
              />
              <span>No outbound connection at all</span>
            </label>
            <p className="hint">
              With airgap mode on, the console sends nothing outside the install: no update checks, no license sync, and
              deployments pull no image from outside. Releases, images and licenses then come in airgap bundles.
            </p>
            {settings.airgap ? (
              <p className="hint" data-testid="settings-airgap-reason">
                <span className="badge badge-info badge-inline">in effect</span> {settings.airgap}
              </p>
            ) : null}
            {licenseAirgap ? (
              <p className="hint">The license allows no outbound connection, so airgap mode stays in effect either way.</p>
            ) : null}
          </section>

          <section className="card" data-testid="settings-proxy-card">
            <h2 className="card-title">Proxy</h2>
            <label className="label" htmlFor="settings-proxy">
              HTTPS proxy
            </label>
            <input
              id="settings-proxy"
              className="input mono"
              spellCheck={false}
              autoComplete="off"
              placeholder="http://proxy.example.internal:3128"
              value={form.https_proxy}
              disabled={saving}
              onChange={(e) => edit({ https_proxy: e.target.value })}
              aria-describedby="settings-proxy-help"
              data-testid="settings-proxy"
            />
            <p className="hint" id="settings-proxy-help">
              For the console's requests to the vendor's api host. A stored password shows as{' '}
              <span className="mono">********</span> and is kept while the field is unchanged. Empty the field to use
              the environment's <span className="mono">HTTPS_PROXY</span>, if any.
            </p>
            <label className="label" htmlFor="settings-no-proxy">
              No proxy for
            </label>
            <input
              id="settings-no-proxy"
              className="input mono"
              spellCheck={false}
              autoComplete="off"
              placeholder="internal,.corp,10.0.0.0/8"
              value={form.no_proxy}
              disabled={saving}
              onChange={(e) => edit({ no_proxy: e.target.value })}
              aria-describedby="settings-no-proxy-help"
              data-testid="settings-no-proxy"
            />
            <p className="hint" id="settings-no-proxy-help">
              Comma-separated hosts and domains reached directly, like <span className="mono">NO_PROXY</span>.
            </p>

            <dl className="fields settings-effective" data-testid="settings-effective">
              <div className="field">
                <dt>Proxy in use</dt>
                <dd data-testid="settings-effective-proxy">
                  {settings.effective_proxy ? (
                    <>
                      <span className="mono">{settings.effective_proxy}</span>
                      {settings.proxy_source ? <span className="muted"> · from {settings.proxy_source}</span> : null}
                    </>
                  ) : (
                    <span className="muted">None: the console connects directly.</span>
                  )}
                </dd>
              </div>
              {settings.effective_proxy ? (
                <div className="field">
                  <dt>Reached directly</dt>
                  <dd className="mono">{settings.effective_no_proxy || <span className="muted">nothing</span>}</dd>
                </div>
              ) : null}
            </dl>
          </section>

          <div className="config-actions">
            <span className={`small ${dirty ? 'config-dirty' : 'muted'}`} role="status" data-testid="settings-dirty">
              {dirty ? 'Unsaved changes' : 'No unsaved changes'}
            </span>
            <div className="topbar-spacer" />
            <button
              type="button"
              className="btn btn-secondary"
              onClick={discard}
              disabled={!dirty || saving}
              data-testid="settings-discard"
            >
              Discard
            </button>
            <button type="submit" className="btn btn-primary" disabled={!dirty || saving} data-testid="settings-save">
              {saving ? 'Saving…' : 'Save'}
            </button>
          </div>
        </form>
      ) : null}

      {confirming ? (
        <ConfirmDialog
          title="Turn on airgap mode?"
          confirmLabel="Turn on airgap mode"
          busyLabel="Saving…"
          busy={saving}
          error={null}
          errorTitle=""
          testId="airgap"
          onConfirm={() => void send(confirming)}
          onCancel={() => setConfirming(null)}
        >
          <p>
            Nothing will leave this install: the console stops checking for updates and syncing the license, and
            deployments pull no image from outside.
          </p>
          <p>New releases, images and licenses must then come in airgap bundles. You can turn it off again here.</p>
        </ConfirmDialog>
      ) : null}
    </div>
  );
}
