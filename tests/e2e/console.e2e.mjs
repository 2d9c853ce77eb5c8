// Browser end-to-end test of the Outpost console: the real `outpost-console` binary with its
// embedded UI, driven by the system Chromium through playwright-core.
//
// Flow: setup link -> password -> login (wrong, then right) -> dashboard ->
// license (first load pins the vendor key after the trust dialog; a file signed by another key is refused) ->
// config (a release of the sample app, signed here with the license's vendor key, loaded with `outpostctl`; bad
// values refused in the page and by the console, good ones saved; after a reload the secret is stored, never shown) ->
// nodes (join command from the page, a real agent joins and goes online, labels, SIGKILL -> offline) ->
// audit log -> TLS upload (garbage rejected, real pair hot-swapped without restart) -> logout.
//
// Environment:
//   OUTPOST_CONSOLE_BIN   console binary (default <repo>/target/debug/outpost-console)
//   OUTPOST_AIRGAP_BIN    vendor tool, for keys and licenses (default <repo>/target/debug/outpost-airgap)
//   OUTPOST_CTL_BIN       console control tool, for loading the release (default <repo>/target/debug/outpostctl)
//   OUTPOST_AGENT_BIN     node agent (default <repo>/target/debug/outpost-agent)
//   OUTPOST_E2E_CHROMIUM  browser binary (default /usr/bin/chromium)
//   OUTPOST_E2E_VERBOSE=1 echo the console's and the agent's stdout/stderr while the test runs
//
// Screenshots go to <repo>/target/e2e/. The last line is always `e2e: N passed, M failed`. The processes, waits and
// clean-up are shared with lifecycle.e2e.mjs (lib.mjs).

import { execFileSync } from 'node:child_process';
import { createHash, createPrivateKey, createPublicKey, randomBytes, sign } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';

import {
  ACTION_TIMEOUT_MS,
  AGENT_BIN,
  AIRGAP_BIN,
  CONSOLE_BIN,
  CTL_BIN,
  NODE_STATUS_TIMEOUT_MS,
  ROOT,
  agentAlive,
  apiJson,
  check,
  childEnv,
  eventually,
  failureShot,
  killAgent,
  log,
  matching,
  named,
  nonEmpty,
  oneLine,
  openBrowser,
  pageHelpers,
  prepareShots,
  requireBinaries,
  runTest,
  startAgent,
  startConsole,
  state,
  step,
  tempDir,
} from './lib.mjs';

const TLS_PROBE_TIMEOUT_MS = 10_000;

const LICENSE_CUSTOMER = 'E2E Customer';
// The license and the release are for the sample app, whose config items the Config step edits.
const LICENSE_APP = 'sample-app';
const SAMPLE_APP_DIR = path.join(ROOT, 'examples', 'sample-app', '1.0.0');
const RELEASE_PAYLOAD_TYPE = 'application/vnd.outpost.release.v1+json';
// DER prefix of a PKCS#8 ed25519 private key; the 32-byte seed follows.
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const REGISTRY_PASSWORD = 'e2e-secret-pw';
// A greeting the sample app's pattern accepts.
const CONFIG_GREETING = 'Hello from the browser test!';
const VENDOR_FINGERPRINT_RE = /^[0-9a-f]{64}$/;

const FINGERPRINT_RE = /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/;

runTest(run);

async function run() {
  requireBinaries([
    ['console', CONSOLE_BIN, 'OUTPOST_CONSOLE_BIN'],
    ['airgap', AIRGAP_BIN, 'OUTPOST_AIRGAP_BIN'],
    ['agent', AGENT_BIN, 'OUTPOST_AGENT_BIN'],
    ['outpostctl', CTL_BIN, 'OUTPOST_CTL_BIN'],
  ]);
  // Only this run's screenshots: an old shot (or failure.png) must not pass for a new one. This test runs first
  // (`npm test`), so it clears them all, the lifecycle test's too.
  prepareShots(() => true);

  const dataDir = tempDir('outpost-e2e-data-');
  const certDir = tempDir('outpost-e2e-cert-');
  const password = `e2e-Correct-Horse-${randomBytes(6).toString('hex')}`;

  const con = await startConsole(dataDir);
  const base = new URL(con.consoleUrl);
  const port = Number(base.port || 443);
  log(`console at ${con.consoleUrl}, agent channel at ${con.agentUrl}`);

  const { context, page } = await openBrowser({ consoleUrl: con.consoleUrl, isolate: 'prefer' });
  const { shot, byId, waitVisible } = pageHelpers(page);

  // The details card shows the license issued by `makeLicense`, field by field.
  const expectLicenseDetails = async (lic) => {
    await waitVisible('license-details');
    const text = async (id) => oneLine(await byId(id).textContent());
    await eventually(`license-customer to read "${lic.customer}"`, async () =>
      (await text('license-customer')) === lic.customer,
    );
    check((await text('license-app-id')) === LICENSE_APP, `license-app-id reads "${await text('license-app-id')}"`);
    check((await text('license-channel')) === 'stable', `license-channel reads "${await text('license-channel')}"`);
    check((await text('license-max-nodes')) === '3', `license-max-nodes reads "${await text('license-max-nodes')}"`);
    check((await text('license-registry-user')) === 'pull', `license-registry-user reads "${await text('license-registry-user')}"`);
    const expiry = await byId('license-expiry').getAttribute('data-value');
    check(expiry?.startsWith(lic.expires), `license-expiry data-value is ${expiry}, issued to expire on ${lic.expires}`);
    const tier = byId('license-entitlements').locator('[data-testid="license-entitlement"][data-key="tier"]');
    await named('the entitlement tier=gold', () => tier.waitFor({ state: 'visible', timeout: ACTION_TIMEOUT_MS }));
    const tierText = oneLine(await tier.innerText());
    check(/^tier\s+gold$/.test(tierText), `the tier entitlement row reads "${tierText}"`);
    const fp = await byId('license-fingerprint').getAttribute('data-value');
    check(fp === lic.fingerprint, `license-fingerprint data-value is ${fp}, keygen printed ${lic.fingerprint}`);
  };

  // The secret is nowhere: not in the page text, the markup, form fields, storage, or the API answers.
  const expectNoSecret = async (secret, what, when, apiPaths) => {
    const seen = {
      'page text': await page.evaluate(() => document.body.innerText),
      markup: await page.content(),
      'form fields': await page.evaluate(() =>
        Array.from(document.querySelectorAll('input, textarea'), (el) => el.value).join('\n'),
      ),
      storage: await page.evaluate(() => JSON.stringify([{ ...localStorage }, { ...sessionStorage }])),
    };
    for (const apiPath of apiPaths) seen[`GET ${apiPath}`] = JSON.stringify(await apiJson(context, base, apiPath));
    for (const [where, text] of Object.entries(seen)) {
      check(!text.includes(secret), `the ${what} shows up in the ${where} ${when}`);
    }
  };

  try {
    let oldFingerprint;
    // The license step's vendor key: the Config step signs the release with it.
    let vendor;

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

    await step('3 license', async () => {
      const keysDir = tempDir('outpost-e2e-vendor-');
      vendor = makeLicense(keysDir, 'vendor', {
        customer: LICENSE_CUSTOMER,
        registryPassword: REGISTRY_PASSWORD,
      });
      // Same app, another customer, signed by a key the console does not trust.
      const other = makeLicense(keysDir, 'other', { customer: 'Other Vendor Customer' });
      check(vendor.fingerprint !== other.fingerprint, 'two keygen runs printed the same fingerprint');
      log(`vendor key ${vendor.fingerprint}, other key ${other.fingerprint}`);

      await byId('nav-license').click();
      await waitVisible('license-page');
      await waitVisible('license-empty', 'license page without a license');

      // First load: the vendor key is shown for confirmation before anything is stored.
      await page.getByTestId('license-file').setInputFiles(vendor.licenseFile);
      await byId('license-load').click();
      await waitVisible('trust-dialog');
      const trustFingerprint = byId('trust-fingerprint');
      const shownValue = await trustFingerprint.getAttribute('data-value');
      check(
        shownValue === vendor.fingerprint,
        `trust dialog fingerprint data-value is ${shownValue}, keygen printed ${vendor.fingerprint}`,
      );
      const shownText = compactHex(await trustFingerprint.textContent());
      check(
        shownText === vendor.fingerprint,
        `trust dialog fingerprint text reads ${shownText}, keygen printed ${vendor.fingerprint}`,
      );
      const trustCustomer = (await byId('trust-customer').textContent())?.trim();
      check(trustCustomer === LICENSE_CUSTOMER, `trust dialog customer is "${trustCustomer}"`);
      await shot('04-license-trust.png');

      await byId('trust-confirm').click();
      await named('the trust dialog to close', () =>
        page.getByTestId('trust-dialog').waitFor({ state: 'hidden', timeout: ACTION_TIMEOUT_MS }),
      );
      await waitVisible('license-success');
      await waitVisible('license-details');
      await expectLicenseDetails(vendor);
      await expectNoSecret(REGISTRY_PASSWORD, 'registry password', 'after loading the license', ['/api/v1/license']);
      await shot('04-license.png');

      // A license signed by another key is refused in the page, and nothing changes.
      await byId('license-replace').click();
      await waitVisible('license-replace-form');
      const replaceForm = byId('license-replace-form');
      await replaceForm.getByTestId('license-file').setInputFiles(other.licenseFile);
      await replaceForm.getByTestId('license-load').click();
      await waitVisible('license-error', 'license-error for a license signed by another key');
      const errorText = oneLine(await byId('license-error').innerText());
      check(/pinned|trusted/i.test(errorText), `license-error does not mention the pinned key: "${errorText}"`);
      const fileFp = await byId('license-error-file-fingerprint').getAttribute('data-value');
      const pinnedFp = await byId('license-error-pinned-fingerprint').getAttribute('data-value');
      check(fileFp === other.fingerprint, `license-error names the file's key ${fileFp}, expected ${other.fingerprint}`);
      check(pinnedFp === vendor.fingerprint, `license-error names the pinned key ${pinnedFp}, expected ${vendor.fingerprint}`);
      check(
        (await page.getByTestId('trust-dialog').count()) === 0,
        'a trust dialog was offered for a license signed by another key',
      );
      log(`other key refused: "${errorText}"`);
      await expectLicenseDetails(vendor);
      await shot('04-license-wrong-key.png');

      await byId('license-replace-cancel').click();
      await named('the replace form to close', () =>
        page.getByTestId('license-replace-form').waitFor({ state: 'hidden', timeout: ACTION_TIMEOUT_MS }),
      );
      await expectLicenseDetails(vendor);
    });

    await step('4 config', async () => {
      const item = (name) => page.locator(`[data-testid="config-item"][data-item="${name}"]`).filter({ visible: true });
      const input = (name) => byId(`config-input-${name}`);
      const dirtyCount = async () => byId('config-dirty').getAttribute('data-count');
      // What the console has stored, item by item (a secret's value is always null here).
      const storedConfig = async () => {
        const config = await apiJson(context, base, '/api/v1/app/config');
        return Object.fromEntries(
          config.groups.flatMap((g) => g.items).map((i) => [i.name, { value: i.value, is_set: i.is_set }]),
        );
      };
      const expectNothingStored = async (when) => {
        const stored = await storedConfig();
        check(
          Object.values(stored).every((i) => i.value === null && i.is_set === false),
          `GET /api/v1/app/config ${when} shows stored values: ${JSON.stringify(stored)}`,
        );
      };
      // Every PUT of the config the page sends.
      const configPuts = [];
      const onRequest = (req) => {
        if (req.method() === 'PUT' && new URL(req.url()).pathname === '/api/v1/app/config') {
          configPuts.push(req.postDataJSON());
        }
      };

      // A license but no release yet: the page says how to load one.
      await byId('nav-config').click();
      await waitVisible('config-page');
      await waitVisible('config-empty', 'config-empty on a console without a release');

      // The sample app's release, signed with the vendor key the license step pinned, loaded on the console host.
      const release = makeRelease(vendor, path.join(tempDir('outpost-e2e-release-'), 'sample-app-1.0.0.release.json'), {
        sequence: 1,
        version: '1.0.0',
      });
      const loaded = oneLine(outpostctl(['--data-dir', dataDir, 'release', 'load', release.file]));
      check(loaded === 'release 1.0.0 (sequence 1) loaded', `outpostctl release load printed "${loaded}"`);
      const { releases } = await apiJson(context, base, '/api/v1/releases');
      const listed = (releases ?? []).map(({ sequence, version, digest }) => ({ sequence, version, digest }));
      check(
        JSON.stringify(listed) === JSON.stringify([{ sequence: 1, version: '1.0.0', digest: release.digest }]),
        `GET /api/v1/releases lists ${JSON.stringify(listed)}, expected the test's release ${release.digest}`,
      );

      // The page reads the newest release's config when it opens.
      await page.reload();
      await waitVisible('config-page');
      await named('the greeting item of the sample app', () =>
        item('greeting').waitFor({ state: 'visible', timeout: ACTION_TIMEOUT_MS }),
      );
      const picker = byId('config-release');
      await eventually('config-release to offer "1.0.0 (sequence 1)" and nothing else', async () => {
        const options = (await picker.locator('option').allTextContents()).map(oneLine);
        return options.length === 1 && options[0] === '1.0.0 (sequence 1)';
      });
      check((await picker.inputValue()) === '1', `config-release has value ${await picker.inputValue()}, expected 1`);
      const groups = await byId('config-group').evaluateAll((els) => els.map((el) => el.getAttribute('data-group')));
      check(
        groups.join(',') === 'general,security,operations',
        `config-group data-group values are ${groups.join(',')}, expected the sample app's groups`,
      );
      const items = await byId('config-item').evaluateAll((els) =>
        els.map((el) => `${el.getAttribute('data-item')}:${el.getAttribute('data-type')}`),
      );
      check(
        items.join(',') === 'greeting:text,admin_password:password,enable_metrics:bool,workers:number,log_level:select',
        `config items are ${items.join(',')}, expected the sample app's items`,
      );
      check((await dirtyCount()) === '0', `config-dirty counts ${await dirtyCount()} changes on a fresh page`);
      check(
        (await item('admin_password').getByTestId('config-secret-stored').count()) === 0,
        'config-secret-stored is shown before any password was saved',
      );
      await expectNothingStored('before any save');

      const adminPassword = `e2e-Admin-${randomBytes(9).toString('hex')}`;
      page.on('request', onRequest);
      try {
        // Values that fail the items' checks (the greeting's pattern, the workers' range), and a valid password:
        // the page flags both fields and sends nothing.
        await input('greeting').fill('Hello <b>e2e</b>');
        await input('workers').fill('999');
        await input('admin_password').fill(adminPassword);
        for (const [name, expected] of [
          ['greeting', /letters, spaces, commas/i],
          ['workers', /\b1 to 16\b/],
        ]) {
          const error = item(name).getByTestId('config-item-error');
          await named(`config-item-error of ${name}`, () =>
            error.waitFor({ state: 'visible', timeout: ACTION_TIMEOUT_MS }),
          );
          const text = oneLine(await error.textContent());
          check(expected.test(text), `config-item-error of ${name} reads "${text}"`);
        }
        check(
          (await item('admin_password').getByTestId('config-item-error').count()) === 0,
          'config-item-error is shown for a valid password',
        );
        await eventually('config-dirty to count 3 unsaved changes', async () => (await dirtyCount()) === '3');
        await waitVisible('config-release-locked', 'config-release-locked with unsaved changes');
        check(await picker.isDisabled(), 'config-release can be changed with unsaved changes');
        await shot('05-config-invalid.png', { tall: true });

        await byId('config-save').click();
        // The page does not send a form that fails its checks: it moves to the first failing field instead.
        await eventually('the first failing field (greeting) to get the focus after config-save', async () =>
          input('greeting').evaluate((el) => el === document.activeElement),
        );
        check(configPuts.length === 0, `the page sent ${configPuts.length} PUT /api/v1/app/config with invalid fields`);
        check((await page.getByTestId('config-saved').count()) === 0, 'config-saved is shown for invalid fields');
        await expectNothingStored('after a save with invalid fields');

        // Valid fields, but the required password left out: the page flags it on its field (nothing is stored
        // for it and it has no default, so the console would refuse every save) and sends nothing.
        await input('greeting').fill(CONFIG_GREETING);
        await input('workers').fill('4');
        await input('admin_password').fill('');
        await eventually('only admin_password to keep a config-item-error', async () =>
          (await page.getByTestId('config-item-error').count()) === 1 &&
          (await item('admin_password').getByTestId('config-item-error').count()) === 1,
        );
        const missing = oneLine(await item('admin_password').getByTestId('config-item-error').textContent());
        check(/required/i.test(missing), `config-item-error of admin_password reads "${missing}"`);
        await byId('config-save').click();
        await eventually('admin_password to get the focus after config-save', async () =>
          input('admin_password').evaluate((el) => el === document.activeElement),
        );
        check(configPuts.length === 0, `the page sent ${configPuts.length} PUT /api/v1/app/config without the password`);
        check((await input('workers').inputValue()) === '4', 'the edits are kept while the password is missing');
        check((await page.getByTestId('config-saved').count()) === 0, 'config-saved is shown without the password');
        await expectNothingStored('with the required password missing');
        await shot('05-config-refused.png', { tall: true });

        // With the password: saved.
        await input('admin_password').fill(adminPassword);
        await eventually('config-dirty to count 3 unsaved changes', async () => (await dirtyCount()) === '3');
        await byId('config-save').click();
        await waitVisible('config-saved');
        const savedText = oneLine(await byId('config-saved').innerText());
        check(
          savedText.includes('3 changes saved') && savedText.includes('1.0.0 (sequence 1)'),
          `config-saved reads "${savedText}"`,
        );
        check(configPuts.length === 1, `the page sent ${configPuts.length} PUTs of the config, expected 1`);
        const last = configPuts[0].values ?? {};
        check(
          Object.keys(last).sort().join(',') === 'admin_password,greeting,workers' &&
            last.admin_password === adminPassword,
          `the last PUT sent the items ${Object.keys(last).sort().join(',')}, expected admin_password,greeting,workers`,
        );
      } finally {
        page.off('request', onRequest);
      }
      check((await page.getByTestId('config-error').count()) === 0, 'config-error stays after a save went through');

      // Saved values are shown again; the password never is, only that one is stored.
      const expectSaved = async (when) => {
        await eventually(`config-dirty to count no changes ${when}`, async () => (await dirtyCount()) === '0');
        const greeting = await input('greeting').inputValue();
        check(greeting === CONFIG_GREETING, `config-input-greeting holds "${greeting}" ${when}`);
        const workers = await input('workers').inputValue();
        check(workers === '4', `config-input-workers holds "${workers}" ${when}`);
        check((await input('admin_password').inputValue()) === '', `the password field is not empty ${when}`);
        await named(`config-secret-stored for admin_password ${when}`, () =>
          item('admin_password').getByTestId('config-secret-stored').waitFor({
            state: 'visible',
            timeout: ACTION_TIMEOUT_MS,
          }),
        );
        const stored = await storedConfig();
        check(
          stored.greeting?.value === CONFIG_GREETING &&
            stored.workers?.value === '4' &&
            stored.admin_password?.value === null &&
            stored.admin_password?.is_set === true &&
            !stored.enable_metrics?.is_set &&
            !stored.log_level?.is_set,
          `GET /api/v1/app/config ${when} shows ${JSON.stringify(stored)}`,
        );
        await expectNoSecret(adminPassword, 'admin password', when, [
          '/api/v1/app/config',
          '/api/v1/releases',
          '/api/v1/audit',
        ]);
      };
      await expectSaved('after saving');

      await page.reload();
      await waitVisible('config-page');
      await eventually('config-input-workers to hold the saved 4 after a reload', async () =>
        (await input('workers').inputValue()) === '4',
      );
      await expectSaved('after a reload');
      await shot('05-config.png', { tall: true });
    });

    await step('5 nodes', async () => {
      await byId('nav-nodes').click();
      await waitVisible('nodes-page');
      await waitVisible('nodes-empty', 'nodes-empty on a console no node has joined');

      const addNode = byId('node-add');
      await addNode.getByTestId('join-token-create').click();
      await waitVisible('join-command');
      const command = oneLine(await byId('join-command').textContent());
      const parsed = command.match(/^outpost-agent join --console (https:\/\/\S+) --token (OPT1\.\S+)$/);
      check(parsed, `unexpected join command: "${command.replace(/OPT1\.\S+/, 'OPT1.<redacted>')}"`);
      const [, agentUrl, token] = parsed;
      check(
        agentUrl === con.agentUrl,
        `the join command points at ${agentUrl}, the console's agent channel is ${con.agentUrl}`,
      );
      const caHash = token.split('.')[1];
      check(/^[0-9a-f]{64}$/.test(caHash ?? ''), `the join token has no CA hash: ${token.slice(0, 12)}...`);

      const agentDir = path.join(tempDir('outpost-e2e-agent-'), 'agent');
      const agent = startAgent(['join', '--console', agentUrl, '--token', token, '--data-dir', agentDir]);
      state.agent = agent;

      // Exactly one node (the console is new), online, with the facts the agent reported.
      const rows = byId('node-row');
      const nodeId = await eventually(
        'a node-row with node-status "online" and OS/Docker facts',
        async () => {
          agentAlive(agent);
          if ((await rows.count()) !== 1) return null;
          const row = rows.first();
          const status = row.getByTestId('node-status');
          if ((await status.textContent())?.trim() !== 'online') return null;
          if ((await status.getAttribute('data-value')) !== 'online') return null;
          if (!nonEmpty(await row.getByTestId('node-os').textContent())) return null;
          if (!nonEmpty(await row.getByTestId('node-docker').textContent())) return null;
          return row.getAttribute('data-node-id');
        },
        NODE_STATUS_TIMEOUT_MS,
      );
      const row = page.locator(`[data-testid="node-row"][data-node-id="${nodeId}"]`);
      const joined = JSON.parse(fs.readFileSync(path.join(agentDir, 'node.json'), 'utf8'));
      check(joined.node_id === nodeId, `the page shows node ${nodeId}, the agent joined as ${joined.node_id}`);
      check((await row.getAttribute('data-status')) === 'online', 'node-row data-status is not "online"');
      const facts = {
        host: oneLine(await row.getByTestId('node-hostname').textContent()),
        os: oneLine(await row.getByTestId('node-os').textContent()),
        cpus: oneLine(await row.getByTestId('node-cpus').textContent()),
        memory: oneLine(await row.getByTestId('node-memory').textContent()),
        docker: oneLine(await row.getByTestId('node-docker').textContent()),
        disks: (await row.getByTestId('node-disk').allTextContents()).map(oneLine).join(', '),
      };
      check(/^\d+ CPUs?$/.test(facts.cpus), `node-cpus reads "${facts.cpus}"`);
      check(Number(await row.getByTestId('node-memory').getAttribute('data-value')) > 0, 'node-memory is not > 0');
      check(await byId('nodes-summary').isVisible(), 'nodes-summary is not shown');
      check(
        (await page.getByTestId('nodes-empty').count()) === 0,
        'nodes-empty is still shown next to a joined node',
      );
      log(`node ${nodeId} online: ${JSON.stringify(facts)}`);
      await shot('06-nodes.png');

      // Labels: add role=e2e in the row's editor.
      await row.getByTestId('node-labels-button').click();
      const editor = page.locator(`[data-testid="node-labels-edit"][data-node-id="${nodeId}"]`);
      await named('the label editor of the node', () =>
        editor.waitFor({ state: 'visible', timeout: ACTION_TIMEOUT_MS }),
      );
      await editor.getByTestId('label-add').click();
      await editor.getByTestId('label-key').last().fill('role');
      await editor.getByTestId('label-value').last().fill('e2e');
      await editor.getByTestId('node-labels-save').click();
      await named('the label editor to close after saving', () =>
        editor.waitFor({ state: 'hidden', timeout: ACTION_TIMEOUT_MS }),
      );
      await waitVisible('nodes-notice', 'nodes-notice after saving labels');
      const chip = row.locator('[data-testid="node-label"][data-key="role"]');
      await named('the label chip role=e2e', () => chip.waitFor({ state: 'visible', timeout: ACTION_TIMEOUT_MS }));
      check((await chip.getAttribute('data-value')) === 'e2e', 'the role chip has another data-value');
      check(oneLine(await chip.textContent()) === 'role=e2e', `the role chip reads "${await chip.textContent()}"`);
      const listed = await apiJson(context, base, '/api/v1/nodes');
      const stored = listed.nodes?.find((n) => n.id === nodeId);
      check(stored?.labels?.role === 'e2e', `GET /api/v1/nodes has labels ${JSON.stringify(stored?.labels)}`);

      // The agent dies without a word: the node goes offline in the table, without a reload.
      agentAlive(agent);
      await killAgent(agent);
      check(agent.exited?.signal === 'SIGKILL', `the agent ended with ${JSON.stringify(agent.exited)}, not SIGKILL`);
      const killedAt = Date.now();
      await eventually(
        'the node-status of the node to read "offline"',
        async () => {
          const status = row.getByTestId('node-status');
          return (
            (await status.textContent())?.trim() === 'offline' &&
            (await status.getAttribute('data-value')) === 'offline' &&
            (await row.getAttribute('data-status')) === 'offline'
          );
        },
        NODE_STATUS_TIMEOUT_MS,
      );
      log(`node shown offline ${((Date.now() - killedAt) / 1000).toFixed(1)}s after SIGKILL of the agent`);
      check((await chip.count()) === 1, 'the role=e2e chip is gone after the node went offline');
      await shot('07-node-offline.png');
    });

    await step('6 audit', async () => {
      await byId('nav-audit').click();
      await waitVisible('audit-page');
      const rows = await eventually('at least 3 audit-row entries', async () => {
        const n = await byId('audit-row').count();
        return n >= 3 ? n : null;
      });
      await eventually('"login.failed" in the audit log', async () =>
        (await byId('audit-page').innerText()).includes('login.failed'),
      );
      const actions = new Set(
        await byId('audit-row').evaluateAll((els) => els.map((el) => el.getAttribute('data-action'))),
      );
      for (const action of [
        'license.key_pinned',
        'license.loaded',
        'release.loaded',
        'config.changed',
        'node.join_token_created',
        'node.joined',
        'node.labels_changed',
      ]) {
        check(actions.has(action), `no audit-row with data-action="${action}" (found: ${[...actions].join(', ')})`);
      }
      log(`audit log shows ${rows} rows`);
      await shot('08-audit.png');
    });

    await step('7 tls', async () => {
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
      await shot('09-tls.png');

      const served = await peerFingerprint(base.hostname, port);
      check(
        served === newFingerprint,
        `a new TLS connection gets ${served}, expected the uploaded certificate ${newFingerprint}`,
      );
      log(`certificate hot-swapped: ${oldFingerprint} -> ${newFingerprint}`);
    });

    await step('8 logout', async () => {
      await byId('logout').click();
      await waitVisible('login-password', 'login page after logout');
      await shot('10-logged-out.png');

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
    await failureShot(page, 'failure.png');
    throw err;
  }
}

// ---- vendor keys and licenses ----

// A fresh signing key in DIR/NAME/ and a license signed with it, valid for a year.
function makeLicense(dir, name, { customer, registryPassword = null }) {
  const keys = path.join(dir, name);
  const keygen = airgap(['keygen', '--out', keys]);
  const fingerprint = keygen.match(/^Fingerprint: ([0-9a-f]+)$/m)?.[1];
  check(VENDOR_FINGERPRINT_RE.test(fingerprint ?? ''), `unexpected keygen output: ${keygen}`);
  const expires = new Date(Date.now() + 365 * 86_400_000).toISOString().slice(0, 10);
  const licenseFile = path.join(dir, `${name}.license`);
  const args = [
    'license', 'issue', '--key', path.join(keys, 'vendor.key'), '--customer', customer, '--app', LICENSE_APP,
    '--channel', 'stable', '--expires', expires, '--max-nodes', '3', '--entitlement', 'tier=gold',
  ];
  if (registryPassword !== null) args.push('--registry-host', 'registry.example.com', '--registry-user', 'pull', '--registry-password', registryPassword);
  airgap([...args, '--out', licenseFile]);
  return {
    customer,
    fingerprint,
    expires,
    licenseFile,
    keyFile: path.join(keys, 'vendor.key'),
    pubFile: path.join(keys, 'vendor.pub'),
  };
}

// A release of the sample app, signed with KEYFILE the way `outpost-airgap release create` signs one (a DSSE
// envelope, ed25519 over the pre-authentication encoding), but without resolving its images: nothing is pulled in
// this test, so each image is pinned to a made-up digest. `outpost-airgap verify` checks the file before it is used.
function makeRelease(vendor, outFile, { sequence, version }) {
  const keyText = fs.readFileSync(vendor.keyFile, 'utf8').trim();
  const seedBase64 = keyText.match(/^OUTPOST-ED25519-PRIVATE-KEY ([A-Za-z0-9+/]+=*)$/)?.[1];
  check(seedBase64, `${vendor.keyFile} is not an Outpost private key`);
  const seed = Buffer.from(seedBase64, 'base64');
  check(seed.length === 32, `${vendor.keyFile} holds ${seed.length} key bytes, not 32`);
  const key = createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const publicKey = createPublicKey(key).export({ format: 'der', type: 'spki' }).subarray(-32);
  const keyid = createHash('sha256').update(publicKey).digest('hex');
  check(
    keyid === vendor.fingerprint,
    `the key in ${vendor.keyFile} has id ${keyid}, keygen printed ${vendor.fingerprint}`,
  );

  const files = {};
  for (const name of ['compose.yaml', 'outpost.yaml']) {
    files[name] = fs.readFileSync(path.join(SAMPLE_APP_DIR, name), 'utf8');
  }
  const references = [...new Set(Array.from(files['compose.yaml'].matchAll(/^\s*image:\s*(\S+)\s*$/gm), (m) => m[1]))];
  check(references.length > 0, `no image in ${path.join(SAMPLE_APP_DIR, 'compose.yaml')}`);
  const release = {
    schema: 1,
    app_id: LICENSE_APP,
    channel: 'stable',
    sequence,
    version,
    notes: 'Signed by the browser end-to-end test.',
    required: false,
    created_at: new Date().toISOString(),
    files,
    images: references.map((reference) => ({
      reference,
      digest: `sha256:${createHash('sha256').update(`e2e placeholder ${reference}`).digest('hex')}`,
      platform: 'linux/amd64',
    })),
  };
  const payload = Buffer.from(JSON.stringify(release), 'utf8');
  const pae = Buffer.concat([
    Buffer.from(`DSSEv1 ${Buffer.byteLength(RELEASE_PAYLOAD_TYPE)} ${RELEASE_PAYLOAD_TYPE} ${payload.length} `, 'utf8'),
    payload,
  ]);
  const envelope = {
    payloadType: RELEASE_PAYLOAD_TYPE,
    payload: payload.toString('base64'),
    signatures: [{ keyid, sig: sign(null, pae, key).toString('base64') }],
  };
  fs.writeFileSync(outFile, `${JSON.stringify(envelope, null, 2)}\n`);

  const verified = airgap(['verify', outFile, '--pubkey', vendor.pubFile]);
  check(
    verified.includes(`Verified release, signed by key ${vendor.fingerprint}`),
    `outpost-airgap verify of the test's release printed: ${verified}`,
  );
  return { file: outFile, digest: `sha256:${createHash('sha256').update(fs.readFileSync(outFile)).digest('hex')}` };
}

function airgap(args) {
  try {
    return execFileSync(AIRGAP_BIN, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: childEnv() });
  } catch (err) {
    throw new Error(`outpost-airgap ${args.slice(0, 2).join(' ')} failed: ${err.stderr || err.message}`);
  }
}

function outpostctl(args) {
  try {
    return execFileSync(CTL_BIN, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: childEnv() });
  } catch (err) {
    throw new Error(`outpostctl ${args.join(' ')} failed: ${err.stderr || err.message}`);
  }
}

// ---- helpers of this test ----

// A fingerprint as shown in groups ("ab12 cd34 ...") back to bare lower-case hex.
function compactHex(text) {
  return String(text ?? '').replace(/\s+/g, '').toLowerCase();
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
