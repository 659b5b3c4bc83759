// The browser flow through SpawnIt's UI, as a person would go: sign in, browse the
// catalog, fill the HTTP echo form (first with a mistake), review the plan, apply, watch
// the job, break the deployment behind SpawnIt's back, check drift, reveal a secret
// output, destroy and delete. Driven with playwright-core and Debian's Chromium.
//
// runFlow is used by run.mjs against a real `spawnit serve` (SPAWNIT_URL) or the mock.

import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 375, height: 812 };

/** launch starts Chromium with a fresh profile; close() removes it. */
export async function launch({ executablePath = process.env.CHROMIUM_PATH || '/usr/bin/chromium' } = {}) {
  const profile = mkdtempSync(join(tmpdir(), 'spawnit-e2e-profile-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: DESKTOP,
    locale: 'en-GB',
    timezoneId: 'UTC',
    reducedMotion: 'reduce',
  });
  return {
    context,
    close: async () => {
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** A small test runner: named steps, each passed or failed, and a closing count line. */
export class Steps {
  constructor(log = console.log) {
    this.passed = 0;
    this.failed = 0;
    this.log = log;
  }
  async step(name, fn) {
    const t0 = Date.now();
    try {
      await fn();
      this.passed++;
      this.log(`ok   ${name} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    } catch (err) {
      this.failed++;
      this.log(`FAIL ${name}: ${err?.stack ?? err}`);
      throw err;
    }
  }
}

export function expect(cond, message) {
  if (!cond) throw new Error(message);
}

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function shoot(page, dir, name) {
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, `${name}-desktop.png`), fullPage: true });
  await page.setViewportSize(PHONE);
  await page.waitForTimeout(150);
  await page.screenshot({ path: join(dir, `${name}-phone.png`), fullPage: true });
  await page.setViewportSize(DESKTOP);
  await page.waitForTimeout(100);
}

/**
 * audit checks what can be checked mechanically on every screen: a page language, one
 * h1, every form control and button with an accessible name, images with alt text,
 * unique ids, and aria-describedby / label targets that exist.
 */
export async function audit(page, where) {
  const problems = await page.evaluate(() => {
    const out = [];
    const visible = (el) => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
    if (!document.documentElement.lang) out.push('no lang on <html>');
    const h1 = [...document.querySelectorAll('h1')].filter(visible);
    if (h1.length !== 1) out.push(`${h1.length} visible h1`);
    const name = (el) =>
      (el.getAttribute('aria-label') ?? '').trim() ||
      [...(el.getAttribute('aria-labelledby') ?? '').split(/\s+/)].map((id) => document.getElementById(id)?.textContent ?? '').join('').trim() ||
      [...(el.labels ?? [])].map((l) => l.textContent).join('').trim();
    for (const el of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
      if (visible(el) && !name(el)) out.push(`control without label: ${el.outerHTML.slice(0, 120)}`);
    }
    for (const el of document.querySelectorAll('button, a[href]')) {
      if (visible(el) && !(el.textContent ?? '').trim() && !name(el)) out.push(`unnamed ${el.tagName}: ${el.outerHTML.slice(0, 120)}`);
    }
    for (const img of document.querySelectorAll('img')) if (!img.hasAttribute('alt')) out.push('img without alt');
    const ids = new Map();
    for (const el of document.querySelectorAll('[id]')) ids.set(el.id, (ids.get(el.id) ?? 0) + 1);
    for (const [id, n] of ids) if (n > 1) out.push(`duplicate id ${id}`);
    for (const el of document.querySelectorAll('[aria-describedby], [aria-controls], label[for]')) {
      const refs = [el.getAttribute('aria-describedby'), el.getAttribute('aria-controls'), el.getAttribute('for')].filter(Boolean).join(' ').split(/\s+/);
      for (const r of refs) if (r && !document.getElementById(r)) out.push(`reference to missing id ${r}`);
    }
    return out;
  });
  expect(problems.length === 0, `accessibility problems on ${where}:\n  ${problems.join('\n  ')}`);
}

/** tabTo presses Tab until the element with the test id has the focus, proving it is reachable by keyboard. */
export async function tabTo(page, testid, max = 80) {
  await page.evaluate(() => {
    document.activeElement?.blur?.();
    window.scrollTo(0, 0);
  });
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate((id) => document.activeElement?.getAttribute('data-testid') === id, testid)) return;
  }
  throw new Error(`${testid} not reachable with Tab within ${max} presses`);
}

/**
 * signIn opens the app; when it shows the sign-in page, it clicks "Sign in" and fills
 * the identity provider's login form (inputs named username and password, as the test
 * OpenID Provider's and the mock's). It returns whether the server is single-user.
 */
export async function signIn(page, url, { user, password, screenshots } = {}) {
  await page.goto(url + '/');
  const button = page.getByTestId('sign-in');
  const nav = page.getByRole('navigation', { name: 'Main' });
  await Promise.race([button.waitFor(), nav.waitFor()]);
  if (!(await button.isVisible())) return true;
  if (screenshots) await shoot(page, screenshots, '00-sign-in');
  await button.click();
  const username = page.locator('input[name="username"]');
  await Promise.race([username.waitFor(), nav.waitFor()]);
  if (await username.isVisible()) {
    expect(user, 'the sign-in page asks for a user: set SPAWNIT_E2E_USER and SPAWNIT_E2E_PASSWORD');
    await username.fill(user);
    await page.locator('input[name="password"]').fill(password ?? '');
    await Promise.all([page.waitForURL((u) => u.toString().startsWith(url)), page.locator('input[name="password"]').press('Enter')]);
  }
  await nav.waitFor();
  return false;
}

/** Log lines of the job page, by seq. */
async function logSeqs(page) {
  return page.$$eval('[data-testid="job-log"] li[data-seq]', (els) => els.map((e) => Number(e.getAttribute('data-seq'))));
}

/**
 * runFlow drives the whole flow. Options:
 *   url          SpawnIt's base URL
 *   screenshots  folder for PNGs (optional)
 *   user, password  OpenID Provider credentials, used when the sign-in page appears
 *   breakService async (tenant, serviceId) => void: removes the service's container
 *   tamperState  async (tenant, serviceId) => void: changes the service's stored OpenTofu
 *                state behind SpawnIt's back (optional: the recovery step runs with it)
 *   repairState  async (tenant, serviceId) => void: puts the state tamperState changed back,
 *                as an operator repairs it before marking the service recovered (optional)
 *   publishVersion async () => {from, to}: publishes a new version of httpecho (a changed
 *                module, release notes) behind SpawnIt's back and says which version it moves
 *                from and to (optional: the upgrade step runs with it)
 *   timeoutMs    how long a job may take (default 180 s)
 *   steps        a Steps instance
 */
export async function runFlow(opts) {
  const { url, screenshots, user, password, breakService, tamperState, repairState, pokeService, publishVersion, steps = new Steps() } = opts;
  const jobTimeout = opts.timeoutMs ?? 180_000;
  const browser = await launch(opts);
  const page = browser.context.pages()[0] ?? (await browser.context.newPage());
  const consoleErrors = [];
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  page.setDefaultTimeout(30_000);
  const ctx = { serviceId: '', tenant: '', name: `E2E echo ${Date.now().toString(36)}`, singleUser: true };
  try {
    await steps.step('sign in', async () => {
      ctx.singleUser = await signIn(page, url, { user, password, screenshots });
      const who = await page.getByTestId('user').innerText();
      if (ctx.singleUser) {
        expect(/single-user mode/i.test(who), `expected "Single-user mode" in the header, got ${JSON.stringify(who)}`);
      } else {
        expect(!/single-user/i.test(who) && who.trim() !== '', `signed in, but the header says ${JSON.stringify(who)}`);
        expect(await page.getByRole('button', { name: 'Sign out' }).isVisible(), 'no sign-out button');
      }
      const me = await page.evaluate(async () => (await fetch('/api/v1/me')).json());
      ctx.tenant = me.tenant;
      expect(ctx.tenant, 'no tenant in /me');
    });

    await steps.step('catalog: cards, search and category filter', async () => {
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Catalog' }).click();
      await page.getByTestId('catalog').waitFor();
      const cards = await page.locator('[data-testid="catalog"] > li').count();
      expect(cards >= 2, `only ${cards} templates in the catalog`);
      await audit(page, 'the catalog');
      await shoot(page, screenshots, '01-catalog');
      await page.getByLabel('Search').fill('echo');
      await page.waitForFunction(() => document.querySelectorAll('[data-testid="catalog"] > li').length === 1);
      await page.getByLabel('Search').fill('');
      await page.getByLabel('Category').selectOption('test');
      const ids = await page.$$eval('[data-testid="catalog"] > li', (els) => els.map((e) => e.getAttribute('data-template')));
      expect(ids.includes('httpecho') && ids.every((i) => i), `category filter shows ${ids}`);
      // Keyboard: the card's link takes focus and opens with Enter.
      await page.getByRole('link', { name: 'HTTP echo (test)' }).focus();
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { level: 1, name: /Deploy HTTP echo/ }).waitFor();
    });

    await steps.step('form: generated controls and a validation error next to the field', async () => {
      const port = page.getByLabel('Port', { exact: false }).first();
      expect((await port.getAttribute('type')) === 'number', 'port is not a number input');
      expect((await port.getAttribute('min')) === '1024' && (await port.getAttribute('max')) === '65535', 'port min/max');
      // No default: left empty, SpawnIt chooses a free port.
      expect((await port.inputValue()) === '', 'port prefilled although the server chooses it');
      expect((await page.getByLabel('Greeting').inputValue()) === 'hello from spawnit', 'greeting default');
      expect(await page.getByLabel(/Generate a random value for me/).isChecked(), 'secret not generated by default');
      await page.getByLabel('Service name').fill(ctx.name);
      await port.fill('80');
      // Submit with the keyboard: Enter in a field submits with the first button (Review plan).
      await port.press('Enter');
      const err = page.getByTestId('error-in-port');
      await err.waitFor();
      const text = await err.innerText();
      expect(/between 1024 and 65535/.test(text), `port error says ${JSON.stringify(text)}`);
      expect((await port.getAttribute('aria-invalid')) === 'true', 'port not marked invalid');
      const described = (await port.getAttribute('aria-describedby')) ?? '';
      expect(described.includes('in-port-error'), 'the error is not tied to the input');
      await page.getByTestId('error-summary').waitFor();
      // The secret: switch generation off, the password input and its show/hide toggle appear.
      await page.getByLabel(/Generate a random value for me/).uncheck();
      const tok = page.getByLabel('Your own value');
      expect((await tok.getAttribute('type')) === 'password', 'secret input is not a password input');
      await tok.fill('a-token-of-my-own-12345');
      await page.getByRole('button', { name: /Show Token/ }).click();
      expect((await tok.getAttribute('type')) === 'text', 'show did not reveal the secret');
      await page.getByRole('button', { name: /Hide Token/ }).click();
      await audit(page, 'the form');
      await shoot(page, screenshots, '02-form-error');
      const free = await freePort();
      ctx.port = free;
      await port.fill(String(free));
      await page.getByLabel(/Generate a random value for me/).check();
    });

    await steps.step('create and review the plan', async () => {
      await page.getByTestId('submit-plan').click();
      await page.waitForURL(/\/services\/[^/]+\/jobs\/[^/]+$/);
      ctx.serviceId = new URL(page.url()).pathname.split('/')[2];
      // For the Go test's clean-up should a later step fail.
      steps.log(`  service ${ctx.tenant}/${ctx.serviceId}`);
      await page.locator('[data-testid="job-banner"][data-state="succeeded"]').waitFor({ timeout: jobTimeout });
      const summary = await page.getByTestId('plan-summary').innerText();
      expect(/Will create [1-9]\d*, change 0, destroy 0/.test(summary), `plan summary: ${summary}`);
      expect(/docker_container/.test(summary), 'the plan does not list the container');
      await audit(page, 'the plan');
      await shoot(page, screenshots, '03-plan');
    });

    await steps.step('apply: live log, progress and success', async () => {
      const planURL = page.url();
      await page.getByTestId('apply-plan').click();
      await page.waitForURL((u) => u.toString() !== planURL && u.pathname.includes('/jobs/'));
      ctx.applyURL = page.url();
      await page.locator('[data-testid="job-log"] li[data-seq]').first().waitFor({ timeout: jobTimeout });
      // Running (if still): screenshot it while lines stream in.
      const running = await page.locator('[data-testid="job-banner"]:not([data-state="succeeded"]):not([data-state="failed"])').count();
      if (running) {
        await page.getByTestId('resource-progress').waitFor({ timeout: 5000 }).catch(() => undefined);
        await shoot(page, screenshots, '04-job-running');
      }
      await page.locator('[data-testid="job-banner"][data-state="succeeded"], [data-testid="job-banner"][data-state="failed"]').waitFor({ timeout: jobTimeout });
      const state = await page.getByTestId('job-banner').getAttribute('data-state');
      if (state !== 'succeeded') throw new Error(`apply ended ${state}: ${await page.getByTestId('job-banner').innerText()}\n${await page.getByTestId('job-log').innerText()}`);
      expect(/Deployed/.test(await page.getByTestId('job-banner').innerText()), 'no success sentence');
      const seqs = await logSeqs(page);
      expect(seqs.length > 0, 'no log lines');
      expect(new Set(seqs).size === seqs.length, `duplicated log lines: ${seqs}`);
      expect(seqs.every((s, i) => i === 0 || s > seqs[i - 1]), `log lines out of order: ${seqs}`);
      const announced = await page.getByTestId('announcer').innerText();
      expect(/Deployed/.test(announced), `the live region did not announce the result: ${JSON.stringify(announced)}`);
      const progress = await page.getByTestId('resource-progress').innerText();
      expect(/docker_container/.test(progress), 'no per-resource progress');
      await audit(page, 'the job page');
      await shoot(page, screenshots, '05-job-success');
      // Reload: the same lines, none lost or repeated.
      await page.reload();
      await page.locator('[data-testid="job-banner"][data-state="succeeded"]').waitFor();
      await page.waitForFunction((n) => document.querySelectorAll('[data-testid="job-log"] li[data-seq]').length >= n, seqs.length);
      const again = await logSeqs(page);
      expect(JSON.stringify(again) === JSON.stringify(seqs), `after reload the log has ${again.length} lines (${again}), before ${seqs.length} (${seqs})`);
      // The endpoint answers.
      const endpoint = await page.getByTestId('outputs').getByRole('link').first().getAttribute('href');
      expect(endpoint && endpoint.includes(String(ctx.port)), `endpoint ${endpoint} is not on port ${ctx.port}`);
      ctx.endpoint = endpoint;
    });

    await steps.step('my services: status badges', async () => {
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'My services' }).click();
      const row = page.locator(`[data-service="${ctx.serviceId}"]`);
      await row.waitFor();
      expect((await row.getByTestId('intent-badge').innerText()).includes('Deployed'), 'intent badge');
    });

    await steps.step('my services: pages, a search the server answers, kept in the address', async () => {
      // Four services, created only (nothing deployed), named so one search finds just them.
      const tag = `pg${Date.now().toString(36)}`;
      const made = await page.evaluate(async (tag) => {
        const me = await (await fetch('/api/v1/me')).json();
        const headers = { 'Content-Type': 'application/json' };
        if (me.csrf_token) headers['X-CSRF-Token'] = me.csrf_token;
        const ids = [];
        for (const n of ['alpha', 'beta', 'gamma', 'delta']) {
          const r = await fetch('/api/v1/services', { method: 'POST', headers, body: JSON.stringify({ template: 'httpecho', name: `${tag} ${n}`, inputs: {} }) });
          if (r.status !== 201) return { error: `create answered ${r.status}: ${await r.text()}` };
          ids.push((await r.json()).id);
        }
        return { ids };
      }, tag);
      expect(!made.error, made.error);
      const rows = '[data-testid="services"] > li';
      const count = () => page.locator(rows).count();
      // A page size of 3 (from the address): the first page, then the rest with "Show more".
      await page.goto(`${url}/services?limit=3&q=${tag}`);
      await page.waitForFunction((sel) => document.querySelectorAll(sel).length === 3, rows);
      const more = page.getByRole('button', { name: 'Show more services' });
      await more.focus();
      await page.keyboard.press('Enter');
      await page.waitForFunction((sel) => document.querySelectorAll(sel).length === 4, rows);
      expect((await more.count()) === 0, '"Show more services" still offered after the last page');
      const focused = await page.evaluate(() => document.activeElement?.closest('[data-service]')?.getAttribute('data-service'));
      expect(focused && made.ids.includes(focused), `focus did not move to the first row added (${focused})`);
      // The search goes to the server (?q=) and narrows the list there.
      const box = page.getByLabel('Search services');
      expect((await box.inputValue()) === tag, `the search box says ${await box.inputValue()}`);
      const asked = page.waitForRequest((r) => new URL(r.url()).pathname === '/api/v1/services' && new URL(r.url()).searchParams.get('q') === `${tag} gamma`);
      await box.fill(`${tag} gamma`);
      await asked;
      await page.waitForFunction((sel) => document.querySelectorAll(sel).length === 1, rows);
      expect(new URL(page.url()).searchParams.get('q') === `${tag} gamma`, `the address does not keep the search: ${page.url()}`);
      await audit(page, 'my services, searched');
      // Reload and back keep it.
      await page.reload();
      await page.waitForFunction((sel) => document.querySelectorAll(sel).length === 1, rows);
      await page.locator(rows).getByRole('link', { name: `${tag} gamma` }).click();
      await page.getByRole('heading', { level: 1, name: `${tag} gamma` }).waitFor();
      await page.goBack();
      await page.waitForFunction((sel) => document.querySelectorAll(sel).length === 1, rows);
      expect((await page.getByLabel('Search services').inputValue()) === `${tag} gamma`, 'back lost the search');
      // Nothing matches: said so, with a way back.
      await page.getByLabel('Search services').fill(`${tag} none`);
      await page.getByTestId('services-empty').waitFor();
      expect(/No services match/.test(await page.getByTestId('services-empty').innerText()), 'no empty-result message');
      expect((await count()) === 0, 'rows shown for a search nothing matches');
      const gone = await page.evaluate(async (ids) => {
        const me = await (await fetch('/api/v1/me')).json();
        const headers = me.csrf_token ? { 'X-CSRF-Token': me.csrf_token } : {};
        const codes = [];
        for (const id of ids) codes.push((await fetch(`/api/v1/services/${encodeURIComponent(id)}`, { method: 'DELETE', headers })).status);
        return codes;
      }, made.ids);
      expect(gone.every((c) => c === 204), `deleting the listed services answered ${gone}`);
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'My services' }).click();
      await page.locator(`[data-service="${ctx.serviceId}"]`).waitFor();
      expect((await page.getByLabel('Search services').inputValue()) === '', '"My services" kept the search');
    });

    await steps.step('live list: a drift check started elsewhere shows up without reloading', async () => {
      await breakService(ctx.tenant, ctx.serviceId);
      const row = page.locator(`[data-service="${ctx.serviceId}"]`);
      await row.waitFor();
      // Start the check as another client would (with the page's session and CSRF token).
      const status = await page.evaluate(async (id) => {
        const me = await (await fetch('/api/v1/me')).json();
        const headers = { 'Content-Type': 'application/json', 'Idempotency-Key': 'e2e-' + Date.now() };
        if (me.csrf_token) headers['X-CSRF-Token'] = me.csrf_token;
        return (await fetch(`/api/v1/services/${encodeURIComponent(id)}/drift`, { method: 'POST', headers })).status;
      }, ctx.serviceId);
      expect(status === 202, `POST drift answered ${status}`);
      await page.waitForFunction(
        (id) => /Missing/.test(document.querySelector(`[data-service="${id}"] [data-testid="drift-badge"]`)?.textContent ?? ''),
        ctx.serviceId,
        { timeout: jobTimeout },
      );
      expect(/Drift check/.test(await row.innerText()), `the row does not show the last job: ${await row.innerText()}`);
      await audit(page, 'my services');
      await shoot(page, screenshots, '06-services-drift');
    });

    await steps.step('drift on the service page: "Check drift" button, badge "missing", repair offered', async () => {
      await page.locator(`[data-service="${ctx.serviceId}"]`).getByRole('link', { name: ctx.name }).click();
      await page.getByTestId('action-drift').waitFor();
      await page.waitForFunction(() => !document.querySelector('[data-testid="action-drift"]')?.hasAttribute('disabled'));
      const jobsBefore = await page.locator('[data-testid="jobs"] tbody tr').count();
      await page.getByTestId('action-drift').click();
      // A new drift job appears in the history and finishes; the badge stays "Missing".
      await page.waitForFunction((n) => document.querySelectorAll('[data-testid="jobs"] tbody tr').length > n, jobsBefore, { timeout: jobTimeout });
      await page.waitForFunction(() => !document.querySelector('[data-testid="busy-badge"]'), undefined, { timeout: jobTimeout });
      const badge = await page.locator('[data-testid="service-status"] [data-testid="drift-badge"]').innerText();
      expect(/Missing/.test(badge), `service page drift badge: ${badge}`);
      // Health recorded after the apply no longer says healthy once resources are gone
      // (the real server records health; the mock has none).
      const health = page.locator('[data-testid="service-status"] [data-testid="health-badge"]');
      if (await health.count()) {
        const h = await health.innerText();
        expect(/unhealthy/i.test(h), `service page health badge with resources missing: ${h}`);
      }
      await page.getByTestId('remediate').waitFor();
      await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'My services' }).click();
      await page.locator(`[data-service="${ctx.serviceId}"]`).waitFor();
    });

    await steps.step('service detail: outputs, reveal a secret, inputs masked, history', async () => {
      await page.locator(`[data-service="${ctx.serviceId}"]`).getByRole('link', { name: ctx.name }).click();
      await page.getByTestId('outputs').waitFor();
      const outputs = page.getByTestId('outputs');
      expect(!(await outputs.innerText()).includes('a-token'), 'a secret is shown unasked');
      const reveal = page.getByRole('button', { name: /Reveal token/ });
      await reveal.click();
      await page.getByRole('button', { name: /Hide token/ }).waitFor();
      const shown = await outputs.innerText();
      expect(/token[\s\S]*[A-Za-z0-9]{12,}/i.test(shown), `revealed token not shown: ${shown}`);
      await page.getByRole('button', { name: /Hide token/ }).click();
      const inputs = await page.getByTestId('inputs').innerText();
      expect(inputs.includes(String(ctx.port)) && inputs.includes('hidden'), `inputs: ${inputs}`);
      const jobs = await page.getByTestId('jobs').innerText();
      expect(/Plan/.test(jobs) && /Apply/.test(jobs) && /Drift check/.test(jobs), `history: ${jobs}`);
      await audit(page, 'the service page');
      await shoot(page, screenshots, '07-service-detail');
    });

    await steps.step('configuration history: revisions, compare, restore plans and applies nothing', async () => {
      const panel = page.getByTestId('revisions');
      await panel.getByText('Applied').first().waitFor();
      const text = await panel.innerText();
      expect(/Created/.test(text) && /Applied/.test(text), `revisions: ${text}`);
      await panel.getByRole('button', { name: 'Compare' }).click();
      await page.getByTestId('revision-compare').waitFor();
      await audit(page, 'the configuration history');
      await shoot(page, screenshots, '07b-configuration-history');
      await panel.getByRole('button', { name: 'Restore revision 1', exact: true }).click();
      await page.getByRole('dialog').getByRole('button', { name: 'Restore and plan' }).click();
      await page.waitForURL(/\/jobs\//);
      await page.locator('[data-testid="job-banner"][data-state="succeeded"], [data-testid="job-banner"][data-state="failed"]').waitFor({ timeout: jobTimeout });
      const banner = page.getByTestId('job-banner');
      expect((await banner.getAttribute('data-state')) === 'succeeded', `the restore's plan ended: ${await banner.innerText()}`);
      const body = await page.locator('main').innerText();
      expect(/revision 1 are restored/.test(body) && /nothing is applied until you apply/.test(body), `restore page: ${body}`);
      // Applying is offered, not done: "Not now" goes back to the service.
      await page.getByTestId('apply-plan').waitFor();
      await page.getByRole('link', { name: 'Not now' }).click();
      await page.getByTestId('action-destroy').waitFor();
    });
    if (publishVersion) {
      await steps.step('upgrade: offered with its release notes, the plan names the change, applied to the new version', async () => {
        const { from, to } = await publishVersion();
        await page.reload();
        const offer = page.getByTestId('upgrade-offer');
        await offer.waitFor();
        const text = await offer.innerText();
        expect(text.includes(`${from} → ${to}`) && /Restarts always/.test(text), `upgrade offer: ${text}`);
        expect((await page.getByTestId('service-version').innerText()) === from, `the service is not shown on ${from}`);
        await page.getByTestId('upgrade-plan').click();
        const result = page.getByTestId('upgrade-plan-result');
        await result.getByTestId('plan-summary').waitFor({ timeout: jobTimeout });
        const planText = await result.innerText();
        expect(/docker_container\.httpecho/.test(planText), `the upgrade plan does not name the container: ${planText}`);
        await audit(page, 'the upgrade plan');
        await shoot(page, screenshots, '075-upgrade-plan');
        await page.getByTestId('upgrade-apply').click();
        await page.waitForURL(/\/jobs\//);
        await page.locator('[data-testid="job-banner"][data-state="succeeded"], [data-testid="job-banner"][data-state="failed"]').waitFor({ timeout: jobTimeout });
        const banner = page.getByTestId('job-banner');
        expect((await banner.getAttribute('data-state')) === 'succeeded', `the upgrade ended ${await banner.getAttribute('data-state')}: ${await banner.innerText()}`);
        await page.getByRole('link', { name: 'Go to the service' }).click();
        // The version is recorded right after the job's end; the page follows the service's events.
        await page.locator('[data-testid="service-version"]', { hasText: to }).waitFor({ timeout: 30_000 });
        expect((await page.getByTestId('upgrade-offer').count()) === 0, 'an upgrade is still offered on the latest version');
      });
    }

    if (pokeService) {
      await steps.step('live container log: a request made while it is open shows up; stopped and started again', async () => {
        // The drift step removed the container: apply again first.
        if (await page.getByTestId('remediate').count()) {
          await page.getByTestId('action-apply').click();
          await page.waitForURL(/\/jobs\//);
          await page.locator('[data-testid="job-banner"][data-state="succeeded"], [data-testid="job-banner"][data-state="failed"]').waitFor({ timeout: jobTimeout });
          const banner = page.getByTestId('job-banner');
          expect((await banner.getAttribute('data-state')) === 'succeeded', `the repair ended ${await banner.getAttribute('data-state')}: ${await banner.innerText()}`);
          await page.getByRole('link', { name: 'Go to the service' }).click();
        }
        const panel = page.getByTestId('container-panel');
        await panel.waitFor();
        await page.getByTestId('open-log').click();
        await page.locator('[data-testid="log-status"][data-status="live"]').waitFor();
        const line = 'GET /from-the-browser-test';
        // The service writes a line once it is asked something: ask until the open log shows it.
        const deadline = Date.now() + 60_000;
        for (;;) {
          await pokeService(ctx.tenant, ctx.serviceId, ctx.endpoint, line);
          const shown = await page
            .waitForFunction((l) => document.querySelector('[data-testid="container-log"]')?.textContent?.includes(l), line, { timeout: 2_000 })
            .then(() => true, () => false);
          if (shown) break;
          expect(Date.now() < deadline, `the live log never showed "${line}": ${await page.getByTestId('container-log').innerText()}`);
        }
        await audit(page, 'the live container log');
        await shoot(page, screenshots, '07c-container-log');
        const driftBefore = await page.getByTestId('drift-badge').innerText();
        await page.getByTestId('container-stop').click();
        await page.locator('[data-testid="container-state"][data-stopped="true"]').waitFor();
        await page.getByTestId('stopped-badge').waitFor();
        const drift = await page.getByTestId('drift-badge').innerText();
        expect(drift === driftBefore, `stopping changed the drift badge from ${driftBefore} to ${drift}`);
        await page.locator('[data-testid="log-status"][data-status="ended"]').waitFor();
        await page.getByTestId('container-start').click();
        await page.locator('[data-testid="container-state"][data-stopped="false"]').waitFor();
        expect((await page.getByTestId('stopped-badge').count()) === 0, 'still marked stopped after start');
      });
    }

    if (tamperState) {
      await steps.step('needs recovery: a tampered state stops the apply; marked as recovered, the apply works', async () => {
        await tamperState(ctx.tenant, ctx.serviceId);
        await page.getByTestId('action-apply').click();
        await page.waitForURL(/\/jobs\//);
        await page.locator('[data-testid="job-banner"][data-state="succeeded"], [data-testid="job-banner"][data-state="failed"]').waitFor({ timeout: jobTimeout });
        const banner = page.getByTestId('job-banner');
        expect((await banner.getAttribute('data-state')) === 'failed', `an apply on a tampered state ended ${await banner.getAttribute('data-state')}`);
        await page.getByRole('link', { name: 'Go to the service' }).click();
        const notice = page.getByTestId('recovery-notice');
        await notice.waitFor();
        expect(/could not save or verify/.test(await notice.innerText()), `recovery notice: ${await notice.innerText()}`);
        const found = await page.getByTestId('recovery-note').innerText();
        expect(/lineage changed-by-the-browser-test/.test(found), `recovery note: ${found}`);
        await audit(page, 'a service that needs recovery');
        await shoot(page, screenshots, '08-needs-recovery');
        // The operator repairs the state (an encrypted state whose clear lineage was edited
        // is one tofu cannot read), then says so.
        if (repairState) await repairState(ctx.tenant, ctx.serviceId);
        await page.getByTestId('action-recover').click();
        await page.getByRole('dialog', { name: /as recovered\?/ }).getByRole('button', { name: 'Mark as recovered' }).click();
        await notice.waitFor({ state: 'hidden' });
        expect(/is marked as recovered/.test(await page.getByTestId('service-notice').innerText()), 'no confirmation after recovering');
        await page.getByTestId('action-apply').click();
        await page.waitForURL(/\/jobs\//);
        await page.locator('[data-testid="job-banner"][data-state="succeeded"], [data-testid="job-banner"][data-state="failed"]').waitFor({ timeout: jobTimeout });
        expect((await banner.getAttribute('data-state')) === 'succeeded', `the apply after recovering ended ${await banner.getAttribute('data-state')}: ${await banner.innerText()}`);
        await page.getByRole('link', { name: 'Go to the service' }).click();
        await page.getByTestId('action-destroy').waitFor();
      });
    }

    await steps.step('destroy with confirmation', async () => {
      // By keyboard: Tab to Destroy, Enter opens the dialog with Cancel focused, Escape closes it.
      await tabTo(page, 'action-destroy');
      await page.keyboard.press('Enter');
      const dialog = page.getByRole('dialog');
      await dialog.waitFor();
      const focused = await page.evaluate(() => document.activeElement?.textContent);
      expect(focused === 'Cancel', `the dialog focused ${JSON.stringify(focused)} first, not Cancel`);
      await audit(page, 'the destroy dialog');
      await page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'hidden' });
      await page.getByTestId('action-destroy').click();
      await page.getByRole('dialog').getByRole('button', { name: 'Destroy' }).click();
      await page.waitForURL(/\/jobs\//);
      await page.locator('[data-testid="job-banner"][data-state="succeeded"], [data-testid="job-banner"][data-state="failed"]').waitFor({ timeout: jobTimeout });
      const state = await page.getByTestId('job-banner').getAttribute('data-state');
      expect(state === 'succeeded', `destroy ended ${state}: ${await page.getByTestId('job-banner').innerText()}`);
    });

    await steps.step('delete the service', async () => {
      await page.getByRole('link', { name: 'Go to the service' }).click();
      await page.getByTestId('action-delete').click();
      await page.getByRole('dialog').getByRole('button', { name: /^(Delete|Destroy and delete)$/ }).click();
      await page.waitForURL(/\/services$/);
      await page.waitForFunction((id) => !document.querySelector(`[data-service="${id}"]`), ctx.serviceId);
    });

    if (!ctx.singleUser) {
      await steps.step('sign out', async () => {
        await page.getByRole('button', { name: 'Sign out' }).click();
        await page.getByTestId('sign-in').waitFor();
        const me = await page.evaluate(async () => (await fetch('/api/v1/me')).status);
        expect(me === 401, `after sign-out /me answers ${me}`);
      });
    }

    await steps.step('no errors in the browser console', async () => {
      // EventSource reconnects and 4xx answers the UI handles are logged by the browser
      // as network errors; only script errors count here.
      const real = consoleErrors.filter((e) => !/Failed to load resource|EventSource|net::ERR_/.test(e));
      expect(real.length === 0, `console errors:\n${real.join('\n')}`);
    });
    return ctx;
  } catch (err) {
    if (screenshots) await page.screenshot({ path: join(screenshots, 'failure.png'), fullPage: true }).catch(() => undefined);
    throw err;
  } finally {
    await browser.close();
  }
}

/**
 * mockOnlyFlow checks what the mock can stage quickly: create-and-apply, a failed apply,
 * marking a service that needs recovery as recovered, cancel with the cool-off.
 */
export async function mockOnlyFlow({ url, screenshots, steps = new Steps(), mock, user, password }) {
  const browser = await launch();
  const page = browser.context.pages()[0] ?? (await browser.context.newPage());
  page.setDefaultTimeout(20_000);
  try {
    await signIn(page, url, { user, password });
    await steps.step('mock: server validation errors appear next to the fields', async () => {
      await page.goto(url + '/catalog/httpecho');
      // The mock refuses the name "taken", a rule the browser cannot check by itself.
      await page.getByLabel('Service name').fill('taken');
      await page.getByTestId('submit-save').click();
      const err = page.getByTestId('error-svc-name');
      await err.waitFor();
      const text = await err.innerText();
      expect(/Is already used by another service\./.test(text), `name error: ${text}`);
      expect((await page.getByLabel('Service name').getAttribute('aria-invalid')) === 'true', 'name not marked invalid');
      expect(/Service name: Is already used/.test(await page.getByTestId('error-summary').innerText()), 'summary');
    });

    await steps.step('mock: create and apply directly, then a failing apply', async () => {
      await page.goto(url + '/catalog/httpecho');
      await page.getByLabel('Service name').fill('fails');
      await page.getByLabel('Port').fill(String(await freePort()));
      await page.getByLabel('Greeting').fill('fail');
      await page.getByTestId('submit-apply').click();
      await page.waitForURL(/\/jobs\//);
      await page.locator('[data-testid="job-banner"][data-state="failed"]').waitFor();
      const text = await page.getByTestId('job-banner').innerText();
      expect(/Apply failed: Unable to start container/.test(text), `failure banner: ${text}`);
      expect(!/Created \d/.test(text), `a failed apply reports the plan's counts as done: ${text}`);
      const log = await page.getByTestId('job-log').innerText();
      expect(/Error: Unable to start container/.test(log), 'diagnostic not in the log');
      await shoot(page, screenshots, '08-job-failed');
    });

    await steps.step('mock: a service that needs recovery is marked as recovered, behind a confirmation', async () => {
      await page.goto(url + '/catalog/httpecho');
      await page.getByLabel('Service name').fill('needs recovery');
      await page.getByLabel('Port').fill(String(await freePort()));
      await page.getByTestId('submit-apply').click();
      await page.waitForURL(/\/jobs\//);
      await page.locator('[data-testid="job-banner"][data-state="succeeded"]').waitFor();
      const id = new URL(page.url()).pathname.split('/')[2];
      const marked = await fetch(`${url}/__mock/needs-recovery/${encodeURIComponent(id)}`, { method: 'POST' });
      expect(marked.status === 204, `mock needs-recovery: ${marked.status}`);
      await page.goto(`${url}/services/${encodeURIComponent(id)}`);
      const notice = page.getByTestId('recovery-notice');
      await notice.waitFor();
      const text = await notice.innerText();
      expect(/could not save or verify/.test(text) && /errored\.tfstate/.test(text) && /refuses to\s+apply or destroy/.test(text), `recovery notice: ${text}`);
      // Applies are refused meanwhile, in a sentence.
      await page.getByTestId('action-apply').click();
      const refused = page.getByTestId('service-notice');
      await refused.waitFor();
      expect(/needs recovery/.test(await refused.innerText()), `apply refusal: ${await refused.innerText()}`);
      await audit(page, 'a service that needs recovery');
      await shoot(page, screenshots, '10-needs-recovery');
      // By keyboard: the dialog opens with Cancel focused, Escape closes it and nothing changes.
      await tabTo(page, 'action-recover');
      await page.keyboard.press('Enter');
      const dialog = page.getByRole('dialog', { name: /as recovered\?/ });
      await dialog.waitFor();
      expect((await page.evaluate(() => document.activeElement?.textContent)) === 'Cancel', 'the recover dialog does not focus Cancel first');
      await audit(page, 'the recover dialog');
      await page.keyboard.press('Escape');
      await dialog.waitFor({ state: 'hidden' });
      await notice.waitFor();
      // While a job runs the server refuses (409 busy): the reason is shown, the mark stays.
      mock.setStepMs?.(1500);
      await page.getByTestId('action-recover').click();
      await dialog.waitFor();
      const started = await page.evaluate(async (sid) => {
        const me = await (await fetch('/api/v1/me')).json();
        const headers = { 'Content-Type': 'application/json' };
        if (me.csrf_token) headers['X-CSRF-Token'] = me.csrf_token;
        return (await fetch(`/api/v1/services/${encodeURIComponent(sid)}/drift`, { method: 'POST', headers })).status;
      }, id);
      expect(started === 202, `POST drift answered ${started}`);
      await dialog.getByRole('button', { name: 'Mark as recovered' }).click();
      await page.waitForFunction(() => /not marked as recovered\. This service is busy with a job/.test(document.querySelector('[data-testid="service-notice"]')?.textContent ?? ''));
      await dialog.waitFor({ state: 'hidden' });
      mock.setStepMs?.(null);
      await page.waitForFunction(() => !document.querySelector('[data-testid="action-recover"]')?.hasAttribute('disabled'), undefined, { timeout: 30_000 });
      // Confirmed: the mark is gone, focus is on the heading, and applies are accepted again.
      await page.getByTestId('action-recover').click();
      await dialog.getByRole('button', { name: 'Mark as recovered' }).click();
      await notice.waitFor({ state: 'hidden' });
      await page.getByTestId('action-recover').waitFor({ state: 'detached' });
      const done = await page.getByTestId('service-notice').innerText();
      expect(/is marked as recovered/.test(done), `after recovering: ${done}`);
      await page.waitForFunction(() => document.activeElement?.id === 'svc-title');
      await page.getByTestId('action-apply').click();
      await page.waitForURL(/\/jobs\//);
      await page.locator('[data-testid="job-banner"][data-state="succeeded"]').waitFor();
    });

    await steps.step('mock: a drift Docker reports shows at once, awaiting confirmation, until the check confirms it', async () => {
      await page.goto(url + '/catalog/httpecho');
      const name = `signal ${Date.now().toString(36)}`;
      await page.getByLabel('Service name').fill(name);
      await page.getByLabel('Port').fill(String(await freePort()));
      await page.getByTestId('submit-apply').click();
      await page.waitForURL(/\/jobs\//);
      await page.locator('[data-testid="job-banner"][data-state="succeeded"]').waitFor();
      const id = new URL(page.url()).pathname.split('/')[2];
      await page.goto(`${url}/services?q=${encodeURIComponent(name)}`);
      const row = page.locator(`[data-service="${id}"]`);
      await row.waitFor();
      const signalled = await fetch(`${url}/__mock/signal/${encodeURIComponent(id)}`, { method: 'POST' });
      expect(signalled.status === 204, `mock signal: ${signalled.status}`);
      // The list: from the event, without reading anything, in words.
      await page.waitForFunction((id) => /Missing, awaiting confirmation/.test(document.querySelector(`[data-service="${id}"] [data-testid="drift-badge"]`)?.textContent ?? ''), id);
      expect(/was removed/.test(await row.getByTestId('drift-signal').innerText()), 'the row does not say what Docker reported');
      await page.waitForFunction(() => /awaiting confirmation/.test(document.querySelector('[data-testid="announcer"]')?.textContent ?? ''));
      await audit(page, 'my services, a drift awaiting confirmation');
      await shoot(page, screenshots, '11-services-drift-unconfirmed');
      // The service page: the same, and no repair offered before the check.
      await row.getByRole('link', { name }).click();
      await page.getByTestId('drift-unconfirmed').waitFor();
      expect(/awaiting confirmation/.test(await page.locator('[data-testid="service-status"] [data-testid="drift-badge"]').innerText()), 'service page badge');
      expect((await page.getByTestId('remediate').count()) === 0, 'repair offered before the drift is confirmed');
      await audit(page, 'a service whose drift awaits confirmation');
      await shoot(page, screenshots, '12-service-drift-unconfirmed');
      await page.waitForFunction(() => !document.querySelector('[data-testid="action-drift"]')?.hasAttribute('disabled'));
      // Everything the live region says from here on (several messages follow each other).
      await page.evaluate(() => {
        window.__said = [];
        const el = document.querySelector('[data-testid="announcer"]');
        new MutationObserver(() => window.__said.push(el.textContent)).observe(el, { childList: true, characterData: true, subtree: true });
      });
      await page.getByTestId('action-drift').click();
      // Confirmed: "Missing" alone, the notice gone, repair offered, and it is announced.
      await page.waitForFunction(() => {
        const b = document.querySelector('[data-testid="service-status"] [data-testid="drift-badge"]')?.textContent ?? '';
        return /Missing/.test(b) && !/awaiting/.test(b) && !document.querySelector('[data-testid="drift-unconfirmed"]');
      });
      await page.getByTestId('remediate').waitFor();
      await page.waitForFunction(() => window.__said.some((t) => /confirms: missing/.test(t)));
    });

    await steps.step('mock: cancel, force stop refused during the cool-off, then allowed', async () => {
      mock.setStepMs?.(1500);
      await page.goto(url + '/catalog/httpecho');
      await page.getByLabel('Service name').fill('slow');
      await page.getByLabel('Port').fill(String(await freePort()));
      await page.getByTestId('submit-apply').click();
      await page.waitForURL(/\/jobs\//);
      const force = page.getByTestId('force-stop');
      expect(await force.isDisabled(), 'force stop enabled before cancel');
      await page.getByTestId('cancel').click();
      await page.waitForFunction(() => !document.querySelector('[data-testid="force-stop"]')?.hasAttribute('disabled'));
      await force.click();
      const err = page.getByTestId('job-action-error');
      await err.waitFor();
      expect(/Force stop becomes possible/.test(await err.innerText()), `cool-off message: ${await err.innerText()}`);
      await shoot(page, screenshots, '09-job-cancelling');
      await page.waitForTimeout(1700);
      if (await force.isVisible()) await force.click().catch(() => undefined);
      await page.locator('[data-testid="job-banner"][data-state="cancelled"]').waitFor();
      mock.setStepMs?.(null);
    });
  } finally {
    await browser.close();
  }
}

/**
 * postgresFlow follows a PostgreSQL deploy from the form to its connection details, then
 * opens the service's live container log and sees the server say it accepts connections.
 * It needs a real server whose Docker target pulls postgres:15-alpine from where the
 * operator keeps it (the Go test maps it to the Debian-built image in the local registry).
 */
export async function postgresFlow(opts) {
  const { url, screenshots, user, password, steps = new Steps() } = opts;
  const jobTimeout = opts.timeoutMs ?? 180_000;
  const browser = await launch(opts);
  const page = browser.context.pages()[0] ?? (await browser.context.newPage());
  page.setDefaultTimeout(30_000);
  const ctx = { name: `E2E postgres ${Date.now().toString(36)}`, serviceId: '' };
  try {
    await steps.step('postgres: sign in, fill the form, create and apply', async () => {
      await signIn(page, url, { user, password });
      const me = await page.evaluate(async () => (await fetch('/api/v1/me')).json());
      ctx.tenant = me.tenant;
      await page.goto(`${url}/catalog/postgres`);
      await page.getByLabel('Service name').fill(ctx.name);
      ctx.port = await freePort();
      await page.getByLabel('Port', { exact: false }).first().fill(String(ctx.port));
      await page.getByLabel(/PostgreSQL version|Version/i).first().selectOption('15');
      await page.getByTestId('submit-apply').click();
      await page.waitForURL(/\/services\/[^/]+\/jobs\/[^/]+$/);
      ctx.serviceId = new URL(page.url()).pathname.split('/')[2];
      // For the Go test's clean-up should a later step fail.
      steps.log(`  service ${ctx.tenant}/${ctx.serviceId}`);
      await page.locator('[data-testid="job-banner"][data-state="succeeded"], [data-testid="job-banner"][data-state="failed"]').waitFor({ timeout: jobTimeout });
      const banner = page.getByTestId('job-banner');
      expect((await banner.getAttribute('data-state')) === 'succeeded', `the apply ended ${await banner.getAttribute('data-state')}: ${await banner.innerText()}`);
    });

    await steps.step('postgres: the connection details', async () => {
      await page.getByRole('link', { name: 'Go to the service' }).click();
      const outputs = page.getByTestId('outputs');
      await outputs.waitFor();
      const text = await outputs.innerText();
      expect(text.includes(`127.0.0.1:${ctx.port}`), `no endpoint on port ${ctx.port}: ${text}`);
      expect(/connection_uri|Connection uri|connection/i.test(text), `no connection URI offered: ${text}`);
      await page.getByRole('button', { name: /Reveal connection/i }).click();
      await page.waitForFunction(
        (port) => document.querySelector('[data-testid="outputs"]')?.textContent?.includes(`postgresql://app:`) && document.querySelector('[data-testid="outputs"]')?.textContent?.includes(`@127.0.0.1:${port}/app`),
        ctx.port,
      );
      await shoot(page, screenshots, '10-postgres-connection');
    });

    await steps.step('postgres: the live container log', async () => {
      await page.getByTestId('open-log').click();
      await page.locator('[data-testid="log-status"][data-status="live"]').waitFor();
      await page.waitForFunction(
        () => document.querySelector('[data-testid="container-log"]')?.textContent?.includes('database system is ready to accept connections'),
        undefined,
        { timeout: jobTimeout },
      );
      await audit(page, 'the PostgreSQL service with its live log');
      await shoot(page, screenshots, '11-postgres-log');
    });

    await steps.step('postgres: destroy it', async () => {
      await page.getByTestId('action-destroy').click();
      await page.getByRole('dialog').getByRole('button', { name: 'Destroy' }).click();
      await page.waitForURL(/\/jobs\//);
      await page.locator('[data-testid="job-banner"][data-state="succeeded"], [data-testid="job-banner"][data-state="failed"]').waitFor({ timeout: jobTimeout });
      const banner = page.getByTestId('job-banner');
      expect((await banner.getAttribute('data-state')) === 'succeeded', `the destroy ended ${await banner.getAttribute('data-state')}`);
    });
  } finally {
    await browser.close();
  }
  return steps;
}
