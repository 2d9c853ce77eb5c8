import { describe, expect, it } from 'vitest';
import {
  daysUntil,
  describeDaysLeft,
  expiryLevel,
  formatDate,
  formatFingerprint,
  formatAgo,
  formatBytes,
  formatDateTime,
  formatIn,
  formatRelative,
  formatSkew,
  formatUptime,
  licenseExpiryLevel,
  skewTooLarge,
} from './format';

describe('formatUptime', () => {
  it('formats days, hours and minutes', () => {
    expect(formatUptime(3 * 86400 + 4 * 3600 + 5 * 60)).toBe('3d 4h 5m');
    expect(formatUptime(3 * 86400 + 4 * 3600 + 5 * 60 + 59)).toBe('3d 4h 5m');
    expect(formatUptime(86400)).toBe('1d 0h 0m');
  });
  it('drops leading zero units', () => {
    expect(formatUptime(4 * 3600 + 5 * 60)).toBe('4h 5m');
    expect(formatUptime(3600)).toBe('1h 0m');
    expect(formatUptime(5 * 60 + 30)).toBe('5m');
  });
  it('shows seconds under a minute', () => {
    expect(formatUptime(0)).toBe('0s');
    expect(formatUptime(12)).toBe('12s');
    expect(formatUptime(59.9)).toBe('59s');
  });
  it('guards against nonsense', () => {
    expect(formatUptime(-1)).toBe('—');
    expect(formatUptime(Number.NaN)).toBe('—');
  });
});

describe('dates', () => {
  it('formats RFC 3339 in UTC', () => {
    expect(formatDateTime('2025-11-23T21:46:05Z')).toBe('2025-11-23 21:46:05 UTC');
    expect(formatDateTime('2025-11-23T23:46:05+02:00')).toBe('2025-11-23 21:46:05 UTC');
    expect(formatDateTime('2025-01-02T03:04:05.678Z')).toBe('2025-01-02 03:04:05 UTC');
    expect(formatDate('2025-01-02T03:04:05Z')).toBe('2025-01-02');
  });
  it('returns unparsable input unchanged', () => {
    expect(formatDateTime('not a date')).toBe('not a date');
  });
  it('counts whole days left', () => {
    const now = new Date('2025-01-01T00:00:00Z');
    expect(daysUntil('2025-01-31T00:00:00Z', now)).toBe(30);
    expect(daysUntil('2025-01-30T23:59:59Z', now)).toBe(29);
    expect(daysUntil('2024-12-31T00:00:00Z', now)).toBe(-1);
    expect(daysUntil('garbage', now)).toBeNull();
  });
  it('describes days left and days since expiry', () => {
    const now = new Date('2025-01-01T12:00:00Z');
    expect(describeDaysLeft('2025-12-31T12:00:00Z', now)).toBe('364 days left');
    expect(describeDaysLeft('2025-01-02T13:00:00Z', now)).toBe('1 day left');
    expect(describeDaysLeft('2025-01-01T18:00:00Z', now)).toBe('expires within a day');
    expect(describeDaysLeft('2025-01-01T11:53:00Z', now)).toBe('expired today');
    expect(describeDaysLeft('2024-12-31T11:00:00Z', now)).toBe('expired 1 day ago');
    expect(describeDaysLeft('2024-12-29T12:00:00Z', now)).toBe('expired 3 days ago');
    expect(describeDaysLeft('nope', now)).toBeNull();
  });
  it('warns under 30 days and flags expired or not yet valid certificates', () => {
    const now = new Date('2025-01-01T00:00:00Z');
    expect(expiryLevel('2024-01-01T00:00:00Z', '2026-01-01T00:00:00Z', now)).toBe('ok');
    expect(expiryLevel('2024-01-01T00:00:00Z', '2025-01-31T00:00:00Z', now)).toBe('ok');
    expect(expiryLevel('2024-01-01T00:00:00Z', '2025-01-30T00:00:00Z', now)).toBe('warning');
    expect(expiryLevel('2024-01-01T00:00:00Z', '2024-12-31T00:00:00Z', now)).toBe('expired');
    expect(expiryLevel('2025-02-01T00:00:00Z', '2026-01-01T00:00:00Z', now)).toBe('not_yet_valid');
  });
  it('formats relative times', () => {
    const now = new Date('2025-01-01T12:00:00Z');
    expect(formatRelative('2025-01-01T11:59:50Z', now)).toBe('a few seconds ago');
    expect(formatRelative('2025-01-01T11:55:00Z', now)).toBe('5 minutes ago');
    expect(formatRelative('2025-01-01T09:00:00Z', now)).toBe('3 hours ago');
    expect(formatRelative('2024-12-30T12:00:00Z', now)).toBe('2 days ago');
    expect(formatRelative('2025-01-01T13:00:00Z', now)).toBe('in 1 hour');
  });
});

describe('formatFingerprint', () => {
  it('groups hex in fours', () => {
    expect(formatFingerprint('3f9a0c12d4e5')).toBe('3f9a 0c12 d4e5');
    expect(formatFingerprint('abcdef')).toBe('abcd ef');
  });
  it('leaves anything else alone', () => {
    expect(formatFingerprint('AB:CD')).toBe('AB:CD');
    expect(formatFingerprint('')).toBe('');
  });
});

describe('licenseExpiryLevel', () => {
  const now = new Date('2025-06-01T00:00:00Z');
  it('is ok, warning under 30 days, expired once past', () => {
    expect(licenseExpiryLevel('2025-08-01T00:00:00Z', now)).toBe('ok');
    expect(licenseExpiryLevel('2025-06-20T00:00:00Z', now)).toBe('warning');
    expect(licenseExpiryLevel('2025-06-01T00:00:00Z', now)).toBe('expired');
    expect(licenseExpiryLevel('2025-05-01T00:00:00Z', now)).toBe('expired');
    expect(licenseExpiryLevel('nonsense', now)).toBe('ok');
  });
});

describe('node facts', () => {
  it('formats bytes in binary units', () => {
    expect(formatBytes(16 * 1024 ** 3)).toBe('16.0 GiB');
    expect(formatBytes(16_663_138_304)).toBe('15.5 GiB');
    expect(formatBytes(512 * 1024 ** 2)).toBe('512.0 MiB');
    expect(formatBytes(2 * 1024 ** 4)).toBe('2.0 TiB');
    expect(formatBytes(900)).toBe('900 B');
    expect(formatBytes(-1)).toBe('—');
  });
  it('says how long ago, short', () => {
    const now = new Date('2025-01-01T12:00:00Z');
    expect(formatAgo('2025-01-01T11:59:57Z', now)).toBe('3 s ago');
    expect(formatAgo('2025-01-01T11:59:57.400Z', now)).toBe('2 s ago');
    expect(formatAgo('2025-01-01T12:00:02Z', now)).toBe('0 s ago');
    expect(formatAgo('2025-01-01T11:55:00Z', now)).toBe('5 min ago');
    expect(formatAgo('2025-01-01T09:00:00Z', now)).toBe('3 h ago');
    expect(formatAgo('2024-12-29T12:00:00Z', now)).toBe('3 d ago');
    expect(formatAgo(null, now)).toBeNull();
    expect(formatAgo('garbage', now)).toBeNull();
  });
  it('says how long until, short', () => {
    const now = new Date('2025-01-01T12:00:00Z');
    expect(formatIn('2025-01-01T12:00:45Z', now)).toBe('in 45 s');
    expect(formatIn('2025-01-01T12:13:00Z', now)).toBe('in 13 min');
    expect(formatIn('2025-01-02T00:00:00Z', now)).toBe('in 12 h');
    expect(formatIn('2025-01-04T12:00:00Z', now)).toBe('in 3 d');
    expect(formatIn('2025-01-01T11:00:00Z', now)).toBeNull();
  });
  it('formats a signed clock skew and warns over 2 s', () => {
    expect(formatSkew(120)).toBe('+0.1 s');
    expect(formatSkew(-2500)).toBe('-2.5 s');
    expect(formatSkew(0)).toBe('0.0 s');
    expect(formatSkew(5 * 60_000)).toBe('+5m');
    expect(skewTooLarge(2000)).toBe(false);
    expect(skewTooLarge(-2001)).toBe(true);
    expect(skewTooLarge(3500)).toBe(true);
    expect(skewTooLarge(null)).toBe(false);
  });
});
