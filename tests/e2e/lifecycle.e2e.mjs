// Browser end-to-end test of the app lifecycle pages, on real components: the real `outpost-console` with its
// embedded UI, a real `outpost-agent` joined to it, the real Docker engine, and the sample vendor
// (scripts/sample-vendor.sh: three loopback registries 127.0.0.1:5101/5102/5103, a signed license and releases)
// with its api host (`outpost-airgap serve` on 127.0.0.1:8801, the address the sample license names).
//
// Flow: setup link -> password -> login -> license (trust dialog, the sample vendor's key) -> a node joins ->
// Deploy: "Fetch releases from the vendor" (1.0.0 and 1.1.0 are published) -> Registries: the sample's three mirror
// rules (the vendor registry's credentials come "from the license") -> Config: greeting, admin password, debug logs
// -> Preflight for 1.0.0 -> Deploy 1.0.0, followed live until it succeeds -> the app answers on :8080 with the
// greeting -> Application: running services, Stop (confirmed) -> stopped, Start -> running -> Logs of web (load,
// then Follow), and of the worker followed until a new line arrives -> Advisories: the test publishes two into the api
// host's vendor dir (a copy of the sample's), one for 1.0.0 fixed in 1.1.0 and one for the unpublished sequence 3;
// Updates: Check now -> "Update available", the first advisory (severity, "fixed in 1.1.0 (sequence 2)"), 1.1.0 marked
// "fixes" it, the second nowhere; the banner names it on the Dashboard -> Network: the report's inbound ports (this
// console's two, 9874, 9870-9880, the app's 8080 listening) and outbound hosts (the api host reached, the three mirror
// registries) -> Update to 1.1.0, and the banner is gone -> History: both deployments (who, when, version, config hash,
// outcome) -> roll back to the 1.0.0 deployment -> 1.0.0 answers again.
//
// Needs Docker (fails, not skips, without it), free host ports 8080 (the sample app's) and 8801 (the api host's),
// no sample-app containers from anything else, and `unshare --net` + `ip`: Chromium runs in a network namespace of
// its own that reaches only the console (lib.mjs, `openBrowser`), since it aborts every request in flight with
// ERR_NETWORK_CHANGED when Docker adds or removes a container's interface, and Stop or Start would be cut off.
// On exit, also on failure or Ctrl-C, it stops the console, the agent and the api host and removes the sample app's
// containers, network and volume.
//
// Environment: as console.e2e.mjs (OUTPOST_CONSOLE_BIN, OUTPOST_AIRGAP_BIN, OUTPOST_AGENT_BIN, OUTPOST_E2E_CHROMIUM,
// OUTPOST_E2E_VERBOSE=1, which also echoes the api host's output). Screenshots go to <repo>/target/e2e/lifecycle-*.png.
// The last line is always `e2e: N passed, M failed`.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

import {
  ACTION_TIMEOUT_MS,
  AGENT_BIN,
  AIRGAP_BIN,
  CONSOLE_BIN,
  NODE_STATUS_TIMEOUT_MS,
  ROOT,
  STARTUP_TIMEOUT_MS,
  agentAlive,
  apiJson,
  check,
  childEnv,
  eventually,
  failureShot,
  log,
  named,
  nonEmpty,
  oneLine,
  onCleanup,
  openBrowser,
  pageHelpers,
  prepareShots,
  processAlive,
  requireBinaries,
  runTest,
  startAgent,
  startConsole,
  startProcess,
  state,
  step,
  tempDir,
} from './lib.mjs';

const SAMPLE_DIR = path.join(ROOT, 'target', 'sample-vendor');
const SAMPLE_SCRIPT = path.join(ROOT, 'scripts', 'sample-vendor.sh');
// The first run builds and pushes 9 images; later runs reuse them.
const SAMPLE_VENDOR_TIMEOUT_MS = 600_000;
const APP_ID = 'sample-app';
const CHANNEL = 'stable';
const APP_URL = 'http://127.0.0.1:8080/';
const APP_PORT = 8080;
const API_HOST_PORT = 8801;
const DOCKER_TIMEOUT_MS = 20_000;
// A deploy pulls, starts three services and waits for their health checks.
const DEPLOY_TIMEOUT_MS = 240_000;
// Stop and start wait for the containers (bounded on the console's side too).
const APP_ACTION_TIMEOUT_MS = 90_000;
// The app answers (or stops answering) on :8080.
const APP_PAGE_TIMEOUT_MS = 60_000;
// With log level debug the worker logs a line every 5 s.
const LOG_LINE_TIMEOUT_MS = 30_000;
// "Check now" syncs the license, then fetches the channel index (and new releases) from the api host.
const UPDATE_CHECK_TIMEOUT_MS = 60_000;
// The network report runs its live checks (the nodes' ports, one request per outbound host) before it answers.
const NETWORK_REPORT_TIMEOUT_MS = 60_000;

// Two advisories the test publishes while 1.0.0 (sequence 1) is installed: one for it, fixed in 1.1.0 (sequence 2),
// which the console must show; one for the unpublished sequence 3 only, which it must not show anywhere.
const ADVISORY_INSTALLED = {
  id: 'OSA-2026-0101',
  severity: 'high',
  title: 'Greeting page script injection',
  text: 'The greeting is not escaped on the home page. Update to 1.1.0.',
  affects: '1',
  fixedIn: 2,
};
const ADVISORY_OTHER = {
  id: 'OSA-2026-0103',
  severity: 'medium',
  title: 'Worker volume permissions',
  text: 'Only 1.2.0 is affected.',
  affects: '3',
};

// Letters, spaces, commas and '!' only: the sample app's pattern.
const GREETING = 'Hello from the lifecycle browser test!';
const SHOT_PREFIX = 'lifecycle-';

runTest(run);

async function run() {
  requireBinaries([
    ['console', CONSOLE_BIN, 'OUTPOST_CONSOLE_BIN'],
    ['airgap', AIRGAP_BIN, 'OUTPOST_AIRGAP_BIN'],
    ['agent', AGENT_BIN, 'OUTPOST_AGENT_BIN'],
  ]);
  // Only this run's lifecycle screenshots (console.e2e.mjs keeps its own).
  prepareShots((name) => name.startsWith(SHOT_PREFIX));

  // ---- what this test needs, checked before anything is started ----
  const dockerVersion = await requireDocker();
  log(`Docker ${dockerVersion}`);
  await requireAppPortFree();
  await requireNoSampleApp();
  // From here on, sample-app containers are this test's own: removed on exit, whatever happens.
  onCleanup(removeSampleApp);
  const vendor = await sampleVendor();
  log(`sample vendor ready: key ${vendor.SAMPLE_KEY_FINGERPRINT}, api host ${vendor.SAMPLE_API_HOST}`);
  check(
    vendor.SAMPLE_API_HOST === `https://127.0.0.1:${API_HOST_PORT}`,
    `the sample license names the api host ${vendor.SAMPLE_API_HOST}, this test serves https://127.0.0.1:${API_HOST_PORT}`,
  );
  await requireApiHostPortFree();
  const mirrorRules = vendor.SAMPLE_MIRROR_RULES.split(/\s+/)
    .filter(Boolean)
    .map((rule) => {
      const [from, to] = rule.split('=');
      return { from, to };
    });
  check(mirrorRules.length === 3, `SAMPLE_MIRROR_RULES has ${mirrorRules.length} rules: ${vendor.SAMPLE_MIRROR_RULES}`);

  const vendorDir = await startApiHost(vendor);

  const dataDir = tempDir('outpost-e2e-lifecycle-data-');
  const password = `e2e-Lifecycle-${randomBytes(6).toString('hex')}`;
  const adminPassword = `e2e-App-Admin-${randomBytes(9).toString('hex')}`;
  const con = await startConsole(dataDir, ['--api-host-ca', vendor.SAMPLE_CA]);
  const base = new URL(con.consoleUrl);
  log(`console at ${con.consoleUrl}, agent channel at ${con.agentUrl}`);

  const { context, page } = await openBrowser({ consoleUrl: con.consoleUrl, isolate: 'require' });
  const { shot: rawShot, byId, waitVisible } = pageHelpers(page);
  const shot = (name, options) => rawShot(`${SHOT_PREFIX}${name}`, options);
  const api = (apiPath) => apiJson(context, base, apiPath);

  // ---- page helpers of this test ----
  const dataValue = async (id) => byId(id).first().getAttribute('data-value');
  const waitDataValue = (id, value, what, timeout = ACTION_TIMEOUT_MS) =>
    eventually(`${what} (${id} data-value="${value}")`, async () => (await dataValue(id)) === value, timeout);

  // On /deploy?id=N: the deployment's id from the address, once the page went there.
  const deploymentIdFromUrl = (what) =>
    eventually(`the page to go to /deploy?id=... (${what})`, async () => {
      const url = new URL(page.url());
      return url.pathname === '/deploy' ? url.searchParams.get('id') : null;
    });

  // Follows the shown deployment until it is final: a shot while it runs (if it still does) and one at the end.
  // Answers the deployment as the console has it.
  const followDeployment = async (id, { runningShot, doneShot, what }) => {
    const view = page.locator(`[data-testid="deployment"][data-id="${id}"]`).filter({ visible: true });
    await named(`the live view of deployment ${id}`, () =>
      view.waitFor({ state: 'visible', timeout: ACTION_TIMEOUT_MS }),
    );
    // Mid-way: a step done and the deployment still running (or already over: a fast deploy is no failure).
    const midway = await eventually(
      `deployment ${id} to be under way`,
      async () => {
        agentAlive(state.agent);
        const stateNow = await view.getAttribute('data-state');
        if (stateNow !== 'running') return `already ${stateNow}`;
        const done = Number(await view.getByTestId('deployment-progress').getAttribute('data-done'));
        return done >= 1 ? 'running' : null;
      },
      60_000,
    );
    if (midway === 'running') {
      const progress = oneLine(await view.getByTestId('deployment-progress-text').textContent());
      log(`${what}: deployment ${id} under way: ${progress}`);
      await shot(runningShot);
    } else {
      log(`${what}: deployment ${id} was ${midway.slice(8)} before a mid-way shot; shot of the final page instead`);
    }
    const started = Date.now();
    const final = await eventually(
      `deployment ${id} (${what}) to end, as its page shows`,
      async () => {
        agentAlive(state.agent);
        const s = await view.getAttribute('data-state');
        return s !== 'running' && s !== 'rolling_back' ? s : null;
      },
      DEPLOY_TIMEOUT_MS,
    );
    const messageEl = view.getByTestId('deployment-message');
    const message = (await messageEl.count()) > 0 ? oneLine(await messageEl.first().innerText()) : '';
    const deployment = await api(`/api/v1/app/deployments/${id}`);
    if (final !== 'succeeded') {
      const failedSteps = (deployment.steps ?? [])
        .filter((s) => s.state === 'failed')
        .map((s) => `${s.action} ${s.target}: ${s.message}`);
      throw new Error(
        `deployment ${id} (${what}) ended ${final}: "${message}"; failed steps: ${JSON.stringify(failedSteps)}`,
      );
    }
    check(
      (await view.getByTestId('deployment-state').getAttribute('data-value')) === 'succeeded',
      `deployment-state of deployment ${id} does not read succeeded`,
    );
    const progress = view.getByTestId('deployment-progress');
    const done = await progress.getAttribute('data-done');
    const total = await progress.getAttribute('data-total');
    check(done === total && Number(total) > 0, `deployment ${id} shows ${done} of ${total} steps done`);
    check(deployment.state === 'succeeded', `GET /api/v1/app/deployments/${id} has state ${deployment.state}`);
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    log(`${what}: deployment ${id} succeeded (${done} steps, ${seconds}s after mid-way): "${message}"`);
    await shot(doneShot);
    return deployment;
  };

  // From the Deploy page: the release's button, its preflight, then the deploy button of the preflight panel.
  const deployFromDeployPage = async (sequence, verb, label) => {
    await byId('nav-deploy').click();
    await waitVisible('deploy-page');
    await waitVisible('releases-table');
    const button = byId(`deploy-button-${sequence}`);
    await eventually(`deploy-button-${sequence} to read "${verb}" and be enabled`, async () =>
      oneLine(await button.textContent()) === verb && (await button.isEnabled()),
    );
    await button.click();
    const panel = page.locator(`[data-testid="deploy-preflight"][data-sequence="${sequence}"]`);
    await named(`the preflight panel for sequence ${sequence}`, () =>
      panel.waitFor({ state: 'visible', timeout: ACTION_TIMEOUT_MS }),
    );
    const report = panel.getByTestId('preflight-report');
    await named(`the preflight report for sequence ${sequence}`, () =>
      report.waitFor({ state: 'visible', timeout: 30_000 }),
    );
    const outcome = panel.getByTestId('preflight-outcome');
    check(
      (await outcome.getAttribute('data-blocking')) === 'false',
      `preflight for sequence ${sequence} blocks: ${oneLine(await report.innerText())}`,
    );
    const deploy = panel.getByTestId('preflight-deploy');
    const deployText = oneLine(await deploy.textContent());
    check(deployText === `${verb} ${label}`, `preflight-deploy reads "${deployText}", expected "${verb} ${label}"`);
    await deploy.click();
    return deploymentIdFromUrl(`${verb} ${label}`);
  };

  // The app's home page, once it contains every NEEDLE.
  const appPageWith = (what, needles) =>
    eventually(
      `${APP_URL} to answer with ${what}`,
      async () => {
        const text = await appPage();
        return text !== null && needles.every((n) => text.includes(n)) ? text : null;
      },
      APP_PAGE_TIMEOUT_MS,
    );

  const appState = () => dataValue('app-state');

  try {
    let nodeId;
    let firstId;
    let updateId;

    await step('L1 setup and login', async () => {
      await page.goto(con.setupLink);
      await waitVisible('setup-password');
      await byId('setup-password').fill(password);
      await byId('setup-confirm').fill(password);
      await byId('setup-submit').click();
      await waitVisible('login-password', 'login page after setup');
      await byId('login-password').fill(password);
      await byId('login-submit').click();
      await waitVisible('dashboard');
    });

    await step('L2 license', async () => {
      await byId('nav-license').click();
      await waitVisible('license-page');
      await waitVisible('license-empty', 'license page without a license');
      await page.getByTestId('license-file').setInputFiles(vendor.SAMPLE_LICENSE);
      await byId('license-load').click();
      await waitVisible('trust-dialog');
      const shown = await byId('trust-fingerprint').getAttribute('data-value');
      check(
        shown === vendor.SAMPLE_KEY_FINGERPRINT,
        `trust dialog fingerprint is ${shown}, the sample vendor's key is ${vendor.SAMPLE_KEY_FINGERPRINT}`,
      );
      await byId('trust-confirm').click();
      await waitVisible('license-success');
      await waitVisible('license-details');
      const apiHost = oneLine(await byId('license-api-host').textContent());
      check(apiHost === vendor.SAMPLE_API_HOST, `license-api-host reads "${apiHost}"`);
      const appId = oneLine(await byId('license-app-id').textContent());
      check(appId === APP_ID, `license-app-id reads "${appId}"`);
    });

    await step('L3 node joins', async () => {
      await byId('nav-nodes').click();
      await waitVisible('nodes-page');
      await byId('node-add').getByTestId('join-token-create').click();
      await waitVisible('join-command');
      const command = oneLine(await byId('join-command').textContent());
      const parsed = command.match(/^outpost-agent join --console (https:\/\/\S+) --token (OPT1\.\S+)$/);
      check(parsed, `unexpected join command: "${command.replace(/OPT1\.\S+/, 'OPT1.<redacted>')}"`);
      const agentDir = path.join(tempDir('outpost-e2e-lifecycle-agent-'), 'agent');
      state.agent = startAgent(['join', '--console', parsed[1], '--token', parsed[2], '--data-dir', agentDir]);
      nodeId = await eventually(
        'the node to be online with Docker facts',
        async () => {
          agentAlive(state.agent);
          const row = byId('node-row').first();
          if ((await byId('node-row').count()) !== 1) return null;
          if ((await row.getAttribute('data-status')) !== 'online') return null;
          if (!/^Docker /.test(oneLine(await row.getByTestId('node-docker').textContent()))) return null;
          return row.getAttribute('data-node-id');
        },
        NODE_STATUS_TIMEOUT_MS,
      );
      log(`node ${nodeId} online`);
    });

    await step('L4 fetch releases', async () => {
      await byId('nav-deploy').click();
      await waitVisible('deploy-page');
      await waitVisible('releases-empty', 'releases-empty before anything is fetched');
      await byId('releases-fetch').click();
      await waitVisible('releases-fetch-result', 'releases-fetch-result', 30_000);
      if ((await page.getByTestId('releases-fetch-error').count()) > 0) {
        throw new Error(`releases-fetch-error is shown: ${oneLine(await byId('releases-fetch-error').innerText())}`);
      }
      const result = byId('releases-fetch-result');
      const fetched = await result.getByTestId('releases-fetch-fetched').getAttribute('data-sequences');
      check(fetched === '1,2', `releases-fetch-fetched lists sequences "${fetched}", expected "1,2"`);
      check(
        (await result.getByTestId('releases-fetch-refused').count()) === 0,
        `the fetch refused releases: ${oneLine(await result.innerText())}`,
      );
      await eventually('the releases table to list 1.1.0 and 1.0.0', async () => {
        const rows = await byId('release-row').evaluateAll((els) => els.map((el) => el.getAttribute('data-sequence')));
        return rows.join(',') === '2,1';
      });
      for (const [sequence, verb] of [
        [1, 'Deploy'],
        [2, 'Deploy'],
      ]) {
        const text = oneLine(await byId(`deploy-button-${sequence}`).textContent());
        check(text === verb, `deploy-button-${sequence} reads "${text}", expected "${verb}"`);
      }
      const { releases } = await api('/api/v1/releases');
      const sources = releases.map((r) => `${r.version}:${r.source}`);
      check(
        releases.every((r) => String(r.source).startsWith(vendor.SAMPLE_API_HOST)),
        `the releases did not come from the api host: ${sources.join(', ')}`,
      );
      log(`fetched: ${oneLine(await result.innerText())}`);
      await shot('01-releases-fetched.png');
    });

    await step('L5 registries', async () => {
      await byId('nav-registries').click();
      await waitVisible('registries-page');
      await waitVisible('registry-rules');
      const licenseRow = byId('registry-license-credential');
      await named('the license credential row', () =>
        licenseRow.first().waitFor({ state: 'visible', timeout: ACTION_TIMEOUT_MS }),
      );
      const licenseHost = await licenseRow.first().getAttribute('data-host');
      const licenseText = oneLine(await licenseRow.first().innerText());
      check(/from the license/.test(licenseText), `the license credential row reads "${licenseText}"`);
      check(
        mirrorRules.some((r) => r.from === licenseHost),
        `the license credential is for ${licenseHost}, which no mirror rule names`,
      );
      check((await byId('registry-rule').count()) === 0, 'a fresh console already has registry rules');

      for (const [i, rule] of mirrorRules.entries()) {
        await byId('registry-rule-add').click();
        await eventually(`${i + 1} registry-rule rows`, async () => (await byId('registry-rule').count()) === i + 1);
        await byId('registry-rule-from').nth(i).fill(rule.from);
        await byId('registry-rule-to').nth(i).fill(rule.to);
      }
      await eventually('registries-dirty to say there are unsaved changes', async () =>
        /unsaved changes/i.test(oneLine(await byId('registries-dirty').textContent())) &&
        !/^no /i.test(oneLine(await byId('registries-dirty').textContent())),
      );
      await byId('registries-save').click();
      await waitVisible('registries-saved');
      check((await page.getByTestId('registries-error').count()) === 0, 'registries-error after saving');
      const stored = await api('/api/v1/registries');
      check(
        JSON.stringify(stored.rules) === JSON.stringify(mirrorRules),
        `GET /api/v1/registries has rules ${JSON.stringify(stored.rules)}`,
      );
      check(
        stored.credentials?.length === 1 && stored.credentials[0].source === 'license',
        `GET /api/v1/registries has credentials ${JSON.stringify(stored.credentials)}`,
      );
      log(`rules saved: ${vendor.SAMPLE_MIRROR_RULES}; license credential for ${licenseHost}`);
      await shot('02-registries.png');
    });

    await step('L6 config', async () => {
      await byId('nav-config').click();
      await waitVisible('config-page');
      const input = (name) => byId(`config-input-${name}`);
      await named('the greeting field', () =>
        input('greeting').waitFor({ state: 'visible', timeout: ACTION_TIMEOUT_MS }),
      );
      await input('greeting').fill(GREETING);
      await input('admin_password').fill(adminPassword);
      // Debug logs: the worker then writes a line every round, for the Logs step.
      await input('log_level').selectOption('debug');
      await eventually('config-dirty to count 3 changes', async () =>
        (await byId('config-dirty').getAttribute('data-count')) === '3',
      );
      await byId('config-save').click();
      await waitVisible('config-saved');
      const config = await api('/api/v1/app/config?sequence=1');
      const items = Object.fromEntries(config.groups.flatMap((g) => g.items).map((i) => [i.name, i]));
      check(items.greeting?.value === GREETING, `the stored greeting is ${JSON.stringify(items.greeting?.value)}`);
      check(items.admin_password?.is_set === true && items.admin_password.value === null, 'the admin password is not stored');
      check(items.log_level?.value === 'debug', `the stored log level is ${JSON.stringify(items.log_level?.value)}`);
      await shot('03-config.png', { tall: true });
    });

    await step('L7 preflight', async () => {
      await byId('nav-preflight').click();
      await waitVisible('preflight-page');
      await byId('preflight-release').selectOption('1');
      await byId('preflight-run').click();
      const report = page.locator('[data-testid="preflight-report"][data-sequence="1"]').filter({ visible: true });
      await named('the preflight report for 1.0.0', () => report.waitFor({ state: 'visible', timeout: 30_000 }));
      const outcome = byId('preflight-outcome');
      const value = await outcome.getAttribute('data-value');
      check(
        (await outcome.getAttribute('data-blocking')) === 'false' && value !== 'fail',
        `preflight for 1.0.0 is ${value} and blocks: ${oneLine(await report.innerText())}`,
      );
      const port = report.locator(`[data-testid="preflight-result"][data-check="Port 8080 free"][data-node="${nodeId}"]`);
      await named('the "Port 8080 free" result of the node', () =>
        port.waitFor({ state: 'visible', timeout: ACTION_TIMEOUT_MS }),
      );
      check(
        (await port.getAttribute('data-outcome')) === 'pass',
        `"Port 8080 free" is ${await port.getAttribute('data-outcome')}: ${oneLine(await port.innerText())}`,
      );
      const results = await byId('preflight-result').count();
      log(`preflight for 1.0.0: ${value}, ${results} results`);
      await shot('04-preflight.png');
    });

    await step('L8 deploy 1.0.0', async () => {
      firstId = await deployFromDeployPage(1, 'Deploy', '1.0.0 (sequence 1)');
      const deployment = await followDeployment(firstId, {
        runningShot: '05-deploy-running.png',
        doneShot: '06-deploy-succeeded.png',
        what: 'deploy 1.0.0',
      });
      check(deployment.kind === 'deploy', `deployment ${firstId} is a ${deployment.kind}, expected deploy`);
      const pulls = deployment.steps.filter((s) => s.action === 'pull').map((s) => s.target);
      for (const registry of ['127.0.0.1:5101/', '127.0.0.1:5102/', '127.0.0.1:5103/']) {
        check(pulls.some((p) => p.startsWith(registry)), `no pull from ${registry}: ${JSON.stringify(pulls)}`);
      }
      const row = page.locator('[data-testid="release-row"][data-sequence="1"]');
      await eventually('release 1.0.0 to be marked installed', async () =>
        (await row.getAttribute('data-installed')) === 'true',
      );
      const home = await appPageWith('the greeting and 1.0.0', [GREETING, '1.0.0']);
      check(!home.includes(adminPassword), 'the app page shows the admin password');
      log(`${APP_URL} answers: ${oneLine(home.match(/<h1[^>]*>.*?<\/h1>/s)?.[0] ?? home).slice(0, 120)}`);
    });

    await step('L9 application: stop and start', async () => {
      await byId('nav-app').click();
      await waitVisible('app-page');
      await waitDataValue('app-state', 'running', 'the app to be running');
      const installed = byId('app-installed');
      check((await installed.getAttribute('data-sequence')) === '1', 'app-installed is not sequence 1');
      for (const service of ['web', 'api', 'worker']) {
        const card = byId(`service-${service}`);
        await named(`the ${service} card`, () => card.waitFor({ state: 'visible', timeout: ACTION_TIMEOUT_MS }));
        await eventually(`service ${service} to be running`, async () =>
          (await card.getAttribute('data-state')) === 'running' &&
          (await card.getByTestId('replica-row').count()) >= 1 &&
          /running/i.test(oneLine(await card.getByTestId('replica-state').first().textContent())),
        );
      }
      check((await page.getByTestId('service-metrics').count()) === 0, 'the metrics service runs, it is off');
      await shot('07-app-running.png');

      await byId('app-stop').click();
      await waitVisible('app-action-dialog');
      await byId('app-action-confirm').click();
      await waitDataValue('app-state', 'stopped', 'the app to be stopped after Stop', APP_ACTION_TIMEOUT_MS);
      await named('the stop dialog to close', () =>
        page.getByTestId('app-action-dialog').waitFor({ state: 'hidden', timeout: ACTION_TIMEOUT_MS }),
      );
      await waitVisible('app-notice', 'app-notice after Stop');
      await eventually(`${APP_URL} to stop answering`, async () => (await appPage()) === null, APP_PAGE_TIMEOUT_MS);
      check(await byId('app-start').isEnabled(), 'app-start is disabled on a stopped app');
      log(`stopped: "${oneLine(await byId('app-notice').textContent())}"`);
      await shot('08-app-stopped.png');

      await byId('app-start').click();
      await waitDataValue('app-state', 'running', 'the app to be running after Start', APP_ACTION_TIMEOUT_MS);
      await appPageWith('the greeting after Start', [GREETING, '1.0.0']);
      await waitVisible('app-notice', 'app-notice after Start');
      log(`started again: "${oneLine(await byId('app-notice').textContent())}"`);
    });

    await step('L10 logs', async () => {
      await byId('nav-logs').click();
      await waitVisible('logs-page');
      const service = byId('logs-service');
      await eventually('logs-service to offer web, api and worker', async () => {
        const options = await service.locator('option').allTextContents();
        return ['web', 'api', 'worker'].every((s) => options.includes(s));
      });
      await service.selectOption('web');
      await eventually('the address to name service web', async () =>
        new URL(page.url()).searchParams.get('service') === 'web',
      );
      const texts = async () => (await byId('logs-text').allTextContents()).map(oneLine);
      const webLines = await eventually('web log lines, with "serving on :8080"', async () => {
        const lines = await texts();
        return lines.some((l) => /web 1\.0\.0: serving on :8080/.test(l)) ? lines : null;
      });
      log(`web log: ${webLines.length} lines, last "${webLines.at(-1)}"`);
      await shot('09-logs-web.png');

      // Follow: the stream starts with the last lines, then the new ones.
      await byId('logs-follow').check();
      await waitVisible('logs-following');
      await eventually('followed web lines to arrive', async () => (await byId('logs-line').count()) >= 1);

      // The worker logs a line every round (log level debug): a new one must arrive while following.
      await service.selectOption('worker');
      await eventually('the address to name service worker', async () =>
        new URL(page.url()).searchParams.get('service') === 'worker',
      );
      await waitVisible('logs-following', 'logs-following on the worker');
      const rounds = async () =>
        (await texts()).map((l) => Number(l.match(/round (\d+) done/)?.[1] ?? NaN)).filter(Number.isFinite);
      const first = await eventually('a "round N done" line of the worker', async () => {
        const seen = await rounds();
        return seen.length > 0 ? Math.max(...seen) : null;
      }, LOG_LINE_TIMEOUT_MS);
      const next = await eventually(
        `a worker line after round ${first} to arrive while following`,
        async () => {
          const seen = await rounds();
          const max = Math.max(...seen);
          return max > first ? max : null;
        },
        LOG_LINE_TIMEOUT_MS,
      );
      check(await byId('logs-follow').isChecked(), 'Follow turned itself off');
      log(`followed the worker from round ${first} to round ${next}`);
      await shot('10-logs-follow.png');
      await byId('logs-follow').uncheck();
      await named('the follow indicator to go', () =>
        page.getByTestId('logs-following').waitFor({ state: 'hidden', timeout: ACTION_TIMEOUT_MS }),
      );
    });

    await step('L11 advisories', async () => {
      // Both go into the api host's copy of the vendor dir, signed with the sample vendor's key, each as the next
      // index version: newer than any the console holds, or it would refuse the index as a rollback.
      const held = (await api('/api/v1/updates')).index?.version ?? 0;
      await publishAdvisory(vendorDir, vendor, ADVISORY_INSTALLED);
      const published = await publishAdvisory(vendorDir, vendor, ADVISORY_OTHER);
      check(published > held, `the advised index has version ${published}, the console holds ${held}`);

      await byId('nav-updates').click();
      await waitVisible('updates-page');
      await waitVisible('updates-state');
      await byId('check-now').click();
      const outcome = await eventually(
        'Check now to report its outcome',
        async () => {
          const result = byId('check-result-outcome');
          if ((await result.count()) === 0) return null;
          const value = await result.first().getAttribute('data-outcome');
          return value === 'running' ? null : value;
        },
        UPDATE_CHECK_TIMEOUT_MS,
      );
      if (outcome !== 'ok') {
        const said = oneLine(await byId('check-result').innerText());
        throw new Error(`Check now ended ${outcome}: "${said}"`);
      }
      log(`check: ${oneLine(await byId('check-result').innerText())}`);
      await eventually('updates-state data-state="update_available"', async () =>
        (await byId('updates-state').getAttribute('data-state')) === 'update_available',
      );
      const stateText = oneLine(await byId('updates-state').innerText());
      check(/^Update available\b/.test(stateText), `updates-state reads "${stateText}"`);
      const installed = await byId('updates-installed-release').getAttribute('data-sequence');
      check(installed === '1', `updates-installed-release is sequence ${installed}, expected 1`);
      const index = oneLine(await byId('updates-index').innerText());
      check(index.includes(`version ${published}`), `updates-index reads "${index}", expected version ${published}`);

      // The advisory for the installed release, with its severity and the release that fixes it (loaded already).
      const advisory = byId(`advisory-${ADVISORY_INSTALLED.id}`);
      await named(`advisory-${ADVISORY_INSTALLED.id}`, () =>
        advisory.waitFor({ state: 'visible', timeout: ACTION_TIMEOUT_MS }),
      );
      check(
        (await advisory.getAttribute('data-severity')) === ADVISORY_INSTALLED.severity,
        `advisory-${ADVISORY_INSTALLED.id} has severity ${await advisory.getAttribute('data-severity')}`,
      );
      const severity = oneLine(await advisory.getByTestId('advisory-severity').textContent());
      check(severity === ADVISORY_INSTALLED.severity, `advisory-severity reads "${severity}"`);
      const affected = oneLine(await advisory.getByTestId('advisory-affected').textContent());
      check(affected === 'sequence 1', `advisory-affected reads "${affected}"`);
      const fix = advisory.getByTestId('advisory-fix');
      const fixText = oneLine(await fix.innerText());
      check(fixText.includes('fixed in 1.1.0 (sequence 2)'), `advisory-fix reads "${fixText}"`);
      check((await fix.getAttribute('data-fix-available')) === 'true', `the fix is not marked loaded: "${fixText}"`);
      check((await fix.getByTestId('advisory-fix-loaded').count()) === 1, `advisory-fix-loaded missing: "${fixText}"`);
      const advisoryText = oneLine(await advisory.innerText());
      check(advisoryText.includes(ADVISORY_INSTALLED.title), `the advisory row reads "${advisoryText}"`);

      // The release that fixes it is marked.
      const release = byId('release-2');
      await named('release-2 among the available releases', () =>
        release.waitFor({ state: 'visible', timeout: ACTION_TIMEOUT_MS }),
      );
      check(
        (await release.getAttribute('data-fixes')) === ADVISORY_INSTALLED.id,
        `release-2 has data-fixes "${await release.getAttribute('data-fixes')}"`,
      );
      const fixes = oneLine(await release.getByTestId('release-fixes').textContent());
      check(fixes === `fixes ${ADVISORY_INSTALLED.id}`, `release-fixes of 1.1.0 reads "${fixes}"`);
      check(oneLine(await release.innerText()).includes('1.1.0'), 'release-2 does not show 1.1.0');

      // The other advisory: nowhere on the page, nor in the API's answer.
      check(!(await page.content()).includes(ADVISORY_OTHER.id), `${ADVISORY_OTHER.id} appears on the Updates page`);
      const status = await api('/api/v1/updates');
      const ids = status.advisories.map((a) => a.id);
      check(
        ids.length === 1 && ids[0] === ADVISORY_INSTALLED.id,
        `GET /api/v1/updates lists advisories ${JSON.stringify(ids)}`,
      );
      await shot('11-updates-advisory.png');

      // The banner, on another page: the Dashboard, with its updates card.
      await byId('nav-dashboard').click();
      await waitVisible('dashboard');
      await waitVisible('update-banner', 'the update banner on the Dashboard');
      const bannerAdvisory = page.locator(
        `[data-testid="update-banner-advisory"][data-id="${ADVISORY_INSTALLED.id}"]`,
      );
      await named(`the banner's ${ADVISORY_INSTALLED.id}`, () =>
        bannerAdvisory.waitFor({ state: 'visible', timeout: ACTION_TIMEOUT_MS }),
      );
      const banner = oneLine(await byId('update-banner').innerText());
      for (const needle of [ADVISORY_INSTALLED.id, `(${ADVISORY_INSTALLED.severity})`, 'fixed in 1.1.0']) {
        check(banner.includes(needle), `the banner does not say "${needle}": "${banner}"`);
      }
      check(!banner.includes(ADVISORY_OTHER.id), `the banner names ${ADVISORY_OTHER.id}: "${banner}"`);
      await waitDataValue('dashboard-updates-state', 'update_available', 'the dashboard updates card');
      const count = oneLine(await byId('dashboard-updates-advisories').textContent());
      check(count === '1 advisory', `dashboard-updates-advisories reads "${count}"`);
      check(!(await page.content()).includes(ADVISORY_OTHER.id), `${ADVISORY_OTHER.id} appears on the Dashboard`);
      log(`banner: "${banner}"`);
      await shot('12-banner.png');

      const { entries } = await api('/api/v1/audit?limit=500');
      const audited = entries.filter((e) => e.action === 'advisory.published');
      check(
        audited.length === 1 && JSON.stringify(audited[0]).includes(ADVISORY_INSTALLED.id),
        `advisory.published audit entries: ${JSON.stringify(audited)}`,
      );
    });

    await step('L12 network report', async () => {
      await byId('nav-network').click();
      await waitVisible('network-page');
      await waitVisible('network-summary', 'the network report', NETWORK_REPORT_TIMEOUT_MS);
      check((await page.getByTestId('network-error').count()) === 0, 'network-error is shown');
      const release = oneLine(await byId('network-release').textContent());
      check(release.includes('1.0.0 (sequence 1)') && release.includes('installed'), `network-release: "${release}"`);

      // A row's checks: where each ran, its result and what it says.
      const checksOf = async (row) =>
        row.getByTestId('network-check').evaluateAll((els) =>
          els.map((el) => ({
            on: el.getAttribute('data-on'),
            result: el.getAttribute('data-result'),
            text: (el.querySelector('.detail')?.textContent ?? '').replace(/\s+/g, ' ').trim(),
          })),
        );
      const rowWith = async (selector, what) => {
        const row = page.locator(selector).filter({ visible: true });
        await named(what, () => row.first().waitFor({ state: 'visible', timeout: ACTION_TIMEOUT_MS }));
        check((await row.count()) === 1, `${(await row.count())} rows for ${what}`);
        const checks = await checksOf(row);
        log(`${what}: ${checks.map((c) => `${c.result} on ${c.on} (${c.text})`).join('; ') || 'no checks'}`);
        return { row, checks };
      };

      // Inbound: the console's two ports (this console's own, not the defaults), 9874, the reserved range, the app's.
      const consolePort = new URL(con.consoleUrl).port;
      const agentPort = new URL(con.agentUrl).port;
      for (const [port, what] of [
        [consolePort, 'the console port'],
        [agentPort, 'the agent channel port'],
      ]) {
        const { row, checks } = await rowWith(`[data-testid="inbound-${port}"]`, `${what} ${port}`);
        check((await row.getAttribute('data-role')) === 'console host', `inbound-${port} is not a console host row`);
        check(
          checks.length === 1 && checks[0].on === 'console' && checks[0].result === 'ok',
          `inbound-${port} checks: ${JSON.stringify(checks)}`,
        );
      }
      const registry = await rowWith('[data-testid="inbound-9874"]', "the console's registry port 9874");
      const registryRole = await registry.row.getAttribute('data-role');
      check(registryRole === 'console host', `inbound-9874 has role ${registryRole}`);
      check(registry.checks.length === 1, `inbound-9874 checks: ${JSON.stringify(registry.checks)}`);
      const range = await rowWith('[data-testid="inbound-9870-9880"]', 'the reserved range 9870-9880');
      check((await range.row.getAttribute('data-role')) === 'every node', 'inbound-9870-9880 is not an every-node row');
      check(
        range.checks.length === 1 && range.checks[0].on !== 'console' && range.checks[0].result !== 'unknown',
        `the node's check of 9870-9880: ${JSON.stringify(range.checks)}`,
      );
      const app = await rowWith(`[data-testid="inbound-${APP_PORT}"]`, `the app's port ${APP_PORT}`);
      check((await app.row.getAttribute('data-role')) === 'app nodes', `inbound-${APP_PORT} is not an app row`);
      check(
        app.checks.length === 1 && app.checks[0].result === 'ok' && /listening/.test(app.checks[0].text),
        `the node's check of ${APP_PORT} (the app runs): ${JSON.stringify(app.checks)}`,
      );

      // Outbound: the api host, reached, and the registries the images come from after the mirror rules.
      const apiHost = new URL(vendor.SAMPLE_API_HOST);
      const api8801 = await rowWith(
        `[data-testid="outbound-${apiHost.hostname}"][data-port="${apiHost.port}"]`,
        `the api host ${apiHost.host}`,
      );
      check(
        api8801.checks.length === 1 && api8801.checks[0].on === 'console' && api8801.checks[0].result === 'ok',
        `the api host's check: ${JSON.stringify(api8801.checks)}`,
      );
      check(
        (await api8801.row.getByTestId('outbound-not-airgap').count()) === 1,
        'the api host row is not marked "not needed in airgap"',
      );
      for (const rule of mirrorRules) {
        const [host, port] = rule.to.split(':');
        const { row } = await rowWith(
          `[data-testid="outbound-${host}"][data-port="${port}"]`,
          `the registry ${rule.to} (in place of ${rule.from})`,
        );
        const text = oneLine(await row.innerText());
        check(text.includes(rule.from), `the row of ${rule.to} does not name ${rule.from}: "${text}"`);
      }
      const outbound = await byId('network-outbound').locator('[data-testid^="outbound-"][data-port]').count();
      check(outbound === 1 + mirrorRules.length, `${outbound} outbound rows, expected the api host and the registries`);
      const engines = await byId('network-engines').locator('[data-testid^="engine-"]').count();
      check(engines === 1, `${engines} engine proxy rows for one node`);
      log(`network: ${await byId('network-problems').getAttribute('data-value')} problems`);
      await shot('13-network.png');
    });

    await step('L13 update to 1.1.0', async () => {
      updateId = await deployFromDeployPage(2, 'Update', '1.1.0 (sequence 2)');
      check(updateId !== firstId, `the update has the id of the first deployment, ${firstId}`);
      const deployment = await followDeployment(updateId, {
        runningShot: '14-update-running.png',
        doneShot: '15-update-succeeded.png',
        what: 'update to 1.1.0',
      });
      check(deployment.kind === 'update', `deployment ${updateId} is a ${deployment.kind}, expected update`);
      check(deployment.previous_sequence === 1, `deployment ${updateId} updated from ${deployment.previous_sequence}`);
      await appPageWith('the greeting and 1.1.0', [GREETING, '1.1.0']);

      // 1.1.0 fixes the advisory: once the shell has read the updates again, no banner names it.
      await page.goto(new URL('/', base).href);
      await waitVisible('dashboard');
      await waitDataValue('dashboard-updates-state', 'up_to_date', 'the dashboard updates card after the update');
      if ((await page.getByTestId('update-banner-advisory').count()) > 0) {
        const banner = oneLine(await page.getByTestId('update-banner').first().innerText());
        throw new Error(`after the update, the banner still names an advisory: "${banner}"`);
      }
      log('after the update: up to date, no advisory in the banner');
      check(
        !(await page.content()).includes(ADVISORY_INSTALLED.id),
        `${ADVISORY_INSTALLED.id} is still on the Dashboard`,
      );
    });

    await step('L14 history and rollback', async () => {
      await byId('nav-history').click();
      await waitVisible('history-page');
      await waitVisible('history-table');
      const row = (id) => byId(`history-row-${id}`);
      const expectRow = async (id, { kind, sequence, version, installed }) => {
        const r = row(id);
        await named(`history-row-${id}`, () => r.waitFor({ state: 'visible', timeout: ACTION_TIMEOUT_MS }));
        check((await r.getAttribute('data-kind')) === kind, `history-row-${id} has kind ${await r.getAttribute('data-kind')}`);
        check(
          (await r.getAttribute('data-sequence')) === String(sequence),
          `history-row-${id} has sequence ${await r.getAttribute('data-sequence')}`,
        );
        check((await r.getAttribute('data-state')) === 'succeeded', `history-row-${id} is ${await r.getAttribute('data-state')}`);
        check(
          (await r.getByTestId('history-state').getAttribute('data-value')) === 'succeeded',
          `history-state of ${id} does not read succeeded`,
        );
        const text = oneLine(await r.innerText());
        check(text.includes(version), `history-row-${id} does not show version ${version}: "${text}"`);
        check(/\badmin\b/.test(text), `history-row-${id} does not name who deployed it: "${text}"`);
        check(/\d{4}-\d{2}-\d{2}/.test(text), `history-row-${id} does not show when: "${text}"`);
        const hash = await r.getByTestId('history-config-hash').getAttribute('data-value');
        check(/^[0-9a-f]{16,}$/.test(hash ?? ''), `history-config-hash of ${id} is "${hash}"`);
        const shownHash = oneLine(await r.getByTestId('history-config-hash').textContent());
        check(hash.startsWith(shownHash) && shownHash.length === 12, `history-config-hash of ${id} reads "${shownHash}"`);
        check(
          (await r.getByTestId('history-installed').count()) === (installed ? 1 : 0),
          `history-row-${id} is${installed ? ' not' : ''} marked installed`,
        );
        return { text, hash };
      };
      const first = await expectRow(firstId, { kind: 'deploy', sequence: 1, version: '1.0.0', installed: false });
      const update = await expectRow(updateId, { kind: 'update', sequence: 2, version: '1.1.0', installed: true });
      check(first.hash === update.hash, `the same config has two hashes: ${first.hash} and ${update.hash}`);
      check((await byId(`rollback-${updateId}`).count()) === 0, 'the installed deployment offers a rollback');
      log(`history: ${firstId}: "${first.text}" | ${updateId}: "${update.text}"`);
      await shot('16-history.png');

      await byId(`rollback-${firstId}`).click();
      await waitVisible('rollback-dialog');
      const dialogText = oneLine(await byId('rollback-dialog').innerText());
      check(dialogText.includes('1.0.0 (sequence 1)'), `the rollback dialog reads "${dialogText}"`);
      await byId('rollback-confirm').click();
      const rollbackId = await deploymentIdFromUrl('roll back to 1.0.0');
      check(![firstId, updateId].includes(rollbackId), `the rollback reused deployment id ${rollbackId}`);
      const deployment = await followDeployment(rollbackId, {
        runningShot: '17-rollback-running.png',
        doneShot: '18-rollback-succeeded.png',
        what: 'roll back to 1.0.0',
      });
      check(
        deployment.kind === 'manual_rollback' && deployment.sequence === 1,
        `deployment ${rollbackId} is a ${deployment.kind} of sequence ${deployment.sequence}`,
      );
      const home = await appPageWith('1.0.0 again after the rollback', [GREETING, '1.0.0']);
      check(!home.includes('1.1.0'), 'the app page still mentions 1.1.0 after the rollback');

      await byId('nav-history').click();
      await waitVisible('history-page');
      await expectRow(rollbackId, { kind: 'manual_rollback', sequence: 1, version: '1.0.0', installed: true });
      await expectRow(updateId, { kind: 'update', sequence: 2, version: '1.1.0', installed: false });
      await named(`the rollback button of the update ${updateId}`, () =>
        byId(`rollback-${updateId}`).waitFor({ state: 'visible', timeout: ACTION_TIMEOUT_MS }),
      );
      await shot('19-history-after-rollback.png');

      const { entries } = await api('/api/v1/audit?limit=500');
      const actions = new Set(entries.map((e) => e.action));
      log(`audit actions: ${[...actions].sort().join(', ')}`);
      check(actions.has('releases.fetched'), 'no releases.fetched in the audit log');
      // Back on 1.0.0: its advisory applies again.
      const ids = (await api('/api/v1/updates')).advisories.map((a) => a.id);
      check(
        ids.join(',') === ADVISORY_INSTALLED.id,
        `after the rollback, GET /api/v1/updates lists advisories ${JSON.stringify(ids)}`,
      );
      check(!JSON.stringify(entries).includes(adminPassword), 'the admin password is in the audit log');
    });
  } catch (err) {
    await failureShot(page, `${SHOT_PREFIX}failure.png`);
    throw err;
  }
}

// ---- the sample vendor and its api host ----

// Runs scripts/sample-vendor.sh (idempotent) and reads the sample-vendor.env it writes.
async function sampleVendor() {
  log(`running ${SAMPLE_SCRIPT} (the first run builds and pushes the sample images)`);
  const started = Date.now();
  const { code, output } = await runBounded(SAMPLE_SCRIPT, [SAMPLE_DIR], {
    env: { ...childEnv(), OUTPOST_AIRGAP: AIRGAP_BIN },
    timeoutMs: SAMPLE_VENDOR_TIMEOUT_MS,
  });
  if (code !== 0) {
    const tail = output.trimEnd().split('\n').slice(-30).join('\n');
    throw new Error(
      `scripts/sample-vendor.sh failed (${code}); it needs Docker, docker-registry and busybox-static ` +
        `(scripts/dev-setup.sh):\n${tail}`,
    );
  }
  log(`sample vendor script done in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  const envFile = path.join(SAMPLE_DIR, 'sample-vendor.env');
  const vendor = {};
  for (const line of fs.readFileSync(envFile, 'utf8').split('\n')) {
    const m = line.match(/^([A-Z_]+)=(.*)$/);
    if (m) vendor[m[1]] = m[2].replace(/^"(.*)"$/, '$1');
  }
  for (const key of [
    'SAMPLE_VENDOR_DIR', 'SAMPLE_KEY', 'SAMPLE_KEY_FINGERPRINT', 'SAMPLE_LICENSE', 'SAMPLE_CA', 'SAMPLE_API_HOST',
    'SAMPLE_API_HOST_CERT', 'SAMPLE_API_HOST_KEY', 'SAMPLE_MIRROR_RULES',
  ]) {
    check(nonEmpty(vendor[key]), `${envFile} has no ${key}`);
  }
  return vendor;
}

// `outpost-airgap serve` on 127.0.0.1:8801 with a copy of the sample vendor's files (this test publishes advisories,
// which must not change the sample vendor's own dir: its script compares what it published, and `make run` serves it);
// resolves once it prints "Serving ". Answers the vendor dir it serves.
async function startApiHost(vendor) {
  const root = path.join(tempDir('outpost-e2e-lifecycle-vendor-'), 'vendor');
  fs.cpSync(vendor.SAMPLE_VENDOR_DIR, root, { recursive: true });
  const listen = vendor.SAMPLE_API_HOST.replace(/^https:\/\//, '');
  const apiHost = startProcess('api host', AIRGAP_BIN, [
    'serve', '--root', root, '--listen', listen,
    '--tls-cert', vendor.SAMPLE_API_HOST_CERT, '--tls-key', vendor.SAMPLE_API_HOST_KEY,
  ]);
  await eventually(
    `the api host to print "Serving " on ${listen}`,
    async () => {
      processAlive(apiHost);
      return /^Serving /m.test(apiHost.stdout);
    },
    STARTUP_TIMEOUT_MS,
  );
  log(`api host serving ${vendor.SAMPLE_API_HOST} from ${root}`);
  return root;
}

// The version of the channel index in vendor dir ROOT (its signed payload, read without verifying it).
function indexVersion(root) {
  const file = path.join(root, 'channels', APP_ID, CHANNEL, 'index.json');
  const envelope = JSON.parse(fs.readFileSync(file, 'utf8'));
  const payload = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8'));
  check(Number.isInteger(payload.version), `${file} has no version: ${JSON.stringify(payload).slice(0, 200)}`);
  return payload.version;
}

// `outpost-airgap channel advise` into vendor dir ROOT with the sample vendor's key: the channel's next index version,
// with the advisory. Answers that version.
async function publishAdvisory(root, vendor, { id, severity, title, text, affects, fixedIn = null }) {
  const before = indexVersion(root);
  const args = [
    'channel', 'advise', '--root', root, '--key', vendor.SAMPLE_KEY, '--app', APP_ID, '--channel', CHANNEL,
    '--id', id, '--severity', severity, '--title', title, '--text', text, '--affects', affects,
    ...(fixedIn === null ? [] : ['--fixed-in', String(fixedIn)]),
  ];
  const { code, output } = await runBounded(AIRGAP_BIN, args, { timeoutMs: DOCKER_TIMEOUT_MS });
  if (code !== 0) throw new Error(`outpost-airgap ${args.join(' ')} failed (${code}): ${oneLine(output)}`);
  const after = indexVersion(root);
  check(after > before, `advising ${id} left the index at version ${after} (was ${before})`);
  const fix = fixedIn === null ? '' : `, fixed in ${fixedIn}`;
  log(`published advisory ${id} (${severity}, affects ${affects}${fix}): index version ${after}`);
  return after;
}

// ---- Docker and the host's ports ----

async function requireDocker() {
  const { code, output } = await runBounded('docker', ['info', '--format', '{{.ServerVersion}}'], {
    timeoutMs: DOCKER_TIMEOUT_MS,
  }).catch((err) => ({ code: -1, output: err.message }));
  if (code !== 0 || !nonEmpty(output)) {
    throw new Error(
      `the lifecycle test needs a running Docker engine, and \`docker info\` failed (${code}): ${oneLine(output)} ` +
        '(scripts/dev-setup.sh installs and starts it)',
    );
  }
  return oneLine(output);
}

async function requireAppPortFree() {
  const publishing = await docker(['ps', '--filter', `publish=${APP_PORT}`, '--format', '{{.Names}} ({{.Image}})']);
  if (nonEmpty(publishing)) {
    throw new Error(
      `host port ${APP_PORT} is taken by container ${oneLine(publishing)}: the sample app needs it; ` +
        'wait until that is done (another test?) or stop it',
    );
  }
  if (!(await portFree('0.0.0.0', APP_PORT)) || (await appPage()) !== null) {
    throw new Error(
      `host port ${APP_PORT} is in use (\`ss -ltnp 'sport = :${APP_PORT}'\` shows by what): the sample app needs it`,
    );
  }
}

async function requireApiHostPortFree() {
  if (!(await portFree('127.0.0.1', API_HOST_PORT))) {
    throw new Error(
      `port ${API_HOST_PORT} on 127.0.0.1 is in use (\`ss -ltnp 'sport = :${API_HOST_PORT}'\` shows by what): the ` +
        `sample license names https://127.0.0.1:${API_HOST_PORT} as its api host, so this test serves it there ` +
        '(`make run` starts one too); stop it first',
    );
  }
}

// Containers of the sample app that this test did not start: another test's (the Rust lifecycle test uses the
// same app) or a run that could not clean up. Not removed here: they may be in use.
async function requireNoSampleApp() {
  const listed = await docker(['ps', '-a', '--filter', `label=outpost.app=${APP_ID}`, '--format', '{{.Names}} {{.Status}}']);
  if (nonEmpty(listed)) {
    throw new Error(
      `containers of the sample app exist already (${listed.trim().split('\n').join('; ')}): another test may be ` +
        `using them; if not, remove them with \`docker rm -f $(docker ps -aq --filter label=outpost.app=${APP_ID}) && ` +
        `docker network rm ${APP_ID} && docker volume rm ${APP_ID}_worker-data\``,
    );
  }
}

// Removes the sample app's containers, network and volume; logs what it could not remove, never throws.
async function removeSampleApp() {
  try {
    const ids = (await docker(['ps', '-aq', '--filter', `label=outpost.app=${APP_ID}`])).split(/\s+/).filter(Boolean);
    if (ids.length) await docker(['rm', '-f', ...ids]);
    const network = await docker(['network', 'rm', APP_ID], { allowFailure: /not found|No such network/i });
    const volume = await docker(['volume', 'rm', `${APP_ID}_worker-data`], {
      allowFailure: /no such volume|not found/i,
    });
    const removed = [
      ids.length ? `${ids.length} containers` : null,
      nonEmpty(network) ? `network ${APP_ID}` : null,
      nonEmpty(volume) ? `volume ${APP_ID}_worker-data` : null,
    ].filter(Boolean);
    log(removed.length ? `removed the sample app: ${removed.join(', ')}` : 'no sample app to remove');
  } catch (err) {
    console.error(`e2e: could not remove the sample app: ${err.message}`);
  }
}

// `docker ARGS`, bounded; its stdout. A failure whose output matches `allowFailure` answers ''.
async function docker(args, { allowFailure = null } = {}) {
  const { code, stdout, output } = await runBounded('docker', args, { timeoutMs: DOCKER_TIMEOUT_MS });
  if (code === 0) return stdout;
  if (allowFailure && allowFailure.test(output)) return '';
  throw new Error(`docker ${args.join(' ')} failed (${code}): ${oneLine(output)}`);
}

// True when a listening socket can be opened on HOST:PORT.
function portFree(host, port) {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

// The app's home page, or null when nothing answers 2xx.
async function appPage() {
  try {
    const res = await fetch(APP_URL, { signal: AbortSignal.timeout(3000) });
    return res.ok ? await res.text() : null;
  } catch {
    return null;
  }
}

// Runs BIN ARGS to the end (killed past `timeoutMs`); its exit code, stdout, and stdout+stderr interleaved.
function runBounded(bin, args, { env = childEnv(), timeoutMs }) {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    let stdout = '';
    let output = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      output += chunk;
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
    });
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      output += `\n(killed: still running after ${timeoutMs / 1000}s)`;
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${bin}: ${err.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? signal, stdout, output });
    });
  });
}
