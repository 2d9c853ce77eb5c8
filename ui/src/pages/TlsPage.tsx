import { useEffect, useRef, useState, type ChangeEvent, type FormEvent } from 'react';
import { api, errorMessage, isAbort, type TlsInfo } from '../api';
import { Banner } from '../components/Banner';
import { CertificateDetails } from '../components/CertificateDetails';
import { useDocumentTitle } from '../hooks';
import { readTextFile } from '../files';
import { formatDateTime } from '../format';
import { validateTlsUpload } from '../validation';

/** Largest PEM file the page reads into a text field. */
const MAX_FILE_BYTES = 256 * 1024;

export function readFileText(file: File): Promise<string> {
  return readTextFile(file, MAX_FILE_BYTES, `${file.name} is larger than 256 KiB; it is not a PEM certificate or key.`);
}

type Which = 'cert' | 'key';

export function TlsPage() {
  useDocumentTitle('TLS certificate');
  const [current, setCurrent] = useState<TlsInfo | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);

  const [certText, setCertText] = useState('');
  const [keyText, setKeyText] = useState('');
  const [uploading, setUploading] = useState(false);
  const [uploadError, setUploadError] = useState<string | null>(null);
  const [uploaded, setUploaded] = useState<TlsInfo | null>(null);
  const [fileInputsKey, setFileInputsKey] = useState(0);

  // Latest field values (also set by file reads), read by submit after awaiting reads in flight,
  // so a quick click right after choosing a file sends that file.
  const texts = useRef<Record<Which, string>>({ cert: '', key: '' });
  const pending = useRef<Record<Which, Promise<void> | null>>({ cert: null, key: null });

  function setField(which: Which, text: string) {
    texts.current[which] = text;
    if (which === 'cert') setCertText(text);
    else setKeyText(text);
  }

  useEffect(() => {
    const controller = new AbortController();
    api.tls(controller.signal).then(
      (tls) => {
        setCurrent(tls);
        setLoadError(null);
      },
      (e: unknown) => {
        if (!isAbort(e)) setLoadError(errorMessage(e));
      },
    );
    return () => controller.abort();
  }, []);

  function onFile(which: Which, event: ChangeEvent<HTMLInputElement>) {
    const file = event.target.files?.[0];
    if (!file) return;
    setUploadError(null);
    const read = readFileText(file).then(
      (text) => setField(which, text),
      (e: unknown) => setUploadError(errorMessage(e)),
    );
    pending.current[which] = read;
    void read.finally(() => {
      if (pending.current[which] === read) pending.current[which] = null;
    });
  }

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (uploading) return;
    setUploading(true);
    setUploadError(null);
    setUploaded(null);

    await Promise.all([pending.current.cert, pending.current.key]);
    const certificatePem = texts.current.cert;
    const privateKeyPem = texts.current.key;

    const problem = validateTlsUpload(certificatePem, privateKeyPem);
    if (problem) {
      setUploadError(problem);
      setUploading(false);
      return;
    }
    try {
      const tls = await api.uploadTls(certificatePem, privateKeyPem);
      setUploaded(tls);
      setCurrent(tls);
      setField('cert', '');
      setField('key', ''); // do not keep the private key around in the page
      setFileInputsKey((k) => k + 1);
    } catch (e) {
      setUploadError(errorMessage(e));
    } finally {
      setUploading(false);
    }
  }

  return (
    <div className="page" data-testid="tls-page">
      <div className="page-header">
        <h1>TLS certificate</h1>
      </div>
      <p className="page-intro">
        The certificate this console serves on HTTPS. Replace the self-signed one with a certificate your browsers trust.
      </p>

      <section className="card">
        <h2 className="card-title">Current certificate</h2>
        {loadError ? (
          <Banner kind="error" title="The current certificate could not be loaded.">
            {loadError}
          </Banner>
        ) : null}
        {current ? (
          <CertificateDetails tls={current} />
        ) : loadError ? null : (
          <p className="muted" role="status">
            Loading…
          </p>
        )}
      </section>

      <section className="card">
        <h2 className="card-title">Upload a new certificate</h2>
        <p className="muted">
          PEM format. The certificate file may contain the full chain (server certificate first). The key must belong to
          the certificate and must not be encrypted. The console serves the new pair at once and keeps the old one if the
          new one is rejected.
        </p>

        {uploadError ? (
          <Banner kind="error" title="The certificate was not accepted." testId="tls-upload-error">
            {uploadError}
          </Banner>
        ) : null}
        {uploaded ? (
          <Banner kind="success" title="The new certificate is in use." testId="tls-upload-success">
            <p>
              <span className="mono">{uploaded.subject}</span>, valid until {formatDateTime(uploaded.not_after)}.
            </p>
            <p>
              Fingerprint <code className="fingerprint">{uploaded.fingerprint_sha256}</code>
            </p>
            <p className="small">Reload the page to make your browser use it for this connection.</p>
          </Banner>
        ) : null}

        <form className="form upload-form" onSubmit={onSubmit} noValidate>
          <div className="upload-grid">
            <div className="upload-field">
              <label className="label" htmlFor="tls-cert-file">
                Certificate
              </label>
              <input
                key={`cert-${fileInputsKey}`}
                id="tls-cert-file"
                className="file-input"
                type="file"
                accept=".pem,.crt,.cer,application/x-pem-file,application/x-x509-ca-cert,text/plain"
                onChange={(e) => onFile('cert', e)}
                data-testid="tls-cert-file"
              />
              <textarea
                name="certificate_pem"
                className="textarea mono"
                aria-label="Certificate (PEM)"
                placeholder="-----BEGIN CERTIFICATE-----"
                spellCheck={false}
                rows={10}
                value={certText}
                onChange={(e) => setField('cert', e.target.value)}
                data-testid="tls-cert-text"
              />
            </div>
            <div className="upload-field">
              <label className="label" htmlFor="tls-key-file">
                Private key
              </label>
              <input
                key={`key-${fileInputsKey}`}
                id="tls-key-file"
                className="file-input"
                type="file"
                accept=".pem,.key,application/x-pem-file,text/plain"
                onChange={(e) => onFile('key', e)}
                data-testid="tls-key-file"
              />
              <textarea
                name="private_key_pem"
                className="textarea mono"
                aria-label="Private key (PEM)"
                placeholder="-----BEGIN PRIVATE KEY-----"
                spellCheck={false}
                autoComplete="off"
                rows={10}
                value={keyText}
                onChange={(e) => setField('key', e.target.value)}
                data-testid="tls-key-text"
              />
            </div>
          </div>
          <p className="hint">Choose a file or paste its contents; a chosen file fills the field below it.</p>
          <div className="form-actions">
            <button type="submit" className="btn btn-primary" disabled={uploading} data-testid="tls-upload">
              {uploading ? 'Uploading…' : 'Upload and use'}
            </button>
          </div>
        </form>
      </section>
    </div>
  );
}
