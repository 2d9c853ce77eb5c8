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
  required: boolean;
  created_at: string;
  loaded_at: string;
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

export async function request<T>(
  method: string,
  path: string,
  body?: unknown,
  options: RequestOptions = {},
): Promise<T> {
  const upper = method.toUpperCase();
  const headers: Record<string, string> = { Accept: 'application/json' };
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

  const parsed = await readJson(response);

  if (!response.ok) {
    const fromBody = errorFromBody(parsed);
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

  /** The config items of release `sequence` (default: the newest); `400 release_refused` when none is loaded. */
  async config(sequence: number | null, signal?: AbortSignal): Promise<ConfigInfo> {
    return toConfigInfo(await request<unknown>('GET', `/app/config${sequenceQuery(sequence)}`, undefined, { signal }));
  },

  /** Stores the changed values of release `sequence`; `400 config_invalid` names every failing item. */
  async saveConfig(sequence: number, values: ConfigValues): Promise<ConfigInfo> {
    return toConfigInfo(await request<unknown>('PUT', `/app/config${sequenceQuery(sequence)}`, { values }));
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
    required: raw.required === true,
    created_at: str(raw.created_at),
    loaded_at: str(raw.loaded_at),
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

/** A message for any thrown value, for error banners. */
export function errorMessage(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  if (e instanceof Error && e.message) return e.message;
  return 'Something went wrong.';
}

export function isAbort(e: unknown): boolean {
  return e instanceof DOMException && e.name === 'AbortError';
}
