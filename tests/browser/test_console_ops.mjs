// The console's work on many devices and on one: the device list's
// filters (overdue, lock held, stolen, SIM and tamper alerts), sort,
// pages and CSV of the filtered list; on one device, the pending commands
// (cancel with a reason), payments (reverse with a reason) and pairing
// requests (approve, reject), each offered only to the roles the API lets
// act; the CSV import with its dry run (which changes nothing); and the
// accessibility check on those views.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  api, apiOk, badCheckDigit, binDir, check, checkAccessible, checkClean, equal,
  makeTenant, newImei, openPage, registerDevice, settled, startServer,
} from './lib.mjs';

const run = promisify(execFile);

function iso(msFromNow) {
  return new Date(Date.now() + msFromNow).toISOString().replace(/\.\d+Z$/, 'Z');
}

export async function setup() {
  const server = await startServer(['--signin-burst', '1000']);
  const { tenant, keys } = await makeTenant(server, 'Ops Credit');
  const plain = await registerDevice(server, keys.admin);
  const overdue = await registerDevice(server, keys.admin, {
    contract: {
      currency: 'KES', loan_ref: 'OPS-OVERDUE', allow_overdue: true,
      schedule: [{ due: '2026-01-31', amount: 900000 }, { due: '2099-01-31', amount: 1000 }],
    },
  });
  const stolen = await registerDevice(server, keys.admin, { loanRef: 'OPS-STOLEN' });
  await apiOk(server, 'POST', `/v1/devices/${stolen.device.id}/stolen`, keys.admin,
    { reason: 'reported at the counter' });
  const held = await registerDevice(server, keys.admin, { loanRef: 'OPS-HELD' });
  await apiOk(server, 'POST', `/v1/devices/${held.device.id}/unlock`, keys.admin,
    { until: iso(2 * 86400000), reason: 'paid in cash at the branch' });
  const bare = await registerDevice(server, keys.admin, { contract: false });
  return { server, tenant, keys, plain, overdue, stolen, held, bare };
}

export async function teardown(ctx) {
  await ctx.server.stop();
}

async function signIn(browser, ctx, role) {
  const page = await openPage(browser, { viewport: { width: 1280, height: 900 } });
  page.on('dialog', async (d) => { page.problems.push(`dialog: ${d.message()}`); await d.dismiss(); });
  await page.goto(`${ctx.server.url}/`);
  await page.waitForSelector('#signin');
  await page.fill('#key', ctx.keys[role]);
  await page.click('#signin button[type=submit]');
  await page.waitForSelector('#nav li');
  return page;
}

async function rowImeis(page) {
  return page.locator('#devices tbody tr td:first-child').allInnerTexts();
}

// Submits the filter form and waits for the list its hash names.
async function search(page, want) {
  await page.click('form.filters button[type=submit]');
  await page.waitForFunction((w) => location.hash.includes(w), want);
  await settled(page);
}

export const tests = [
  {
    name: 'console_device_list_filters_sort_pages_csv',
    fn: async (ctx, browser) => {
      const page = await signIn(browser, ctx, 'auditor');
      await page.waitForSelector('#devices');
      equal((await rowImeis(page)).length, 5, 'every device');
      for (const [box, dev] of [['#f-stolen', ctx.stolen], ['#f-lock_held', ctx.held],
        ['#f-overdue', ctx.overdue]]) {
        await page.goto(`${ctx.server.url}/#/devices`);
        await settled(page);
        await page.waitForSelector('#devices');
        await page.check(box);
        await search(page, `${box.slice(3)}=true`);
        equal(JSON.stringify(await rowImeis(page)), JSON.stringify([dev.imei]), `${box}: one device`);
        equal(await page.isChecked(box), true, `${box} stays ticked`);
      }
      // SIM and tamper alerts: none of these phones reported one.
      await page.goto(`${ctx.server.url}/#/devices`);
      await settled(page);
      await page.waitForSelector('#devices');
      await page.check('#f-sim');
      await page.check('#f-tamper');
      await search(page, 'tamper=true');
      await page.waitForSelector('#no-devices');
      // Sort: the largest amount due first.
      await page.goto(`${ctx.server.url}/#/devices`);
      await settled(page);
      await page.waitForSelector('#devices');
      await page.selectOption('#sort', 'amount_due');
      await page.selectOption('#order', 'desc');
      await search(page, 'order=desc');
      equal((await rowImeis(page))[0], ctx.overdue.imei, 'largest amount due first');
      // Newest first, in pages of 50 that keep the order.
      for (let i = 0; i < 50; i++)
        await registerDevice(ctx.server, ctx.keys.admin, { contract: false });
      await page.goto(`${ctx.server.url}/#/devices`);
      await settled(page);
      await page.waitForSelector('#devices');
      await page.selectOption('#sort', 'registered');
      await page.selectOption('#order', 'desc');
      await search(page, 'order=desc');
      await page.waitForSelector('a[rel=next]');
      const first = await rowImeis(page);
      equal(first.length, 50, 'a full page');
      check(!first.includes(ctx.plain.imei), 'the oldest is not on the first page, newest first');
      await page.click('a[rel=next]');
      await page.waitForSelector('a[rel=prev]');
      const second = await rowImeis(page);
      equal(JSON.stringify(second), JSON.stringify([ctx.bare.imei, ctx.held.imei,
        ctx.stolen.imei, ctx.overdue.imei, ctx.plain.imei].slice(0, 5)), 'the rest, newest first');
      await page.click('a[rel=prev]');
      await page.waitForFunction(() => document.querySelectorAll('#devices tbody tr').length === 50);
      // Sorted by amount due over pages: the cursor keeps the order.
      await page.goto(`${ctx.server.url}/#/devices?sort=amount_due&order=desc`);
      await settled(page);
      await page.waitForSelector('a[rel=next]');
      equal((await rowImeis(page))[0], ctx.overdue.imei, 'page 1 of a sorted list');
      await page.click('a[rel=next]');
      await page.waitForSelector('a[rel=prev]');
      const rest = await rowImeis(page);
      equal(rest.length, 5, 'page 2 of the sorted list');
      check(!rest.includes(ctx.overdue.imei), 'no device twice');
      // The CSV holds the filtered list, all of it.
      await page.goto(`${ctx.server.url}/#/devices?stolen=true`);
      await settled(page);
      await page.waitForSelector('#devices');
      const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#export')]);
      const csv = readFileSync(await dl.path(), 'utf8').trim().split('\r\n');
      equal(csv.length, 2, 'header and the stolen device');
      check(csv[1].includes(ctx.stolen.imei) && csv[1].includes('true'), 'the stolen device');
      await page.goto(`${ctx.server.url}/#/devices?sort=amount_due&order=desc`);
      await settled(page);
      await page.waitForSelector('#devices');
      const [dl2] = await Promise.all([page.waitForEvent('download'), page.click('#export')]);
      const all = readFileSync(await dl2.path(), 'utf8').trim().split('\r\n');
      equal(all.length, 1 + 55, 'every device, all pages');
      check(all[1].includes(ctx.overdue.imei), 'in the list order');
      await checkAccessible(page, 'devices with filters');
      checkClean(page);
      await page.close();
    },
  },
  {
    name: 'console_device_pending_payments_pairing_by_role',
    fn: async (ctx, browser) => {
      // A phone enrolled, reflashed, and asking to pair again; a lock
      // scheduled; a payment recorded.
      const dev = await registerDevice(ctx.server, ctx.keys.admin, {
        contract: { currency: 'KES', loan_ref: 'OPS-PAIR',
          schedule: [{ due: '2099-01-20', amount: 150000 }, { due: '2099-02-20', amount: 150000 }] },
      });
      const id = dev.device.id;
      const dir = mkdtempSync(path.join(tmpdir(), 'finlock-phone-'));
      try {
        const check0 = await (await fetch(`${ctx.server.url}/check`)).text();
        const root = check0.match(/k4\.public\.[A-Za-z0-9_-]+/)[0];
        const phone = path.join(binDir, 'finlock-device');
        await run(phone, ['create', '--dir', dir, '--trust', root, '--imei', dev.imei,
          '--serial', `SN${dev.imei.slice(-6)}`]);
        await run(phone, ['enroll', '--dir', dir, '--server', ctx.server.url,
          '--code', dev.enrollment_code]);
        await run(phone, ['reflash', '--dir', dir]);
        await run(phone, ['enroll', '--dir', dir, '--server', ctx.server.url]).catch(() => {});
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      const pairing = await apiOk(ctx.server, 'GET', `/v1/devices/${id}/pairing-requests`, ctx.keys.admin);
      const pending = pairing.items.filter((r) => r.status === 'pending');
      check(pending.length >= 1, 'a pending pairing request');
      const reqId = pending[0].request_id;
      // (a payment lifts a lock commanded before it, to the second: the
      // lock comes a second after)
      const pay = await apiOk(ctx.server, 'POST', `/v1/devices/${id}/payments`, ctx.keys.admin,
        { amount: 5000, reference: 'MPESA-OPS-1' }, 201);
      const payId = pay.payment.id;
      await new Promise((r) => setTimeout(r, 1100));
      await apiOk(ctx.server, 'POST', `/v1/devices/${id}/lock`, ctx.keys.admin,
        { at: iso(5 * 86400000), reason: 'agreed with the customer' });

      const shown = await apiOk(ctx.server, 'GET', `/v1/devices/${id}`, ctx.keys.admin);
      equal(shown.pending_commands.length, 1, 'one pending command');
      const cmdId = shown.pending_commands[0].id;

      const want = {
        auditor: { cancel: 0, reverse: 0, approve: 0, reject: 0 },
        support: { cancel: 0, reverse: 0, approve: 1, reject: 1 },
        admin: { cancel: 1, reverse: 1, approve: 1, reject: 1 },
      };
      for (const role of ['auditor', 'support', 'admin']) {
        const page = await signIn(browser, ctx, role);
        await page.goto(`${ctx.server.url}/#/device/${id}`);
        await settled(page);
        await page.waitForSelector('#pending');
        await page.waitForSelector('#payments');
        await page.waitForSelector('#pairing');
        check((await page.innerText('#pending')).includes('agreed with the customer'), `${role}: the command`);
        check((await page.innerText('#payments')).includes('MPESA-OPS-1'), `${role}: the payment`);
        check((await page.innerText('#pairing')).includes(pending[0].pairing_code), `${role}: the code`);
        const got = {
          cancel: await page.locator(`#cancel-${cmdId}`).count(),
          reverse: await page.locator(`#reverse-${payId}`).count(),
          approve: await page.locator(`#approve-${reqId}`).count(),
          reject: await page.locator(`#reject-${reqId}`).count(),
        };
        equal(JSON.stringify(got), JSON.stringify(want[role]), `${role}: the actions offered`);
        if (role !== 'admin') {
          // the API agrees with what the page left out
          const status = await page.evaluate(async ([dv, c, p]) => {
            const s = await (await fetch('/v1/session')).json();
            const post = (u) => fetch(u, {
              method: 'POST', body: JSON.stringify({ reason: 'probe' }),
              headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': s.csrf_token },
            }).then((r) => r.status);
            return [await post(`/v1/devices/${dv}/commands/${c}/cancel`),
              await post(`/v1/payments/${p}/reverse`)];
          }, [id, cmdId, payId]);
          equal(JSON.stringify(status), '[403,403]', `${role}: cancel and reverse refused by the API`);
          checkClean(page, [/status of 403/]);
          await page.close();
          continue;
        }
        // The admin acts: a reason is required, then each change shows.
        await page.click(`#reverse-${payId} button[type=submit]`);
        await page.waitForSelector(`#reverse-${payId} .form-out.error`);
        await page.fill(`#reverse-${payId}-reason`, 'the transfer bounced');
        await page.click(`#reverse-${payId} button[type=submit]`);
        await page.waitForFunction(() => /reversed .*the transfer bounced/
          .test(document.getElementById('payments').textContent));
        // typed right after the reversal, whose live update may come
        // while the reason is being typed
        await page.fill(`#cancel-${cmdId}-reason`, 'customer paid ahead');
        await page.click(`#cancel-${cmdId} button[type=submit]`);
        await page.waitForSelector('#no-pending');
        await page.click(`#approve-${reqId} button[type=submit]`);
        await page.waitForFunction(() => /approved/.test(document.getElementById('pairing').textContent));
        equal(await page.locator(`#approve-${reqId}`).count(), 0, 'decided: no more buttons');
        const after = await apiOk(ctx.server, 'GET', `/v1/devices/${id}`, ctx.keys.admin);
        equal(after.pending_commands.length, 0, 'the command is cancelled');
        const audit = await apiOk(ctx.server, 'GET', `/v1/audit?target=${id}&limit=500`, ctx.keys.admin);
        check(JSON.stringify(audit).includes('customer paid ahead'), 'cancelled with the reason as typed');
        // A payment recorded elsewhere while a reason is being typed: the
        // page shows it at once and keeps the reason, the focus and the
        // caret.
        await page.fill('#lock-reason', 'customer asked');
        await page.fill('#lock-at', '2099-03-01T10:00');
        await page.focus('#lock-reason');
        await page.keyboard.press('End');
        await apiOk(ctx.server, 'POST', `/v1/devices/${id}/payments`, ctx.keys.admin,
          { amount: 100, reference: 'MPESA-OPS-LIVE' }, 201);
        await page.waitForFunction(() => /MPESA-OPS-LIVE/
          .test(document.getElementById('payments').textContent));
        equal(await page.inputValue('#lock-reason'), 'customer asked', 'the reason typed survives the live update');
        equal(await page.inputValue('#lock-at'), '2099-03-01T10:00', 'and the time');
        equal(await page.evaluate(() => document.activeElement && document.activeElement.id),
          'lock-reason', 'the focus stays in it');
        await page.keyboard.type(' to wait');
        equal(await page.inputValue('#lock-reason'), 'customer asked to wait', 'the caret where it was');
        await page.click('#lock button[type=submit]');
        // sent, the form comes back empty
        await page.waitForFunction(() => document.getElementById('lock-reason').value === '');
        const audit2 = await apiOk(ctx.server, 'GET', `/v1/audit?target=${id}&limit=500`, ctx.keys.admin);
        check(JSON.stringify(audit2).includes('customer asked to wait'), 'the lock sent with the reason as typed');
        const p2 = await apiOk(ctx.server, 'GET', `/v1/payments/${payId}`, ctx.keys.admin);
        equal(p2.reversed, true, 'the payment is reversed');
        equal(p2.reverse_reason, 'the transfer bounced', 'with its reason');
        await checkAccessible(page, 'device with pending, payments and pairing');
        checkClean(page);
        await page.close();
      }
    },
  },
  {
    name: 'console_csv_import_dry_run_changes_nothing',
    fn: async (ctx, browser) => {
      const page = await signIn(browser, ctx, 'clerk');
      await page.waitForSelector('#import');
      const taken = ctx.plain.imei;
      const a = newImei();
      const b = newImei();
      const c = newImei();
      const bad = [
        'imei,imei 2,serial,model',
        `${a},,SN-A,Tecno Spark`,
        `${badCheckDigit(b)},,SN-B,Itel`,
        `${a},,SN-A2,dup`,
        `${taken},,SN-T,taken`,
        `${c},,,no serial`,
      ].join('\r\n');
      const count = async () => (await apiOk(ctx.server, 'GET', '/v1/devices?limit=500',
        ctx.keys.admin)).items.length;
      const before = await count();
      await page.setInputFiles('#import-file', { name: 'bad.csv', mimeType: 'text/csv', buffer: Buffer.from(bad) });
      await page.click('#import button[type=submit]');
      await page.waitForSelector('#import-table');
      const text = await page.innerText('#import-table');
      check(/check digit|does not match/.test(text), 'a wrong check digit named');
      check(text.includes('also on line 2'), 'a duplicate named');
      check(text.includes('already registered as your device'), 'an IMEI already registered');
      check(text.includes('serial is missing'), 'a missing serial');
      equal(await page.locator('#import-table tr[data-ok=no]').count(), 4, 'four bad rows');
      check(/nothing was registered/.test(await page.innerText('#import .form-out')), 'said');
      equal(await page.locator('#import-go').count(), 0, 'no way to register a bad list');
      equal(await count(), before, 'the dry run registered nothing');
      // A good list: checked, still nothing registered, then registered.
      const good = `${a},,SN-A,"Tecno ""Spark"""
${b},${newImei()},SN-B,<b>Itel</b>
`;
      await page.setInputFiles('#import-file', { name: 'good.csv', mimeType: 'text/csv', buffer: Buffer.from(good) });
      await page.click('#import button[type=submit]');
      await page.waitForSelector('#import-go');
      equal(await page.locator('#import-table tr[data-ok=yes]').count(), 2, 'two rows ready');
      check((await page.innerText('#import-table')).includes('Tecno "Spark"'), 'quotes read');
      equal(await count(), before, 'still nothing registered');
      await page.click('#import-go');
      await page.waitForSelector('#import-codes');
      check(/Registered 2 phones/.test(await page.innerText('#import-progress')), 'registered');
      equal(await count(), before + 2, 'two more devices');
      const found = await apiOk(ctx.server, 'GET', `/v1/devices/by-imei/${b}`, ctx.keys.admin);
      equal(found.items[0].model, '<b>Itel</b>', 'the model as given');
      const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#import-codes')]);
      const csv = readFileSync(await dl.path(), 'utf8').trim().split('\r\n');
      equal(csv.length, 3, 'a code per phone');
      check(/^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/.test(csv[1].split(',')[4]), 'the code');
      equal(await page.locator('main b').count(), 0, 'markup shown as text');
      await checkAccessible(page, 'import');
      checkClean(page);
      await page.close();
    },
  },
  {
    name: 'console_portfolio_collections_trend',
    fn: async (ctx, browser) => {
      // 1,000 due 10 days ago, 250 of it paid 5 days late; 1,000 due
      // 40 days ago, paid on time.
      const day = 86400000;
      const dev = await registerDevice(ctx.server, ctx.keys.admin, {
        contract: { currency: 'KES', loan_ref: 'OPS-COLL', allow_overdue: true,
          schedule: [{ due: iso(-40 * day).slice(0, 10), amount: 100000 },
            { due: iso(-10 * day).slice(0, 10), amount: 100000 },
            { due: '2099-01-31', amount: 100000 }] },
      });
      await apiOk(ctx.server, 'POST', `/v1/devices/${dev.device.id}/payments`, ctx.keys.admin,
        { amount: 100000, paid_at: iso(-45 * day) }, 201);
      await apiOk(ctx.server, 'POST', `/v1/devices/${dev.device.id}/payments`, ctx.keys.admin,
        { amount: 25000, paid_at: iso(-5 * day) }, 201);
      const rep = await apiOk(ctx.server, 'GET', '/v1/reports/portfolio?history=true', ctx.keys.support);
      const kes = rep.currencies.find((c) => c.currency === 'KES');
      check(kes.collections.length === 12, 'twelve periods');
      check(kes.collection_rate !== null && kes.on_time_rate !== null, 'rates of the last 30 days');
      const page = await signIn(browser, ctx, 'support');
      await page.click('#nav a[href="#/portfolio"]');
      await page.waitForSelector('#collections svg.trend');
      equal(await page.innerText('#ontime-KES'), `${(kes.on_time_rate * 100).toFixed(1)}%`,
        'on-time rate as the API says');
      equal(await page.innerText('#collrate-KES'), `${(kes.collection_rate * 100).toFixed(1)}%`,
        'collection rate as the API says');
      const label = await page.locator('#collections svg.trend').getAttribute('aria-label');
      check(/on time .*collected/.test(label) && /none due/.test(label), `the chart in words: ${label}`);
      equal(await page.locator('#collections svg.trend path.chart-line').count(), 2, 'two lines');
      check(!/null|undefined|NaN/.test(await page.innerText('main')), 'no stray words');
      await checkAccessible(page, 'portfolio with collections');
      checkClean(page);
      await page.close();
    },
  },
  {
    name: 'console_portfolio_lock_trends',
    fn: async (ctx, browser) => {
      // A device locked now (overdue since 2025, enrolled by the page's
      // world or not: its state is what the API says).
      const rep = await apiOk(ctx.server, 'GET', '/v1/reports/portfolio?history=true', ctx.keys.auditor);
      equal(rep.trends.length, 12, 'twelve periods');
      const last = rep.trends[11];
      equal(last.lock_rate, rep.lock_rate, 'the last period ends in the state reported now');
      const page = await signIn(browser, ctx, 'auditor');
      await page.click('#nav a[href="#/portfolio"]');
      await page.waitForSelector('#trends svg.trend');
      const pct = (r) => (r === null ? '-' : `${(r * 100).toFixed(1)}%`);
      equal(await page.innerText('#fig-cure-rate'), pct(rep.cure_rate), 'cure rate as the API says');
      equal(await page.innerText('#fig-unlock-p95'),
        rep.unlock_latency_p95 === null ? '-' : `${rep.unlock_latency_p95} s`, 'p95 as the API says');
      const charts = page.locator('#trends svg.trend');
      equal(await charts.count(), 2, 'rates and latency');
      const label = await charts.first().getAttribute('aria-label');
      check(label.includes('lock rate ') &&
        label.includes(`${last.to.slice(5, 10)} ${pct(last.lock_rate)}`),
        `the last period's lock rate in words: ${label}`);
      equal(await page.locator('#trends svg.trend').first().locator('path.chart-line').count() >= 1,
        true, 'a line drawn');
      check(!/null|undefined|NaN/.test(await page.innerText('main')), 'no stray words');
      await checkAccessible(page, 'portfolio with trends');
      checkClean(page);
      await page.close();
    },
  },
];
