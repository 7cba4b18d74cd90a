// The lender's console, /: sign-in per role and what each sees and may
// do, the session cookie and the key kept out of the browser, CSRF,
// sign-out and a revoked key, the device list (search, filters, pages,
// CSV), registration with a contract and a simulated phone enrolled with
// the code from the page, a payment recorded elsewhere turning the phone
// unlocked on screen without a reload, user-supplied text shown as text,
// and the accessibility check on every view.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  api, apiOk, binDir, check, checkAccessible, checkClean, equal, makeTenant,
  newImei, openPage, registerDevice, settled, startServer,
} from './lib.mjs';

const run = promisify(execFile);
const XSS = '<img src=x onerror=alert(1)>';
// 401s the console meets on purpose (signed out, session ended).
const ended = [/Failed to load resource: the server responded with a status of 401/];

export async function setup() {
  // Every test signs in from 127.0.0.1: more than the default sign-in
  // burst (the limit itself is tested in test_server_sessions).
  const server = await startServer(['--signin-burst', '1000']);
  const { tenant, keys } = await makeTenant(server);
  const xss = await registerDevice(server, keys.admin, { model: XSS, loanRef: 'LOAN-XSS' });
  const plain = [];
  for (let i = 0; i < 3; i++)
    plain.push(await registerDevice(server, keys.admin, { serial: `PLAIN-${i}-${newImei()}` }));
  return { server, tenant, keys, xss, plain };
}

export async function teardown(ctx) {
  await ctx.server.stop();
}

async function signIn(browser, ctx, role, opts = {}) {
  const page = await openPage(browser, { viewport: { width: 1200, height: 900 }, ...opts });
  page.on('dialog', async (d) => { page.problems.push(`dialog: ${d.message()}`); await d.dismiss(); });
  await page.goto(`${ctx.server.url}/`);
  await page.waitForSelector('#signin');
  await page.fill('#key', ctx.keys[role]);
  await page.click('#signin button[type=submit]');
  await page.waitForSelector('#nav li');
  return page;
}

async function navLabels(page) {
  return page.locator('#nav a').allInnerTexts();
}

export const tests = [
  {
    name: 'console_each_role_sees_only_what_it_may_do',
    fn: async (ctx, browser) => {
      const want = {
        admin: ['Devices', 'Portfolio', 'Register a phone', 'Unmatched payments', 'Payment sources', 'Keys',
          'Audit log'],
        clerk: ['Register a phone'],
        support: ['Devices', 'Portfolio'],
        auditor: ['Devices', 'Portfolio', 'Audit log'],
      };
      const actions = {
        admin: ['pay', 'lock', 'unlock', 'sync', 'enroll-code', 'stolen', 'release'],
        clerk: null,
        support: ['sync'],
        auditor: [],
      };
      for (const role of Object.keys(want)) {
        const page = await signIn(browser, ctx, role);
        equal(JSON.stringify(await navLabels(page)), JSON.stringify(want[role]),
          `${role}: the views offered`);
        check((await page.innerText('#who')).includes(role), `${role}: named in the bar`);
        if (actions[role] === null) {
          // a clerk sent to the device list lands on registration
          await page.goto(`${ctx.server.url}/#/devices`);
          await settled(page);
          await page.waitForSelector('#register');
          equal(await page.locator('#devices').count(), 0, 'clerk: no device list');
        } else {
          await page.goto(`${ctx.server.url}/#/device/${ctx.plain[0].device.id}`);
          await settled(page);
          await page.waitForSelector('#facts dl');
          const forms = await page.locator('.actions form').evaluateAll(
            (fs) => fs.map((f) => f.id));
          equal(JSON.stringify(forms), JSON.stringify(actions[role]), `${role}: actions`);
        }
        // The API holds the line whatever the page offers: a payment
        // attempted with this session (and its CSRF token) is refused
        // unless the role is admin.
        const status = await page.evaluate(async (id) => {
          const s = await (await fetch('/v1/session')).json();
          const r = await fetch(`/v1/devices/${id}/payments`, {
            method: 'POST', body: JSON.stringify({ amount: 1 }),
            headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': s.csrf_token },
          });
          return r.status;
        }, ctx.plain[2].device.id);
        equal(status, role === 'admin' ? 201 : 403, `${role}: payment through the API`);
        checkClean(page, [/status of 403/]);
        await page.close();
      }
    },
  },
  {
    name: 'console_session_cookie_csrf_and_no_key_in_browser',
    fn: async (ctx, browser) => {
      const page = await signIn(browser, ctx, 'admin');
      const cookies = await page.context().cookies();
      equal(cookies.length, 1, 'one cookie');
      equal(cookies[0].name, 'fl_session', 'the session cookie');
      equal(cookies[0].httpOnly, true, 'HttpOnly');
      equal(cookies[0].sameSite, 'Strict', 'SameSite=Strict');
      check(cookies[0].value !== ctx.keys.admin, 'the cookie is not the key');
      const stored = await page.evaluate(() => JSON.stringify([
        document.cookie, Object.entries(localStorage), Object.entries(sessionStorage),
        document.documentElement.outerHTML]));
      check(!stored.includes(ctx.keys.admin), 'the key is nowhere in the page or its storage');
      equal(await page.inputValue('#key').catch(() => ''), '', 'no key field left filled');
      // Another site cannot sign this browser in: a form can send no
      // JSON, and the browser marks a cross-site fetch.
      const plain = await fetch(`${ctx.server.url}/v1/session`, {
        method: 'POST', headers: { 'Content-Type': 'text/plain' },
        body: JSON.stringify({ key: ctx.keys.admin }),
      });
      equal(plain.status, 400, 'sign-in as text/plain');
      // A change without the CSRF token is refused, even same-origin.
      const noToken = await page.evaluate(async () => (await fetch('/v1/keys', {
        method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ role: 'clerk' }),
      })).status);
      equal(noToken, 403, 'no CSRF token');
      // Signing in again gives a new session id.
      const first = cookies[0].value;
      await page.evaluate(async (key) => fetch('/v1/session', {
        method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ key }),
      }), ctx.keys.admin);
      const second = (await page.context().cookies())[0].value;
      check(second !== first, 'a new id at every sign-in');
      const old = await fetch(`${ctx.server.url}/v1/devices`,
        { headers: { Cookie: `fl_session=${first}` } });
      equal(old.status, 401, 'the old id no longer works');
      // Sign out: back to the sign-in form, the session is gone.
      await page.reload();
      await page.waitForSelector('#nav li');
      await page.click('#signout');
      await page.waitForSelector('#signin');
      const after = await fetch(`${ctx.server.url}/v1/devices`,
        { headers: { Cookie: `fl_session=${second}` } });
      equal(after.status, 401, 'signed out');
      checkClean(page, [/status of 403/, ...ended]);
      await page.close();
    },
  },
  {
    name: 'console_session_ends_when_its_key_is_revoked',
    fn: async (ctx, browser) => {
      const k = await apiOk(ctx.server, 'POST', '/v1/keys', ctx.keys.admin,
        { role: 'support', label: 'to revoke' }, 201);
      const page = await openPage(browser, { viewport: { width: 1200, height: 900 } });
      await page.goto(`${ctx.server.url}/`);
      await page.fill('#key', k.key);
      await page.click('#signin button[type=submit]');
      await page.waitForSelector('#devices');
      await apiOk(ctx.server, 'POST', `/v1/keys/${k.id}/revoke`, ctx.keys.admin, {});
      await page.click('#devices a');
      await page.waitForSelector('#signin');
      check(/ended/.test(await page.innerText('main')), 'the page says the session ended');
      check(!/null|undefined/.test(await page.innerText('main')), 'no stray words');
      equal(await page.isVisible('#signout'), false, 'no sign-out button when signed out');
      equal(await page.locator('#nav a').count(), 0, 'no views when signed out');
      // and a wrong key is refused in words
      await page.fill('#key', k.key);
      await page.click('#signin button[type=submit]');
      await page.waitForSelector('#signin .form-out.error');
      check(/not valid/.test(await page.innerText('#signin .form-out')), 'refused in words');
      checkClean(page, ended);
      await page.close();
    },
  },
  {
    name: 'console_user_supplied_text_shows_as_text',
    fn: async (ctx, browser) => {
      const page = await signIn(browser, ctx, 'admin');
      await page.goto(`${ctx.server.url}/#/devices?q=LOAN-XSS`);
      await settled(page);
      await page.waitForSelector('#devices tbody tr');
      // the search answer may replace a first, unfiltered page: wait for it
      await page.waitForFunction(
        () => document.querySelectorAll('#devices tbody tr').length === 1,
        null, { timeout: 5000 }).catch(() => {});
      equal(await page.locator('#devices tbody tr').count(), 1, 'found by loan reference');
      check((await page.innerText('#devices')).includes(XSS), 'the model shows as typed');
      equal(await page.locator('main img').count(), 0, 'no image element made of it');
      await page.click('#devices tbody a');
      await page.waitForSelector('#device-model');
      equal(await page.innerText('#device-model'), XSS, 'on the device page too');
      equal(await page.locator('main img').count(), 0, 'no image element there');
      checkClean(page); // no alert dialog, no error
      await page.close();
    },
  },
  {
    name: 'console_device_list_search_filters_pages_and_csv',
    fn: async (ctx, browser) => {
      const page = await signIn(browser, ctx, 'support');
      await page.waitForSelector('#devices');
      const total = 4;
      equal(await page.locator('#devices tbody tr').count(), total, 'every device');
      await page.fill('#q', ctx.plain[1].device.serial);
      await page.click('form.filters button[type=submit]');
      await page.waitForFunction(() => document.querySelectorAll('#devices tbody tr').length === 1);
      check((await page.innerText('#devices')).includes(ctx.plain[1].imei), 'search by serial');
      await page.goto(`${ctx.server.url}/#/devices?state=locked`);
      await settled(page);
      await page.waitForSelector('#no-devices');
      // Pages of 50: more devices than one page.
      for (let i = 0; i < 48; i++)
        await registerDevice(ctx.server, ctx.keys.admin, { contract: false });
      await page.goto(`${ctx.server.url}/#/devices`);
      await settled(page);
      await page.waitForSelector('#devices');
      await page.waitForSelector('a[rel=next]');
      equal(await page.locator('#devices tbody tr').count(), 50, 'a full page');
      await page.click('a[rel=next]');
      await page.waitForSelector('a[rel=prev]');
      equal(await page.locator('#devices tbody tr').count(), total + 48 - 50, 'the rest');
      await page.click('a[rel=prev]');
      await page.waitForFunction(() => document.querySelectorAll('#devices tbody tr').length === 50);
      // CSV of the filtered list.
      await page.goto(`${ctx.server.url}/#/devices?state=pending`);
      await settled(page);
      await page.waitForSelector('#devices');
      const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#export')]);
      const csv = readFileSync(await dl.path(), 'utf8').trim().split('\r\n');
      equal(csv[0].split(',')[1], 'imei', 'header');
      equal(csv.length, 1 + total + 48, 'one line per pending device');
      check(csv.some((l) => l.includes('"<img src=x onerror=alert(1)>"') ||
        l.includes('<img src=x onerror=alert(1)>')), 'the model as text in the CSV');
      checkClean(page);
      await page.close();
    },
  },
  {
    name: 'console_register_enroll_and_watch_payment_unlock_live',
    fn: async (ctx, browser) => {
      const page = await signIn(browser, ctx, 'admin');
      await page.click('#nav a[href="#/register"]');
      await page.waitForSelector('#register');
      const imei = newImei();
      await page.locator('#r-imei').pressSequentially(imei.slice(0, 14) + ((Number(imei[14]) + 1) % 10));
      check(/does not match/.test(await page.innerText('#r-imei-hint')), 'IMEI checked as typed');
      await page.fill('#r-imei', imei);
      check(/Valid/.test(await page.innerText('#r-imei-hint')), 'valid IMEI');
      const serial = `LIVE-${imei.slice(-6)}`;
      await page.fill('#r-serial', serial);
      await page.fill('#r-model', 'Tecno Spark');
      await page.click('#register button[type=submit]');
      await page.waitForSelector('#enrollment-code');
      const code = (await page.innerText('#enrollment-code')).trim();
      check(/^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/.test(code), `a readable code: ${code}`);
      // The contract: two installments, the first already overdue.
      await page.fill('#c-loan', 'LIVE-1');
      await page.selectOption('#c-kind', 'list');
      await page.fill('#c-list', '2026-01-31 100.00\n2099-02-28 100.00');
      await page.click('#contract-form button[type=submit]');
      await page.waitForSelector('#contract-form .form-out.error');
      await page.check('#c-overdue');
      await page.click('#contract-form button[type=submit]');
      await page.waitForSelector('#device-state');
      // The phone enrolls with the code read from the page.
      const dir = mkdtempSync(path.join(tmpdir(), 'finlock-phone-'));
      try {
        const check0 = await (await fetch(`${ctx.server.url}/check`)).text();
        const root = check0.match(/k4\.public\.[A-Za-z0-9_-]+/)[0];
        const dev = path.join(binDir, 'finlock-device');
        await run(dev, ['create', '--dir', dir, '--trust', root, '--imei', imei, '--serial', serial]);
        await run(dev, ['enroll', '--dir', dir, '--server', ctx.server.url, '--code', code]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      await page.waitForFunction(() =>
        document.getElementById('device-state').textContent === 'locked', null, { timeout: 60000 });
      // A payment recorded elsewhere (the API, as a payment source would).
      await page.evaluate(() => { globalThis.notReloaded = true; });
      const id = page.url().match(/device\/([^?]+)/)[1];
      await apiOk(ctx.server, 'POST', `/v1/devices/${id}/payments`, ctx.keys.admin,
        { amount: 10000, reference: 'MPESA-LIVE' }, 201);
      await page.waitForFunction(() =>
        document.getElementById('device-state').textContent === 'active', null, { timeout: 60000 });
      equal(await page.evaluate(() => globalThis.notReloaded), true, 'no reload');
      check((await page.innerText('#timeline')).includes('MPESA-LIVE'), 'the payment is on the timeline');
      // The admin records one from the page too.
      await page.fill('#pay-amount', '50');
      await page.fill('#pay-ref', 'COUNTER-1');
      await page.click('#pay button[type=submit]');
      await page.waitForFunction(() => document.getElementById('timeline').textContent.includes('COUNTER-1'));
      checkClean(page, [/status of 400/]); // the contract first sent without allow_overdue
      await page.close();
    },
  },
  {
    name: 'console_keys_and_audit',
    fn: async (ctx, browser) => {
      const page = await signIn(browser, ctx, 'admin');
      await page.goto(`${ctx.server.url}/#/keys`);
      await settled(page);
      await page.waitForSelector('#keys');
      await page.selectOption('#k-role', 'auditor');
      await page.fill('#k-label', '<b>night desk</b>');
      await page.click('#key-form button[type=submit]');
      await page.waitForSelector('#key-secret');
      await page.waitForFunction(() => document.getElementById('keys')
        .textContent.includes('night desk'));
      const secret = (await page.innerText('#key-secret')).trim();
      check(/^fl_[A-Za-z0-9_-]{43}$/.test(secret), 'the new key, shown once');
      check((await page.innerText('#keys')).includes('<b>night desk</b>'), 'label as text');
      const r = await api(ctx.server, 'GET', '/v1/audit', secret);
      equal(r.status, 200, 'the new key works');
      await page.goto(`${ctx.server.url}/#/audit`);
      await settled(page);
      await page.waitForSelector('#audit');
      await page.click('#verify');
      await page.waitForFunction(() => /verifies/.test(document.getElementById('verify-out').textContent));
      check((await page.innerText('#audit')).includes('device.register'), 'entries listed');
      checkClean(page);
      await page.close();
    },
  },
  {
    name: 'console_portfolio_figures_and_charts',
    fn: async (ctx, browser) => {
      const page = await signIn(browser, ctx, 'auditor');
      await page.click('#nav a[href="#/portfolio"]');
      await page.waitForSelector('#fig-devices');
      const rep = await apiOk(ctx.server, 'GET', '/v1/reports/portfolio', ctx.keys.auditor);
      equal(await page.innerText('#fig-devices'), String(rep.devices), 'devices, as the API says');
      const kes = rep.currencies.find((c) => c.currency === 'KES');
      equal(await page.innerText('#par1-KES'), `${(kes.par1 * 100).toFixed(1)}%`, 'PAR1');
      await page.waitForSelector('#collections svg.trend');
      const charts = page.locator('svg.chart[role=img]');
      await page.waitForSelector('#trends svg.trend');
      equal(await charts.count(), 5,
        'devices by state, PAR, collections, lock and cure rates, unlock latency charts');
      check(!/null|undefined/.test(await page.innerText('main')), 'no stray words');
      check(/pending \d+/.test(await charts.first().getAttribute('aria-label')),
        'the chart described in words');
      checkClean(page);
      await page.close();
    },
  },
  {
    name: 'console_views_are_accessible',
    fn: async (ctx, browser) => {
      const page = await openPage(browser, { viewport: { width: 1200, height: 900 } });
      await page.goto(`${ctx.server.url}/`);
      await page.waitForSelector('#signin');
      await checkAccessible(page, 'sign-in');
      // Keyboard only: the key field has focus; type and press Enter.
      await page.keyboard.type(ctx.keys.admin);
      await page.keyboard.press('Enter');
      await page.waitForSelector('#devices');
      await checkAccessible(page, 'devices');
      for (const [hash, sel] of [[`#/device/${ctx.xss.device.id}`, '#timeline'],
        ['#/portfolio', 'svg.chart'], ['#/register', '#register'], ['#/keys', '#keys'],
        ['#/audit', '#audit'], ['#/unmatched', '#no-unmatched'], ['#/sources', '#no-sources']]) {
        await page.goto(`${ctx.server.url}/${hash}`);
        await settled(page);
        await page.waitForSelector(sel);
        await checkAccessible(page, hash);
      }
      checkClean(page);
      await page.close();
    },
  },
];
