// Support for the browser tests: a real finlockd of their own (free
// loopback port, fresh data directory), the lender API to set the scene,
// valid IMEIs, and pages that record every console error, uncaught
// exception and Content-Security-Policy violation.
import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, closeSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkDigit } from '../../web/imei.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const binDir = process.env.FINLOCK_BIN ||
  path.resolve(here, '../../build/san/bin');

export class TestFailure extends Error {}

export function check(cond, what) {
  if (!cond) throw new TestFailure(what);
}

export function equal(got, want, what) {
  if (got !== want)
    throw new TestFailure(`${what}: got ${JSON.stringify(got)}, ` +
      `want ${JSON.stringify(want)}`);
}

// Starts finlockd; resolves to { url, operatorKey, dataDir, stop() }.
export async function startServer(args = []) {
  const dir = mkdtempSync(path.join(tmpdir(), 'finlock-browser-'));
  const logFd = openSync(path.join(dir, 'finlockd.log'), 'w');
  const proc = spawn(path.join(binDir, 'finlockd'),
    ['--data', path.join(dir, 'data'), '--listen', '127.0.0.1:0', ...args],
    { stdio: ['ignore', 'pipe', logFd] });
  closeSync(logFd);
  let out = '';
  const up = await new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), 30000);
    proc.stdout.on('data', (chunk) => {
      out += chunk.toString();
      const m = out.match(/listening on (\S+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    proc.on('exit', () => resolve(null));
  });
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      const gone = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await gone;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  if (up === null) {
    const log = readFileSync(path.join(dir, 'finlockd.log'), 'utf8');
    await stop();
    throw new Error(`finlockd did not start: ${out}\n${log.slice(-2000)}`);
  }
  const key = (out.match(/operator key: (\S+)/) || [])[1] || '';
  return { url: `http://${up}`, operatorKey: key, dataDir: dir, stop, proc };
}

// Calls the API with a Bearer key; resolves to { status, json, text }.
export async function api(server, method, p, key, body) {
  const headers = {};
  if (key) headers.Authorization = `Bearer ${key}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(server.url + p, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, json, text, headers: res.headers };
}

// Like api() but fails the test unless the status is `want`.
export async function apiOk(server, method, p, key, body, want = 200) {
  const r = await api(server, method, p, key, body);
  if (r.status !== want)
    throw new TestFailure(`${method} ${p}: ${r.status} ${r.text}`);
  return r.json;
}

// A tenant with one key of each role: { tenant, keys: {admin, clerk, ...} }.
export async function makeTenant(server, name = 'Acme Credit') {
  const t = await apiOk(server, 'POST', '/v1/tenants', server.operatorKey,
    { name }, 201);
  const admin = await apiOk(server, 'POST', `/v1/tenants/${t.id}/keys`,
    server.operatorKey, {}, 201);
  const keys = { admin: admin.key, adminId: admin.id };
  for (const role of ['clerk', 'support', 'auditor']) {
    const k = await apiOk(server, 'POST', '/v1/keys', admin.key,
      { role, label: `${role} key` }, 201);
    keys[role] = k.key;
    keys[role + 'Id'] = k.id;
  }
  return { tenant: t, keys };
}

let imeiCounter = 0;
// A fresh valid IMEI (check digit right), different on every call.
export function newImei() {
  imeiCounter++;
  const body = '35' + String(process.pid % 1000000).padStart(6, '0') +
    String(imeiCounter).padStart(6, '0');
  return body + checkDigit(body);
}

// The same IMEI with a wrong check digit.
export function badCheckDigit(imei) {
  return imei.slice(0, 14) + String((Number(imei[14]) + 1) % 10);
}

// Registers a phone and gives it a contract of one installment far ahead.
export async function registerDevice(server, adminKey, opts = {}) {
  const imei = opts.imei || newImei();
  const reg = await apiOk(server, 'POST', '/v1/devices', adminKey, {
    imei, serial: opts.serial || `SN${imei.slice(-6)}`,
    model: opts.model || 'Galaxy A05',
  }, 201);
  if (opts.contract !== false) {
    await apiOk(server, 'POST', `/v1/devices/${reg.device.id}/contract`,
      adminKey, opts.contract || {
        currency: 'KES', loan_ref: opts.loanRef || `L-${imei.slice(-6)}`,
        schedule: [{ due: '2099-01-20', amount: 150000 }],
        policy: { contact: { name: opts.contactName || 'Acme desk',
          phones: ['+254700000001'] } },
      }, 201);
  }
  return { ...reg, imei };
}

// Opens a page in a fresh context; every console error, uncaught
// exception and CSP violation lands in page.problems.
export async function openPage(browser, opts = {}) {
  const context = await browser.newContext({
    javaScriptEnabled: opts.js !== false, acceptDownloads: true,
    viewport: opts.viewport || { width: 390, height: 800 },
  });
  const page = await context.newPage();
  page.problems = [];
  page.on('console', (m) => {
    if (m.type() === 'error') page.problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => page.problems.push(`exception: ${e.message}`));
  page.close = ((close) => async () => {
    await close.call(page);
    await context.close();
  })(page.close);
  return page;
}

// Waits until the console has drawn the view its address names: <main>
// no longer aria-busy and data-shown equal to the current hash (a view
// drawn for an older address does not count).
export async function settled(page) {
  await page.waitForFunction(() => {
    const m = document.getElementById('main');
    return m !== null && m.getAttribute('aria-busy') === 'false' &&
      m.dataset.shown === location.hash;
  });
}

// Opens a console address and waits for its view to be drawn.
export async function showView(page, url) {
  await page.goto(url);
  await settled(page);
}

// Fails unless the page recorded no problem except those matching one of
// the `allowed` regular expressions.
export function checkClean(page, allowed = []) {
  const left = page.problems.filter((p) => !allowed.some((re) => re.test(p)));
  check(left.length === 0, `page problems: ${left.join(' | ')}`);
}

const axeSource = readFileSync(
  path.join(here, 'node_modules/axe-core/axe.min.js'), 'utf8');

// Runs axe-core on the page (WCAG 2 A and AA rules); fails on any
// violation. The script is evaluated through the debugging protocol, which
// the page's Content-Security-Policy does not govern.
export async function checkAccessible(page, what) {
  await page.evaluate(axeSource);
  const res = await page.evaluate(() => globalThis.axe.run(document, {
    runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a',
      'wcag21aa', 'best-practice'] },
  }));
  const v = res.violations.map((x) =>
    `${x.id} (${x.nodes.map((n) => n.target.join(' ')).join(', ')})`);
  check(v.length === 0, `${what}: accessibility violations: ${v.join('; ')}`);
}
