// Browser end-to-end test of the Outpost console: the real `outpost-console` binary with its
// embedded UI, driven by the system Chromium through playwright-core.
//
// Flow: setup link -> password -> login (wrong, then right) -> dashboard -> audit log ->
// TLS upload (garbage rejected, real pair hot-swapped without restart) -> logout.
//
// Environment:
//   OUTPOST_CONSOLE_BIN   console binary (default <repo>/target/debug/outpost-console)
//   OUTPOST_E2E_CHROMIUM  browser binary (default /usr/bin/chromium)
//   OUTPOST_E2E_VERBOSE=1 echo the console's stdout/stderr while the test runs
//
// Screenshots go to <repo>/target/e2e/. The last line is always `e2e: N passed, M failed`.

import { spawn, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const CONSOLE_BIN = process.env.OUTPOST_CONSOLE_BIN || path.join(ROOT, 'target', 'debug', 'outpost-console');
const CHROMIUM = process.env.OUTPOST_E2E_CHROMIUM || '/usr/bin/chromium';
const SHOTS = path.join(ROOT, 'target', 'e2e');
const VERBOSE = process.env.OUTPOST_E2E_VERBOSE === '1';

// Bounds for every wait. Nothing in this test sleeps for a fixed time.
const STARTUP_TIMEOUT_MS = 30_000;
const ACTION_TIMEOUT_MS = 15_000;
const NAVIGATION_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;
const TLS_PROBE_TIMEOUT_MS = 10_000;

const FINGERPRINT_RE = /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/;
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
];

// Resources that `cleanup` releases, whatever happened before.
const state = { console: null, browser: null, tempDirs: [] };

main();

async function main() {
  installSignalHandlers();
  let failure = null;
  try {
    await run();
  } catch (err) {
    failure = err;
  }
  try {
    await cleanup();
  } catch (err) {
    console.error(`e2e: cleanup failed: ${err.message}`);
    failure ??= err;
  }
  if (failure) {
    console.error(`\ne2e: FAILED: ${failure.message}`);
    if (state.console) console.error(consoleLogTail(state.console));
    console.log('e2e: 0 passed, 1 failed');
    process.exitCode = 1;
  } else {
    console.log('e2e: 1 passed, 0 failed');
    process.exitCode = 0;
  }
}

async function run() {
  if (!fs.existsSync(CONSOLE_BIN)) {
    throw new Error(
      `console binary not found at ${CONSOLE_BIN} ` +
        '(build it with `cargo build -p outpost-console` or set OUTPOST_CONSOLE_BIN)',
    );
  }
  fs.mkdirSync(SHOTS, { recursive: true });

  const dataDir = tempDir('outpost-e2e-data-');
  const certDir = tempDir('outpost-e2e-cert-');
  const password = `e2e-Correct-Horse-${randomBytes(6).toString('hex')}`;

  const con = await startConsole(dataDir);
  state.console = con;
  const base = new URL(con.consoleUrl);
  const port = Number(base.port || 443);
  log(`console at ${con.consoleUrl}`);

  state.browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  const context = await state.browser.newContext({
    ignoreHTTPSErrors: true,
    viewport: { width: 1280, height: 860 },
  });
  const page = await context.newPage();
  page.setDefaultTimeout(ACTION_TIMEOUT_MS);
  page.setDefaultNavigationTimeout(NAVIGATION_TIMEOUT_MS);
  // Full-page shots from the top: scrolled, a sticky header would be drawn mid-page.
  const shot = async (name) => {
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: path.join(SHOTS, name), fullPage: true });
  };

  // Only the visible instance of a test id counts: a route that is being left may still be in the DOM.
  const byId = (id) => page.getByTestId(id).filter({ visible: true });
  const waitVisible = (id, what = id) =>
    named(`"${what}" (data-testid=${id}) to be visible`, () =>
      byId(id).waitFor({ state: 'visible', timeout: ACTION_TIMEOUT_MS }),
    );

  try {
    let oldFingerprint;

    await step('1 setup', async () => {
      await page.goto(con.setupLink);
      await waitVisible('setup-password');
      await shot('01-setup.png');
      await byId('setup-password').fill(password);
      await byId('setup-confirm').fill(password);
      await byId('setup-submit').click();
      await waitVisible('login-notice', 'login page notice after setup');
    });

    await step('2 login', async () => {
      await waitVisible('login-password');
      await shot('02-login.png');

      await byId('login-password').fill(`${password}-wrong`);
      await byId('login-submit').click();
      await waitVisible('login-error');
      const errorText = await eventually('login-error to have text', async () =>
        nonEmpty(await byId('login-error').textContent()),
      );
      log(`wrong password rejected: "${oneLine(errorText)}"`);

      await byId('login-password').fill(password);
      await byId('login-submit').click();
      await waitVisible('dashboard');
      oldFingerprint = await eventually('dashboard tls-fingerprint to be a SHA-256 fingerprint', async () =>
        matching(await byId('tls-fingerprint').textContent(), FINGERPRINT_RE),
      );
      const version = await eventually('console-version to have text', async () =>
        nonEmpty(await byId('console-version').textContent()),
      );
      const uptime = await eventually('uptime to have text', async () =>
        nonEmpty(await byId('uptime').textContent()),
      );
      log(`dashboard: version "${version}", uptime "${uptime}", fingerprint ${oldFingerprint}`);

      const served = await peerFingerprint(base.hostname, port);
      check(served === oldFingerprint, `dashboard shows ${oldFingerprint} but the console serves ${served}`);
      await shot('03-dashboard.png');
    });

    await step('3 audit', async () => {
      await byId('nav-audit').click();
      await waitVisible('audit-page');
      const rows = await eventually('at least 3 audit-row entries', async () => {
        const n = await byId('audit-row').count();
        return n >= 3 ? n : null;
      });
      await eventually('"login.failed" in the audit log', async () =>
        (await byId('audit-page').innerText()).includes('login.failed'),
      );
      log(`audit log shows ${rows} rows`);
      await shot('04-audit.png');
    });

    await step('4 tls', async () => {
      await byId('nav-tls').click();
      await waitVisible('tls-page');
      const tlsFingerprint = () => byId('tls-fingerprint');
      await eventually(`TLS page to show the current fingerprint ${oldFingerprint}`, async () =>
        (await tlsFingerprint().textContent())?.trim() === oldFingerprint,
      );

      const keyPem = path.join(certDir, 'k.pem');
      const certPem = path.join(certDir, 'c.pem');
      const garbage = path.join(certDir, 'garbage.pem');
      openssl([
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-days', '90', '-subj', '/CN=e2e.outpost.test',
        '-addext', 'subjectAltName=DNS:e2e.outpost.test,IP:127.0.0.1',
        '-keyout', keyPem, '-out', certPem,
      ]);
      fs.writeFileSync(garbage, 'not a certificate\n');
      const fpLine = openssl(['x509', '-noout', '-fingerprint', '-sha256', '-in', certPem]);
      const newFingerprint = fpLine.slice(fpLine.indexOf('=') + 1).trim().toUpperCase();
      check(FINGERPRINT_RE.test(newFingerprint), `unexpected openssl fingerprint output: ${fpLine}`);
      check(newFingerprint !== oldFingerprint, 'the generated certificate has the old fingerprint');

      // Garbage is refused and the old pair stays in place.
      await page.getByTestId('tls-cert-file').setInputFiles(garbage);
      await page.getByTestId('tls-key-file').setInputFiles(keyPem);
      await byId('tls-upload').click();
      await waitVisible('tls-upload-error');
      log(`garbage rejected: "${oneLine(await byId('tls-upload-error').innerText())}"`);
      const stillServed = await peerFingerprint(base.hostname, port);
      check(stillServed === oldFingerprint, `after a rejected upload the console serves ${stillServed}`);

      // The real pair is accepted and served at once.
      await page.getByTestId('tls-cert-file').setInputFiles(certPem);
      await page.getByTestId('tls-key-file').setInputFiles(keyPem);
      await byId('tls-upload').click();
      await waitVisible('tls-upload-success');
      await eventually(`TLS page to show the new fingerprint ${newFingerprint}`, async () =>
        (await tlsFingerprint().textContent())?.trim() === newFingerprint,
      );
      await shot('05-tls.png');

      const served = await peerFingerprint(base.hostname, port);
      check(
        served === newFingerprint,
        `a new TLS connection gets ${served}, expected the uploaded certificate ${newFingerprint}`,
      );
      log(`certificate hot-swapped: ${oldFingerprint} -> ${newFingerprint}`);
    });

    await step('5 logout', async () => {
      await byId('logout').click();
      await waitVisible('login-password', 'login page after logout');
      await shot('06-logged-out.png');

      await page.goto(new URL('/', base).href);
      await waitVisible('login-password', 'login page when opening / after logout');
      await named('the dashboard to stay hidden after logout', () =>
        page.getByTestId('dashboard').waitFor({ state: 'hidden', timeout: ACTION_TIMEOUT_MS }),
      );
      const res = await context.request.get(new URL('/api/v1/session', base).href);
      check(res.status() === 401, `GET /api/v1/session after logout answered ${res.status()}, expected 401`);
    });
  } catch (err) {
    // Keep what the browser showed when it went wrong.
    await page
      .screenshot({ path: path.join(SHOTS, 'failure.png'), fullPage: true })
      .then(() => console.error(`e2e: page at failure: ${page.url()} (screenshot target/e2e/failure.png)`))
      .catch(() => {});
    throw err;
  }
}

// ---- console process ----

// Spawns the console on a free port and resolves once it printed its URL and setup link.
function startConsole(dataDir) {
  const args = ['serve', '--data-dir', dataDir, '--listen', '127.0.0.1:0', '--cluster-listen', '127.0.0.1:0'];
  log(`starting ${CONSOLE_BIN} ${args.join(' ')}`);
  const child = spawn(CONSOLE_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const con = { child, stdout: '', stderr: '', exited: null, consoleUrl: null, setupLink: null };
  state.console = con;

  // Keep draining both pipes for the whole run, so the console never blocks on a full pipe.
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (chunk) => {
    con.stdout = capped(con.stdout + chunk);
    if (VERBOSE) process.stdout.write(prefixLines('console> ', chunk));
  });
  child.stderr.on('data', (chunk) => {
    con.stderr = capped(con.stderr + chunk);
    if (VERBOSE) process.stderr.write(prefixLines('console! ', chunk));
  });

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
      con.setupLink ??= con.stdout.match(/Setup link: (https:\/\/\S+)/)?.[1] ?? null;
      if (con.consoleUrl && con.setupLink) finish();
    };
    const timer = setTimeout(
      () => finish(new Error(`console did not print its URL and setup link within ${STARTUP_TIMEOUT_MS / 1000}s`)),
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

async function stopConsole(con) {
  const { child } = con;
  if (con.exited || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  if (await within(exited, STOP_TIMEOUT_MS)) return;
  console.error(`e2e: console did not stop within ${STOP_TIMEOUT_MS / 1000}s of SIGTERM; sending SIGKILL`);
  child.kill('SIGKILL');
  await within(exited, STOP_TIMEOUT_MS);
}

function consoleLogTail(con) {
  const tail = (s) => s.split('\n').slice(-60).join('\n').trimEnd() || '(empty)';
  return `--- console stdout (tail) ---\n${tail(con.stdout)}\n--- console stderr (tail) ---\n${tail(con.stderr)}`;
}

// ---- checks and waits ----

async function step(name, body) {
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
async function eventually(what, probe, timeoutMs = ACTION_TIMEOUT_MS) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (let delay = 50; ; delay = Math.min(delay * 2, 500)) {
    try {
      const value = await probe();
      if (value) return value;
      last = `last value: ${JSON.stringify(value)}`;
    } catch (err) {
      last = `last error: ${firstLine(err.message)}`;
    }
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what} (${last})`);
    }
    await new Promise((r) => setTimeout(r, delay));
  }
}

// Runs a Playwright wait and turns its long message into one line that names what we waited for.
async function named(what, wait) {
  try {
    return await wait();
  } catch (err) {
    throw new Error(`waiting for ${what}: ${firstLine(err.message)}`);
  }
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

function nonEmpty(text) {
  const t = (text ?? '').trim();
  return t.length > 0 ? t : null;
}

function matching(text, re) {
  const t = (text ?? '').trim();
  return re.test(t) ? t : null;
}

// SHA-256 fingerprint of the certificate a fresh TLS connection gets (upper-case, colon-separated).
function peerFingerprint(host, port) {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host, port, rejectUnauthorized: false });
    socket.setTimeout(TLS_PROBE_TIMEOUT_MS, () => {
      socket.destroy();
      reject(new Error(`TLS connection to ${host}:${port} timed out`));
    });
    socket.once('secureConnect', () => {
      const fp = socket.getPeerCertificate()?.fingerprint256;
      socket.end();
      fp ? resolve(fp.toUpperCase()) : reject(new Error(`no peer certificate from ${host}:${port}`));
    });
    socket.once('error', (err) => reject(new Error(`TLS connection to ${host}:${port}: ${err.message}`)));
  });
}

function openssl(args) {
  try {
    return execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    throw new Error(`openssl ${args.slice(0, 2).join(' ')} failed: ${err.stderr || err.message}`);
  }
}

// ---- housekeeping ----

function tempDir(prefix) {
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
  if (state.console) {
    await stopConsole(state.console).catch((err) => errors.push(`stopping the console: ${err.message}`));
  }
  for (const dir of state.tempDirs.splice(0)) {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  if (errors.length) throw new Error(errors.join('; '));
}

// On Ctrl-C or a kill, do not leave a console or a browser behind.
function installSignalHandlers() {
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.once(sig, () => {
      console.error(`e2e: interrupted by ${sig}`);
      try {
        state.console?.child.kill('SIGKILL');
      } catch {}
      for (const dir of state.tempDirs) fs.rmSync(dir, { recursive: true, force: true });
      state.browser
        ?.close()
        .catch(() => {})
        .finally(() => finishInterrupted());
      if (!state.browser) finishInterrupted();
    });
  }
}

function finishInterrupted() {
  console.log('e2e: 0 passed, 1 failed');
  process.exit(130);
}

// Resolves true if `promise` settles within `ms`, false otherwise.
function within(promise, ms) {
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

function oneLine(s) {
  return String(s ?? '').replace(/\s+/g, ' ').trim();
}

function firstLine(s) {
  return String(s).split('\n')[0];
}

function log(msg) {
  console.log(`e2e: ${msg}`);
}
