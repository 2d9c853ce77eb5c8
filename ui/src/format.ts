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

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const;

/** Bytes in binary units with one decimal: `15.6 GiB`, `512.0 MiB`, `2.0 TiB`; `—` for nonsense. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '—';
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${BYTE_UNITS[unit]}`;
}

/**
 * How long ago `iso` was, short: `3 s ago`, `4 min ago`, `2 h ago`, `5 d ago`.
 * A time slightly ahead of this browser's clock reads `0 s ago`; `null` or unparsable → `null`.
 */
export function formatAgo(iso: string | null, now: Date = new Date()): string | null {
  if (iso === null) return null;
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return null;
  const s = Math.max(0, Math.floor((now.getTime() - ms) / 1000));
  if (s < MINUTE) return `${s} s ago`;
  if (s < HOUR) return `${Math.floor(s / MINUTE)} min ago`;
  if (s < DAY) return `${Math.floor(s / HOUR)} h ago`;
  return `${Math.floor(s / DAY)} d ago`;
}

/** Clock skew beyond which the Nodes page warns (Docker, TLS and logs get confusing past it). */
export const CLOCK_SKEW_WARN_MS = 2000;

/** A signed clock difference: `+0.3 s`, `-2.5 s`, `0.0 s`; over a minute `+5m`, `-1h 2m`. */
export function formatSkew(ms: number): string {
  if (!Number.isFinite(ms)) return '—';
  const abs = Math.abs(ms);
  const sign = ms > 0 ? '+' : ms < 0 ? '-' : '';
  if (abs < 50) return '0.0 s';
  if (abs < 60_000) return `${sign}${(abs / 1000).toFixed(1)} s`;
  return `${sign}${formatUptime(abs / 1000)}`;
}

/** True when the skew is known and larger than CLOCK_SKEW_WARN_MS either way. */
export function skewTooLarge(ms: number | null): boolean {
  return ms !== null && Number.isFinite(ms) && Math.abs(ms) > CLOCK_SKEW_WARN_MS;
}

/** How long until `iso`, short: `in 45 s`, `in 13 min`, `in 11 h`, `in 3 d`; past → `null`. */
export function formatIn(iso: string, now: Date = new Date()): string | null {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return null;
  const s = Math.floor((ms - now.getTime()) / 1000);
  if (s <= 0) return null;
  if (s < MINUTE) return `in ${s} s`;
  if (s < HOUR) return `in ${Math.floor(s / MINUTE)} min`;
  if (s < DAY) return `in ${Math.floor(s / HOUR)} h`;
  return `in ${Math.floor(s / DAY)} d`;
}

/** A duration in milliseconds, short: `87 ms`, `1.4 s`, `2m 5s`; `—` for nonsense. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / MINUTE)}m ${s % MINUTE}s`;
}
