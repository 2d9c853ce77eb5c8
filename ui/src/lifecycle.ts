// Pure helpers for the app lifecycle pages: labels, badge classes, grouping and progress.

import type {
  AppState,
  ByteProgress,
  CheckOutcome,
  DeploymentKind,
  DeploymentState,
  PreflightResult,
  ReplicaHealth,
  ServiceState,
  StepState,
} from './api';
import { formatBytes } from './format';

/** How many characters of a config hash the tables show (the full hash is in the tooltip). */
export const SHORT_HASH_LENGTH = 12;

export function shortHash(hash: string): string {
  return hash.length > SHORT_HASH_LENGTH ? hash.slice(0, SHORT_HASH_LENGTH) : hash;
}

/** A deployment in this state will not change any more. */
export function isFinalState(state: DeploymentState): boolean {
  // `rolling_back`: it failed and its automatic rollback is still running.
  return state !== 'running' && state !== 'rolling_back';
}

const KIND_LABELS: Record<DeploymentKind, string> = {
  deploy: 'Deploy',
  update: 'Update',
  rollback: 'Automatic rollback',
  manual_rollback: 'Rollback',
  resume: 'Resume',
};

export function kindLabel(kind: DeploymentKind): string {
  return KIND_LABELS[kind];
}

const DEPLOYMENT_STATE_LABELS: Record<DeploymentState, string> = {
  running: 'Running',
  rolling_back: 'Rolling back',
  succeeded: 'Succeeded',
  failed: 'Failed',
  rolled_back: 'Rolled back',
  interrupted: 'Interrupted',
};

export function deploymentStateLabel(state: DeploymentState): string {
  return DEPLOYMENT_STATE_LABELS[state];
}

export function deploymentStateBadge(state: DeploymentState): string {
  switch (state) {
    case 'succeeded':
      return 'badge badge-ok';
    case 'running':
      return 'badge badge-info';
    case 'rolling_back':
    case 'rolled_back':
      return 'badge badge-warn';
    case 'failed':
    case 'interrupted':
      return 'badge badge-bad';
  }
}

const APP_STATE_LABELS: Record<AppState, string> = {
  not_deployed: 'Not deployed',
  running: 'Running',
  degraded: 'Degraded',
  stopped: 'Stopped',
  deploying: 'Deploying',
};

export function appStateLabel(state: AppState): string {
  return APP_STATE_LABELS[state];
}

export function appStateBadge(state: AppState | ServiceState): string {
  switch (state) {
    case 'running':
      return 'badge badge-ok';
    case 'degraded':
      return 'badge badge-warn';
    case 'stopped':
      return 'badge badge-bad';
    case 'deploying':
      return 'badge badge-info';
    case 'not_deployed':
      return 'badge badge-neutral';
  }
}

/** Docker's container state (`running`, `exited`, `restarting`, ...). */
export function containerStateBadge(state: string): string {
  if (state === 'running') return 'badge badge-ok';
  if (state === 'restarting' || state === 'created' || state === 'paused') return 'badge badge-warn';
  if (state === '') return 'badge badge-neutral';
  return 'badge badge-bad';
}

export function healthBadge(health: ReplicaHealth): string {
  if (health === 'healthy') return 'badge badge-ok';
  if (health === 'starting') return 'badge badge-info';
  return 'badge badge-bad';
}

export function outcomeBadge(outcome: CheckOutcome): string {
  if (outcome === 'pass') return 'badge badge-ok';
  if (outcome === 'warn') return 'badge badge-warn';
  return 'badge badge-bad';
}

export function outcomeSummary(outcome: CheckOutcome): string {
  if (outcome === 'pass') return 'All checks passed';
  if (outcome === 'warn') return 'Passed with warnings';
  return 'Checks failed';
}

export function stepStateBadge(state: StepState): string {
  switch (state) {
    case 'done':
      return 'badge badge-ok';
    case 'running':
      return 'badge badge-info';
    case 'failed':
      return 'badge badge-bad';
    case 'pending':
      return 'badge badge-neutral';
  }
}

/** `12.0 MiB / 50.0 MiB` while pulling; only the bytes so far when the size is not known yet. */
export function formatByteProgress(progress: ByteProgress): string {
  if (progress.total <= 0) return formatBytes(progress.current);
  return `${formatBytes(progress.current)} / ${formatBytes(progress.total)}`;
}

/** Whole percent of `done` out of `total`, 0–100; 0 when there is nothing to count yet. */
export function percent(done: number, total: number): number {
  if (!(total > 0) || !(done > 0)) return 0;
  return Math.min(100, Math.max(0, Math.floor((done / total) * 100)));
}

export interface PreflightGroup {
  /** `null` for the cluster-wide checks. */
  node: string | null;
  title: string;
  results: PreflightResult[];
}

const OUTCOME_ORDER: Record<CheckOutcome, number> = { fail: 0, warn: 1, pass: 2 };

/**
 * Preflight results grouped for display: the cluster-wide checks first, then one group per node
 * by name. Within a group failures come first, then warnings, then passes, each in the console's order.
 */
export function groupPreflight(results: PreflightResult[]): PreflightGroup[] {
  const cluster: PreflightResult[] = [];
  const byNode = new Map<string, { title: string; results: PreflightResult[] }>();
  for (const result of results) {
    if (result.node === null) {
      cluster.push(result);
      continue;
    }
    const group = byNode.get(result.node);
    if (group) group.results.push(result);
    else byNode.set(result.node, { title: result.node_name || result.node, results: [result] });
  }
  const order = (list: PreflightResult[]) =>
    list
      .map((result, i) => ({ result, i }))
      .sort((a, b) => OUTCOME_ORDER[a.result.outcome] - OUTCOME_ORDER[b.result.outcome] || a.i - b.i)
      .map(({ result }) => result);
  const groups: PreflightGroup[] = [];
  if (cluster.length > 0) groups.push({ node: null, title: 'Cluster-wide', results: order(cluster) });
  const nodes = [...byNode.entries()].sort(
    ([aId, a], [bId, b]) => a.title.localeCompare(b.title) || aId.localeCompare(bId),
  );
  for (const [node, group] of nodes) groups.push({ node, title: group.title, results: order(group.results) });
  return groups;
}

/** How many results have each outcome. */
export function countOutcomes(results: PreflightResult[]): Record<CheckOutcome, number> {
  const counts: Record<CheckOutcome, number> = { pass: 0, warn: 0, fail: 0 };
  for (const result of results) counts[result.outcome] += 1;
  return counts;
}

/** The Deploy page showing one deployment live. */
export function deploymentHref(id: string | number): string {
  return `/deploy?id=${encodeURIComponent(String(id))}`;
}

/** The Logs page for one replica. */
export function logsHref(service: string, replica: string): string {
  const params = new URLSearchParams({ service, replica });
  return `/logs?${params.toString()}`;
}
