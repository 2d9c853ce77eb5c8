// Formatting helpers for what the API returns.

const MINUTE = 60;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** `3d 4h 5m`, `4h 5m`, `5m`, or `42s` under a minute. */
export function formatUptime(totalSeconds: number): string {
  if (!Number.isFinite(totalSeconds) || totalSeconds < 0) return '—';
  const s = Math.floor(totalSeconds);
  if (s < MINUTE) return `${s}s`;
  const days = Math.floor(s / DAY);
  const hours = Math.floor((s % DAY) / HOUR);
  const minutes = Math.floor((s % HOUR) / MINUTE);
  if (days > 0) return `${days}d ${hours}h ${minutes}m`;
  if (hours > 0) return `${hours}h ${minutes}m`;
  return `${minutes}m`;
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/** RFC 3339 → `2025-11-23 21:46:05 UTC`; anything unparsable is returned unchanged. */
export function formatDateTime(iso: string): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return iso;
  const d = new Date(ms);
  return (
    `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} UTC`
  );
}

/** RFC 3339 → `2025-11-23`. */
export function formatDate(iso: string): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return iso;
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
}

/** Whole days from `now` until `iso` (negative once past); `null` if unparsable. */
export function daysUntil(iso: string, now: Date = new Date()): number | null {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return null;
  return Math.floor((ms - now.getTime()) / (DAY * 1000));
}

/**
 * How long a certificate valid until `notAfter` still has, or since when it is expired:
 * `364 days left`, `1 day left`, `expires within a day`, `expired today`, `expired 3 days ago`.
 */
export function describeDaysLeft(notAfter: string, now: Date = new Date()): string | null {
  const ms = Date.parse(notAfter);
  if (Number.isNaN(ms)) return null;
  const diff = ms - now.getTime();
  if (diff > 0) {
    const days = Math.floor(diff / (DAY * 1000));
    if (days === 0) return 'expires within a day';
    return days === 1 ? '1 day left' : `${days} days left`;
  }
  const ago = Math.floor(-diff / (DAY * 1000));
  if (ago === 0) return 'expired today';
  return ago === 1 ? 'expired 1 day ago' : `expired ${ago} days ago`;
}

export const EXPIRY_WARNING_DAYS = 30;

export type ExpiryLevel = 'ok' | 'warning' | 'expired' | 'not_yet_valid';

export function expiryLevel(notBefore: string, notAfter: string, now: Date = new Date()): ExpiryLevel {
  const start = Date.parse(notBefore);
  const end = Date.parse(notAfter);
  if (!Number.isNaN(end) && end <= now.getTime()) return 'expired';
  if (!Number.isNaN(start) && start > now.getTime()) return 'not_yet_valid';
  const days = daysUntil(notAfter, now);
  if (days !== null && days < EXPIRY_WARNING_DAYS) return 'warning';
  return 'ok';
}

/** `5 minutes ago` style text for a timestamp, used as a tooltip next to absolute times. */
export function formatRelative(iso: string, now: Date = new Date()): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return '';
  const diff = Math.round((now.getTime() - ms) / 1000);
  const future = diff < 0;
  const abs = Math.abs(diff);
  let text: string;
  if (abs < 45) text = 'a few seconds';
  else if (abs < HOUR) text = plural(Math.round(abs / MINUTE), 'minute');
  else if (abs < DAY) text = plural(Math.round(abs / HOUR), 'hour');
  else text = plural(Math.round(abs / DAY), 'day');
  return future ? `in ${text}` : `${text} ago`;
}

function plural(n: number, unit: string): string {
  const v = Math.max(1, n);
  return `${v} ${unit}${v === 1 ? '' : 's'}`;
}

/**
 * A hex fingerprint in groups of four for reading aloud and comparing:
 * `3f9a 0c12 …`. Anything that is not plain hex is returned unchanged.
 */
export function formatFingerprint(hex: string, groupSize = 4): string {
  const trimmed = hex.trim();
  if (!/^[0-9a-fA-F]+$/.test(trimmed)) return trimmed;
  const groups: string[] = [];
  for (let i = 0; i < trimmed.length; i += groupSize) groups.push(trimmed.slice(i, i + groupSize));
  return groups.join(' ');
}

export type LicenseExpiryLevel = 'ok' | 'warning' | 'expired';

/** `expired` once past `expiresAt`, `warning` under EXPIRY_WARNING_DAYS, else `ok` (also when unparsable). */
export function licenseExpiryLevel(expiresAt: string, now: Date = new Date()): LicenseExpiryLevel {
  const end = Date.parse(expiresAt);
  if (Number.isNaN(end)) return 'ok';
  if (end <= now.getTime()) return 'expired';
  const days = daysUntil(expiresAt, now);
  if (days !== null && days < EXPIRY_WARNING_DAYS) return 'warning';
  return 'ok';
}

export function expiryBadgeClass(level: ExpiryLevel | LicenseExpiryLevel): string {
  if (level === 'ok') return 'badge badge-ok';
  if (level === 'warning') return 'badge badge-warn';
  return 'badge badge-bad';
}
