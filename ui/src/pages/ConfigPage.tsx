import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import { api, ApiError, errorMessage, isAbort, type ConfigInfo, type ReleaseInfo } from '../api';
import { Banner } from '../components/Banner';
import { ConfigField, configInputId } from '../components/ConfigField';
import {
  changeCount,
  changedValues,
  fieldError,
  formErrors,
  initialForm,
  isChanged,
  releaseLabel,
  type FieldState,
  type FormState,
} from '../configForm';
import { useDocumentTitle } from '../hooks';

const RELEASE_SELECT_ID = 'config-release';

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/**
 * The app's config items for one release (`GET /app/config`), edited in place and saved with
 * `PUT /app/config`, which gets only the changed items. Secrets are never shown or prefilled:
 * an empty secret field keeps what is stored.
 */
export function ConfigPage() {
  useDocumentTitle('Config');
  // null: not read yet, or no release loaded (`empty`).
  const [config, setConfig] = useState<ConfigInfo | null>(null);
  const [empty, setEmpty] = useState(false);
  const [loading, setLoading] = useState(true);
  const [loadError, setLoadError] = useState<string | null>(null);
  // The sequence being loaded from the picker; null once it is shown (or it failed).
  const [requested, setRequested] = useState<number | null>(null);
  const [releases, setReleases] = useState<ReleaseInfo[] | null>(null);
  const [form, setForm] = useState<FormState>({});
  const [saving, setSaving] = useState(false);
  const [saveError, setSaveError] = useState<string | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const controllerRef = useRef<AbortController | null>(null);
  const lastRequestRef = useRef<number | null>(null);

  const load = useCallback(async (sequence: number | null) => {
    controllerRef.current?.abort();
    const controller = new AbortController();
    controllerRef.current = controller;
    lastRequestRef.current = sequence;
    setLoading(true);
    setLoadError(null);
    setRequested(sequence);
    try {
      const next = await api.config(sequence, controller.signal);
      if (controller.signal.aborted) return;
      setConfig(next);
      setForm(initialForm(next));
      setEmpty(false);
      setSaveError(null);
      setSaved(null);
    } catch (e) {
      if (isAbort(e) || controller.signal.aborted) return;
      if (sequence === null && e instanceof ApiError && e.code === 'release_refused') {
        setConfig(null);
        setEmpty(true);
      } else {
        setLoadError(errorMessage(e));
      }
    } finally {
      if (controllerRef.current === controller) {
        controllerRef.current = null;
        setLoading(false);
        setRequested(null);
      }
    }
  }, []);

  useEffect(() => {
    void load(null);
    return () => {
      controllerRef.current?.abort();
      controllerRef.current = null;
    };
  }, [load]);

  useEffect(() => {
    const controller = new AbortController();
    api.releases(controller.signal).then(
      (list) => setReleases(list),
      (e: unknown) => {
        // Without the list the page still works for the newest release; only the picker is missing.
        if (!isAbort(e)) setReleases(null);
      },
    );
    return () => controller.abort();
  }, []);

  const count = config ? changeCount(config, form) : 0;
  const errors = config ? formErrors(config, form) : {};
  const errorCount = Object.keys(errors).length;
  const dirty = count > 0;

  // Leaving the page (reload, closing the tab) with unsaved changes asks first.
  useEffect(() => {
    if (!dirty) return;
    function warn(event: BeforeUnloadEvent) {
      event.preventDefault();
      event.returnValue = '';
    }
    window.addEventListener('beforeunload', warn);
    return () => window.removeEventListener('beforeunload', warn);
  }, [dirty]);

  function update(name: string, field: FieldState) {
    setForm((prev) => ({ ...prev, [name]: field }));
    setSaved(null);
  }

  function discard() {
    if (!config || saving) return;
    setForm(initialForm(config));
    setSaveError(null);
    setSaved(null);
  }

  function pickRelease(value: string) {
    const sequence = Number.parseInt(value, 10);
    if (!Number.isFinite(sequence) || dirty || saving) return;
    void load(sequence);
  }

  async function save(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (!config || saving || loading) return;
    const failing = Object.keys(formErrors(config, form));
    if (failing.length > 0) {
      // Each failing field shows why; go to the first one.
      document.getElementById(configInputId(failing[0]))?.focus();
      return;
    }
    const values = changedValues(config, form);
    const sent = Object.keys(values).length;
    if (sent === 0) return;
    setSaving(true);
    setSaveError(null);
    setSaved(null);
    try {
      const next = await api.saveConfig(config.sequence, values);
      setConfig(next);
      setForm(initialForm(next));
      setSaved(
        `${plural(sent, 'change', 'changes')} saved for release ${releaseLabel(next.version, next.sequence)}.`,
      );
    } catch (e) {
      // The edits stay, so they can be fixed and saved again.
      setSaveError(errorMessage(e));
    } finally {
      setSaving(false);
    }
  }

  const pickerValue = requested ?? config?.sequence ?? null;
  const pickerReleases: { sequence: number; version: string }[] = releases ? [...releases] : [];
  if (config && !pickerReleases.some((r) => r.sequence === config.sequence)) {
    pickerReleases.unshift({ sequence: config.sequence, version: config.version });
  }
  const locked = saving || loading;

  return (
    <div className="page" data-testid="config-page">
      <div className="page-header">
        <h1>Config</h1>
      </div>
      <p className="page-intro">
        The settings your application asks for. Each release brings its own list of items; the values you save here
        are used when that release is deployed. Secret values are stored by the console and never shown again.
      </p>

      {loadError ? (
        <Banner kind="error" title="The config could not be loaded." testId="config-load-error">
          <p>{loadError}</p>
          <p>
            <button
              type="button"
              className="btn btn-small btn-secondary"
              onClick={() => void load(lastRequestRef.current)}
            >
              Try again
            </button>
          </p>
        </Banner>
      ) : null}

      {loading && !config && !empty && !loadError ? (
        <p className="muted" role="status">
          Loading…
        </p>
      ) : null}

      {empty ? (
        <section className="card" data-testid="config-empty">
          <h2 className="card-title">No release loaded</h2>
          <p className="muted">
            Config items come with a release of your application. Load the release file you received from your vendor
            on the console host:
          </p>
          <pre className="command-block">outpostctl release load FILE</pre>
          <p className="muted">Its config items then show up here.</p>
        </section>
      ) : null}

      {config ? (
        <>
          <section className="card config-release-card">
            <div className="config-release-row">
              <label className="label config-release-label" htmlFor={RELEASE_SELECT_ID}>
                Release
              </label>
              {pickerReleases.length > 0 ? (
                <select
                  id={RELEASE_SELECT_ID}
                  className="input select"
                  value={pickerValue ?? ''}
                  disabled={locked || dirty}
                  onChange={(e) => pickRelease(e.target.value)}
                  data-testid="config-release"
                >
                  {pickerReleases.map((r) => (
                    <option key={r.sequence} value={r.sequence}>
                      {releaseLabel(r.version, r.sequence)}
                    </option>
                  ))}
                </select>
              ) : null}
              {loading ? (
                <span className="muted small" role="status">
                  Loading…
                </span>
              ) : null}
            </div>
            {dirty ? (
              <p className="hint" data-testid="config-release-locked">
                Save or discard your changes to switch to another release.
              </p>
            ) : null}
          </section>

          {saved ? (
            <Banner kind="success" testId="config-saved">
              {saved}
            </Banner>
          ) : null}
          {saveError ? (
            <Banner kind="error" title="The changes were not saved." testId="config-error">
              {saveError}
            </Banner>
          ) : null}

          <form className="config-form" onSubmit={save} noValidate aria-busy={locked || undefined}>
            {config.groups.length === 0 ? (
              <section className="card" data-testid="config-no-items">
                <p className="muted">This release has no config items.</p>
              </section>
            ) : null}
            {config.groups.map((group) => (
              <section
                className="card config-group"
                key={group.name}
                data-testid="config-group"
                data-group={group.name}
                aria-labelledby={`config-group-${group.name}`}
              >
                <h2 className="card-title" id={`config-group-${group.name}`}>
                  {group.title}
                </h2>
                {group.description ? <p className="muted config-group-description">{group.description}</p> : null}
                {group.items.map((item) => (
                  <ConfigField
                    key={item.name}
                    item={item}
                    field={form[item.name] ?? { text: '', clear: false, badInput: false }}
                    error={fieldError(item, form[item.name])}
                    changed={isChanged(item, form[item.name])}
                    disabled={locked}
                    onChange={(field) => update(item.name, field)}
                  />
                ))}
              </section>
            ))}

            {config.groups.length > 0 ? (
              <div className="config-actions">
                <span
                  className={`small ${dirty ? 'config-dirty' : 'muted'}`}
                  data-testid="config-dirty"
                  data-count={count}
                  role="status"
                >
                  {dirty ? `${plural(count, 'unsaved change', 'unsaved changes')}` : 'No unsaved changes'}
                  {errorCount > 0 ? ` · ${plural(errorCount, 'field needs', 'fields need')} attention` : ''}
                </span>
                <div className="topbar-spacer" />
                <button
                  type="button"
                  className="btn btn-secondary"
                  onClick={discard}
                  disabled={!dirty || locked}
                  data-testid="config-discard"
                >
                  Discard
                </button>
                <button type="submit" className="btn btn-primary" disabled={!dirty || locked} data-testid="config-save">
                  {saving ? 'Saving…' : 'Save'}
                </button>
              </div>
            ) : null}
          </form>
        </>
      ) : null}
    </div>
  );
}
