import { useRef, useState, type ChangeEvent, type FormEvent, type ReactNode } from 'react';
import { api, ApiError, errorMessage, type LicenseInfo, type LicenseInspect } from '../api';
import { readTextFile } from '../files';
import { LICENSE_UPLOAD_LIMIT_BYTES, validateLicenseText } from '../validation';
import { Banner } from './Banner';
import { Fingerprint } from './Fingerprint';
import { TrustDialog } from './TrustDialog';

/** What to say besides the server's message, by error code. */
const HINTS: Record<string, string> = {
  license_invalid: 'Check that this is the license file from your vendor, complete and unchanged.',
  license_wrong_key:
    'The console only accepts licenses signed by the vendor key it trusted on the first load. Ask your vendor for a license signed with that key.',
  license_expired: 'Ask your vendor for a renewed license.',
  license_other_app:
    'This console already runs a license for another application. A new license must be for the same application.',
  key_confirmation_required: 'Load the license again and confirm the vendor key when asked.',
  trust_key_mismatch: 'The confirmed key is not the key that signed this license. Load the file again.',
};

type Problem =
  | { kind: 'error'; title: string; message: string; code: string | null }
  | { kind: 'wrong_key'; fileFingerprint: string; pinnedFingerprint: string | null };

type Phase = 'idle' | 'inspecting' | 'confirm' | 'loading';

interface Props {
  /** The license loaded now, if any: its key is the pinned one (shown when a new file does not match). */
  current: LicenseInfo | null;
  /** The license is loaded; `pinned` is true when this load also pinned the vendor key. */
  onLoaded(license: LicenseInfo, pinned: boolean): void;
  /** Shows a Cancel button next to the submit button (replacing a license). */
  onCancel?(): void;
  submitLabel?: string;
}

function problemFrom(e: unknown, title: string): Problem {
  return {
    kind: 'error',
    title,
    message: errorMessage(e),
    code: e instanceof ApiError ? e.code : null,
  };
}

/**
 * The license load form and its flow: inspect the file; on the first load ask the admin to
 * confirm the vendor key (TrustDialog) and send it as `trust_key`; when a key is pinned, load
 * directly if the file matches it and refuse here, without sending it, if it does not.
 */
export function LicenseLoader({ current, onLoaded, onCancel, submitLabel = 'Load license' }: Props) {
  const [text, setText] = useState('');
  const [phase, setPhase] = useState<Phase>('idle');
  const [problem, setProblem] = useState<Problem | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [inspected, setInspected] = useState<{ text: string; inspect: LicenseInspect } | null>(null);
  const [fileInputKey, setFileInputKey] = useState(0);

  // Latest text (also set by file reads), read by submit after awaiting a read in flight,
  // so a click right after choosing a file sends that file.
  const textRef = useRef('');
  const pendingRead = useRef<Promise<void> | null>(null);

  function setField(value: string) {
    textRef.current = value;
    setText(value);
  }

  function onFile(event: ChangeEvent<HTMLInputElement>) {
    const file = event.target.files?.[0];
    if (!file) return;
    setProblem(null);
    setNotice(null);
    const read = readTextFile(
      file,
      LICENSE_UPLOAD_LIMIT_BYTES,
      `${file.name} is larger than 128 KiB; it is not a license file.`,
    ).then(
      (value) => setField(value),
      (e: unknown) => setProblem(problemFrom(e, 'The file could not be read.')),
    );
    pendingRead.current = read;
    void read.finally(() => {
      if (pendingRead.current === read) pendingRead.current = null;
    });
  }

  async function load(license: string, trustKey: string | null) {
    setPhase('loading');
    try {
      const loaded = await api.loadLicense(license, trustKey);
      setInspected(null);
      setField('');
      setFileInputKey((k) => k + 1);
      setPhase('idle');
      onLoaded(loaded, trustKey !== null);
    } catch (e) {
      setInspected(null);
      setProblem(problemFrom(e, 'The license was not loaded.'));
      setPhase('idle');
    }
  }

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (phase !== 'idle') return;
    setProblem(null);
    setNotice(null);
    setPhase('inspecting');

    await pendingRead.current;
    const license = textRef.current;
    const invalid = validateLicenseText(license);
    if (invalid) {
      setProblem({ kind: 'error', title: 'The license was not loaded.', message: invalid, code: null });
      setPhase('idle');
      return;
    }

    let inspect: LicenseInspect;
    try {
      inspect = await api.inspectLicense(license);
    } catch (e) {
      setProblem(problemFrom(e, 'The license was not loaded.'));
      setPhase('idle');
      return;
    }

    if (!inspect.key_pinned) {
      // First license: the admin confirms the vendor key before anything is stored.
      setInspected({ text: license, inspect });
      setPhase('confirm');
      return;
    }
    if (!inspect.matches_pinned) {
      setProblem({
        kind: 'wrong_key',
        fileFingerprint: inspect.fingerprint,
        pinnedFingerprint: current?.vendor_key_fingerprint || null,
      });
      setPhase('idle');
      return;
    }
    await load(license, null);
  }

  function confirmTrust() {
    if (!inspected || phase !== 'confirm') return;
    void load(inspected.text, inspected.inspect.fingerprint);
  }

  function cancelTrust() {
    if (phase === 'loading') return;
    setInspected(null);
    setPhase('idle');
    setNotice('Nothing was loaded: the vendor key was not confirmed.');
  }

  const busy = phase !== 'idle';

  return (
    <>
      {problem ? <ProblemBanner problem={problem} /> : null}
      {notice ? (
        <Banner kind="info" testId="license-notice">
          {notice}
        </Banner>
      ) : null}

      <form className="form" onSubmit={onSubmit} noValidate>
        <label className="label" htmlFor="license-file">
          License file
        </label>
        <input
          key={`license-file-${fileInputKey}`}
          id="license-file"
          className="file-input"
          type="file"
          onChange={onFile}
          data-testid="license-file"
        />
        <textarea
          name="license"
          className="textarea mono"
          aria-label="License (file contents)"
          placeholder="Or paste the contents of the license file here"
          spellCheck={false}
          autoComplete="off"
          rows={8}
          value={text}
          onChange={(e) => setField(e.target.value)}
          data-testid="license-text"
        />
        <p className="hint">Choose the file or paste its contents; a chosen file fills the text field.</p>
        <div className="form-actions">
          <button type="submit" className="btn btn-primary" disabled={busy} data-testid="license-load">
            {phase === 'inspecting' ? 'Checking…' : phase === 'loading' ? 'Loading…' : submitLabel}
          </button>
          {onCancel ? (
            <button
              type="button"
              className="btn btn-secondary"
              onClick={onCancel}
              disabled={busy}
              data-testid="license-replace-cancel"
            >
              Cancel
            </button>
          ) : null}
        </div>
      </form>

      {inspected ? (
        <TrustDialog
          inspect={inspected.inspect}
          busy={phase === 'loading'}
          onConfirm={confirmTrust}
          onCancel={cancelTrust}
        />
      ) : null}
    </>
  );
}

function ProblemBanner({ problem }: { problem: Problem }) {
  let body: ReactNode;
  let title: string;
  if (problem.kind === 'wrong_key') {
    title = 'This license is signed by a different vendor key.';
    body = (
      <>
        <p>
          The console only accepts licenses signed by the vendor key it trusted when the first license was loaded. This
          file was not sent to the console. Ask your vendor for a license signed with the trusted key, and check that
          the file really comes from them.
        </p>
        <div className="key-compare">
          <div className="stat-label">Key that signed this file</div>
          <Fingerprint value={problem.fileFingerprint} testId="license-error-file-fingerprint" />
          {problem.pinnedFingerprint ? (
            <>
              <div className="stat-label">Trusted (pinned) key</div>
              <Fingerprint value={problem.pinnedFingerprint} testId="license-error-pinned-fingerprint" />
            </>
          ) : null}
        </div>
      </>
    );
  } else {
    title = problem.title;
    const hint = problem.code ? HINTS[problem.code] : undefined;
    body = (
      <>
        <p data-testid="license-error-message">{problem.message}</p>
        {hint ? <p>{hint}</p> : null}
      </>
    );
  }
  return (
    <Banner kind="error" title={title} testId="license-error">
      {body}
    </Banner>
  );
}
