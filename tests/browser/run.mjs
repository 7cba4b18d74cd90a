// Runs the browser tests (test_*.mjs here, or those whose name contains
// one of the arguments) in Debian's chromium, headless, and prints cmocka's
// summary lines so that scripts/run-tests.sh counts them with the rest.
//
// A test file exports `tests`, a list of { name, fn }, and may export
// setup(browser) (its result is passed to every fn) and teardown(ctx).
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const TEST_TIMEOUT_MS = 120000;
const filters = process.argv.slice(2);
const files = readdirSync(here)
  .filter((f) => /^test_.*\.mjs$/.test(f))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();

function withTimeout(p, ms, what) {
  let t;
  return Promise.race([p, new Promise((_, rej) => {
    t = setTimeout(() => rej(new Error(`${what}: timed out after ${ms} ms`)), ms);
  })]).finally(() => clearTimeout(t));
}

const browser = await chromium.launch({
  executablePath: process.env.FINLOCK_CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox'],
});
let passed = 0;
const failed = [];
for (const f of files) {
  const mod = await import(pathToFileURL(path.join(here, f)).href);
  const suite = f.replace(/\.mjs$/, '');
  let ctx = null;
  console.log(`[==========] ${suite}: running ${mod.tests.length} test(s).`);
  try {
    ctx = mod.setup ? await withTimeout(mod.setup(browser),
      TEST_TIMEOUT_MS, `${suite} setup`) : null;
  } catch (e) {
    console.log(`${suite} setup failed: ${e.stack || e}`);
    for (const t of mod.tests) {
      console.log(`[  FAILED  ] ${t.name}`);
      failed.push(t.name);
    }
    continue;
  }
  for (const t of mod.tests) {
    console.log(`[ RUN      ] ${t.name}`);
    const start = Date.now();
    try {
      await withTimeout(t.fn(ctx, browser), TEST_TIMEOUT_MS, t.name);
      console.log(`[       OK ] ${t.name} (${Date.now() - start} ms)`);
      passed++;
    } catch (e) {
      console.log(`${e.stack || e}`);
      console.log(`[  FAILED  ] ${t.name}`);
      failed.push(t.name);
    }
  }
  if (mod.teardown) await mod.teardown(ctx).catch((e) => {
    console.log(`${suite} teardown: ${e.stack || e}`);
  });
}
await browser.close();
console.log(`[==========] ${passed + failed.length} test(s) run.`);
console.log(`[  PASSED  ] ${passed} test(s).`);
if (failed.length > 0) {
  console.log(`[  FAILED  ] ${failed.length} test(s), listed below:`);
  for (const n of failed) console.log(`[  FAILED  ] ${n}`);
}
process.exit(failed.length > 0 ? 1 : 0);
