// Shared parts of the browser end-to-end tests (console.e2e.mjs, lifecycle.e2e.mjs): where the binaries are, the
// processes under test (console, agent, any other), the browser, bounded waits, checks, and clean-up on exit, on
// failure and on Ctrl-C.
//
// Each test runs in a process of its own (`node console.e2e.mjs`, `node lifecycle.e2e.mjs`) and hands its body to
// `runTest`, which prints `e2e: N passed, M failed` as the last line. Everything a test starts goes into `state`
// (or `onCleanup`), so it is released whatever happens.

import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(HERE, '..', '..');
export const CONSOLE_BIN = process.env.OUTPOST_CONSOLE_BIN || path.join(ROOT, 'target', 'debug', 'outpost-console');
export const AIRGAP_BIN = process.env.OUTPOST_AIRGAP_BIN || path.join(ROOT, 'target', 'debug', 'outpost-airgap');
export const AGENT_BIN = process.env.OUTPOST_AGENT_BIN || path.join(ROOT, 'target', 'debug', 'outpost-agent');
export const CTL_BIN = process.env.OUTPOST_CTL_BIN || path.join(ROOT, 'target', 'debug', 'outpostctl');
export const CHROMIUM = process.env.OUTPOST_E2E_CHROMIUM || '/usr/bin/chromium';
export const SHOTS = path.join(ROOT, 'target', 'e2e');
export const VERBOSE = process.env.OUTPOST_E2E_VERBOSE === '1';

// Bounds for every wait. Nothing in these tests sleeps for a fixed time.
export const STARTUP_TIMEOUT_MS = 30_000;
export const ACTION_TIMEOUT_MS = 15_000;
export const NAVIGATION_TIMEOUT_MS = 30_000;
export const STOP_TIMEOUT_MS = 10_000;
// A node's status changes: the Nodes page re-reads the list every 3 s, the console marks a silent node
// offline after 3 missed 5 s heartbeats.
export const NODE_STATUS_TIMEOUT_MS = 30_000;

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
];

// Resources that `cleanup` releases, whatever happened before. `processes` are other long-running children (an
// api host...), `cleanups` are extra steps (removing containers...), run last, newest first.
export const state = {
  console: null,
  agent: null,
  browser: null,
  processes: [],
  cleanups: [],
  tempDirs: [],
  interrupted: false,
};

/** Runs BODY as the whole test: clean-up afterwards (also on failure and on SIGINT/SIGTERM), and the summary line. */
export async function runTest(body) {
  installSignalHandlers();
  let failure = null;
  try {
    await body();
  } catch (err) {
    failure = err;
  }
  // Interrupted: the signal handler cleans up and prints the summary; the body failed because of it.
  if (state.interrupted) return;
  try {
    await cleanup();
  } catch (err) {
    console.error(`e2e: cleanup failed: ${err.message}`);
    failure ??= err;
  }
  if (failure) {
    console.error(`\ne2e: FAILED: ${failure.message}`);
    if (state.console) console.error(processLogTail('console', state.console));
    if (state.agent) console.error(processLogTail('agent', state.agent));
    for (const proc of state.processes) console.error(processLogTail(proc.name, proc));
    console.log('e2e: 0 passed, 1 failed');
    process.exitCode = 1;
  } else {
    console.log('e2e: 1 passed, 0 failed');
    process.exitCode = 0;
  }
}

/** A clean-up step run after the processes are stopped (also on failure and interruption); must not throw. */
export function onCleanup(fn) {
  state.cleanups.push(fn);
}

export function requireBinaries(list) {
  for (const [what, bin, env] of list) {
    if (!fs.existsSync(bin)) {
      throw new Error(
        `${what} binary not found at ${bin} (build it with \`cargo build --workspace --bins\` or set ${env})`,
      );
    }
  }
}

/** Makes target/e2e/ and removes the screenshots whose names PREDICATE picks (only this run's shots must be there). */
export function prepareShots(predicate) {
  fs.mkdirSync(SHOTS, { recursive: true });
  for (const name of fs.readdirSync(SHOTS)) {
    if (name.endsWith('.png') && predicate(name)) fs.rmSync(path.join(SHOTS, name), { force: true });
  }
}

// ---- browser ----

/**
 * Starts Chromium (kept in `state`) and opens one page that accepts the console's self-signed certificate.
 *
 * With `isolate`, Chromium runs in a network namespace of its own, which reaches the console's `consoleUrl` (and
 * nothing else) through a forwarder (see `isolatedChromium`): Chromium fails every request in flight with
 * ERR_NETWORK_CHANGED whenever a network interface of its host comes or goes, and Docker adds and removes one for
 * every container it starts or stops. `isolate: 'require'` fails when that cannot be set up, `'prefer'` then runs
 * Chromium in the host's namespace and says so.
 */
export async function openBrowser({ consoleUrl = null, isolate = null } = {}) {
  let executablePath = CHROMIUM;
  if (isolate) {
    check(consoleUrl, 'openBrowser: isolate needs the console URL');
    const problem = netnsProblem();
    if (problem === null) {
      executablePath = await isolatedChromium(Number(new URL(consoleUrl).port));
      log('Chromium runs in a network namespace of its own (Docker interface changes do not reach it)');
    } else if (isolate === 'require') {
      throw new Error(
        `this test runs Chromium in a network namespace of its own (Docker's interface changes abort its requests ` +
          `with ERR_NETWORK_CHANGED), and that is not possible here: ${problem}`,
      );
    } else {
      log(
        `Chromium runs in the host's network namespace (${problem}); Docker activity on this host may abort ` +
          'its requests',
      );
    }
  }
  // Our own signal handlers close the browser, after the rest is cleaned up (Playwright's would exit the process
  // on Ctrl-C as soon as the browser is closed).
  state.browser = await chromium.launch({
    executablePath,
    args: CHROMIUM_ARGS,
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
  });
  const context = await state.browser.newContext({
    ignoreHTTPSErrors: true,
    viewport: { width: 1280, height: 860 },
  });
  const page = await context.newPage();
  page.setDefaultTimeout(ACTION_TIMEOUT_MS);
  page.setDefaultNavigationTimeout(NAVIGATION_TIMEOUT_MS);
  return { context, page };
}

// Why Chromium cannot get a network namespace of its own here, or null when it can: `unshare --net` (with a user
// namespace when not root) and `ip` to bring its loopback up.
function netnsProblem() {
  try {
    execFileSync('unshare', [...unshareArgs(), 'ip', 'link', 'set', 'lo', 'up'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: STOP_TIMEOUT_MS,
    });
    return null;
  } catch (err) {
    const said = oneLine(err.stderr?.toString() ?? '') || err.message;
    return `\`unshare ${unshareArgs().join(' ')} ip link set lo up\` failed: ${said}`;
  }
}

function unshareArgs() {
  return process.getuid?.() === 0 ? ['--net', '--'] : ['--net', '--map-root-user', '--'];
}

// A launcher for Chromium in a fresh network namespace with only loopback, where netns-forward.mjs listens on
// 127.0.0.1:PORT and passes connections through a Unix socket to this process, which connects them to the console
// on the host's 127.0.0.1:PORT. The page's URLs stay the console's. Answers the launcher's path.
async function isolatedChromium(port) {
  const dir = tempDir('outpost-e2e-netns-');
  const sock = path.join(dir, 'console.sock');
  const ready = path.join(dir, 'forwarder.ready');
  const server = net.createServer((conn) => {
    const up = net.connect({ host: '127.0.0.1', port });
    conn.pipe(up);
    up.pipe(conn);
    const close = () => {
      conn.destroy();
      up.destroy();
    };
    for (const side of [conn, up]) {
      side.on('error', close);
      side.on('close', close);
    }
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(sock, resolve);
  });
  onCleanup(() => new Promise((resolve) => server.close(() => resolve())));

  const q = (s) => `'${String(s).replaceAll("'", "'\\''")}'`;
  const inner = path.join(dir, 'in-netns.sh');
  fs.writeFileSync(
    inner,
    [
      '#!/bin/sh',
      '# Inside the new network namespace: loopback up, the forwarder, then Chromium (fds 3 and 4 are its pipes).',
      'set -e',
      'ip link set lo up',
      `${q(process.execPath)} ${q(path.join(HERE, 'netns-forward.mjs'))} ${port} ${q(sock)} ${q(ready)} </dev/null 3>&- 4>&- &`,
      'i=0',
      `while [ ! -e ${q(ready)} ]; do`,
      '  i=$((i + 1))',
      '  if [ "$i" -gt 200 ]; then echo "netns-forward did not start" >&2; exit 1; fi',
      '  sleep 0.05',
      'done',
      `exec ${q(CHROMIUM)} "$@"`,
      '',
    ].join('\n'),
  );
  const launcher = path.join(dir, 'chromium');
  fs.writeFileSync(
    launcher,
    ['#!/bin/sh', `exec unshare ${unshareArgs().join(' ')} /bin/sh ${q(inner)} "$@"`, ''].join('\n'),
    { mode: 0o755 },
  );
  return launcher;
}

/** The page helpers every step uses: `shot`, `byId`, `waitVisible`. */
export function pageHelpers(page) {
  // Full-page shots from the top: scrolled, a sticky header would be drawn mid-page. With `tall`, the viewport is
  // made as tall as the page for the shot, so a bar stuck to the viewport's bottom (the Config page's Save bar) is
  // drawn where it ends up, under the form, instead of over it.
  const shot = async (name, { tall = false } = {}) => {
    await page.evaluate(() => window.scrollTo(0, 0));
    const viewport = page.viewportSize();
    if (tall) {
      const height = await page.evaluate(() => document.documentElement.scrollHeight);
      await page.setViewportSize({ width: viewport.width, height: Math.max(height, viewport.height) });
    }
    try {
      await page.screenshot({ path: path.join(SHOTS, name), fullPage: true });
    } finally {
      if (tall) await page.setViewportSize(viewport);
    }
  };

  // Only the visible instance of a test id counts: a route that is being left may still be in the DOM.
  const byId = (id) => page.getByTestId(id).filter({ visible: true });
  const waitVisible = (id, what = id, timeout = ACTION_TIMEOUT_MS) =>
    named(`"${what}" (data-testid=${id}) to be visible`, () => byId(id).waitFor({ state: 'visible', timeout }));
  return { shot, byId, waitVisible };
}

/** Keeps what the browser showed when a test went wrong, in target/e2e/NAME. */
export async function failureShot(page, name) {
  await page
    .screenshot({ path: path.join(SHOTS, name), fullPage: true })
    .then(() => console.error(`e2e: page at failure: ${page.url()} (screenshot target/e2e/${name})`))
    .catch(() => {});
}

// ---- console process ----

// Spawns the console on free ports and resolves once it printed its URL, agent channel and setup link.
export function startConsole(dataDir, extraArgs = []) {
  const args = [
    'serve', '--data-dir', dataDir, '--listen', '127.0.0.1:0', '--cluster-listen', '127.0.0.1:0', ...extraArgs,
  ];
  log(`starting ${CONSOLE_BIN} ${args.join(' ')}`);
  const child = spawn(CONSOLE_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv() });
  const con = { child, stdout: '', stderr: '', exited: null, consoleUrl: null, agentUrl: null, setupLink: null };
  state.console = con;

  // Keep draining both pipes for the whole run, so the console never blocks on a full pipe.
  drain(con, 'console');

  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (err) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.stdout.off('data', onData);
      err ? reject(err) : resolve(con);
    };
    const onData = () => {
      con.consoleUrl ??= con.stdout.match(/Console URL: (https:\/\/\S+)/)?.[1] ?? null;
      con.agentUrl ??= con.stdout.match(/Agent channel: (https:\/\/\S+)/)?.[1] ?? null;
      con.setupLink ??= con.stdout.match(/Setup link: (https:\/\/\S+)/)?.[1] ?? null;
      if (con.consoleUrl && con.agentUrl && con.setupLink) finish();
    };
    const timer = setTimeout(
      () =>
        finish(
          new Error(
            `console did not print its URL, agent channel and setup link within ${STARTUP_TIMEOUT_MS / 1000}s`,
          ),
        ),
      STARTUP_TIMEOUT_MS,
    );
    child.stdout.on('data', onData);
    child.on('error', (err) => finish(new Error(`cannot start ${CONSOLE_BIN}: ${err.message}`)));
    child.on('exit', (code, signal) => {
      con.exited = { code, signal };
      finish(new Error(`console exited during start-up (code ${code}, signal ${signal})`));
    });
  });
}

export async function stopConsole(con) {
  await stopProcess(con, 'console');
}

export function processLogTail(name, proc) {
  const tail = (s) => s.split('\n').slice(-60).join('\n').trimEnd() || '(empty)';
  return `--- ${name} stdout (tail) ---\n${tail(proc.stdout)}\n--- ${name} stderr (tail) ---\n${tail(proc.stderr)}`;
}

// ---- other processes ----

// Spawns BIN ARGS; its output is drained and kept for failures. Not registered anywhere: the caller keeps it.
export function spawnProcess(name, bin, args, { shown = args.join(' ') } = {}) {
  log(`starting ${bin} ${shown}`);
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv() });
  const proc = { name, bin, child, stdout: '', stderr: '', exited: null, spawnError: null };
  drain(proc, name);
  child.on('error', (err) => {
    proc.spawnError = err;
  });
  child.on('exit', (code, signal) => {
    proc.exited = { code, signal };
  });
  return proc;
}

// Spawns a long-running process that `cleanup` stops (SIGTERM, then SIGKILL).
export function startProcess(name, bin, args, options) {
  const proc = spawnProcess(name, bin, args, options);
  state.processes.push(proc);
  return proc;
}

// Throws an error `eventually` does not retry when the process is gone.
export function processAlive(proc) {
  if (proc.spawnError) throw fatal(`cannot start ${proc.bin}: ${proc.spawnError.message}`);
  if (proc.exited) {
    throw fatal(`the ${proc.name} exited (code ${proc.exited.code}, signal ${proc.exited.signal})`);
  }
}

// SIGTERM, then SIGKILL if it does not go within the bound.
export async function stopProcess(proc, name = proc.name) {
  const { child } = proc;
  if (proc.exited || proc.spawnError || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  if (await within(exited, STOP_TIMEOUT_MS)) return;
  console.error(`e2e: ${name} did not stop within ${STOP_TIMEOUT_MS / 1000}s of SIGTERM; sending SIGKILL`);
  child.kill('SIGKILL');
  await within(exited, STOP_TIMEOUT_MS);
}

// ---- agent process ----

// Spawns `outpost-agent` (it joins, then stays connected); its output is drained and kept for failures.
export function startAgent(args) {
  const shown = args.map((a) => (a.startsWith('OPT1.') ? 'OPT1.<redacted>' : a)).join(' ');
  return spawnProcess('agent', AGENT_BIN, args, { shown });
}

// Throws an error `eventually` does not retry when the agent is gone.
export function agentAlive(agent) {
  processAlive(agent);
}

// SIGKILL, then wait until the process is really gone.
export async function killAgent(agent) {
  const { child } = agent;
  if (agent.exited || agent.spawnError || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  if (!(await within(exited, STOP_TIMEOUT_MS))) {
    throw new Error(`the agent (pid ${child.pid}) did not exit within ${STOP_TIMEOUT_MS / 1000}s of SIGKILL`);
  }
}

function drain(proc, name) {
  const { child } = proc;
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (chunk) => {
    proc.stdout = capped(proc.stdout + chunk);
    if (VERBOSE) process.stdout.write(prefixLines(`${name}> `, chunk));
  });
  child.stderr.on('data', (chunk) => {
    proc.stderr = capped(proc.stderr + chunk);
    if (VERBOSE) process.stderr.write(prefixLines(`${name}! `, chunk));
  });
}

// ---- checks and waits ----

export async function step(name, body) {
  const started = Date.now();
  log(`step ${name} ...`);
  try {
    await body();
  } catch (err) {
    throw new Error(`step ${name}: ${err.message}`, { cause: err });
  }
  log(`step ${name} ok (${((Date.now() - started) / 1000).toFixed(1)}s)`);
}

// Retries `probe` until it returns something truthy, within a bound; returns that value.
export async function eventually(what, probe, timeoutMs = ACTION_TIMEOUT_MS) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (let delay = 50; ; delay = Math.min(delay * 2, 500)) {
    try {
      const value = await probe();
      if (value) return value;
      last = `last value: ${JSON.stringify(value)}`;
    } catch (err) {
      if (err.fatal) throw new Error(`waiting for ${what}: ${err.message}`);
      last = `last error: ${firstLine(err.message)}`;
    }
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what} (${last})`);
    }
    await new Promise((r) => setTimeout(r, delay));
  }
}

// Runs a Playwright wait and turns its long message into one line that names what we waited for.
export async function named(what, wait) {
  try {
    return await wait();
  } catch (err) {
    throw new Error(`waiting for ${what}: ${firstLine(err.message)}`);
  }
}

export function check(condition, message) {
  if (!condition) throw new Error(message);
}

// An error that ends an `eventually` wait at once: waiting longer cannot help.
export function fatal(message) {
  return Object.assign(new Error(message), { fatal: true });
}

// GET an admin API path with the browser's session cookie.
export async function apiJson(context, base, apiPath) {
  const res = await context.request.get(new URL(apiPath, base).href);
  check(res.ok(), `GET ${apiPath} answered ${res.status()}`);
  return res.json();
}

export function nonEmpty(text) {
  const t = (text ?? '').trim();
  return t.length > 0 ? t : null;
}

export function matching(text, re) {
  const t = (text ?? '').trim();
  return re.test(t) ? t : null;
}

// ---- housekeeping ----

// The environment for the binaries under test, without these tests' own settings (the console warns about
// OUTPOST_* variables it does not know) and without the agent's settings a developer shell may carry.
export function childEnv() {
  const env = { ...process.env };
  for (const name of Object.keys(env)) {
    const ours = /^OUTPOST_(CONSOLE_BIN|AIRGAP_BIN|AGENT_BIN|CTL_BIN|E2E_.*)$/.test(name);
    if (ours || /^OUTPOST_(JOIN_TOKEN|AGENT_DATA_DIR|REGISTRY_PASSWORD)$/.test(name)) {
      delete env[name];
    }
  }
  return env;
}

export function tempDir(prefix) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  state.tempDirs.push(dir);
  return dir;
}

async function cleanup() {
  const errors = [];
  if (state.browser) {
    const closed = state.browser.close().catch((err) => errors.push(`closing the browser: ${err.message}`));
    if (!(await within(closed, STOP_TIMEOUT_MS))) errors.push('the browser did not close in time');
    state.browser = null;
  }
  if (state.agent) {
    await killAgent(state.agent).catch((err) => errors.push(`stopping the agent: ${err.message}`));
  }
  if (state.console) {
    await stopConsole(state.console).catch((err) => errors.push(`stopping the console: ${err.message}`));
  }
  for (const proc of [...state.processes].reverse()) {
    await stopProcess(proc).catch((err) => errors.push(`stopping the ${proc.name}: ${err.message}`));
  }
  for (const fn of state.cleanups.splice(0).reverse()) {
    try {
      await fn();
    } catch (err) {
      errors.push(err.message);
    }
  }
  for (const dir of state.tempDirs.splice(0)) {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  if (errors.length) throw new Error(errors.join('; '));
}

// On Ctrl-C or a kill, do not leave a console, an agent, another process or a browser behind.
function installSignalHandlers() {
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.once(sig, () => {
      state.interrupted = true;
      console.error(`e2e: interrupted by ${sig}`);
      for (const proc of [state.agent, state.console, ...state.processes]) {
        try {
          proc?.child.kill('SIGKILL');
        } catch {}
      }
      const extra = (async () => {
        for (const fn of state.cleanups.splice(0).reverse()) await Promise.resolve().then(fn).catch(() => {});
      })();
      for (const dir of state.tempDirs) fs.rmSync(dir, { recursive: true, force: true });
      const browser = state.browser ? state.browser.close().catch(() => {}) : Promise.resolve();
      within(Promise.all([extra, browser]), STOP_TIMEOUT_MS * 3).finally(() => finishInterrupted());
    });
  }
}

function finishInterrupted() {
  console.log('e2e: 0 passed, 1 failed');
  process.exit(130);
}

// Resolves true if `promise` settles within `ms`, false otherwise.
export function within(promise, ms) {
  let timer;
  const timeout = new Promise((r) => {
    timer = setTimeout(() => r(false), ms);
  });
  return Promise.race([promise.then(() => true, () => true), timeout]).finally(() => clearTimeout(timer));
}

function capped(s, max = 1 << 20) {
  return s.length > max ? s.slice(-max) : s;
}

function prefixLines(prefix, chunk) {
  return chunk.replace(/^(?=.)/gm, prefix);
}

export function oneLine(s) {
  return String(s ?? '').replace(/\s+/g, ' ').trim();
}

export function firstLine(s) {
  return String(s).split('\n')[0];
}

export function log(msg) {
  console.log(`e2e: ${msg}`);
}
