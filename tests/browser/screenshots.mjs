// Takes the screenshots docs/web.md and the README show: the buyer's page
// (a financed phone, on a phone-sized screen) and the console's main
// views, against a finlockd of its own with a few demo phones.
//
//   FINLOCK_BIN=$PWD/build/rel/bin node tests/browser/screenshots.mjs
import { createHmac } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { apiOk, makeTenant, openPage, registerDevice, startServer } from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.resolve(here, '../../docs/screenshots');
mkdirSync(out, { recursive: true });

const server = await startServer(['--public-burst', '1000']);
const browser = await chromium.launch({
  executablePath: process.env.FINLOCK_CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox'],
});
try {
  const { keys } = await makeTenant(server, 'Acme Credit');
  const models = ['Galaxy A05', 'Tecno Spark 20', 'Redmi 13C', 'Itel A70', 'Nokia C32'];
  const devices = [];
  for (let i = 0; i < models.length; i++) {
    devices.push(await registerDevice(server, keys.admin, {
      model: models[i], loanRef: `ACME-2026-${String(101 + i)}`,
      contract: {
        currency: 'KES', loan_ref: `ACME-2026-${String(101 + i)}`, allow_overdue: true,
        schedule: [{ due: '2026-11-30', amount: 150000 },
          { due: '2027-01-31', amount: 150000 }, { due: '2027-03-31', amount: 150000 }],
        policy: { contact: { name: 'Acme Credit, Westlands', phones: ['+254700000001'] } },
      },
    }));
  }
  await apiOk(server, 'POST', `/v1/devices/${devices[0].device.id}/payments`, keys.admin,
    { amount: 150000, reference: 'MPESA QK81X2' }, 201);
  for (const [i, daysAgo] of [[1, 12], [2, 2], [4, 5]])
    await apiOk(server, 'POST', `/v1/devices/${devices[i].device.id}/payments`, keys.admin,
      { amount: 150000, reference: `MPESA QK9${i}`,
        paid_at: new Date(Date.now() - daysAgo * 86400000).toISOString().replace(/\.\d+Z$/, 'Z') }, 201);
  await apiOk(server, 'POST', `/v1/devices/${devices[3].device.id}/stolen`, keys.admin,
    { reason: 'police report 2231/26' });
  // a lock agreed for a later date (a second after the payment, which
  // would otherwise lift it), shown as a pending command
  await new Promise((r) => setTimeout(r, 1100));
  await apiOk(server, 'POST', `/v1/devices/${devices[0].device.id}/lock`, keys.admin,
    { at: new Date(Date.now() + 9 * 86400000).toISOString().replace(/\.\d+Z$/, 'Z'),
      reason: 'agreed with the customer' });

  // two payment sources, and a payment whose account matches no loan
  await apiOk(server, 'POST', '/v1/payment-sources', keys.admin,
    { kind: 'mpesa_c2b', name: 'Paybill 600000', shortcode: '600000' }, 201);
  const agg = await apiOk(server, 'POST', '/v1/payment-sources', keys.admin,
    { kind: 'signed', name: 'Aggregator', allowed_networks: ['127.0.0.1/32'], max_silence: 3600 }, 201);
  {
    const body = JSON.stringify({ id: 'RKTQDM7W6S', account: 'ACME-2026-1O1', amount: 150000,
      currency: 'KES', paid_at: new Date().toISOString().replace(/\.\d+Z$/, 'Z') });
    const ts = String(Math.floor(Date.now() / 1000));
    const key = Buffer.from(agg.secret.replace(/^whsec_/, ''), 'base64');
    const sig = createHmac('sha256', key).update(`msg_1.${ts}.${body}`).digest('base64');
    await fetch(agg.callback_url, { method: 'POST', body, headers: {
      'Content-Type': 'application/json', 'webhook-id': 'msg_1', 'webhook-timestamp': ts,
      'webhook-signature': `v1,${sig}` } });
  }

  const phone = await openPage(browser, { viewport: { width: 390, height: 844 } });
  await phone.goto(`${server.url}/check?imei=${devices[1].imei}`);
  await phone.screenshot({ path: path.join(out, 'check.png'), fullPage: true });
  await phone.close();

  const page = await openPage(browser, { viewport: { width: 1280, height: 800 } });
  await page.goto(`${server.url}/`);
  await page.waitForSelector('#signin');
  await page.screenshot({ path: path.join(out, 'console-signin.png') });
  await page.fill('#key', keys.admin);
  await page.click('#signin button[type=submit]');
  await page.waitForSelector('#devices');
  await page.screenshot({ path: path.join(out, 'console-devices.png'), fullPage: true });
  await page.goto(`${server.url}/#/device/${devices[0].device.id}`);
  await page.waitForSelector('#timeline');
  await page.screenshot({ path: path.join(out, 'console-device.png'), fullPage: true });
  await page.goto(`${server.url}/#/portfolio`);
  await page.waitForSelector('#collections svg.trend');
  await page.screenshot({ path: path.join(out, 'console-portfolio.png'), fullPage: true });
  await page.goto(`${server.url}/#/register`);
  await page.waitForSelector('#register');
  await page.fill('#r-imei', '35209900176148');
  await page.screenshot({ path: path.join(out, 'console-register.png'), fullPage: true });
  // the CSV import's dry run, one row refused
  await page.setInputFiles('#import-file', { name: 'reseller.csv', mimeType: 'text/csv',
    buffer: Buffer.from('imei,imei 2,serial,model\r\n353918050812375,,R-2231,Tecno Spark 20\r\n' +
      `${devices[2].imei},,R-2232,Redmi 13C\r\n490154203237519,,R-2233,Itel A70\r\n`) });
  await page.click('#import button[type=submit]');
  await page.waitForSelector('#import-table');
  await page.locator('#import').scrollIntoViewIfNeeded();
  await page.screenshot({ path: path.join(out, 'console-import.png'), fullPage: true });
  await page.goto(`${server.url}/#/unmatched`);
  await page.waitForSelector('#unmatched');
  await page.screenshot({ path: path.join(out, 'console-unmatched.png'), fullPage: true });
  await page.goto(`${server.url}/#/sources`);
  await page.waitForSelector('#sources');
  await page.screenshot({ path: path.join(out, 'console-sources.png'), fullPage: true });
  await page.goto(`${server.url}/#/devices?overdue=true&sort=amount_due&order=desc`);
  await page.waitForSelector('#devices');
  await page.screenshot({ path: path.join(out, 'console-devices-filtered.png'), fullPage: true });
  await page.close();
} finally {
  await browser.close();
  await server.stop();
}
console.log(`screenshots in ${out}`);
