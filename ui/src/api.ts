// JSON client for the console API (docs/API.md).
//
// - every request is same-origin with the session cookie (`credentials: 'same-origin'`);
// - bodies are JSON with `Content-Type: application/json`;
// - every non-GET/HEAD request carries `X-CSRF-Token` once a token is known;
// - every error answer `{"error":{"code","message"}}` becomes an `ApiError` whose
//   `message` is the server's text, meant to be shown as is;
// - a 401 from a route that needs a session calls the unauthorized handler
//   (the app sends the user back to the login page).

export const API_BASE = '/api/v1';

export interface Session {
  username: string;
  csrf_token: string;
  expires_at: string;
}

export interface Health {
  status: string;
  version: string;
  uptime_seconds: number;
}

export interface SetupState {
  admin_configured: boolean;
  token_valid: boolean;
}

export interface TlsInfo {
  subject: string;
  issuer: string;
  fingerprint_sha256: string;
  not_before: string;
  not_after: string;
  self_signed: boolean;
  dns_names: string[];
  ip_addresses: string[];
}

export interface Status {
  version: string;
  uptime_seconds: number;
  started_at: string;
  tls: TlsInfo;
}

export interface AuditEntry {
  id: number;
  at: string;
  actor: string;
  action: string;
  source: string;
  detail: string;
}

export interface AuditPage {
  entries: AuditEntry[];
  next_before: number | null;
}

/** One name and value of an outbound request's headers or fields, as the console logged it. */
export interface OutboundPair {
  name: string;
  /** A string as sent; any other JSON value (number, object...) as its JSON text. */
  value: string;
}

/**
 * One request the console sent out of the install (`GET /outbound`). Secrets are masked by the
 * console before the entry is written (`Bearer ****`, `****`); the page shows what it gets.
 */
export interface OutboundEntry {
  id: number;
  at: string;
  method: string;
  url: string;
  /** Why it was sent: `channel index (stable)`, `release 2`... */
  purpose: string;
  /** In the order the console logged them. */
  request_headers: OutboundPair[];
  /** Query and body fields; empty for the api host's GETs. */
  request_fields: OutboundPair[];
  /** `null` when no answer started. */
  status: number | null;
  error: string | null;
  bytes_sent: number;
  bytes_received: number;
  duration_ms: number;
}

export interface OutboundPage {
  entries: OutboundEntry[];
  next_before: number | null;
}

/** What a license file claims before it is verified (`POST /license/inspect`). */
export interface LicenseClaims {
  license_id: string;
  customer: string;
  app_id: string;
  channel: string;
  expires_at: string;
}

export interface LicenseInspect {
  /** Hex SHA-256 of the vendor key that signed the file. */
  fingerprint: string;
  key_pinned: boolean;
  matches_pinned: boolean;
  claims: LicenseClaims;
}

/** The loaded license. There is deliberately no password field: the console never sends one. */
export interface LicenseInfo {
  license_id: string;
  customer: string;
  app_id: string;
  channel: string;
  issued_at: string;
  expires_at: string;
  entitlements: Record<string, string>;
  airgap: boolean;
  max_nodes: number | null;
  api_host: string | null;
  registry_username: string | null;
  vendor_key_fingerprint: string;
  loaded_at: string;
}

/** One disk the agent reports: `role` is `docker` (Docker's data root) or `data` (the agent's data dir). */
export interface DiskFacts {
  role: string;
  path: string;
  free_bytes: number;
  total_bytes: number;
}

export interface DockerFacts {
  version: string;
  api_version: string;
  storage_driver: string;
}

/** Host facts an agent sends when it connects. */
export interface NodeFacts {
  hostname: string;
  os: string;
  kernel: string;
  cpus: number;
  memory_bytes: number;
  disks: DiskFacts[];
  docker: DockerFacts | null;
  addresses: string[];
}

export type NodeStatus = 'online' | 'offline';

export interface NodeInfo {
  id: string;
  hostname: string;
  labels: Record<string, string>;
  status: NodeStatus;
  joined_at: string;
  /** RFC 3339, or `null` when the agent never connected. */
  last_seen_at: string | null;
  cert_expires_at: string;
  /** Node clock minus console clock, or `null` when not measured yet. */
  clock_skew_ms: number | null;
  /** `null` until the agent has connected once. */
  facts: NodeFacts | null;
}

/** Join token lifetimes offered by the Nodes page. */
export type JoinTokenTtl = '15m' | '1h' | '24h';

export interface JoinTokenInfo {
  /** `OPT1.<ca-hash>.<secret>`: one use, a secret until used. */
  token: string;
  /** The `outpost-agent join ...` command for the new node. */
  command: string;
  expires_at: string;
}

/** A loaded release (`GET /releases`); only what the console's pages show is copied. */
export interface ReleaseInfo {
  sequence: number;
  version: string;
  channel: string;
  /** The vendor's release notes (plain text). */
  notes: string;
  required: boolean;
  created_at: string;
  loaded_at: string;
}

/** A listed release that `POST /releases/fetch` did not load, and why. */
export interface FetchRefusal {
  sequence: number;
  reason: string;
}

/** `POST /releases/fetch`: what fetching the licensed channel from the vendor's api host did. */
export interface FetchResult {
  /** The channel index's version. */
  index_version: number;
  /** Sequences loaded by this call. */
  fetched: number[];
  /** Sequences listed and already loaded. */
  present: number[];
  /** Listed but not loaded. */
  refused: FetchRefusal[];
}

export type ConfigItemType = 'text' | 'password' | 'bool' | 'number' | 'select' | 'textarea';

export const CONFIG_ITEM_TYPES: readonly ConfigItemType[] = ['text', 'password', 'bool', 'number', 'select', 'textarea'];

/** One config item of a release, with its stored value. */
export interface ConfigItem {
  name: string;
  title: string;
  type: ConfigItemType;
  help: string;
  required: boolean;
  /** The default as text (`"false"`, `"2"`, `"info"`), or `null`. */
  default: string | null;
  /** The choices of a `select` item. */
  options: string[];
  /** Bounds of a `number` item. */
  min: number | null;
  max: number | null;
  /** The item's pattern, when the console sends it (checked in the browser only as a courtesy). */
  regex: string | null;
  regex_message: string | null;
  /** The stored value; always `null` for a secret (password) item. */
  value: string | null;
  /** A value is stored. */
  is_set: boolean;
  secret: boolean;
}

export interface ConfigGroup {
  name: string;
  title: string;
  description: string;
  items: ConfigItem[];
}

/** The config items of one release (`GET/PUT /app/config`). */
export interface ConfigInfo {
  sequence: number;
  version: string;
  groups: ConfigGroup[];
}

/** A `PUT /app/config` change set: a value per changed item, `null` to clear it. */
export type ConfigValues = Record<string, string | null>;

// ---- app lifecycle (docs/API.md, "App lifecycle") -------------------------

export type CheckOutcome = 'pass' | 'warn' | 'fail';
export const CHECK_OUTCOMES: readonly CheckOutcome[] = ['pass', 'warn', 'fail'];

/** One preflight check on one node, or cluster-wide (`node` is `null`). */
export interface PreflightResult {
  check: string;
  node: string | null;
  node_name: string;
  outcome: CheckOutcome;
  /** What to do about it. */
  message: string;
}

/** A preflight run for one release (`GET /app/preflight`). */
export interface PreflightReport {
  sequence: number;
  version: string;
  outcome: CheckOutcome;
  /** A check failed: deploying needs an explicit, audited override. */
  blocking: boolean;
  ran_at: string;
  results: PreflightResult[];
}

/**
 * A deployment id as the console sends it. The contract does not say whether it is a number or a
 * string, so it is kept as sent (a rollback sends it back unchanged); compare ids with `sameId`.
 */
export type DeploymentId = number | string;

export type DeploymentKind = 'deploy' | 'update' | 'rollback' | 'manual_rollback' | 'resume';
export const DEPLOYMENT_KINDS: readonly DeploymentKind[] = ['deploy', 'update', 'rollback', 'manual_rollback', 'resume'];

export type DeploymentState = 'running' | 'rolling_back' | 'succeeded' | 'failed' | 'rolled_back' | 'interrupted';
export const DEPLOYMENT_STATES: readonly DeploymentState[] = [
  'running',
  'rolling_back',
  'succeeded',
  'failed',
  'rolled_back',
  'interrupted',
];

export type StepAction = 'network' | 'volume' | 'pull' | 'run' | 'remove';
export type StepState = 'pending' | 'running' | 'done' | 'failed';
export const STEP_STATES: readonly StepState[] = ['pending', 'running', 'done', 'failed'];

/** Bytes pulled so far while an image is pulled. */
export interface ByteProgress {
  current: number;
  total: number;
}

/** One step of a deployment's plan on one node. */
export interface DeployStep {
  index: number;
  node: string;
  node_name: string;
  /** `network`, `volume`, `pull`, `run`, `remove` (kept as sent, for display). */
  action: string;
  /** The network, volume, image or container name. */
  target: string;
  service: string | null;
  state: StepState;
  message: string | null;
  progress: ByteProgress | null;
  started_at: string | null;
  finished_at: string | null;
}

export interface DeployEvent {
  at: string;
  message: string;
}

/** A deployment; the list answer carries no steps and events (empty arrays here). */
export interface Deployment {
  id: DeploymentId;
  kind: DeploymentKind;
  sequence: number;
  version: string;
  previous_sequence: number | null;
  config_hash: string;
  actor: string;
  started_at: string;
  finished_at: string | null;
  state: DeploymentState;
  /** Why it failed and what was done, or `null`. */
  message: string | null;
  preflight_overridden: boolean;
  /** The failed deployment this one undoes, or `null`. */
  rollback_of: DeploymentId | null;
  progress: { done: number; total: number };
  steps: DeployStep[];
  events: DeployEvent[];
}

/** `GET /app/deployments`: the version history, newest first, and the running deployment if any. */
export interface DeploymentList {
  deployments: Deployment[];
  active: DeploymentId | null;
}

export type AppState = 'not_deployed' | 'running' | 'degraded' | 'stopped' | 'deploying';
export const APP_STATES: readonly AppState[] = ['not_deployed', 'running', 'degraded', 'stopped', 'deploying'];

export type ServiceState = 'running' | 'degraded' | 'stopped';
export type ReplicaHealth = 'healthy' | 'unhealthy' | 'starting';

export interface ReplicaStatus {
  /** The replica as the console names it; kept as text (it goes into the logs URL). */
  replica: string;
  node: string;
  node_name: string;
  container: string;
  /** Docker's state: `running`, `exited`, ... */
  state: string;
  health: ReplicaHealth | null;
  restarts: number;
  started_at: string | null;
  image: string;
}

export interface ServiceStatus {
  service: string;
  state: ServiceState;
  replicas: ReplicaStatus[];
}

export interface InstalledRelease {
  sequence: number;
  version: string;
  deployment_id: DeploymentId;
  config_hash: string;
}

/** `GET /app/status` and the answer of start / stop / restart. */
export interface AppStatus {
  app_id: string;
  state: AppState;
  installed: InstalledRelease | null;
  active_deployment: DeploymentId | null;
  services: ServiceStatus[];
  /**
   * Nodes that could not be asked (offline), by name. Not in docs/API.md yet; the console sends it,
   * and an older answer without it reads as "every node answered".
   */
  unreachable: string[];
}

export type AppAction = 'start' | 'stop' | 'restart';

export type LogStream = 'stdout' | 'stderr';

export interface LogLine {
  stream: LogStream;
  line: string;
}

export interface LogsQuery {
  service: string;
  replica: string;
  /** 1–5000; the console's default is 200. */
  tail?: number;
}

/** `GET /app/logs` without `follow`. */
export interface LogsAnswer {
  service: string;
  replica: string;
  node: string;
  container: string;
  lines: LogLine[];
}

export interface RegistryRule {
  from: string;
  to: string;
}

/** A stored registry credential. There is deliberately no password field: the console never sends one. */
export interface RegistryCredential {
  host: string;
  username: string;
  password_set: boolean;
  /** `license`: from the license, read-only here. */
  source: 'admin' | 'license';
}

export interface Registries {
  rules: RegistryRule[];
  credentials: RegistryCredential[];
}

/** A `PUT /registries` credential: `password: null` keeps the stored password. */
export interface RegistryCredentialUpdate {
  host: string;
  username: string;
  password: string | null;
}

export interface RegistriesUpdate {
  rules: RegistryRule[];
  credentials: RegistryCredentialUpdate[];
}

// ---- updates, outbound settings, network (docs/API.md, "Updates") ------------

export type UpdateState =
  | 'airgap'
  | 'not_online'
  | 'license_revoked'
  | 'license_expired'
  | 'check_failed'
  | 'metadata_stale'
  | 'update_available'
  | 'up_to_date'
  | 'never_checked';
export const UPDATE_STATES: readonly UpdateState[] = [
  'airgap',
  'not_online',
  'license_revoked',
  'license_expired',
  'check_failed',
  'metadata_stale',
  'update_available',
  'up_to_date',
  'never_checked',
];

export type Severity = 'low' | 'medium' | 'high' | 'critical';
export const SEVERITIES: readonly Severity[] = ['low', 'medium', 'high', 'critical'];

export interface ReleaseRef {
  sequence: number;
  version: string;
}

/** A loaded release newer than the installed one. */
export interface AvailableRelease {
  sequence: number;
  version: string;
  notes: string;
  required: boolean;
  created_at: string;
  /** Ids of the advisories affecting the installed release that this release fixes. */
  fixes: string[];
}

/** A security advisory that affects the installed release. */
export interface Advisory {
  id: string;
  severity: Severity;
  title: string;
  text: string;
  /** The affected sequences. */
  affected: number[];
  fixed_in: number | null;
  fixed_in_version: string | null;
  /** The fixed-in release is loaded, ready to deploy. */
  fix_available: boolean;
  published_at: string;
}

export interface UpdatesLicense {
  expires_at: string;
  expired: boolean;
  revoked: { at: string; reason: string } | null;
  api_host: string | null;
}

/** The channel index the console holds. */
export interface ChannelIndex {
  version: number;
  expires_at: string;
  accepted_at: string;
  expired: boolean;
}

export interface UpdateSchedule {
  /** As set: `every 1h`, `cron 0 3 * * *`, `off`. */
  setting: string;
  description: string;
  /** This install's offset within the schedule. */
  offset_seconds: number;
}

export type CheckTrigger = 'schedule' | 'retry' | 'admin';

/** One update check; `outcome` is `null` while it runs. */
export interface UpdateCheck {
  id: number;
  started_at: string;
  finished_at: string | null;
  /** `schedule`, `retry`, `admin` (kept as sent, for display). */
  trigger: string;
  outcome: 'ok' | 'failed' | null;
  /** `unreachable`, `refused`, `metadata_stale`, ... (kept as sent). */
  problem: string | null;
  error: string | null;
  summary: string;
}

/** `GET /updates`: where updates stand. */
export interface UpdatesStatus {
  state: UpdateState;
  /** One sentence: what the state means and what to do. */
  message: string;
  /** Why airgap mode is on, or `null`. */
  airgap: string | null;
  installed: ReleaseRef | null;
  /** Oldest first. */
  available: AvailableRelease[];
  advisories: Advisory[];
  license: UpdatesLicense | null;
  index: ChannelIndex | null;
  schedule: UpdateSchedule;
  next_check_at: string | null;
  /** Failed checks in a row. */
  failures: number;
  last_success_at: string | null;
  /** Newest first. */
  checks: UpdateCheck[];
}

/** `POST /updates/check`: the check that ran and the status after it. */
export interface CheckAnswer {
  check: UpdateCheck;
  status: UpdatesStatus;
}

/** `GET/PUT /settings/outbound`. Proxy passwords arrive masked (`user:********@`). */
export interface OutboundSettings {
  update_schedule: string;
  schedule_description: string;
  /** The admin's airgap switch. */
  airgap_mode: boolean;
  /** Why airgap mode is in effect (the switch, or an airgap-only license), or `null`. */
  airgap: string | null;
  /** The console setting's proxy, or `null`. */
  https_proxy: string | null;
  no_proxy: string;
  /** The proxy the console's requests use now, and where it comes from. */
  effective_proxy: string | null;
  effective_no_proxy: string;
  proxy_source: string | null;
}

/** A `PUT /settings/outbound` change set: only the fields to change. `https_proxy: ""` clears it. */
export interface OutboundSettingsUpdate {
  update_schedule?: string;
  airgap_mode?: boolean;
  https_proxy?: string;
  no_proxy?: string;
}

export type NetworkResult = 'ok' | 'problem' | 'unknown';
export const NETWORK_RESULTS: readonly NetworkResult[] = ['ok', 'problem', 'unknown'];

/** One live check: where it ran (`console` or a node's name) and what it found. */
export interface NetworkCheck {
  on: string;
  result: NetworkResult;
  detail: string;
}

export interface InboundRequirement {
  /** `console host`, `every node`, `app nodes`. */
  role: string;
  /** A port (`8800`) or a range (`9870-9880`). */
  port: string;
  protocol: string;
  purpose: string;
  from: string;
  needed_in_airgap: boolean;
  checks: NetworkCheck[];
}

export interface OutboundRequirement {
  purpose: string;
  host: string;
  port: number;
  protocol: string;
  from: string;
  needed_in_airgap: boolean;
  check: NetworkCheck;
}

/** `GET /network`: what the install needs from the network, with live checks. */
export interface NetworkReport {
  airgap: string | null;
  proxy: string | null;
  release: (ReleaseRef & { installed: boolean }) | null;
  inbound: InboundRequirement[];
  /** Empty in airgap mode. */
  outbound: OutboundRequirement[];
  /** The proxy each node's Docker engine pulls through (the node's own setting). */
  engines: EngineProxy[];
  problems: number;
}

export interface EngineProxy {
  node: string;
  https_proxy: string | null;
  no_proxy: string;
  check: NetworkCheck;
}

export class ApiError extends Error {
  /** HTTP status, or 0 when the console could not be reached at all. */
  readonly status: number;
  /** Stable machine-readable code from the error body (or a client-side one). */
  readonly code: string;
  /** Seconds from a `Retry-After` header (429), when present. */
  readonly retryAfter: number | null;

  constructor(status: number, code: string, message: string, retryAfter: number | null = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

let csrfToken: string | null = null;
let unauthorizedHandler: (() => void) | null = null;

export function setCsrfToken(token: string | null): void {
  csrfToken = token;
}

export function getCsrfToken(): string | null {
  return csrfToken;
}

/** Called on any 401 from a route that needs a session. */
export function setUnauthorizedHandler(handler: (() => void) | null): void {
  unauthorizedHandler = handler;
}

export interface RequestOptions {
  /** Public routes (login, setup, health): a 401 there is an answer, not a lost session. */
  public?: boolean;
  signal?: AbortSignal;
}

const SAFE_METHODS = new Set(['GET', 'HEAD']);

function parseRetryAfter(value: string | null): number | null {
  if (value === null) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number.parseInt(trimmed, 10);
  // HTTP-date form.
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return null;
  return Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

function fallbackMessage(status: number, statusText: string): string {
  switch (status) {
    case 401:
      return 'Your session has ended. Please log in again.';
    case 403:
      return 'The console refused this request.';
    case 404:
      return 'The console does not know this request.';
    case 413:
      return 'The request is too large.';
    case 429:
      return 'Too many attempts. Please wait and try again.';
    default:
      if (status >= 500) return `The console failed to answer (HTTP ${status}).`;
      return `The request failed (HTTP ${status}${statusText ? ` ${statusText}` : ''}).`;
  }
}

async function readJson(response: Response): Promise<unknown> {
  const text = await response.text();
  if (text.trim() === '') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function errorFromBody(body: unknown): { code: string; message: string } | null {
  if (typeof body !== 'object' || body === null) return null;
  const err = (body as { error?: unknown }).error;
  if (typeof err !== 'object' || err === null) return null;
  const { code, message } = err as { code?: unknown; message?: unknown };
  if (typeof message !== 'string' || message.trim() === '') return null;
  return { code: typeof code === 'string' ? code : 'error', message };
}

interface SendOptions extends RequestOptions {
  /** The `Accept` header; JSON unless a route streams something else. */
  accept?: string;
}

/**
 * Sends one request and answers the response once it is known to be a success; an error answer
 * becomes an `ApiError` (and a 401 calls the unauthorized handler). The body is left unread.
 */
async function send(method: string, path: string, body: unknown, options: SendOptions): Promise<Response> {
  const upper = method.toUpperCase();
  const headers: Record<string, string> = { Accept: options.accept ?? 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (!SAFE_METHODS.has(upper) && csrfToken) headers['X-CSRF-Token'] = csrfToken;

  let response: Response;
  try {
    response = await fetch(`${API_BASE}${path}`, {
      method: upper,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
      signal: options.signal,
    });
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', 'The console could not be reached. Check the connection and try again.');
  }

  if (!response.ok) {
    const fromBody = errorFromBody(await readJson(response));
    const error = new ApiError(
      response.status,
      fromBody?.code ?? `http_${response.status}`,
      fromBody?.message ?? fallbackMessage(response.status, response.statusText),
      parseRetryAfter(response.headers.get('Retry-After')),
    );
    if (response.status === 401 && !options.public) {
      csrfToken = null;
      unauthorizedHandler?.();
    }
    throw error;
  }
  return response;
}

export async function request<T>(
  method: string,
  path: string,
  body?: unknown,
  options: RequestOptions = {},
): Promise<T> {
  const response = await send(method, path, body, options);
  const parsed = await readJson(response);
  if (parsed === undefined) {
    throw new ApiError(response.status, 'bad_response', 'The console sent an answer that is not valid JSON.');
  }
  return parsed as T;
}

// ---- typed routes -------------------------------------------------------

export const api = {
  health: (signal?: AbortSignal) => request<Health>('GET', '/health', undefined, { public: true, signal }),

  setupState: (token: string, signal?: AbortSignal) =>
    request<SetupState>('GET', `/setup?token=${encodeURIComponent(token)}`, undefined, { public: true, signal }),

  setup: (token: string, password: string) =>
    request<{ ok: boolean }>('POST', '/setup', { token, password }, { public: true }),

  async login(password: string): Promise<Session> {
    const session = await request<Session>('POST', '/login', { password }, { public: true });
    setCsrfToken(session.csrf_token);
    return session;
  },

  /** The current session; `null` when there is none (401). */
  async session(signal?: AbortSignal): Promise<Session | null> {
    try {
      const session = await request<Session>('GET', '/session', undefined, { public: true, signal });
      setCsrfToken(session.csrf_token);
      return session;
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        setCsrfToken(null);
        return null;
      }
      throw e;
    }
  },

  async logout(): Promise<void> {
    try {
      await request<{ ok: boolean }>('POST', '/logout', undefined, { public: true });
    } finally {
      setCsrfToken(null);
    }
  },

  status: (signal?: AbortSignal) => request<Status>('GET', '/status', undefined, { signal }),

  tls: (signal?: AbortSignal) => request<TlsInfo>('GET', '/tls', undefined, { signal }),

  uploadTls: (certificate_pem: string, private_key_pem: string) =>
    request<TlsInfo>('PUT', '/tls', { certificate_pem, private_key_pem }),

  audit(params: { limit?: number; before?: number | null } = {}, signal?: AbortSignal) {
    const query = new URLSearchParams();
    if (params.limit !== undefined) query.set('limit', String(params.limit));
    if (params.before !== undefined && params.before !== null) query.set('before', String(params.before));
    const qs = query.toString();
    return request<AuditPage>('GET', `/audit${qs ? `?${qs}` : ''}`, undefined, { signal });
  },

  /** The outbound log, newest first: every request the console sent out of the install. */
  async outbound(params: { limit?: number; before?: number | null } = {}, signal?: AbortSignal): Promise<OutboundPage> {
    const query = new URLSearchParams();
    if (params.limit !== undefined) query.set('limit', String(params.limit));
    if (params.before !== undefined && params.before !== null) query.set('before', String(params.before));
    const qs = query.toString();
    return toOutboundPage(await request<unknown>('GET', `/outbound${qs ? `?${qs}` : ''}`, undefined, { signal }));
  },

  /** The loaded license, or `null` when none is loaded yet. */
  async license(signal?: AbortSignal): Promise<LicenseInfo | null> {
    const answer = await request<{ license?: unknown }>('GET', '/license', undefined, { signal });
    const license = answer?.license;
    return license === null || license === undefined ? null : toLicenseInfo(license);
  },

  /** What a license file claims and whether its key is the pinned one; nothing is stored. */
  async inspectLicense(license: string): Promise<LicenseInspect> {
    return toLicenseInspect(await request<unknown>('POST', '/license/inspect', { license }));
  },

  /** Verify and load a license; `trustKey` pins the vendor key on the first load, else `null`. */
  async loadLicense(license: string, trustKey: string | null): Promise<LicenseInfo> {
    return toLicenseInfo(await request<unknown>('POST', '/license', { license, trust_key: trustKey }));
  },

  /** Every node, online or not. */
  async nodes(signal?: AbortSignal): Promise<NodeInfo[]> {
    const answer = await request<{ nodes?: unknown }>('GET', '/nodes', undefined, { signal });
    return Array.isArray(answer?.nodes) ? answer.nodes.map(toNodeInfo) : [];
  },

  /** A one-time join token and the command that uses it. */
  async createJoinToken(ttl: JoinTokenTtl, labels: Record<string, string>): Promise<JoinTokenInfo> {
    const raw = record(await request<unknown>('POST', '/nodes/join-token', { ttl, labels }));
    return { token: str(raw.token), command: str(raw.command), expires_at: str(raw.expires_at) };
  },

  /** Replaces all labels of a node; answers the node as it is now. */
  async setNodeLabels(id: string, labels: Record<string, string>): Promise<NodeInfo> {
    return toNodeInfo(await request<unknown>('PUT', `/nodes/${encodeURIComponent(id)}/labels`, { labels }));
  },

  /** Removes a node and revokes its certificate: its agent is refused from now on. */
  removeNode: (id: string) => request<{ ok: boolean }>('DELETE', `/nodes/${encodeURIComponent(id)}`),

  /** Every loaded release, newest first. */
  async releases(signal?: AbortSignal): Promise<ReleaseInfo[]> {
    const answer = await request<{ releases?: unknown }>('GET', '/releases', undefined, { signal });
    return Array.isArray(answer?.releases) ? answer.releases.map(toReleaseInfo) : [];
  },

  /**
   * Fetches the licensed channel's index from the license's api host and loads every listed release
   * not loaded yet. Refusals: `409 no_api_host`, `502 api_host_unreachable` / `api_host_tls` /
   * `api_host_refused` / `index_invalid` (nothing loaded).
   */
  async fetchReleases(): Promise<FetchResult> {
    return toFetchResult(await request<unknown>('POST', '/releases/fetch', {}));
  },

  /** The config items of release `sequence` (default: the newest); `400 release_refused` when none is loaded. */
  async config(sequence: number | null, signal?: AbortSignal): Promise<ConfigInfo> {
    return toConfigInfo(await request<unknown>('GET', `/app/config${sequenceQuery(sequence)}`, undefined, { signal }));
  },

  /** Stores the changed values of release `sequence`; `400 config_invalid` names every failing item. */
  async saveConfig(sequence: number, values: ConfigValues): Promise<ConfigInfo> {
    return toConfigInfo(await request<unknown>('PUT', `/app/config${sequenceQuery(sequence)}`, { values }));
  },
  /** Runs preflight now for release `sequence` (default: the newest loaded) on the nodes its plan would use. */
  async preflight(sequence: number | null, signal?: AbortSignal): Promise<PreflightReport> {
    return toPreflightReport(
      await request<unknown>('GET', `/app/preflight${sequenceQuery(sequence)}`, undefined, { signal }),
    );
  },

  /**
   * Starts deploying release `sequence` (`202`). `overridePreflight` deploys despite failing checks
   * (recorded in the audit log). Refusals: `409 deploy_in_progress`, `422 preflight_failed`,
   * `400 plan_invalid`, `404 release_not_found`.
   */
  async deploy(sequence: number, overridePreflight: boolean): Promise<Deployment> {
    return toDeployment(
      await request<unknown>('POST', '/app/deploy', { sequence, override_preflight: overridePreflight }),
    );
  },

  /** Every deployment, newest first (without steps and events), and the running one's id. */
  async deployments(limit: number | null = null, signal?: AbortSignal): Promise<DeploymentList> {
    const qs = limit === null ? '' : `?limit=${encodeURIComponent(String(limit))}`;
    const answer = record(await request<unknown>('GET', `/app/deployments${qs}`, undefined, { signal }));
    return {
      deployments: (Array.isArray(answer.deployments) ? answer.deployments : []).map(toDeployment),
      active: idOrNull(answer.active),
    };
  },

  /** One deployment with its steps and events. */
  async deployment(id: DeploymentId, signal?: AbortSignal): Promise<Deployment> {
    return toDeployment(
      await request<unknown>('GET', `/app/deployments/${encodeURIComponent(String(id))}`, undefined, { signal }),
    );
  },

  /** Redeploys an earlier successful deployment's release and config (`202`). */
  async rollback(deploymentId: DeploymentId): Promise<Deployment> {
    return toDeployment(await request<unknown>('POST', '/app/rollback', { deployment_id: deploymentId }));
  },

  async appStatus(signal?: AbortSignal): Promise<AppStatus> {
    return toAppStatus(await request<unknown>('GET', '/app/status', undefined, { signal }));
  },

  /** Start, stop or restart the app; answers the status after the action. */
  async appAction(action: AppAction): Promise<AppStatus> {
    return toAppStatus(await request<unknown>('POST', `/app/${action}`, {}));
  },

  startApp: () => api.appAction('start'),
  stopApp: () => api.appAction('stop'),
  restartApp: () => api.appAction('restart'),

  /** The last `tail` lines of one replica's container. */
  async logs(query: LogsQuery, signal?: AbortSignal): Promise<LogsAnswer> {
    const raw = record(await request<unknown>('GET', `/app/logs${logsQuery(query, false)}`, undefined, { signal }));
    return {
      service: str(raw.service),
      replica: str(raw.replica),
      node: str(raw.node),
      container: str(raw.container),
      lines: (Array.isArray(raw.lines) ? raw.lines : []).map(toLogLine).filter((l): l is LogLine => l !== null),
    };
  },

  followLogs: (query: LogsQuery, onLine: (line: LogLine) => void, signal?: AbortSignal) =>
    followLogs(query, onLine, signal),

  async registries(signal?: AbortSignal): Promise<Registries> {
    return toRegistries(await request<unknown>('GET', '/registries', undefined, { signal }));
  },

  /** Replaces the rules and the admin's credentials; a `null` password keeps the stored one. */
  async saveRegistries(update: RegistriesUpdate): Promise<Registries> {
    return toRegistries(await request<unknown>('PUT', '/registries', update));
  },

  /**
   * Where updates stand. `quiet`: a background read (the shell's banner) that never signs the
   * admin out on a 401; the page that is open handles a lost session.
   */
  async updates(signal?: AbortSignal, options: { quiet?: boolean } = {}): Promise<UpdatesStatus> {
    return toUpdatesStatus(await request<unknown>('GET', '/updates', undefined, { signal, public: options.quiet }));
  },

  /** Checks the vendor's api host now. Refusals: `409 airgap_mode`, `409 no_api_host`. */
  async checkUpdates(): Promise<CheckAnswer> {
    const raw = record(await request<unknown>('POST', '/updates/check', {}));
    return { check: toUpdateCheck(raw.check), status: toUpdatesStatus(raw.status) };
  },

  async outboundSettings(signal?: AbortSignal): Promise<OutboundSettings> {
    return toOutboundSettings(await request<unknown>('GET', '/settings/outbound', undefined, { signal }));
  },

  /** Changes the given fields only; `400 settings_invalid` names every bad field. */
  async saveOutboundSettings(update: OutboundSettingsUpdate): Promise<OutboundSettings> {
    return toOutboundSettings(await request<unknown>('PUT', '/settings/outbound', update));
  },

  /** The network requirements with live checks (slow: up to ~15 s). */
  async network(signal?: AbortSignal): Promise<NetworkReport> {
    return toNetworkReport(await request<unknown>('GET', '/network', undefined, { signal }));
  },
};

// ---- license answers ----------------------------------------------------
//
// Only the documented fields are copied out of license answers, so anything else the
// console might send by mistake (a registry password above all) never reaches the page.

function str(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return '';
}

function strOrNull(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function stringMap(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, v] of Object.entries(record(value))) {
    out[key] = typeof v === 'string' ? v : JSON.stringify(v) ?? '';
  }
  return out;
}

export function toLicenseInfo(value: unknown): LicenseInfo {
  const raw = record(value);
  const maxNodes = raw.max_nodes;
  return {
    license_id: str(raw.license_id),
    customer: str(raw.customer),
    app_id: str(raw.app_id),
    channel: str(raw.channel),
    issued_at: str(raw.issued_at),
    expires_at: str(raw.expires_at),
    entitlements: stringMap(raw.entitlements),
    airgap: raw.airgap === true,
    max_nodes: typeof maxNodes === 'number' && Number.isFinite(maxNodes) ? maxNodes : null,
    api_host: strOrNull(raw.api_host),
    registry_username: strOrNull(raw.registry_username),
    vendor_key_fingerprint: str(raw.vendor_key_fingerprint),
    loaded_at: str(raw.loaded_at),
  };
}

export function toLicenseInspect(value: unknown): LicenseInspect {
  const raw = record(value);
  const claims = record(raw.claims);
  return {
    fingerprint: str(raw.fingerprint),
    key_pinned: raw.key_pinned === true,
    matches_pinned: raw.matches_pinned === true,
    claims: {
      license_id: str(claims.license_id),
      customer: str(claims.customer),
      app_id: str(claims.app_id),
      channel: str(claims.channel),
      expires_at: str(claims.expires_at),
    },
  };
}

// ---- node answers -------------------------------------------------------
//
// Copied field by field as well, with safe defaults, so a partial or newer answer
// (an agent that reports fewer facts) still renders.

function num(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

function numOrNull(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function toNodeFacts(value: unknown): NodeFacts | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const raw = record(value);
  const docker = typeof raw.docker === 'object' && raw.docker !== null ? record(raw.docker) : null;
  return {
    hostname: str(raw.hostname),
    os: str(raw.os),
    kernel: str(raw.kernel),
    cpus: num(raw.cpus),
    memory_bytes: num(raw.memory_bytes),
    disks: (Array.isArray(raw.disks) ? raw.disks : []).map((d) => {
      const disk = record(d);
      return {
        role: str(disk.role),
        path: str(disk.path),
        free_bytes: num(disk.free_bytes),
        total_bytes: num(disk.total_bytes),
      };
    }),
    docker: docker
      ? { version: str(docker.version), api_version: str(docker.api_version), storage_driver: str(docker.storage_driver) }
      : null,
    addresses: strings(raw.addresses),
  };
}

export function toNodeInfo(value: unknown): NodeInfo {
  const raw = record(value);
  return {
    id: str(raw.id),
    hostname: str(raw.hostname),
    labels: stringMap(raw.labels),
    status: raw.status === 'online' ? 'online' : 'offline',
    joined_at: str(raw.joined_at),
    last_seen_at: strOrNull(raw.last_seen_at),
    cert_expires_at: str(raw.cert_expires_at),
    clock_skew_ms: numOrNull(raw.clock_skew_ms),
    facts: toNodeFacts(raw.facts),
  };
}

// ---- releases and config answers -----------------------------------------
//
// Copied field by field too. A secret item's value is dropped even if the console sent one,
// so a stored secret never reaches the page.

function sequenceQuery(sequence: number | null): string {
  return sequence === null ? '' : `?sequence=${encodeURIComponent(String(sequence))}`;
}

function textOrNull(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return null;
}

export function toReleaseInfo(value: unknown): ReleaseInfo {
  const raw = record(value);
  return {
    sequence: num(raw.sequence),
    version: str(raw.version),
    channel: str(raw.channel),
    notes: str(raw.notes),
    required: raw.required === true,
    created_at: str(raw.created_at),
    loaded_at: str(raw.loaded_at),
  };
}

function sequences(value: unknown): number[] {
  return Array.isArray(value) ? value.filter((v): v is number => typeof v === 'number' && Number.isFinite(v)) : [];
}

export function toFetchResult(value: unknown): FetchResult {
  const raw = record(value);
  return {
    index_version: num(raw.index_version),
    fetched: sequences(raw.fetched),
    present: sequences(raw.present),
    refused: (Array.isArray(raw.refused) ? raw.refused : []).map((r) => {
      const refusal = record(r);
      return { sequence: num(refusal.sequence), reason: str(refusal.reason) };
    }),
  };
}

function toConfigItem(value: unknown): ConfigItem {
  const raw = record(value);
  const type = CONFIG_ITEM_TYPES.find((t) => t === raw.type) ?? 'text';
  const secret = raw.secret === true || type === 'password';
  const name = str(raw.name);
  return {
    name,
    title: str(raw.title) || name,
    type,
    help: str(raw.help),
    required: raw.required === true,
    default: secret ? null : textOrNull(raw.default),
    options: (Array.isArray(raw.options) ? raw.options : []).map(textOrNull).filter((o): o is string => o !== null),
    min: numOrNull(raw.min),
    max: numOrNull(raw.max),
    regex: strOrNull(raw.regex),
    regex_message: strOrNull(raw.regex_message),
    value: secret ? null : textOrNull(raw.value),
    is_set: raw.is_set === true,
    secret,
  };
}

export function toConfigInfo(value: unknown): ConfigInfo {
  const raw = record(value);
  return {
    sequence: num(raw.sequence),
    version: str(raw.version),
    groups: (Array.isArray(raw.groups) ? raw.groups : []).map((g) => {
      const group = record(g);
      return {
        name: str(group.name),
        title: str(group.title) || str(group.name),
        description: str(group.description),
        items: (Array.isArray(group.items) ? group.items : []).map(toConfigItem),
      };
    }),
  };
}

// ---- app lifecycle answers --------------------------------------------------
//
// Copied field by field with safe defaults, like the others. A registry password is never copied,
// even if the console sent one by mistake.

function oneOf<T extends string>(value: unknown, allowed: readonly T[], fallback: T): T {
  return allowed.find((a) => a === value) ?? fallback;
}

function idOrNull(value: unknown): DeploymentId | null {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'string' && value !== '') return value;
  return null;
}

/** Two deployment ids name the same deployment (a number from JSON, a string from the address bar). */
export function sameId(a: DeploymentId | null | undefined, b: DeploymentId | null | undefined): boolean {
  if (a === null || a === undefined || b === null || b === undefined) return false;
  return String(a) === String(b);
}

export function toPreflightReport(value: unknown): PreflightReport {
  const raw = record(value);
  return {
    sequence: num(raw.sequence),
    version: str(raw.version),
    outcome: oneOf(raw.outcome, CHECK_OUTCOMES, 'fail'),
    blocking: raw.blocking === true,
    ran_at: str(raw.ran_at),
    results: (Array.isArray(raw.results) ? raw.results : []).map((r) => {
      const result = record(r);
      return {
        check: str(result.check),
        node: strOrNull(result.node),
        node_name: str(result.node_name),
        outcome: oneOf(result.outcome, CHECK_OUTCOMES, 'fail'),
        message: str(result.message),
      };
    }),
  };
}

function toByteProgress(value: unknown): ByteProgress | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const raw = record(value);
  return { current: num(raw.current), total: num(raw.total) };
}

function toDeployStep(value: unknown): DeployStep {
  const raw = record(value);
  return {
    index: num(raw.index),
    node: str(raw.node),
    node_name: str(raw.node_name),
    action: str(raw.action),
    target: str(raw.target),
    service: strOrNull(raw.service),
    state: oneOf(raw.state, STEP_STATES, 'pending'),
    message: strOrNull(raw.message),
    progress: toByteProgress(raw.progress),
    started_at: strOrNull(raw.started_at),
    finished_at: strOrNull(raw.finished_at),
  };
}

export function toDeployment(value: unknown): Deployment {
  const raw = record(value);
  const progress = record(raw.progress);
  return {
    id: idOrNull(raw.id) ?? '',
    kind: oneOf(raw.kind, DEPLOYMENT_KINDS, 'deploy'),
    sequence: num(raw.sequence),
    version: str(raw.version),
    previous_sequence: numOrNull(raw.previous_sequence),
    config_hash: str(raw.config_hash),
    actor: str(raw.actor),
    started_at: str(raw.started_at),
    finished_at: strOrNull(raw.finished_at),
    // An unknown state is not "running", so nothing keeps polling it.
    state: oneOf(raw.state, DEPLOYMENT_STATES, 'interrupted'),
    message: strOrNull(raw.message),
    preflight_overridden: raw.preflight_overridden === true,
    rollback_of: idOrNull(raw.rollback_of),
    progress: { done: num(progress.done), total: num(progress.total) },
    steps: (Array.isArray(raw.steps) ? raw.steps : []).map(toDeployStep),
    events: (Array.isArray(raw.events) ? raw.events : []).map((e) => {
      const event = record(e);
      return { at: str(event.at), message: str(event.message) };
    }),
  };
}

function toReplicaStatus(value: unknown): ReplicaStatus {
  const raw = record(value);
  const health = raw.health;
  return {
    replica: str(raw.replica),
    node: str(raw.node),
    node_name: str(raw.node_name),
    container: str(raw.container),
    state: str(raw.state),
    health: health === 'healthy' || health === 'unhealthy' || health === 'starting' ? health : null,
    restarts: num(raw.restarts),
    started_at: strOrNull(raw.started_at),
    image: str(raw.image),
  };
}

export function toAppStatus(value: unknown): AppStatus {
  const raw = record(value);
  const installed =
    typeof raw.installed === 'object' && raw.installed !== null && !Array.isArray(raw.installed)
      ? record(raw.installed)
      : null;
  return {
    app_id: str(raw.app_id),
    state: oneOf(raw.state, APP_STATES, 'degraded'),
    installed: installed
      ? {
          sequence: num(installed.sequence),
          version: str(installed.version),
          deployment_id: idOrNull(installed.deployment_id) ?? '',
          config_hash: str(installed.config_hash),
        }
      : null,
    active_deployment: idOrNull(raw.active_deployment),
    services: (Array.isArray(raw.services) ? raw.services : []).map((s) => {
      const service = record(s);
      return {
        service: str(service.service),
        state: oneOf<ServiceState>(service.state, ['running', 'degraded', 'stopped'], 'degraded'),
        replicas: (Array.isArray(service.replicas) ? service.replicas : []).map(toReplicaStatus),
      };
    }),
    unreachable: strings(raw.unreachable),
  };
}

/** One log line, or `null` when the value is not one. */
export function toLogLine(value: unknown): LogLine | null {
  const raw = record(value);
  if (typeof raw.line !== 'string') return null;
  return { stream: raw.stream === 'stderr' ? 'stderr' : 'stdout', line: raw.line };
}

export function toRegistries(value: unknown): Registries {
  const raw = record(value);
  return {
    rules: (Array.isArray(raw.rules) ? raw.rules : []).map((r) => {
      const rule = record(r);
      return { from: str(rule.from), to: str(rule.to) };
    }),
    credentials: (Array.isArray(raw.credentials) ? raw.credentials : []).map((c) => {
      const credential = record(c);
      return {
        host: str(credential.host),
        username: str(credential.username),
        password_set: credential.password_set === true,
        source: credential.source === 'license' ? 'license' : 'admin',
      };
    }),
  };
}

// ---- outbound log answers ---------------------------------------------------
//
// Copied field by field with safe defaults. Header and field values are kept as text (never as
// markup): the page prints them as they were logged.

function toOutboundPairs(value: unknown): OutboundPair[] {
  return Object.entries(record(value)).map(([name, v]) => ({
    name,
    value: typeof v === 'string' ? v : (JSON.stringify(v) ?? ''),
  }));
}

export function toOutboundEntry(value: unknown): OutboundEntry {
  const raw = record(value);
  return {
    id: num(raw.id),
    at: str(raw.at),
    method: str(raw.method),
    url: str(raw.url),
    purpose: str(raw.purpose),
    request_headers: toOutboundPairs(raw.request_headers),
    request_fields: toOutboundPairs(raw.request_fields),
    status: numOrNull(raw.status),
    error: strOrNull(raw.error),
    bytes_sent: num(raw.bytes_sent),
    bytes_received: num(raw.bytes_received),
    duration_ms: num(raw.duration_ms),
  };
}

export function toOutboundPage(value: unknown): OutboundPage {
  const raw = record(value);
  return {
    entries: (Array.isArray(raw.entries) ? raw.entries : []).map(toOutboundEntry),
    next_before: numOrNull(raw.next_before),
  };
}

// ---- updates, outbound settings and network answers ---------------------------
//
// Copied field by field with safe defaults, like the others: a partial answer still renders.

function objectOrNull(value: unknown): Record<string, unknown> | null {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function toReleaseRef(value: unknown): ReleaseRef | null {
  const raw = objectOrNull(value);
  return raw ? { sequence: num(raw.sequence), version: str(raw.version) } : null;
}

export function toUpdateCheck(value: unknown): UpdateCheck {
  const raw = record(value);
  return {
    id: num(raw.id),
    started_at: str(raw.started_at),
    finished_at: strOrNull(raw.finished_at),
    trigger: str(raw.trigger),
    outcome: raw.outcome === 'ok' || raw.outcome === 'failed' ? raw.outcome : null,
    problem: strOrNull(raw.problem),
    error: strOrNull(raw.error),
    summary: str(raw.summary),
  };
}

export function toUpdatesStatus(value: unknown): UpdatesStatus {
  const raw = record(value);
  const license = objectOrNull(raw.license);
  const revoked = license ? objectOrNull(license.revoked) : null;
  const index = objectOrNull(raw.index);
  const schedule = record(raw.schedule);
  return {
    // An unknown state reads as a failed check: something to look at, not "up to date".
    state: oneOf(raw.state, UPDATE_STATES, 'check_failed'),
    message: str(raw.message),
    airgap: strOrNull(raw.airgap),
    installed: toReleaseRef(raw.installed),
    available: list(raw.available).map((r) => {
      const release = record(r);
      return {
        sequence: num(release.sequence),
        version: str(release.version),
        notes: str(release.notes),
        required: release.required === true,
        created_at: str(release.created_at),
        fixes: strings(release.fixes),
      };
    }),
    advisories: list(raw.advisories).map((a) => {
      const advisory = record(a);
      return {
        id: str(advisory.id),
        // An unknown severity is shown as the worst: it is a security advisory.
        severity: oneOf(advisory.severity, SEVERITIES, 'critical'),
        title: str(advisory.title),
        text: str(advisory.text),
        affected: sequences(advisory.affected),
        fixed_in: numOrNull(advisory.fixed_in),
        fixed_in_version: strOrNull(advisory.fixed_in_version),
        fix_available: advisory.fix_available === true,
        published_at: str(advisory.published_at),
      };
    }),
    license: license
      ? {
          expires_at: str(license.expires_at),
          expired: license.expired === true,
          revoked: revoked ? { at: str(revoked.at), reason: str(revoked.reason) } : null,
          api_host: strOrNull(license.api_host),
        }
      : null,
    index: index
      ? {
          version: num(index.version),
          expires_at: str(index.expires_at),
          accepted_at: str(index.accepted_at),
          expired: index.expired === true,
        }
      : null,
    schedule: {
      setting: str(schedule.setting),
      description: str(schedule.description),
      offset_seconds: num(schedule.offset_seconds),
    },
    next_check_at: strOrNull(raw.next_check_at),
    failures: num(raw.failures),
    last_success_at: strOrNull(raw.last_success_at),
    checks: list(raw.checks).map(toUpdateCheck),
  };
}

export function toOutboundSettings(value: unknown): OutboundSettings {
  const raw = record(value);
  return {
    update_schedule: str(raw.update_schedule),
    schedule_description: str(raw.schedule_description),
    airgap_mode: raw.airgap_mode === true,
    airgap: strOrNull(raw.airgap),
    https_proxy: strOrNull(raw.https_proxy),
    no_proxy: str(raw.no_proxy),
    effective_proxy: strOrNull(raw.effective_proxy),
    effective_no_proxy: str(raw.effective_no_proxy),
    proxy_source: strOrNull(raw.proxy_source),
  };
}

function toNetworkCheck(value: unknown): NetworkCheck {
  const raw = record(value);
  return { on: str(raw.on), result: oneOf(raw.result, NETWORK_RESULTS, 'unknown'), detail: str(raw.detail) };
}

export function toNetworkReport(value: unknown): NetworkReport {
  const raw = record(value);
  const release = objectOrNull(raw.release);
  return {
    airgap: strOrNull(raw.airgap),
    proxy: strOrNull(raw.proxy),
    release: release
      ? { sequence: num(release.sequence), version: str(release.version), installed: release.installed === true }
      : null,
    inbound: list(raw.inbound).map((r) => {
      const row = record(r);
      return {
        role: str(row.role),
        port: str(row.port),
        protocol: str(row.protocol),
        purpose: str(row.purpose),
        from: str(row.from),
        needed_in_airgap: row.needed_in_airgap === true,
        checks: list(row.checks).map(toNetworkCheck),
      };
    }),
    outbound: list(raw.outbound).map((r) => {
      const row = record(r);
      return {
        purpose: str(row.purpose),
        host: str(row.host),
        port: num(row.port),
        protocol: str(row.protocol),
        from: str(row.from),
        needed_in_airgap: row.needed_in_airgap === true,
        check: toNetworkCheck(row.check),
      };
    }),
    engines: list(raw.engines).map((e) => {
      const row = record(e);
      return {
        node: str(row.node),
        https_proxy: strOrNull(row.https_proxy),
        no_proxy: str(row.no_proxy),
        check: toNetworkCheck(row.check),
      };
    }),
    problems: num(raw.problems),
  };
}

function logsQuery(query: LogsQuery, follow: boolean): string {
  const params = new URLSearchParams();
  params.set('service', query.service);
  params.set('replica', query.replica);
  if (query.tail !== undefined) params.set('tail', String(query.tail));
  if (follow) params.set('follow', 'true');
  return `?${params.toString()}`;
}

function abortError(): DOMException {
  return new DOMException('The log stream was stopped.', 'AbortError');
}

/**
 * Follows one replica's log (`GET /app/logs?follow=true`, `application/x-ndjson`): calls `onLine`
 * for each line as it arrives. Resolves when the console ends the stream (it does after at most
 * 10 minutes); rejects with an `AbortError` once `signal` aborts, after which `onLine` is not called
 * again, or with an `ApiError` when the console refuses or the connection breaks.
 */
export async function followLogs(
  query: LogsQuery,
  onLine: (line: LogLine) => void,
  signal?: AbortSignal,
): Promise<void> {
  const response = await send('GET', `/app/logs${logsQuery(query, true)}`, undefined, {
    signal,
    accept: 'application/x-ndjson',
  });
  if (signal?.aborted) throw abortError();

  const emit = (text: string) => {
    const trimmed = text.trim();
    if (trimmed === '' || signal?.aborted) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed) as unknown;
    } catch {
      return; // a broken line is skipped, the stream goes on
    }
    const line = toLogLine(parsed);
    if (line) onLine(line);
  };

  if (!response.body) {
    for (const text of (await response.text()).split('\n')) emit(text);
    if (signal?.aborted) throw abortError();
    return;
  }

  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  // A fetch abort also ends a pending read in browsers; cancelling makes sure of it everywhere.
  const onAbort = () => {
    reader.cancel().catch(() => undefined);
  };
  signal?.addEventListener('abort', onAbort);
  let buffer = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done || signal?.aborted) break;
      buffer += decoder.decode(value, { stream: true });
      let newline = buffer.indexOf('\n');
      while (newline >= 0) {
        emit(buffer.slice(0, newline));
        buffer = buffer.slice(newline + 1);
        newline = buffer.indexOf('\n');
      }
    }
    if (!signal?.aborted) emit(buffer + decoder.decode());
  } catch (e) {
    if (signal?.aborted || isAbort(e)) throw abortError();
    throw new ApiError(0, 'network', 'The log stream was interrupted. Turn Follow on again to reconnect.');
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  if (signal?.aborted) throw abortError();
}

/** A message for any thrown value, for error banners. */
export function errorMessage(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  if (e instanceof Error && e.message) return e.message;
  return 'Something went wrong.';
}

export function isAbort(e: unknown): boolean {
  return e instanceof DOMException && e.name === 'AbortError';
}
