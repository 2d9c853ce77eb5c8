import { describe, expect, it } from 'vitest';
import { validateLicenseText, validateSetupPassword, validateTlsUpload } from './validation';

describe('validateSetupPassword', () => {
  it('requires a password', () => {
    expect(validateSetupPassword('', '')).toBe('Enter a password.');
  });
  it('requires at least 12 characters', () => {
    expect(validateSetupPassword('short', 'short')).toMatch(/at least 12 characters/);
    expect(validateSetupPassword('elevenchars', 'elevenchars')).toMatch(/at least 12 characters/);
    expect(validateSetupPassword('twelve chars', 'twelve chars')).toBeNull();
  });
  it('counts characters, not UTF-16 units', () => {
    // 11 characters, 22 UTF-16 units.
    const emoji = '😀'.repeat(11);
    expect(validateSetupPassword(emoji, emoji)).toMatch(/at least 12 characters/);
    expect(validateSetupPassword('😀'.repeat(12), '😀'.repeat(12))).toBeNull();
  });
  it('requires the confirmation to match', () => {
    expect(validateSetupPassword('a long password', 'a long passwort')).toBe('The two passwords do not match.');
    expect(validateSetupPassword('a long password', '')).toBe('The two passwords do not match.');
  });
  it('checks length before the confirmation', () => {
    expect(validateSetupPassword('short', 'other')).toMatch(/at least 12/);
  });
});

describe('validateTlsUpload', () => {
  it('requires both parts', () => {
    expect(validateTlsUpload('', '')).toMatch(/certificate and its private key/);
    expect(validateTlsUpload('  ', 'KEY')).toMatch(/certificate/);
    expect(validateTlsUpload('CERT', '')).toMatch(/private key/);
    expect(validateTlsUpload('CERT', 'KEY')).toBeNull();
  });
  it('refuses bodies over 256 KiB', () => {
    expect(validateTlsUpload('x'.repeat(256 * 1024), 'KEY')).toMatch(/256 KiB/);
  });
});

describe('validateLicenseText', () => {
  it('requires a license', () => {
    expect(validateLicenseText('  \n')).toMatch(/Choose or paste the license file/);
    expect(validateLicenseText('{"payload":"x"}')).toBeNull();
  });
  it('refuses more than 128 KiB', () => {
    expect(validateLicenseText('a'.repeat(128 * 1024))).toMatch(/larger than 128 KiB/);
  });
});
