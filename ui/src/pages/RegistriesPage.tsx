import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import { api, errorMessage, isAbort, type Registries } from '../api';
import { Banner } from '../components/Banner';
import { useDocumentTitle } from '../hooks';
import {
  initialRegistriesForm,
  keepsStoredPassword,
  licenseCredentials,
  newCredentialRow,
  newRuleRow,
  registriesChanged,
  registriesUpdate,
  type CredentialRow,
  type RegistriesForm,
  type RuleRow,
} from '../registriesForm';

/**
 * Where images are pulled from: mirror / rewrite rules, and the admin's registry credentials.
 * Passwords are write-only: never prefilled, never shown; an empty field keeps the stored one.
 */
export function RegistriesPage() {
  useDocumentTitle('Registries');
  const [registries, setRegistries] = useState<Registries | null>(null);
  const [loaded, setLoaded] = useState<RegistriesForm | null>(null);
  const [form, setForm] = useState<RegistriesForm | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [checkErrors, setCheckErrors] = useState<string[]>([]);
  const [saveError, setSaveError] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const [saving, setSaving] = useState(false);
  const controllerRef = useRef<AbortController | null>(null);

  const show = useCallback((answer: Registries) => {
    const next = initialRegistriesForm(answer);
    setRegistries(answer);
    setLoaded(next);
    setForm(next);
  }, []);

  const load = useCallback(async () => {
    controllerRef.current?.abort();
    const controller = new AbortController();
    controllerRef.current = controller;
    setLoadError(null);
    try {
      const answer = await api.registries(controller.signal);
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

  function edit(next: RegistriesForm) {
    setForm(next);
    setSaved(false);
    setCheckErrors([]);
  }

  function updateRule(id: number, patch: Partial<Pick<RuleRow, 'from' | 'to'>>) {
    if (!form) return;
    edit({ ...form, rules: form.rules.map((r) => (r.id === id ? { ...r, ...patch } : r)) });
  }

  function updateCredential(id: number, patch: Partial<Pick<CredentialRow, 'host' | 'username' | 'password'>>) {
    if (!form) return;
    edit({ ...form, credentials: form.credentials.map((c) => (c.id === id ? { ...c, ...patch } : c)) });
  }

  async function save(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (!form || saving) return;
    const result = registriesUpdate(form);
    if (result.update === null) {
      setCheckErrors(result.errors);
      return;
    }
    setCheckErrors([]);
    setSaveError(null);
    setSaved(false);
    setSaving(true);
    try {
      show(await api.saveRegistries(result.update));
      setSaved(true);
    } catch (e) {
      // The edits stay (typed passwords too, in memory only), so they can be fixed and saved again.
      setSaveError(errorMessage(e));
    } finally {
      setSaving(false);
    }
  }

  function discard() {
    if (!loaded || saving) return;
    setForm(loaded);
    setCheckErrors([]);
    setSaveError(null);
  }

  const dirty = form !== null && loaded !== null && registriesChanged(form, loaded);
  const fromLicense = registries ? licenseCredentials(registries) : [];

  return (
    <div className="page" data-testid="registries-page">
      <div className="page-header">
        <h1>Registries</h1>
      </div>
      <p className="page-intro">
        Where the nodes pull your application's images from. Rules send pulls for a registry or image prefix to a
        mirror; credentials log in to a registry. Images that came in an airgap bundle are served by the console itself.
      </p>

      {loadError ? (
        <Banner kind="error" title="The registry settings could not be loaded." testId="registries-load-error">
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
        <Banner kind="success" testId="registries-saved">
          The registry settings are saved. They apply to the next deployment.
        </Banner>
      ) : null}
      {saveError ? (
        <Banner kind="error" title="The registry settings were not saved." testId="registries-error">
          {saveError}
        </Banner>
      ) : null}
      {checkErrors.length > 0 ? (
        <Banner kind="error" title="Check these rows first." testId="registries-check">
          <ul className="plain-list">
            {checkErrors.map((message) => (
              <li key={message}>{message}</li>
            ))}
          </ul>
        </Banner>
      ) : null}

      {form !== null ? (
        <form onSubmit={save} noValidate aria-busy={saving || undefined} autoComplete="off">
          <section className="card" data-testid="registry-rules">
            <h2 className="card-title">Mirror and rewrite rules</h2>
            <p className="muted">
              An image whose reference starts with <strong>From</strong> is pulled from <strong>To</strong> instead,
              e.g. <span className="mono">docker.io</span> → <span className="mono">mirror.example.internal</span>.
            </p>
            <div className="row-editor">
              {form.rules.length === 0 ? <p className="muted small">No rules: images come from where they name.</p> : null}
              {form.rules.map((rule, i) => (
                <div className="registry-row" key={rule.id} data-testid="registry-rule">
                  <input
                    className="input input-small mono"
                    aria-label={`Rule ${i + 1} from`}
                    placeholder="from, e.g. docker.io"
                    spellCheck={false}
                    autoComplete="off"
                    value={rule.from}
                    disabled={saving}
                    onChange={(e) => updateRule(rule.id, { from: e.target.value })}
                    data-testid="registry-rule-from"
                  />
                  <span className="label-eq" aria-hidden="true">
                    →
                  </span>
                  <input
                    className="input input-small mono"
                    aria-label={`Rule ${i + 1} to`}
                    placeholder="to, e.g. mirror.example.internal"
                    spellCheck={false}
                    autoComplete="off"
                    value={rule.to}
                    disabled={saving}
                    onChange={(e) => updateRule(rule.id, { to: e.target.value })}
                    data-testid="registry-rule-to"
                  />
                  <button
                    type="button"
                    className="btn btn-small btn-ghost"
                    aria-label={`Remove rule ${i + 1}`}
                    disabled={saving}
                    onClick={() => edit({ ...form, rules: form.rules.filter((r) => r.id !== rule.id) })}
                    data-testid="registry-rule-remove"
                  >
                    Remove
                  </button>
                </div>
              ))}
              <div>
                <button
                  type="button"
                  className="btn btn-small btn-secondary"
                  disabled={saving}
                  onClick={() => edit({ ...form, rules: [...form.rules, newRuleRow()] })}
                  data-testid="registry-rule-add"
                >
                  Add rule
                </button>
              </div>
            </div>
          </section>

          <section className="card" data-testid="registry-credentials">
            <h2 className="card-title">Credentials</h2>
            <p className="muted">
              Passwords are stored by the console and never shown again. Leave a password empty to keep the stored one.
            </p>
            <div className="row-editor">
              {form.credentials.length === 0 ? <p className="muted small">No credentials of your own.</p> : null}
              {form.credentials.map((credential, i) => {
                const keeps = keepsStoredPassword(credential);
                return (
                  <div
                    className="registry-row registry-credential-row"
                    key={credential.id}
                    data-testid="registry-credential"
                    data-host={credential.storedHost ?? ''}
                  >
                    <input
                      className="input input-small mono"
                      aria-label={`Credential ${i + 1} host`}
                      placeholder="registry host"
                      spellCheck={false}
                      autoComplete="off"
                      value={credential.host}
                      disabled={saving}
                      onChange={(e) => updateCredential(credential.id, { host: e.target.value })}
                      data-testid="registry-credential-host"
                    />
                    <input
                      className="input input-small"
                      aria-label={`Credential ${i + 1} user name`}
                      placeholder="user name"
                      spellCheck={false}
                      autoComplete="off"
                      value={credential.username}
                      disabled={saving}
                      onChange={(e) => updateCredential(credential.id, { username: e.target.value })}
                      data-testid="registry-credential-username"
                    />
                    <div className="registry-password">
                      <input
                        className="input input-small"
                        type="password"
                        aria-label={`Credential ${i + 1} password`}
                        placeholder={keeps ? 'stored · leave empty to keep' : 'password'}
                        autoComplete="new-password"
                        value={credential.password}
                        disabled={saving}
                        onChange={(e) => updateCredential(credential.id, { password: e.target.value })}
                        data-testid="registry-credential-password"
                      />
                      {keeps ? (
                        <span className="badge badge-neutral badge-inline" data-testid="registry-credential-stored">
                          stored
                        </span>
                      ) : null}
                    </div>
                    <button
                      type="button"
                      className="btn btn-small btn-ghost"
                      aria-label={`Remove credential ${i + 1}${credential.host ? ` (${credential.host})` : ''}`}
                      disabled={saving}
                      onClick={() =>
                        edit({ ...form, credentials: form.credentials.filter((c) => c.id !== credential.id) })
                      }
                      data-testid="registry-credential-remove"
                    >
                      Remove
                    </button>
                  </div>
                );
              })}
              <div>
                <button
                  type="button"
                  className="btn btn-small btn-secondary"
                  disabled={saving}
                  onClick={() => edit({ ...form, credentials: [...form.credentials, newCredentialRow()] })}
                  data-testid="registry-credential-add"
                >
                  Add credential
                </button>
              </div>
            </div>

            {fromLicense.length > 0 ? (
              <div className="license-credentials">
                <h3 className="section-title">From the license</h3>
                <table className="table table-compact">
                  <thead>
                    <tr>
                      <th scope="col">Host</th>
                      <th scope="col">User name</th>
                      <th scope="col">Password</th>
                    </tr>
                  </thead>
                  <tbody>
                    {fromLicense.map((c) => (
                      <tr key={c.host} data-testid="registry-license-credential" data-host={c.host}>
                        <td className="mono">{c.host}</td>
                        <td>{c.username}</td>
                        <td>
                          <span className="muted">{c.password_set ? 'stored · ' : ''}from the license</span>
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
                <p className="hint">These come with the license and change only when a new license is loaded.</p>
              </div>
            ) : null}
          </section>

          <div className="config-actions">
            <span className={`small ${dirty ? 'config-dirty' : 'muted'}`} role="status" data-testid="registries-dirty">
              {dirty ? 'Unsaved changes' : 'No unsaved changes'}
            </span>
            <div className="topbar-spacer" />
            <button
              type="button"
              className="btn btn-secondary"
              onClick={discard}
              disabled={!dirty || saving}
              data-testid="registries-discard"
            >
              Discard
            </button>
            <button type="submit" className="btn btn-primary" disabled={!dirty || saving} data-testid="registries-save">
              {saving ? 'Saving…' : 'Save'}
            </button>
          </div>
        </form>
      ) : null}
    </div>
  );
}
