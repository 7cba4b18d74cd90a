// The console's CSV import of a reseller's list of phones, with the same
// rules as `finlock devices import` (src/cli/cli_import.c):
//   columns IMEI, IMEI 2, serial, model (IMEI 2 and model may be empty),
//   comma-separated, fields optionally in double quotes (RFC 4180); a
//   first row whose first field is not digits is a header naming the
//   columns (imei, imei 2 / imei2, serial, model) in any order.
// Nothing is half-checked: every row is validated, then every IMEI is
// looked up among the lender's own devices and through the public IMEI
// check. The dry run stops there: it only ever reads (GET), so it changes
// nothing. Registering sends one POST /v1/devices per row, in file order,
// each with its own Idempotency-Key, and only when no row is bad.
import { parseImei } from './imei.js';

export const ROWS_MAX = 10000;  // most data rows the console takes
const FIELD_MAX = 127;          // longest field, bytes
const COLS = ['imei', 'imei2', 'serial', 'model'];

// Splits CSV text into records: [{ line, fields, bad }] (bad: a quote
// out of place).
export function records(text) {
  const out = [];
  let i = 0;
  let line = 1;
  while (i < text.length) {
    const rec = { line, fields: [''], bad: false };
    let quoted = false;
    let inQuotes = false;
    for (; i < text.length; i++) {
      const ch = text[i];
      const f = rec.fields.length - 1;
      if (inQuotes) {
        if (ch === '"' && text[i + 1] === '"') { rec.fields[f] += '"'; i++; continue; }
        if (ch === '"') { inQuotes = false; continue; }
        if (ch === '\n') line++;
        rec.fields[f] += ch;
        continue;
      }
      if (ch === '"' && rec.fields[f] === '' && !quoted) { inQuotes = quoted = true; continue; }
      if (ch === '"') { rec.bad = true; continue; }
      if (ch === ',') { rec.fields.push(''); quoted = false; continue; }
      if (ch === '\r' && text[i + 1] === '\n') continue;
      if (ch === '\n') { line++; i++; break; }
      if (quoted) { rec.bad = true; continue; }
      rec.fields[f] += ch;
    }
    if (inQuotes) rec.bad = true;
    out.push(rec);
  }
  return out;
}

// The rows of a CSV text, each { line, imei, imei2, serial, model,
// problems: [] }; throws on a file that cannot be read as the list.
export function parseList(text) {
  const recs = records(text).filter((r) => r.fields.some((f) => f.trim() !== ''));
  if (recs.length === 0) throw new Error('The file has no rows.');
  let map = [0, 1, 2, 3];
  let width = COLS.length;
  if (!/^[0-9]/.test(recs[0].fields[0].trim())) {
    const head = recs.shift().fields.map((f) => f.trim().toLowerCase().replace(/[\s_-]+/g, ' '));
    const names = { imei: ['imei', 'imei 1', 'imei1'], imei2: ['imei 2', 'imei2'],
      serial: ['serial', 'serial number'], model: ['model'] };
    map = COLS.map((c) => head.findIndex((x) => names[c].includes(x)));
    if (map[0] < 0 || map[2] < 0)
      throw new Error('The header row must name the columns imei and serial.');
    const unknown = head.filter((x) => x !== '' && !Object.values(names).flat().includes(x));
    if (unknown.length > 0) throw new Error(`Unknown column: ${unknown[0]}.`);
    width = head.length;
  }
  if (recs.length > ROWS_MAX) throw new Error(`At most ${ROWS_MAX} rows at once.`);
  const seen = new Map();
  return recs.map((rec) => {
    const row = { line: rec.line, problems: [] };
    const bad = (m) => row.problems.push(m);
    COLS.forEach((c, k) => { row[c] = map[k] >= 0 ? (rec.fields[map[k]] || '').trim() : ''; });
    if (rec.bad) bad('a double quote out of place');
    if (rec.fields.length > width) bad('too many columns');
    for (const c of COLS)
      if (new TextEncoder().encode(row[c]).length > FIELD_MAX) bad(`${c} is longer than ${FIELD_MAX} bytes`);
    for (const [c, name] of [['imei', 'IMEI'], ['imei2', 'IMEI 2']]) {
      if (row[c] === '') {
        if (c === 'imei') bad('IMEI is missing');
        continue;
      }
      try {
        row[c] = parseImei(row[c]);
      } catch (e) {
        bad(`${name}: ${e.message}`);
      }
    }
    if (row.imei && row.imei === row.imei2) bad('IMEI 2 is the same as IMEI');
    if (row.serial === '') bad('serial is missing');
    if (/[\u0000-\u001f\u007f]/.test(row.serial + row.model)) bad('a control character in serial or model');
    for (const c of ['imei', 'imei2']) {
      if (!/^\d{15}$/.test(row[c])) continue;
      if (seen.has(row[c])) bad(`IMEI ${row[c]} is also on line ${seen.get(row[c])}`);
      else seen.set(row[c], row.line);
    }
    return row;
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Checks every valid row's IMEIs against the server (only GETs): among
// the lender's own devices, then the public check. onProgress(done, total).
export async function checkServer(api, rows, onProgress) {
  const good = rows.filter((r) => r.problems.length === 0);
  let done = 0;
  for (const row of good) {
    for (const [c, name] of [['imei', 'IMEI'], ['imei2', 'IMEI 2']]) {
      if (!row[c] || row.problems.length > 0) continue;
      const mine = await api.call('GET', `/v1/devices/by-imei/${row[c]}`);
      const held = mine.items.find((d) => d.state !== 'released');
      if (held) {
        row.problems.push(`${name} ${row[c]} is already registered as your device ${held.id}`);
        continue;
      }
      for (let tries = 0; ; tries++) {
        const res = await fetch(`/v1/imei/${row[c]}`, { cache: 'no-store' });
        if (res.status === 429 && tries < 60) {
          await sleep(1000 * Math.max(1, Number(res.headers.get('Retry-After')) || 1));
          continue;
        }
        const j = await res.json().catch(() => null);
        if (!res.ok || !j) throw new Error(`The IMEI check failed (HTTP ${res.status}).`);
        if (j.status === 'financed' || j.status === 'stolen')
          row.problems.push(`${name} ${row[c]} is already in a financing program`);
        break;
      }
    }
    onProgress(++done, good.length);
  }
  return rows;
}

function idemKey() {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return 'imp-' + Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

// Registers the rows, in order, stopping at the first refusal; each row
// gets .device and .code, or .problems. Resolves to how many registered.
export async function register(api, rows, onProgress) {
  let n = 0;
  for (const row of rows) {
    const body = { imei: row.imei, serial: row.serial };
    if (row.imei2) body.imei2 = row.imei2;
    if (row.model) body.model = row.model;
    try {
      const r = await api.call('POST', '/v1/devices', body, { 'Idempotency-Key': idemKey() });
      row.device = r.device.id;
      row.code = r.enrollment_code;
      n++;
      onProgress(n, rows.length);
    } catch (e) {
      row.problems.push(e.message);
      break;
    }
  }
  return n;
}
