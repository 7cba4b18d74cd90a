// Money from providers in the console (admin only): payment sources
// (created with their URLs shown once, health and last callback, the
// secret rotated with the new URLs shown once and the old ones dead,
// disabled) and unmatched payments (listed as text, assigned to a device
// by IMEI, which records the payment); other roles see neither page and
// the API refuses them the actions; another lender's sources, unmatched
// payments and devices are neither shown nor reachable; the accessibility
// check on both.
import { createHmac } from 'node:crypto';
import {
  api, apiOk, check, checkAccessible, checkClean, equal, makeTenant, openPage,
  registerDevice, settled, startServer,
} from './lib.mjs';

const XSS = '<img src=x onerror=alert(1)>';

export async function setup() {
  const server = await startServer(['--signin-burst', '1000']);
  const { tenant, keys } = await makeTenant(server, 'Money Credit');
  const dev = await registerDevice(server, keys.admin, { loanRef: 'MONEY-1' });
  return { server, tenant, keys, dev };
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

// Posts a signed provider payment (Standard Webhooks) to url with secret.
async function providerPays(url, secret, payment) {
  const body = JSON.stringify(payment);
  const id = `msg_${payment.id}`;
  const ts = String(Math.floor(Date.now() / 1000));
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const sig = createHmac('sha256', key).update(`${id}.${ts}.${body}`).digest('base64');
  const res = await fetch(url, {
    method: 'POST', body,
    headers: {
      'Content-Type': 'application/json', 'webhook-id': id, 'webhook-timestamp': ts,
      'webhook-signature': `v1,${sig}`,
    },
  });
  return res.status;
}

let refs = 0;
function payment(account, amount = 5000) {
  refs++;
  return {
    id: `PROV-${process.pid}-${refs}`, account, amount, currency: 'KES',
    paid_at: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  };
}

export const tests = [
  {
    name: 'console_money_pages_admin_only',
    fn: async (ctx, browser) => {
      const src = await apiOk(ctx.server, 'POST', '/v1/payment-sources', ctx.keys.admin,
        { kind: 'signed', name: 'probe', allowed_networks: ['127.0.0.1/32'] }, 201);
      for (const role of ['clerk', 'support', 'auditor']) {
        const page = await signIn(browser, ctx, role);
        const navText = await page.innerText('#nav');
        check(!/Unmatched payments|Payment sources/.test(navText), `${role}: no money pages in ${navText}`);
        for (const view of ['sources', 'unmatched']) {
          await page.goto(`${ctx.server.url}/#/${view}`);
          await settled(page);
          await page.waitForFunction((v) => !location.hash.startsWith(`#/${v}`), view);
          equal(await page.locator('#sources, #source-form, #unmatched-list').count(), 0,
            `${role}: ${view} not drawn`);
        }
        // and the API refuses what the page leaves out
        const status = await page.evaluate(async (id) => {
          const s = await (await fetch('/v1/session')).json();
          const post = (u, b) => fetch(u, {
            method: 'POST', body: JSON.stringify(b),
            headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': s.csrf_token },
          }).then((r) => r.status);
          return [
            await post('/v1/payment-sources', { kind: 'signed', allowed_networks: ['127.0.0.1/32'] }),
            await post(`/v1/payment-sources/${id}/rotate`, {}),
            await post(`/v1/payment-sources/${id}/disable`, {}),
            await post('/v1/payments/unmatched/um_none/assign', { device_id: 'dv_none' }),
          ];
        }, src.source.id);
        equal(JSON.stringify(status), '[403,403,403,403]', `${role}: the API refuses the actions`);
        checkClean(page, [/status of 403/]);
        await page.close();
      }
      const page = await signIn(browser, ctx, 'admin');
      const navText = await page.innerText('#nav');
      check(/Unmatched payments/.test(navText) && /Payment sources/.test(navText), 'admin: both pages');
      checkClean(page);
      await page.close();
    },
  },
  {
    name: 'console_payment_sources_create_rotate_disable',
    fn: async (ctx, browser) => {
      const page = await signIn(browser, ctx, 'admin');
      await page.click('#nav a[href="#/sources"]');
      await page.waitForSelector('#source-form');
      await page.selectOption('#src-kind', 'signed');
      await page.fill('#src-name', XSS);
      await page.fill('#src-networks', '127.0.0.1/32');
      await page.fill('#src-silence', '2');
      await page.click('#source-form button[type=submit]');
      await page.waitForSelector('#src-callback-url');
      const url1 = await page.innerText('#src-callback-url');
      const secret1 = await page.innerText('#src-secret');
      check(url1.startsWith(`${ctx.server.url}/v1/callbacks/ps_`), `the callback URL: ${url1}`);
      check(/^whsec_/.test(secret1), 'the signing secret, shown once');
      await page.waitForSelector('#sources');
      const row = page.locator('#sources tbody tr', { hasText: XSS });
      equal(await row.count(), 1, 'the name shown as its characters');
      equal(await page.locator('#sources img').count(), 0, 'no markup from the name');
      equal(await row.locator('.health').innerText(), 'healthy', 'healthy');
      equal(await row.locator('td').nth(6).innerText(), '2 min', 'how long it may be quiet');
      const list = await apiOk(ctx.server, 'GET', '/v1/payment-sources', ctx.keys.admin);
      const src = list.items.find((x) => x.name === XSS);
      equal(src.max_silence, 120, 'the quiet time sent in seconds');
      await checkAccessible(page, 'payment sources with new URLs');

      // a callback shows as the source's last callback
      equal(await providerPays(url1, secret1, payment('MONEY-1')), 200, 'the provider pays');
      await page.reload();
      await page.waitForSelector('#sources');
      equal(await page.locator('#src-callback-url').count(), 0, 'the URL is not shown again');
      const shown = await api(ctx.server, 'GET', `/v1/payment-sources/${src.id}`, ctx.keys.admin);
      check(shown.json.last_callback_at, 'the API has a last callback');
      check(!/callbacks/.test(shown.text), 'the API never shows the URL again');
      equal(await page.locator(`#sources tr[data-id="${src.id}"] td`).nth(5).innerText(),
        shown.json.last_callback_at.replace('T', ' ').replace(/:\d\dZ$/, ' UTC'), 'last callback');

      // rotate: new URLs once, the old ones dead
      await page.click(`#rotate-${src.id} button[type=submit]`);
      await page.waitForSelector('#src-callback-url');
      const url2 = await page.innerText('#src-callback-url');
      const secret2 = await page.innerText('#src-secret');
      check(url2 !== url1 && url2.startsWith(`${ctx.server.url}/v1/callbacks/${src.id}/`), 'a new URL');
      equal(await providerPays(url1, secret1, payment('MONEY-1')), 404, 'the old URL is dead');
      equal(await providerPays(url2, secret2, payment('MONEY-1')), 200, 'the new one works');

      // disable
      await page.click(`#disable-${src.id} button[type=submit]`);
      await page.waitForFunction((id) => /disabled/.test(
        document.querySelector(`#sources tr[data-id="${id}"]`).textContent), src.id);
      equal(await page.locator(`#rotate-${src.id}`).count(), 0, 'no more actions');
      const after = await apiOk(ctx.server, 'GET', `/v1/payment-sources/${src.id}`, ctx.keys.admin);
      equal(after.health, 'disabled', 'disabled in the API');
      equal(await providerPays(url2, secret2, payment('MONEY-1')), 404, 'a disabled source takes nothing');
      await checkAccessible(page, 'payment sources');
      checkClean(page);
      await page.close();
    },
  },
  {
    name: 'console_money_pages_one_lender_only',
    fn: async (ctx, browser) => {
      const other = await makeTenant(ctx.server, 'Other Credit');
      const theirDev = await registerDevice(ctx.server, other.keys.admin, { loanRef: 'THEIRS-1' });
      const theirs = await apiOk(ctx.server, 'POST', '/v1/payment-sources', other.keys.admin,
        { kind: 'signed', name: 'Their aggregator', allowed_networks: ['127.0.0.1/32'] }, 201);
      const p = payment('THEIR-ACCOUNT-NOBODY-HAS', 4200);
      equal(await providerPays(theirs.callback_url, theirs.secret, p), 200, 'their provider pays');
      const um = (await apiOk(ctx.server, 'GET', '/v1/payments/unmatched', other.keys.admin))
        .items.find((x) => x.reference === p.id);
      check(um, 'their unmatched payment');
      const mine = await apiOk(ctx.server, 'POST', '/v1/payment-sources', ctx.keys.admin,
        { kind: 'signed', name: 'My aggregator', allowed_networks: ['127.0.0.1/32'] }, 201);
      const q = payment('MY-ACCOUNT-NOBODY-HAS', 3100);
      equal(await providerPays(mine.callback_url, mine.secret, q), 200, 'my provider pays');
      const myUm = (await apiOk(ctx.server, 'GET', '/v1/payments/unmatched', ctx.keys.admin))
        .items.find((x) => x.reference === q.id);

      const page = await signIn(browser, ctx, 'admin');
      await page.goto(`${ctx.server.url}/#/sources`);
      await settled(page);
      check(!(await page.innerText('main')).includes('Their aggregator'), 'their source not listed');
      equal(await page.locator(`#sources tr[data-id="${theirs.source.id}"]`).count(), 0,
        'no row of theirs');
      await page.goto(`${ctx.server.url}/#/unmatched?all=true`);
      await settled(page);
      check(!(await page.innerText('main')).includes(p.id), 'their payment not listed');
      check((await page.innerText('main')).includes(q.id), 'mine listed');
      // my payment to their phone's IMEI: no device of mine, nothing recorded
      await page.fill(`#assign-${myUm.id}-device`, theirDev.imei);
      await page.click(`#assign-${myUm.id} button[type=submit]`);
      await page.waitForSelector(`#assign-${myUm.id} .form-out.error`);
      check(/No device of yours/.test(await page.innerText(`#assign-${myUm.id} .form-out`)), 'why');
      // their ids through my session: not found, nothing changed
      const status = await page.evaluate(async (a) => {
        const s = await (await fetch('/v1/session')).json();
        const post = (u, b) => fetch(u, {
          method: 'POST', body: JSON.stringify(b),
          headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': s.csrf_token },
        }).then((r) => r.status);
        return [
          await fetch(`/v1/payment-sources/${a.src}`).then((r) => r.status),
          await post(`/v1/payment-sources/${a.src}/rotate`, {}),
          await post(`/v1/payment-sources/${a.src}/disable`, {}),
          await post(`/v1/payments/unmatched/${a.um}/assign`, { device_id: a.mydev }),
          await post(`/v1/payments/unmatched/${a.myum}/assign`, { device_id: a.dev }),
        ];
      }, { src: theirs.source.id, um: um.id, dev: theirDev.device.id, mydev: ctx.dev.device.id, myum: myUm.id });
      equal(JSON.stringify(status), '[404,404,404,404,404]', 'their things are not found');
      const still = await apiOk(ctx.server, 'GET', '/v1/payments/unmatched', other.keys.admin);
      check(still.items.some((x) => x.id === um.id), 'their payment still unmatched');
      const src = await apiOk(ctx.server, 'GET', `/v1/payment-sources/${theirs.source.id}`, other.keys.admin);
      equal(src.health === 'disabled', false, 'their source not disabled');
      const pays = await apiOk(ctx.server, 'GET', `/v1/devices/${theirDev.device.id}/payments`, other.keys.admin);
      equal(pays.items.length, 0, 'nothing recorded on their device');
      checkClean(page, [/status of 404/]);
      await page.close();
      // mine goes to my device, so that nothing is left unmatched here
      await apiOk(ctx.server, 'POST', `/v1/payments/unmatched/${myUm.id}/assign`, ctx.keys.admin,
        { device_id: ctx.dev.device.id }, 201);
    },
  },
  {
    name: 'console_unmatched_payment_assigned',
    fn: async (ctx, browser) => {
      const made = await apiOk(ctx.server, 'POST', '/v1/payment-sources', ctx.keys.admin,
        { kind: 'signed', name: 'Aggregator', allowed_networks: ['127.0.0.1/32'] }, 201);
      const p = payment(`<b>${XSS}</b>`, 7500);
      equal(await providerPays(made.callback_url, made.secret, p), 200,
        'the provider pays an account nobody has');
      const page = await signIn(browser, ctx, 'admin');
      await page.click('#nav a[href="#/unmatched"]');
      await page.waitForSelector('#unmatched');
      const row = page.locator('#unmatched tbody tr', { hasText: p.id });
      equal(await row.count(), 1, 'the payment listed');
      check((await row.innerText()).includes(`<b>${XSS}</b>`), 'the account shown as its characters');
      check((await row.innerText()).includes('KES 75.00'), 'the amount');
      equal(await page.locator('#unmatched img, #unmatched b').count(), 0, 'no markup');
      await checkAccessible(page, 'unmatched payments');
      const um = (await apiOk(ctx.server, 'GET', '/v1/payments/unmatched', ctx.keys.admin))
        .items.find((x) => x.reference === p.id);
      // a wrong IMEI: said in words, nothing recorded
      await page.fill(`#assign-${um.id}-device`, '490154203237518');
      await page.click(`#assign-${um.id} button[type=submit]`);
      await page.waitForSelector(`#assign-${um.id} .form-out.error`);
      check(/No device of yours/.test(await page.innerText(`#assign-${um.id} .form-out`)), 'why');
      await page.fill(`#assign-${um.id}-device`, ctx.dev.imei);
      await page.keyboard.press('Enter');
      await page.waitForSelector('#no-unmatched');
      const pays = await apiOk(ctx.server, 'GET', `/v1/devices/${ctx.dev.device.id}/payments`, ctx.keys.admin);
      const rec = pays.items.find((x) => x.reference === p.id);
      check(rec && rec.amount === 7500, 'recorded as the device\'s payment');
      await page.click('#main a[href="#/unmatched?all=true"]');
      await page.waitForSelector('#unmatched');
      check((await page.innerText('#unmatched')).includes(`as ${rec.id}`), 'the assigned one, with its payment');
      await checkAccessible(page, 'unmatched payments, all');
      checkClean(page);
      await page.close();
    },
  },
];
