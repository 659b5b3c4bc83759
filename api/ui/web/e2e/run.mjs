// Browser end-to-end test of the UI.
//
// Against a running SpawnIt (what a Go test does after starting `spawnit serve`):
//   SPAWNIT_URL=http://127.0.0.1:8080 node e2e/run.mjs
// Against the mock server (started here, serving the built UI from ../dist):
//   node e2e/run.mjs            (npm run e2e)
//
// Environment:
//   SPAWNIT_URL               the server; unset: start the mock (MOCK_AUTH=single|oidc)
//   SPAWNIT_E2E_USER, SPAWNIT_E2E_PASSWORD   credentials for the OpenID Provider's login form
//   SPAWNIT_E2E_BREAK_CMD     command that removes the deployed container, with {tenant} and
//                             {service} replaced; default: docker rm -f spawnit-{tenant}-{service}
//   SPAWNIT_E2E_TAMPER_CMD    command that changes the service's stored state (its lineage),
//                             with {tenant} and {service} replaced; unset: no recovery step
//   SPAWNIT_E2E_PUBLISH_CMD   command that publishes a new version of httpecho behind SpawnIt's
//                             back (its files in the store changed by hand); unset: no upgrade step
//   SPAWNIT_E2E_PUBLISH_FROM, SPAWNIT_E2E_PUBLISH_TO   the version httpecho ships with and
//                             the one the command publishes
//   SPAWNIT_SCREENSHOTS       folder for screenshots (default e2e/screenshots)
//   SPAWNIT_E2E_TIMEOUT_MS    how long one job may take (default 180000)
//   CHROMIUM_PATH             default /usr/bin/chromium
//   SPAWNIT_E2E_POSTGRES      1: also deploy PostgreSQL to its connection details and open its
//                             live container log (the server must be able to pull its image)
// It prints one line per step and ends with "N passed, M failed"; the exit code is 0 only
// when every step passed.

import { execFile } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { mockOnlyFlow, postgresFlow, runFlow, Steps } from './flow.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const run = promisify(execFile);
const screenshots = resolve(process.env.SPAWNIT_SCREENSHOTS || resolve(here, 'screenshots'));
const steps = new Steps();

const ID = /^[a-z0-9][a-z0-9-]*$/i;

async function breakWithCommand(tenant, service) {
  if (!ID.test(tenant) || !ID.test(service)) throw new Error(`unexpected ids ${tenant}/${service}`);
  const template = process.env.SPAWNIT_E2E_BREAK_CMD || 'docker rm -f spawnit-{tenant}-{service}';
  const cmd = template.replaceAll('{tenant}', tenant).replaceAll('{service}', service);
  const { stdout, stderr } = await run('sh', ['-c', cmd], { timeout: 60_000 });
  if (stdout.trim() || stderr.trim()) console.log(`  break: ${cmd}: ${(stdout + stderr).trim()}`);
}

async function tamperWithCommand(tenant, service) {
  await stateCommand(process.env.SPAWNIT_E2E_TAMPER_CMD, tenant, service);
}

async function repairWithCommand(tenant, service) {
  await stateCommand(process.env.SPAWNIT_E2E_REPAIR_CMD, tenant, service);
}

async function stateCommand(template, tenant, service) {
  if (!ID.test(tenant) || !ID.test(service)) throw new Error(`unexpected ids ${tenant}/${service}`);
  const cmd = template.replaceAll('{tenant}', tenant).replaceAll('{service}', service);
  await run('sh', ['-c', cmd], { timeout: 60_000 });
}

let mock = null;
let url = process.env.SPAWNIT_URL?.replace(/\/+$/, '');
let code = 1;
try {
  if (!url) {
    const { startMockServer } = await import('./mock-server.mjs');
    mock = await startMockServer({ port: 0, quiet: true, auth: process.env.MOCK_AUTH || 'single', stepMs: Number(process.env.MOCK_STEP_MS || 250) });
    url = mock.url;
    console.log(`mock server at ${url} (auth: ${process.env.MOCK_AUTH ?? 'single'})`);
  }
  console.log(`screenshots in ${screenshots}`);
  const user = process.env.SPAWNIT_E2E_USER || (mock ? 'test-user@localhost' : undefined);
  const password = process.env.SPAWNIT_E2E_PASSWORD || (mock ? 'verysecure' : undefined);
  // SPAWNIT_E2E_POSTGRES=1: the server's Docker target can pull PostgreSQL (the Go test maps
  // it to the image built from Debian in the local registry).
  if (!mock && process.env.SPAWNIT_E2E_POSTGRES === '1') {
    await postgresFlow({ url, screenshots, steps, user, password, timeoutMs: Number(process.env.SPAWNIT_E2E_TIMEOUT_MS || 180_000) });
  }
  await runFlow({
    url,
    screenshots,
    user,
    password,
    timeoutMs: Number(process.env.SPAWNIT_E2E_TIMEOUT_MS || 180_000),
    steps,
    breakService: mock
      ? async (_tenant, service) => {
          const r = await fetch(`${url}/__mock/break/${encodeURIComponent(service)}`, { method: 'POST' });
          if (r.status !== 204) throw new Error(`mock break: ${r.status}`);
        }
      : breakWithCommand,
    tamperState: !mock && process.env.SPAWNIT_E2E_TAMPER_CMD ? tamperWithCommand : undefined,
    repairState: !mock && process.env.SPAWNIT_E2E_REPAIR_CMD ? repairWithCommand : undefined,
    // Makes the deployed service write `line` to its log: the test image logs each request.
    pokeService: mock
      ? async (_tenant, service, _endpoint, line) => {
          const r = await fetch(`${url}/__mock/log/${encodeURIComponent(service)}?text=${encodeURIComponent('httpecho: ' + line)}`, { method: 'POST' });
          if (r.status !== 204) throw new Error(`mock log: ${r.status}`);
        }
      : async (_tenant, _service, endpoint, line) => {
          const path = line.split(' ')[1];
          await fetch(new URL(path, endpoint)).then((r) => r.text(), () => '');
        },
    publishVersion:
      !mock && process.env.SPAWNIT_E2E_PUBLISH_CMD
        ? async () => {
            await run('sh', ['-c', process.env.SPAWNIT_E2E_PUBLISH_CMD], { timeout: 60_000 });
            return { from: process.env.SPAWNIT_E2E_PUBLISH_FROM, to: process.env.SPAWNIT_E2E_PUBLISH_TO };
          }
        : undefined,
  });
  if (mock) await mockOnlyFlow({ url, screenshots, steps, mock, user, password });
  code = steps.failed === 0 ? 0 : 1;
} catch (err) {
  if (steps.failed === 0) {
    steps.failed++;
    console.log(`FAIL setup: ${err?.stack ?? err}`);
  }
} finally {
  await mock?.close();
  console.log(`${steps.passed} passed, ${steps.failed} failed`);
  process.exit(code);
}
