// Pure helpers for the updates, network and outbound settings pages: labels, badge classes,
// the shell banner's text, and the settings form's change set.

import type {
  Advisory,
  AvailableRelease,
  NetworkResult,
  OutboundSettings,
  OutboundSettingsUpdate,
  Severity,
  UpdateCheck,
  UpdateState,
  UpdatesStatus,
} from './api';
import { releaseLabel } from './configForm';

/** How often the shell re-reads `GET /updates` for its banner. */
export const UPDATES_REFRESH_MS = 60_000;

const STATE_LABELS: Record<UpdateState, string> = {
  airgap: 'Airgap mode',
  not_online: 'Not online',
  license_revoked: 'License revoked',
  license_expired: 'License expired',
  check_failed: 'Update check failed',
  metadata_stale: 'Release information is stale',
  update_available: 'Update available',
  up_to_date: 'Up to date',
  never_checked: 'Not checked yet',
};

export function updateStateLabel(state: UpdateState): string {
  return STATE_LABELS[state];
}

/** How serious a state is: it picks the status box's look and the dashboard badge. */
export type StateTone = 'ok' | 'info' | 'warn' | 'bad' | 'neutral';

const STATE_TONES: Record<UpdateState, StateTone> = {
  airgap: 'neutral',
  not_online: 'neutral',
  license_revoked: 'bad',
  license_expired: 'bad',
  check_failed: 'warn',
  metadata_stale: 'warn',
  update_available: 'info',
  up_to_date: 'ok',
  never_checked: 'neutral',
};

export function updateStateTone(state: UpdateState): StateTone {
  return STATE_TONES[state];
}

export function toneBadge(tone: StateTone): string {
  return tone === 'neutral' ? 'badge badge-neutral' : `badge badge-${tone}`;
}

export function severityBadge(severity: Severity): string {
  switch (severity) {
    case 'critical':
    case 'high':
      return 'badge badge-bad';
    case 'medium':
      return 'badge badge-warn';
    case 'low':
      return 'badge badge-neutral';
  }
}

export function networkResultBadge(result: NetworkResult): string {
  if (result === 'ok') return 'badge badge-ok';
  if (result === 'problem') return 'badge badge-bad';
  return 'badge badge-neutral';
}

/** `ok`, `failed`, or `running` for a check without an outcome yet. */
export function checkOutcomeLabel(check: UpdateCheck): string {
  return check.outcome ?? 'running';
}

export function checkOutcomeBadge(check: UpdateCheck): string {
  if (check.outcome === 'ok') return 'badge badge-ok';
  if (check.outcome === 'failed') return 'badge badge-bad';
  return 'badge badge-info';
}

/** The newest check that failed, when the newest finished check did (the status box shows its error). */
export function lastFailedCheck(status: UpdatesStatus): UpdateCheck | null {
  const finished = status.checks.find((c) => c.outcome !== null);
  return finished?.outcome === 'failed' ? finished : null;
}

/** `1.1.0 (sequence 2)`, or `sequence 2` when the version is not known. */
export function fixedInLabel(advisory: Advisory): string | null {
  if (advisory.fixed_in === null) return null;
  return advisory.fixed_in_version
    ? releaseLabel(advisory.fixed_in_version, advisory.fixed_in)
    : `sequence ${advisory.fixed_in}`;
}

/**
 * The advisory ids an available release fixes: the ones the console lists on the release, and
 * any advisory naming it as its fixed-in release (the same fact, read from the other side).
 */
export function fixesOf(release: AvailableRelease, advisories: Advisory[]): string[] {
  const ids = [...release.fixes];
  for (const advisory of advisories) {
    if (advisory.fixed_in === release.sequence && !ids.includes(advisory.id)) ids.push(advisory.id);
  }
  return ids;
}

/** `1 security advisory affects`, `2 security advisories affect`. */
export function advisoryCount(n: number): string {
  return n === 1 ? '1 security advisory affects' : `${n} security advisories affect`;
}

/** One advisory for the banner: `OSA-2026-0001 (high) Title — fixed in 1.1.0`. */
export function advisorySummary(advisory: Advisory): string {
  const fix =
    advisory.fixed_in === null
      ? 'no fix yet'
      : `fixed in ${advisory.fixed_in_version ?? `sequence ${advisory.fixed_in}`}`;
  return `${advisory.id} (${advisory.severity}) ${advisory.title} — ${fix}`;
}

/** The banner's tone for a list of advisories: red once one is high or critical. */
export function advisoriesTone(advisories: Advisory[]): 'error' | 'warning' {
  return advisories.some((a) => a.severity === 'high' || a.severity === 'critical') ? 'error' : 'warning';
}

/** The license part of the shell's banner, or `null` when there is nothing to say. */
export function licenseAlert(status: UpdatesStatus): { kind: 'revoked' | 'expired'; text: string } | null {
  const revoked = status.license?.revoked ?? null;
  if (revoked !== null || status.state === 'license_revoked') {
    const reason = revoked?.reason.trim() ?? '';
    return {
      kind: 'revoked',
      text: reason ? `The vendor revoked this license: ${reason}` : status.message || 'The vendor revoked this license.',
    };
  }
  if (status.state === 'license_expired' || status.license?.expired === true) {
    return { kind: 'expired', text: status.message || 'The license has expired. Load a renewed license.' };
  }
  return null;
}

// ---- the outbound settings form ---------------------------------------------

export interface OutboundForm {
  update_schedule: string;
  airgap_mode: boolean;
  https_proxy: string;
  no_proxy: string;
}

export function initialOutboundForm(settings: OutboundSettings): OutboundForm {
  return {
    update_schedule: settings.update_schedule,
    airgap_mode: settings.airgap_mode,
    https_proxy: settings.https_proxy ?? '',
    no_proxy: settings.no_proxy,
  };
}

/**
 * The fields that differ from what was loaded, trimmed; nothing else is sent. An unchanged proxy
 * is never sent back, so its stored password stays as it is.
 */
export function outboundUpdate(form: OutboundForm, loaded: OutboundForm): OutboundSettingsUpdate {
  const update: OutboundSettingsUpdate = {};
  const schedule = form.update_schedule.trim();
  if (schedule !== loaded.update_schedule.trim()) update.update_schedule = schedule;
  if (form.airgap_mode !== loaded.airgap_mode) update.airgap_mode = form.airgap_mode;
  const proxy = form.https_proxy.trim();
  if (proxy !== loaded.https_proxy.trim()) update.https_proxy = proxy;
  const noProxy = form.no_proxy.trim();
  if (noProxy !== loaded.no_proxy.trim()) update.no_proxy = noProxy;
  return update;
}

export function isEmptyUpdate(update: OutboundSettingsUpdate): boolean {
  return Object.keys(update).length === 0;
}
