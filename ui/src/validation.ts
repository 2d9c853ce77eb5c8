export const MIN_PASSWORD_LENGTH = 12;

/** Length in characters (Unicode code points), as the console counts them. */
export function passwordLength(password: string): number {
  return Array.from(password).length;
}

/** An error message for the setup form, or `null` when it may be sent. */
export function validateSetupPassword(password: string, confirm: string): string | null {
  if (password === '') return 'Enter a password.';
  if (passwordLength(password) < MIN_PASSWORD_LENGTH) {
    return `The password must be at least ${MIN_PASSWORD_LENGTH} characters long.`;
  }
  if (password !== confirm) return 'The two passwords do not match.';
  return null;
}

/** Largest PUT /api/v1/tls body the console accepts. */
export const TLS_UPLOAD_LIMIT_BYTES = 256 * 1024;

export function validateTlsUpload(certificatePem: string, privateKeyPem: string): string | null {
  if (certificatePem.trim() === '' && privateKeyPem.trim() === '') {
    return 'Choose or paste a certificate and its private key.';
  }
  if (certificatePem.trim() === '') return 'Choose or paste the certificate (PEM).';
  if (privateKeyPem.trim() === '') return 'Choose or paste the private key (PEM).';
  const size = new TextEncoder().encode(
    JSON.stringify({ certificate_pem: certificatePem, private_key_pem: privateKeyPem }),
  ).length;
  if (size > TLS_UPLOAD_LIMIT_BYTES) {
    return 'The certificate and key are larger than 256 KiB together; the console does not accept them.';
  }
  return null;
}

/** Largest POST /api/v1/license/inspect body the console accepts. */
export const LICENSE_UPLOAD_LIMIT_BYTES = 128 * 1024;

export function validateLicenseText(license: string): string | null {
  if (license.trim() === '') return 'Choose or paste the license file you received from your vendor.';
  const size = new TextEncoder().encode(JSON.stringify({ license })).length;
  if (size > LICENSE_UPLOAD_LIMIT_BYTES) {
    return 'The file is larger than 128 KiB; it is not a license file.';
  }
  return null;
}
