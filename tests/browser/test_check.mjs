// The buyer's page, /check: server-rendered answers with JavaScript off,
// validation as you type and answers without reload with it on, the
// friendly rate-limit answer, the certificate download verified offline
// with the finlock CLI, the page's weight, its security headers and its
// accessibility.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  apiOk, badCheckDigit, binDir, check, checkAccessible, checkClean, equal,
  makeTenant, newImei, openPage, registerDevice, startServer,
} from './lib.mjs';

// A page answered 400 or 429 makes chromium log the load as an error.
const statusNoise = [/Failed to load resource: the server responded with a status of (400|429)/];

export async function setup() {
  const server = await startServer(['--public-burst', '100000',
    '--public-rate', '100000']);
  const { keys } = await makeTenant(server);
  const financed = await registerDevice(server, keys.admin, {
    contactName: '<img src=x onerror=alert(1)>',
  });
  const released = await registerDevice(server, keys.admin);
  await apiOk(server, 'POST', `/v1/devices/${released.device.id}/release`,
    keys.admin, {});
  const stolen = await registerDevice(server, keys.admin);
  await apiOk(server, 'POST', `/v1/devices/${stolen.device.id}/stolen`,
    keys.admin, { reason: 'reported by the owner' });
  return { server, keys, financed, released, stolen };
}

export async function teardown(ctx) {
  await ctx.server.stop();
}

async function statusOf(page) {
  const el = page.locator('#result [data-status]');
  check(await el.count() === 1, 'exactly one element carries data-status');
  return el.getAttribute('data-status');
}

function cases(ctx) {
  const unknown = newImei();
  return [
    [unknown, 'no_record', 200],
    [badCheckDigit(unknown), 'invalid', 400],
    ['35209900176148', 'invalid', 400],
    [ctx.financed.imei, 'financed', 200],
    [ctx.released.imei, 'released', 200],
    [ctx.stolen.imei, 'stolen', 200],
  ];
}

export const tests = [
  {
    name: 'check_without_javascript_renders_each_status',
    fn: async (ctx, browser) => {
      const page = await openPage(browser, { js: false });
      for (const [imei, want, code] of cases(ctx)) {
        const res = await page.goto(`${ctx.server.url}/check?imei=${imei}`);
        equal(res.status(), code, `HTTP status for ${imei}`);
        equal(await statusOf(page), want, `data-status for ${imei}`);
        check((await page.locator('#result h2').innerText()).length > 5,
          `a title in words for ${want}`);
        const cert = page.locator('#result a[download]');
        equal(await cert.count(), want === 'invalid' ? 0 : 1,
          `certificate link for ${want}`);
        equal(await page.inputValue('#imei'), imei, 'the IMEI stays in the field');
      }
      checkClean(page, statusNoise);
      await page.close();
    },
  },
  {
    name: 'check_with_javascript_validates_as_you_type_and_answers_in_place',
    fn: async (ctx, browser) => {
      const page = await openPage(browser);
      await page.goto(`${ctx.server.url}/check`);
      equal(await page.locator('[data-status]').count(), 0, 'no answer before a check');
      const imei = ctx.financed.imei;
      await page.locator('#imei').pressSequentially(imei.slice(0, 8));
      check(/8 so far/.test(await page.innerText('#imei-hint')),
        'the hint counts the digits typed');
      equal(await page.getAttribute('#imei', 'aria-invalid'), null,
        'too few digits while typing is not yet an error');
      await page.locator('#imei').pressSequentially(
        badCheckDigit(imei).slice(8));
      check(/last digit does not match/.test(await page.innerText('#imei-hint')),
        'a wrong check digit is named');
      equal(await page.getAttribute('#imei', 'aria-invalid'), 'true',
        'the field is marked invalid');
      // Submitting an invalid IMEI sends nothing.
      let requests = 0;
      page.on('request', () => requests++);
      await page.click('button[type=submit]');
      equal(requests, 0, 'no request for an invalid IMEI');
      await page.fill('#imei', imei.slice(0, 2) + ' ' + imei.slice(2));
      check(/well formed/.test(await page.innerText('#imei-hint')),
        'a valid IMEI (with a space) is accepted');
      await page.evaluate(() => { globalThis.notReloaded = true; });
      await page.click('button[type=submit]');
      await page.waitForSelector('#result [data-status]');
      equal(await statusOf(page), 'financed', 'the answer');
      equal(await page.evaluate(() => globalThis.notReloaded), true,
        'the page was not reloaded');
      check(page.url().includes(`imei=${imei.slice(0, 2)}`), 'the address bar holds the check');
      // The other statuses the same way.
      for (const [im, want] of cases(ctx)) {
        await page.fill('#imei', im);
        if (want === 'invalid') continue;
        await page.click('button[type=submit]');
        await page.waitForFunction((w) => {
          const el = document.querySelector('#result [data-status]');
          return el && el.dataset.status === w;
        }, want);
      }
      checkClean(page);
      await page.close();
    },
  },
  {
    name: 'check_with_serial_shows_lender_contact_as_text',
    fn: async (ctx, browser) => {
      for (const js of [false, true]) {
        const page = await openPage(browser, { js });
        let alerted = false;
        page.on('dialog', async (d) => { alerted = true; await d.dismiss(); });
        await page.goto(`${ctx.server.url}/check`);
        await page.fill('#imei', ctx.financed.imei);
        await page.fill('#serial', ctx.financed.device.serial);
        await page.click('button[type=submit]');
        await page.waitForSelector('#result .lender');
        const text = await page.innerText('#result .lender');
        check(text.includes('Acme Credit'), 'the lender is named');
        check(text.includes('<img src=x onerror=alert(1)>'),
          'a contact name with markup shows as those characters');
        equal(await page.locator('#result img').count(), 0, 'no element made from it');
        equal(alerted, false, 'no script ran');
        checkClean(page);
        await page.close();
      }
    },
  },
  {
    name: 'check_certificate_downloads_and_verifies_offline',
    fn: async (ctx, browser) => {
      const page = await openPage(browser);
      await page.goto(`${ctx.server.url}/check?imei=${ctx.released.imei}`);
      const root = (await page.innerText('#root-key')).trim();
      check(root.startsWith('k4.public.'), 'the page shows the root key');
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.click('#result a[download]'),
      ]);
      equal(download.suggestedFilename(),
        `finlock-certificate-${ctx.released.imei}.json`, 'file name');
      const file = await download.path();
      const doc = JSON.parse(readFileSync(file, 'utf8'));
      equal(doc.status, 'released', 'certificate status');
      const run = promisify(execFile);
      const ok = await run(path.join(binDir, 'finlock'),
        ['imei', 'verify-cert', file, '--root', root, '--imei', ctx.released.imei]);
      check(/released/.test(ok.stdout), `verify-cert says released: ${ok.stdout}`);
      // Against another root it must fail.
      const other = 'k4.public.' + 'A'.repeat(43);
      let failed = false;
      try {
        await run(path.join(binDir, 'finlock'),
          ['imei', 'verify-cert', file, '--root', other]);
      } catch { failed = true; }
      check(failed, 'verify-cert refuses a certificate under another root');
      checkClean(page);
      await page.close();
    },
  },
  {
    name: 'check_rate_limit_is_a_friendly_message',
    fn: async (ctx, browser) => {
      const server = await startServer(['--public-burst', '2',
        '--public-rate', '0.001']);
      try {
        for (const js of [false, true]) {
          const page = await openPage(browser, { js });
          const imei = newImei();
          let last = null;
          for (let i = 0; i < 3; i++) {
            if (js) {
              if (i === 0) await page.goto(`${server.url}/check`);
              await page.fill('#imei', imei);
              const answer = page.waitForResponse((r) => r.url().includes('/check?'));
              await page.click('button[type=submit]');
              last = await answer;
              await page.waitForFunction(() => !document
                .getElementById('result').hasAttribute('aria-busy'));
            } else {
              last = await page.goto(`${server.url}/check?imei=${imei}`);
            }
          }
          equal(last.status(), 429, 'over the limit');
          check(Number(last.headers()['retry-after']) >= 1, 'Retry-After');
          equal(await statusOf(page), 'rate_limited', 'data-status');
          check(/wait \d+ second/.test(await page.innerText('#result')),
            'the message says how long to wait');
          checkClean(page, statusNoise);
          await page.close();
        }
      } finally {
        await server.stop();
      }
    },
  },
  {
    name: 'check_page_is_small_and_strict',
    fn: async (ctx, browser) => {
      const page = await openPage(browser);
      let bytes = 0;
      const types = {};
      page.on('response', async (r) => {
        const body = await r.body().catch(() => Buffer.alloc(0));
        bytes += body.length;
        types[new URL(r.url()).pathname] = r.headers()['content-type'];
      });
      const res = await page.goto(`${ctx.server.url}/check?imei=${ctx.financed.imei}`);
      await page.waitForLoadState('networkidle');
      check(bytes > 1000 && bytes < 50 * 1024, `page and assets weigh ${bytes} bytes`);
      const csp = res.headers()['content-security-policy'] || '';
      check(csp.includes("frame-ancestors 'none'"), 'no framing');
      check(csp.includes("default-src 'none'"), 'nothing by default');
      check(!csp.includes('unsafe-inline') && !csp.includes('http'),
        'no inline code, no outside origin');
      equal(types['/assets/check.js'], 'text/javascript; charset=utf-8', 'script type');
      equal(types['/assets/app.css'], 'text/css; charset=utf-8', 'style type');
      // Assets are cached and revalidated by ETag.
      const r1 = await fetch(`${ctx.server.url}/assets/check.js`);
      check(/max-age=\d+/.test(r1.headers.get('cache-control')), 'asset cache lifetime');
      const r2 = await fetch(`${ctx.server.url}/assets/check.js`,
        { headers: { 'If-None-Match': r1.headers.get('etag') } });
      equal(r2.status, 304, 'revalidation');
      equal((await fetch(`${ctx.server.url}/assets/check.html`)).status, 404,
        'page templates are not assets');
      // An inline script injected into the page is refused by the CSP.
      await page.evaluate(() => {
        const s = document.createElement('script');
        s.textContent = 'globalThis.inlineRan = true;';
        document.body.appendChild(s);
      });
      equal(await page.evaluate(() => globalThis.inlineRan === true), false,
        'inline script blocked');
      check(page.problems.some((p) => /Content Security Policy/.test(p)),
        'the violation is reported (so the checks elsewhere would see one)');
      await page.close();
    },
  },
  {
    name: 'check_page_is_accessible',
    fn: async (ctx, browser) => {
      for (const [imei, want] of cases(ctx)) {
        // released looks like no_record; one invalid IMEI is enough
        if (want === 'released' || imei.length !== 15) continue;
        const page = await openPage(browser);
        await page.goto(`${ctx.server.url}/check?imei=${imei}`);
        await checkAccessible(page, `/check?imei=${imei}`);
        await page.close();
      }
      const page = await openPage(browser);
      await page.goto(`${ctx.server.url}/check`);
      await checkAccessible(page, '/check');
      // Keyboard only: tab to the field, type, submit with Enter.
      await page.keyboard.press('Tab');
      equal(await page.evaluate(() => document.activeElement.id), 'imei',
        'the IMEI field is the first stop');
      await page.keyboard.type(ctx.stolen.imei);
      await page.keyboard.press('Enter');
      await page.waitForSelector('#result [data-status="stolen"]');
      checkClean(page);
      await page.close();
    },
  },
];
