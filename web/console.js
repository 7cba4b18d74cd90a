// The lender's console: one page, its views chosen by the address's
// fragment (#/devices, #/device/ID, #/register, #/unmatched, #/sources,
// #/keys, #/audit). Every
// figure comes from the /v1 API with the session; a view and an action are
// offered only to the roles the API lets do them, and the API decides
// anyway.
import { h, field, money, when, download } from './dom.js';
import * as api from './api.js';
import { parseImei } from './imei.js';
import { barChart, trendChart } from './chart.js';
import * as csvImport from './import.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const who = document.getElementById('who');
const signOutButton = document.getElementById('signout');

// What each role may do, as the API's routes admit it (docs/openapi.yaml).
const CAN = {
  listDevices: ['admin', 'support', 'auditor'],
  register: ['admin', 'clerk'],
  enrollCode: ['admin', 'clerk'],
  contract: ['admin'],
  pay: ['admin'],
  lock: ['admin'],
  stolen: ['admin'],
  release: ['admin'],
  sync: ['admin', 'support'],
  offlineCode: ['admin', 'support'],
  offlineRelease: ['admin'],
  reverse: ['admin'],
  cancel: ['admin'],
  pairing: ['admin', 'support'],
  keys: ['admin'],
  audit: ['admin', 'auditor'],
  unmatched: ['admin'],
  sources: ['admin'],
};
const VIEWS = [
  ['devices', 'Devices', 'listDevices'],
  ['portfolio', 'Portfolio', 'listDevices'],
  ['register', 'Register a phone', 'register'],
  ['unmatched', 'Unmatched payments', 'unmatched'],
  ['sources', 'Payment sources', 'sources'],
  ['keys', 'Keys', 'keys'],
  ['audit', 'Audit log', 'audit'],
];
const STATES = ['pending', 'active', 'reminding', 'locked', 'released'];

let me = null;       // the session (GET /v1/session)
let stopLive = null; // ends the current view's live updates
let viewSeq = 0;     // which view is current: an answer for an older one is dropped

function can(what) {
  return me !== null && CAN[what].includes(me.role);
}

// --- frame ---------------------------------------------------------------

function show(title, ...content) {
  document.title = `${title} - finlock console`;
  main.replaceChildren(h('h1', null, title), ...content.filter(Boolean));
}

function problem(e) {
  return h('p', { class: 'error', role: 'alert' }, e.message || String(e));
}

// Replaces box's children with kids, keeping what the user was doing:
// each control the user changed (its value is not the one it was drawn
// with) and that is drawn again under the same id gets its value back,
// and the focus and caret return to the control that had them. A form
// being submitted (data-sent) is not kept: its values were sent.
function redraw(box, ...kids) {
  const kept = new Map();
  for (const c of box.querySelectorAll('input, textarea, select')) {
    if (!c.id || c.closest('form[data-sent]')) continue;
    if (c.type === 'checkbox' || c.type === 'radio') {
      if (c.checked !== c.defaultChecked) kept.set(c.id, { checked: c.checked });
    } else if (c.tagName === 'SELECT') {
      if ([...c.options].some((o) => o.selected !== o.defaultSelected)) kept.set(c.id, { value: c.value });
    } else if (c.value !== c.defaultValue) {
      kept.set(c.id, { value: c.value });
    }
  }
  const active = document.activeElement;
  const focused = active && active.id && box.contains(active) ? active : null;
  let caret = null;
  try {
    if (focused && typeof focused.selectionStart === 'number') caret = [focused.selectionStart, focused.selectionEnd];
  } catch { caret = null; } // inputs without a caret (number, date)
  box.replaceChildren(...kids);
  for (const [id, v] of kept) {
    const c = box.querySelector(`#${CSS.escape(id)}`);
    if (!c) continue;
    if ('checked' in v) c.checked = v.checked;
    else c.value = v.value;
  }
  if (focused) {
    const c = box.querySelector(`#${CSS.escape(focused.id)}`);
    if (c) {
      c.focus();
      if (caret) {
        try { c.setSelectionRange(caret[0], caret[1]); } catch { /* no caret */ }
      }
    }
  }
}

// A form whose submit runs fn; its errors show in the form, in words.
function form(props, fn, ...kids) {
  const out = h('p', { class: 'form-out', role: 'status', 'aria-live': 'polite' });
  const f = h('form', { ...props, novalidate: true }, ...kids, out);
  f.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    out.textContent = '';
    out.classList.remove('error');
    const button = f.querySelector('button[type=submit]');
    if (button) button.disabled = true;
    f.dataset.sent = '';
    try {
      const msg = await fn(new FormData(f), f);
      if (typeof msg === 'string') out.textContent = msg;
    } catch (e) {
      out.textContent = e.message;
      out.classList.add('error');
    } finally {
      delete f.dataset.sent;
      if (button) button.disabled = false;
    }
  });
  return f;
}

function renderNav(current) {
  nav.replaceChildren(h('ul', null, VIEWS.filter(([, , c]) => can(c))
    .map(([id, label]) => h('li', null, h('a', {
      href: `#/${id}`, 'aria-current': id === current ? 'page' : null,
    }, label)))));
  who.textContent = `${me.tenant_name} - ${me.role}`;
  signOutButton.hidden = false;
}

function signedOut(message) {
  me = null;
  if (stopLive) stopLive();
  nav.replaceChildren();
  who.textContent = '';
  signOutButton.hidden = true;
  const key = h('input', {
    id: 'key', name: 'key', type: 'password', autocomplete: 'off',
    required: true, spellcheck: 'false', 'aria-describedby': 'key-hint',
  });
  show('Sign in', message ? h('p', { class: 'notice', role: 'status' }, message) : null,
    form({ class: 'card', id: 'signin' }, async (data, f) => {
      const k = String(data.get('key') || '').trim();
      f.reset(); // the key leaves the page at once
      me = await api.signIn(k);
      go();
    },
    h('label', { for: 'key' }, 'API key'),
    key,
    h('p', { id: 'key-hint', class: 'hint' },
      'Your key (fl_...) is sent once to start a session and kept nowhere ' +
      'in this browser. The session ends when you sign out, after ' +
      'a while unused, or when the key is revoked.'),
    h('button', { type: 'submit' }, 'Sign in')));
  key.focus();
}

signOutButton.addEventListener('click', async () => {
  await api.signOut().catch(() => {});
  signedOut('You have signed out.');
});
api.whenSessionEnds(() => signedOut('Your session has ended. Please sign in again.'));

// --- devices -------------------------------------------------------------

function deviceRow(d) {
  return h('tr', { dataset: { id: d.id } },
    h('td', null, h('a', { href: `#/device/${d.id}` }, d.imei)),
    h('td', null, d.serial),
    h('td', null, d.model),
    h('td', null, h('span', { class: `state state-${d.state}` }, d.state),
      d.stolen ? h('span', { class: 'flag' }, ' stolen') : null),
    h('td', { class: 'num' }, money(d.amount_due)),
    h('td', null, when(d.next_due_at)),
    h('td', null, when(d.last_contact)));
}

// The list's query parameters, as GET /v1/devices takes them.
const LIST_KEYS = ['q', 'state', 'overdue', 'lock_held', 'sim', 'tamper', 'stolen',
  'sort', 'order'];
const FLAGS = [
  ['overdue', 'Overdue'],
  ['lock_held', 'Lock held by an unlock'],
  ['sim', 'SIM alert'],
  ['tamper', 'Tamper alert'],
  ['stolen', 'Stolen'],
];
const SORTS = [
  ['registered', 'Registered'],
  ['last_contact', 'Last contact'],
  ['amount_due', 'Amount due'],
  ['next_due', 'Next due date'],
  ['state', 'State'],
];

function devicesQuery(params) {
  const q = new URLSearchParams();
  for (const k of LIST_KEYS)
    if (params.get(k)) q.set(k, params.get(k));
  return q;
}

function checkbox(id, name, label, checked) {
  return h('div', { class: 'field check' },
    h('input', { type: 'checkbox', id, name, value: 'true', checked }),
    h('label', { for: id }, label));
}

const CSV_COLUMNS = ['id', 'imei', 'imei2', 'serial', 'model', 'state', 'stolen',
  'amount_due', 'amount_remaining', 'next_due_at', 'next_due_amount',
  'paid_through', 'lock_at', 'unlock_until', 'last_contact', 'enrolled', 'created_at'];

function csvCell(v) {
  let s = v === null || v === undefined ? '' : String(v);
  // A cell a spreadsheet would run as a formula is written as text.
  if (/^[=+\-@\t\r]/.test(s)) s = "'" + s;
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

async function devicesView(params) {
  const q = devicesQuery(params);
  const cursors = (params.get('trail') || '').split('.').filter(Boolean);
  const cursor = cursors[cursors.length - 1];
  const search = form({ class: 'filters', role: 'search', method: 'get' }, async (data) => {
    const next = new URLSearchParams();
    for (const k of LIST_KEYS)
      if (data.get(k)) next.set(k, String(data.get(k)));
    if (next.get('sort') === 'registered' && next.get('order') !== 'desc') next.delete('sort');
    if (next.get('order') === 'asc') next.delete('order');
    location.hash = `#/devices?${next}`;
  },
  field('Search', { id: 'q', name: 'q', type: 'search', value: q.get('q') || '' },
    'IMEI, serial, model or loan reference'),
  field('State', { id: 'state', name: 'state', tag: 'select',
    options: [['', 'Any state'], ...STATES.map((s) => [s, s])] }),
  field('Sort by', { id: 'sort', name: 'sort', tag: 'select', options: SORTS }),
  field('Order', { id: 'order', name: 'order', tag: 'select',
    options: [['asc', 'Ascending'], ['desc', 'Descending']] }),
  h('fieldset', { class: 'flags' }, h('legend', null, 'Only devices'),
    FLAGS.map(([k, label]) => checkbox(`f-${k}`, k, label, q.get(k) === 'true'))),
  h('button', { type: 'submit' }, 'Search'));
  search.querySelector('#state').value = q.get('state') || '';
  search.querySelector('#sort').value = q.get('sort') || 'registered';
  search.querySelector('#order').value = q.get('order') || 'asc';
  const exportButton = h('button', { type: 'button', class: 'secondary', id: 'export' },
    'Export CSV');
  exportButton.addEventListener('click', async () => {
    exportButton.disabled = true;
    try {
      const items = await api.all(`/v1/devices?${q}`);
      const lines = [CSV_COLUMNS.join(',')].concat(items.map((d) =>
        CSV_COLUMNS.map((c) => csvCell(d[c])).join(',')));
      download('finlock-devices.csv', 'text/csv', lines.join('\r\n') + '\r\n');
    } finally {
      exportButton.disabled = false;
    }
  });
  show('Devices', search, exportButton, h('p', { role: 'status' }, 'Loading...'));
  const lq = new URLSearchParams(q);
  lq.set('limit', '50');
  if (cursor) lq.set('cursor', cursor);
  const mine = viewSeq;
  const page = await api.call('GET', `/v1/devices?${lq}`);
  if (mine !== viewSeq) return; // another view was asked for meanwhile
  const pager = h('nav', { class: 'pager', 'aria-label': 'Pages' });
  if (cursors.length > 0) {
    const back = new URLSearchParams(q);
    if (cursors.length > 1) back.set('trail', cursors.slice(0, -1).join('.'));
    pager.append(h('a', { href: `#/devices?${back}`, rel: 'prev' }, 'Previous page'));
  }
  if (page.next_cursor) {
    const fwd = new URLSearchParams(q);
    fwd.set('trail', [...cursors, page.next_cursor].join('.'));
    pager.append(h('a', { href: `#/devices?${fwd}`, rel: 'next' }, 'Next page'));
  }
  const table = page.items.length === 0
    ? h('p', { id: 'no-devices' }, 'No device matches.')
    : h('div', { class: 'scroll' }, h('table', { id: 'devices' },
      h('caption', null, `Devices, page ${cursors.length + 1}`),
      h('thead', null, h('tr', null, ['IMEI', 'Serial', 'Model', 'State',
        'Due now', 'Next due', 'Last contact'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', null, page.items.map(deviceRow))));
  main.lastChild.replaceWith(table, pager);
}

// --- one device ----------------------------------------------------------

function facts(pairs) {
  return h('dl', { class: 'facts' }, pairs.filter(Boolean).map(([k, v, id]) =>
    [h('dt', null, k), h('dd', { id }, v === null || v === undefined || v === '' ? '-' : v)]));
}

function deviceFacts(d, currency) {
  return facts([
    ['State', h('span', { class: `state state-${d.state}`, id: 'device-state' }, d.state)],
    ['Stolen', d.stolen ? 'yes' : 'no'],
    ['IMEI', [d.imei, d.imei2 ? `, ${d.imei2}` : '']],
    ['Serial', d.serial],
    ['Model', d.model, 'device-model'],
    ['Due now', money(d.amount_due, currency), 'device-due'],
    ['Still to pay', money(d.amount_remaining, currency)],
    ['Next due', d.next_due_at ? `${when(d.next_due_at)}: ${money(d.next_due_amount, currency)}` : '-'],
    ['Paid through', when(d.paid_through)],
    ['Lock', d.lock_at ? `${when(d.lock_at)} (${d.lock_cause !== 'none' ? d.lock_cause : d.next_lock_cause})` : 'none'],
    ['Unlocked until', when(d.unlock_until)],
    ['Enrolled', d.enrolled ? when(d.enrolled_at) : 'not yet'],
    ['Last contact', when(d.last_contact)],
    ['SIM', d.sim ? JSON.stringify(d.sim) : '-'],
    ['Tamper', d.tamper ? JSON.stringify(d.tamper) : '-'],
  ]);
}

function timeline(d, payments, audit) {
  const ev = [];
  ev.push([d.created_at, 'Registered']);
  if (d.enrolled_at) ev.push([d.enrolled_at, 'Phone enrolled']);
  for (const p of payments) {
    ev.push([p.paid_at, `Payment ${money(p.amount)}` + (p.reference ? ` (${p.reference})` : '')]);
    if (p.reversed) ev.push([p.reversed_at, `Payment ${money(p.amount)} reversed: ${p.reverse_reason || ''}`]);
  }
  for (const r of d.reports || [])
    ev.push([r.at || r.reported_at, `Phone reported ${r.kind || ''} ${r.detail || r.text || ''}`]);
  for (const a of audit)
    if (!/^payment\./.test(a.action)) ev.push([a.at, `${a.action} by ${a.actor}`]);
  if (d.last_contact) ev.push([d.last_contact, `Last check-in (state ${d.state})`]);
  ev.sort((x, y) => (x[0] < y[0] ? 1 : -1));
  return h('ol', { class: 'timeline', id: 'timeline' },
    ev.map(([t, text]) => h('li', null, h('time', null, when(t)), ' ', text)));
}

// A small form acting on one row (a payment, a command, a request): a
// reason when asked for, and a button named for the row.
function rowForm(id, label, what, fn, reasonLabel) {
  const kids = [];
  if (reasonLabel)
    kids.push(field(reasonLabel, { id: `${id}-reason`, name: 'reason', required: true }));
  kids.push(h('button', { type: 'submit', class: 'secondary', 'aria-label': `${label} ${what}` }, label));
  return form({ class: 'row-form', id }, async (data) => {
    const reason = String(data.get('reason') || '').trim();
    if (reasonLabel && !reason) throw new Error('Give a reason.');
    return fn(reason);
  }, ...kids);
}

function pendingTable(d, refresh) {
  const list = d.pending_commands || [];
  if (list.length === 0) return h('p', { id: 'no-pending' }, 'No command pending.');
  const kinds = { lock_at: 'Lock at', unlock_until: 'Unlocked until' };
  return h('table', { id: 'pending' }, h('caption', null, 'Pending commands'),
    h('thead', null, h('tr', null, ['Command', 'Time', 'Reason', 'By', 'Action']
      .map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', null, list.map((c) => h('tr', { dataset: { id: String(c.id) } },
      h('td', null, kinds[c.kind] || c.kind), h('td', null, when(c.at)),
      h('td', null, c.reason), h('td', null, c.actor),
      h('td', null, can('cancel') ? rowForm(`cancel-${c.id}`, 'Cancel', `command ${c.id}`,
        async (reason) => {
          await api.call('POST', `/v1/devices/${d.id}/commands/${c.id}/cancel`, { reason });
          await refresh();
          return 'Cancelled.';
        }, 'Reason to cancel') : null)))));
}

function paymentsTable(d, payments, currency, refresh) {
  if (payments.length === 0) return h('p', { id: 'no-payments' }, 'No payment yet.');
  return h('table', { id: 'payments' }, h('caption', null, 'Payments, newest first'),
    h('thead', null, h('tr', null, ['Paid', 'Amount', 'Reference', 'Recorded by', 'State']
      .map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', null, [...payments].reverse().map((p) => h('tr', { dataset: { id: p.id } },
      h('td', null, when(p.paid_at)), h('td', { class: 'num' }, money(p.amount, currency)),
      h('td', null, p.reference), h('td', null, p.recorded_by),
      h('td', null, p.reversed ? `reversed ${when(p.reversed_at)}: ${p.reverse_reason || ''}`
        : can('reverse') ? rowForm(`reverse-${p.id}`, 'Reverse', `payment ${p.reference || p.id}`,
          async (reason) => {
            await api.call('POST', `/v1/payments/${p.id}/reverse`, { reason });
            await refresh();
            return 'Reversed.';
          }, 'Reason to reverse') : 'recorded')))));
}

function pairingTable(d, requests, refresh) {
  if (requests.length === 0) return h('p', { id: 'no-pairing' }, 'No pairing request.');
  const decide = (r, verb, label, done) => rowForm(`${verb}-${r.request_id}`, label,
    `pairing request ${r.request_id}`, async () => {
      await api.call('POST', `/v1/devices/${d.id}/${verb}-pairing`, { request_id: r.request_id });
      await refresh();
      return done;
    });
  return h('table', { id: 'pairing' }, h('caption', null, 'Pairing requests'),
    h('thead', null, h('tr', null, ['Asked', 'Code on the phone', 'Status', 'Action']
      .map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', null, requests.map((r) => h('tr', { dataset: { id: String(r.request_id) } },
      h('td', null, when(r.created_at)), h('td', { class: 'mono' }, r.pairing_code),
      h('td', null, r.status + (r.decided_by ? ` by ${r.decided_by}` : '')),
      h('td', null, r.status === 'pending' && can('pairing')
        ? [decide(r, 'approve', 'Approve', 'Approved.'), decide(r, 'reject', 'Reject', 'Rejected.')] : null)))));
}

function actionForm(id, legend, fn, ...fields) {
  return form({ class: 'card action', id }, fn,
    h('fieldset', null, h('legend', null, legend), ...fields,
      h('button', { type: 'submit' }, legend)));
}

function deviceActions(d, refresh) {
  const base = `/v1/devices/${d.id}`;
  const out = [];
  const after = async (p) => { const r = await p; await refresh(); return r; };
  if (can('pay') && d.has_contract)
    out.push(actionForm('pay', 'Record a payment', async (data) => {
      const amount = Math.round(Number(data.get('amount')) * 100);
      if (!(amount > 0)) throw new Error('Give an amount above zero.');
      const body = { amount };
      if (data.get('reference')) body.reference = String(data.get('reference'));
      await after(api.call('POST', `${base}/payments`, body));
      return 'Payment recorded.';
    },
    field('Amount', { id: 'pay-amount', name: 'amount', inputmode: 'decimal', required: true }),
    field('Reference', { id: 'pay-ref', name: 'reference' })));
  if (can('lock') && d.state !== 'released') {
    out.push(actionForm('lock', 'Lock', async (data) => {
      const body = { reason: String(data.get('reason') || 'locked from the console') };
      if (data.get('at')) body.at = new Date(String(data.get('at'))).toISOString().replace(/\.\d+Z$/, 'Z');
      await after(api.call('POST', `${base}/lock`, body));
      return body.at ? 'Lock scheduled.' : 'Locked.';
    },
    field('Reason', { id: 'lock-reason', name: 'reason', required: true }),
    field('At (empty: now)', { id: 'lock-at', name: 'at', type: 'datetime-local' })));
    out.push(actionForm('unlock', 'Unlock until', async (data) => {
      const until = String(data.get('until') || '');
      if (!until) throw new Error('Give the time the unlock lasts until.');
      await after(api.call('POST', `${base}/unlock`, {
        until: new Date(until).toISOString().replace(/\.\d+Z$/, 'Z'),
        reason: String(data.get('reason') || 'unlocked from the console'),
      }));
      return 'Unlocked.';
    },
    field('Until', { id: 'unlock-until', name: 'until', type: 'datetime-local', required: true }),
    field('Reason', { id: 'unlock-reason', name: 'reason' })));
  }
  if (can('sync'))
    out.push(actionForm('sync', 'Sync', async () => {
      await after(api.call('POST', `${base}/sync`, {}));
      return 'The phone will pick up the change at its next contact.';
    }));
  if (can('offlineCode') && d.enrolled && !d.stolen && d.state !== 'released')
    out.push(actionForm('offline', 'Offline code', async (data) => {
      const v = String(data.get('days'));
      const r = await api.call('POST', `${base}/offline-code`,
        v === 'release' ? { action: 'release' } : { days: Number(v) });
      return `Read this code to the customer: ${r.code}`;
    },
    field('Code for', { id: 'offline-days', name: 'days', tag: 'select',
      options: [['1', 'Unlock 1 day'], ['3', 'Unlock 3 days'], ['7', 'Unlock 7 days'],
        ['30', 'Unlock 30 days'], ...(can('offlineRelease') ? [['release', 'Release for good']] : [])] })));
  if (can('enrollCode') && !d.enrolled)
    out.push(actionForm('enroll-code', 'New enrollment code', async () => {
      const r = await api.call('POST', `${base}/enrollment-code`, {});
      return `Enrollment code: ${r.enrollment_code}`;
    }));
  if (can('stolen') && !d.stolen && d.has_contract)
    out.push(actionForm('stolen', 'Report stolen', async (data) => {
      await after(api.call('POST', `${base}/stolen`, { reason: String(data.get('reason')) }));
      return 'Reported stolen.';
    }, field('Reason', { id: 'stolen-reason', name: 'reason', required: true })));
  if (can('stolen') && d.stolen)
    out.push(actionForm('stolen-clear', 'Clear the stolen report', async (data) => {
      await after(api.call('POST', `${base}/stolen/clear`, { reason: String(data.get('reason')) }));
      return 'The stolen report is cleared.';
    }, field('Reason', { id: 'stolen-clear-reason', name: 'reason', required: true })));
  if (can('release') && d.state !== 'released' && d.has_contract)
    out.push(actionForm('release', 'Release for good', async () => {
      await after(api.call('POST', `${base}/release`, {}));
      return 'Released.';
    }));
  return out;
}

async function deviceView(id) {
  show('Device', h('p', { role: 'status' }, 'Loading...'));
  let d = await api.call('GET', `/v1/devices/${encodeURIComponent(id)}`);
  const mine = viewSeq;
  const contract = d.has_contract
    ? await api.call('GET', `/v1/devices/${d.id}/contract`).catch(() => null) : null;
  const currency = contract ? contract.currency : '';
  const section = (title, idp, ...kids) =>
    h('section', { class: 'card', 'aria-labelledby': idp }, h('h2', { id: idp }, title), ...kids);
  const factsBox = h('div', { id: 'facts' });
  const timelineBox = h('div');
  const actionsBox = h('div', { class: 'actions' });
  const pendingBox = h('div');
  const paymentsBox = h('div');
  const pairingBox = h('div');

  async function refresh(fresh) {
    // a change answered by GET .../wait lacks what only GET shows
    d = fresh && fresh.pending_commands ? fresh : await api.call('GET', `/v1/devices/${d.id}`);
    const [payments, audit, pairing] = await Promise.all([
      api.all(`/v1/devices/${d.id}/payments`, 500),
      can('audit') ? api.all(`/v1/audit?target=${d.id}`, 500) : [],
      api.call('GET', `/v1/devices/${d.id}/pairing-requests`).then((r) => r.items),
    ]);
    // a change made elsewhere must not empty a form being filled in
    redraw(factsBox, deviceFacts(d, currency));
    redraw(timelineBox, timeline(d, payments, audit));
    redraw(actionsBox, ...deviceActions(d, () => refresh()));
    redraw(pendingBox, pendingTable(d, () => refresh()));
    redraw(paymentsBox, paymentsTable(d, payments, currency, () => refresh()));
    redraw(pairingBox, pairingTable(d, pairing, () => refresh()));
  }
  await refresh(d);
  if (mine !== viewSeq) return;
  show(`Device ${d.imei}`,
    section('Status', 'status-title', h('p', { class: 'hint', id: 'live' },
      'This page follows the device: a payment or a command made elsewhere shows here at once.'),
    factsBox),
    section('Actions', 'actions-title', actionsBox),
    section('Pending commands', 'pending-title', pendingBox),
    section('Payments', 'payments-title', paymentsBox),
    section('Pairing requests', 'pairing-title', pairingBox),
    contract ? section('Contract', 'contract-title', facts([
      ['Loan reference', contract.loan_ref],
      ['Currency', contract.currency],
      ['Grace', `${contract.grace} s`],
      ['Contact', contract.policy && contract.policy.contact ? contract.policy.contact.name : ''],
    ]), h('table', { id: 'schedule' }, h('caption', null, 'Schedule'),
      h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Due'), h('th', { scope: 'col' }, 'Amount'))),
      h('tbody', null, contract.schedule.map((i) =>
        h('tr', null, h('td', null, when(i.due_at)), h('td', { class: 'num' }, money(i.amount, currency)))))))
      : section('Contract', 'contract-title', h('p', null, 'No contract yet.')),
    section('Timeline', 'timeline-title', timelineBox));

  // Live: long-poll the device; each answer with a higher token seq is a
  // change (payment, command, decision) to show.
  let live = true;
  stopLive = () => { live = false; };
  (async () => {
    while (live && me) {
      try {
        const next = await api.call('GET',
          `/v1/devices/${d.id}/wait?seq=${d.token_seq}&timeout=25`);
        if (!live) break;
        if (next.token_seq !== d.token_seq) await refresh(next);
      } catch (e) {
        if (!live || e.status === 401) break;
        await new Promise((r) => setTimeout(r, 3000));
      }
    }
  })();
}

// --- registration ----------------------------------------------------------

function imeiInput(id, name, label, required) {
  const box = field(label, { id, name, inputmode: 'numeric', autocomplete: 'off',
    required }, required ? '15 digits: dial *#06# on the phone.' : 'Optional: the second SIM slot.');
  const input = box.querySelector('input');
  const hint = box.querySelector('.hint');
  const base = hint.textContent;
  input.addEventListener('input', () => {
    const v = input.value.trim();
    if (v === '') {
      hint.textContent = base;
      input.removeAttribute('aria-invalid');
      return;
    }
    try {
      parseImei(v);
      hint.textContent = 'Valid IMEI.';
      input.removeAttribute('aria-invalid');
    } catch (e) {
      hint.textContent = e.message;
      input.setAttribute('aria-invalid', 'true');
    }
  });
  return box;
}

// The schedule from the form: equal installments, or a list of
// "YYYY-MM-DD amount" lines.
function schedule(data) {
  if (data.get('kind') === 'list') {
    const lines = String(data.get('list') || '').split('\n').map((l) => l.trim()).filter(Boolean);
    if (lines.length === 0) throw new Error('List at least one installment.');
    return lines.map((l, i) => {
      const m = l.match(/^(\d{4}-\d{2}-\d{2})\s+([0-9]+(?:\.[0-9]{1,2})?)$/);
      if (!m) throw new Error(`Line ${i + 1}: write "YYYY-MM-DD amount".`);
      return { due: m[1], amount: Math.round(Number(m[2]) * 100) };
    });
  }
  const n = Number(data.get('count'));
  const amount = Math.round(Number(data.get('amount')) * 100);
  const first = String(data.get('first') || '');
  const every = Number(data.get('every'));
  if (!(n >= 1 && n <= 1000)) throw new Error('Give between 1 and 1000 installments.');
  if (!(amount > 0)) throw new Error('Give an installment amount above zero.');
  if (!/^\d{4}-\d{2}-\d{2}$/.test(first)) throw new Error('Give the first due date.');
  if (!(every >= 1)) throw new Error('Give the days between installments.');
  const out = [];
  const t0 = Date.parse(first + 'T00:00:00Z');
  for (let i = 0; i < n; i++)
    out.push({ due: new Date(t0 + i * every * 86400000).toISOString().slice(0, 10), amount });
  return out;
}

function contractForm(deviceId) {
  const equal = h('div', { id: 'equal' },
    field('Installments', { id: 'c-count', name: 'count', inputmode: 'numeric', value: '12' }),
    field('Amount of each', { id: 'c-amount', name: 'amount', inputmode: 'decimal' }),
    field('First due date', { id: 'c-first', name: 'first', type: 'date' }),
    field('Days between', { id: 'c-every', name: 'every', inputmode: 'numeric', value: '30' }));
  const list = h('div', { id: 'list', hidden: true },
    field('Installments, one a line', { id: 'c-list', name: 'list', tag: 'textarea', rows: 5 },
      'YYYY-MM-DD amount, e.g. 2027-01-31 1500.00'));
  const kind = field('Schedule', { id: 'c-kind', name: 'kind', tag: 'select',
    options: [['equal', 'Equal installments'], ['list', 'A list of installments']] });
  kind.querySelector('select').addEventListener('change', (ev) => {
    const isList = ev.target.value === 'list';
    list.hidden = !isList;
    equal.hidden = isList;
  });
  return form({ class: 'card', id: 'contract-form' }, async (data) => {
    const body = {
      currency: String(data.get('currency') || '').trim().toUpperCase(),
      schedule: schedule(data),
    };
    if (data.get('loan_ref')) body.loan_ref = String(data.get('loan_ref'));
    if (data.get('allow_overdue')) body.allow_overdue = true;
    const contact = String(data.get('contact') || '').trim();
    if (contact) body.policy = { contact: { name: contact } };
    await api.call('POST', `/v1/devices/${deviceId}/contract`, body);
    location.hash = `#/device/${deviceId}`;
  },
  h('h2', null, 'Contract'),
  field('Loan reference', { id: 'c-loan', name: 'loan_ref' }),
  field('Currency', { id: 'c-currency', name: 'currency', value: 'KES', required: true }),
  field('Contact shown on the phone', { id: 'c-contact', name: 'contact' }),
  kind, equal, list,
  h('div', { class: 'field check' },
    h('input', { type: 'checkbox', id: 'c-overdue', name: 'allow_overdue', value: 'yes' }),
    h('label', { for: 'c-overdue' }, 'Installments already due are intended')),
  h('button', { type: 'submit' }, 'Create the contract'));
}

function registerView() {
  const result = h('div', { id: 'registered' });
  show('Register a phone', form({ class: 'card', id: 'register' }, async (data) => {
    const body = { imei: parseImei(String(data.get('imei'))), serial: String(data.get('serial')).trim() };
    if (String(data.get('imei2') || '').trim()) body.imei2 = parseImei(String(data.get('imei2')));
    if (String(data.get('model') || '').trim()) body.model = String(data.get('model')).trim();
    if (!body.serial) throw new Error('Give the serial number.');
    const r = await api.call('POST', '/v1/devices', body);
    result.replaceChildren(h('section', { class: 'card', 'aria-labelledby': 'code-title' },
      h('h2', { id: 'code-title' }, 'Enrollment code'),
      h('p', null, 'Type this code on the phone to enroll it:'),
      h('p', { class: 'code', id: 'enrollment-code' }, r.enrollment_code),
      h('p', { class: 'hint' }, `Good until ${when(r.enrollment_code_expires_at)}.`)),
    can('contract') ? contractForm(r.device.id) : null);
    return 'Registered.';
  },
  imeiInput('r-imei', 'imei', 'IMEI', true),
  imeiInput('r-imei2', 'imei2', 'Second IMEI', false),
  field('Serial number', { id: 'r-serial', name: 'serial', required: true, autocomplete: 'off' }),
  field('Model', { id: 'r-model', name: 'model' }),
  h('button', { type: 'submit' }, 'Register')), result, importCard());
}

// The CSV import (web/import.js): a dry run first, always; registering
// is offered only once every row passed.
function importCard() {
  const rowsBox = h('div', { id: 'import-rows' });
  const goBox = h('div');
  const progress = h('p', { id: 'import-progress', role: 'status', 'aria-live': 'polite' });
  let rows = [];
  const resultText = (r) => (r.problems.length > 0 ? r.problems.join('; ')
    : r.code ? `registered: ${r.code}` : 'ready');
  function table() {
    return h('table', { id: 'import-table' }, h('caption', null, 'Rows of the file'),
      h('thead', null, h('tr', null, ['Line', 'IMEI', 'IMEI 2', 'Serial', 'Model', 'Result']
        .map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', null, rows.map((r) => h('tr', {
        class: r.problems.length > 0 ? 'bad' : null,
        dataset: { line: String(r.line), ok: r.problems.length === 0 ? 'yes' : 'no' },
      }, h('td', null, r.line), h('td', null, r.imei), h('td', null, r.imei2),
      h('td', null, r.serial), h('td', null, r.model),
      h('td', { class: r.code ? 'mono' : null }, resultText(r))))));
  }
  const card = form({ class: 'card', id: 'import' }, async (data) => {
    goBox.replaceChildren();
    rowsBox.replaceChildren();
    const file = data.get('file');
    if (!file || !file.size) throw new Error('Choose a CSV file.');
    if (file.size > 4 * 1024 * 1024) throw new Error('The file is larger than 4 MB.');
    rows = csvImport.parseList(await file.text());
    progress.textContent = 'Checking the IMEIs with the server...';
    await csvImport.checkServer(api, rows, (n, t) => {
      progress.textContent = `Checked ${n} of ${t} rows with the server...`;
    });
    progress.textContent = '';
    rowsBox.replaceChildren(table());
    const bad = rows.filter((r) => r.problems.length > 0).length;
    if (bad > 0)
      return `Dry run: ${bad} of ${rows.length} rows have problems; nothing was registered. ` +
        'Fix the file and check it again.';
    const go = h('button', { type: 'button', id: 'import-go' }, `Register ${rows.length} phones`);
    go.addEventListener('click', async () => {
      go.disabled = true;
      const n = await csvImport.register(api, rows, (k, t) => {
        progress.textContent = `Registered ${k} of ${t}...`;
      });
      rowsBox.replaceChildren(table());
      const codes = h('button', { type: 'button', class: 'secondary', id: 'import-codes' },
        'Download the enrollment codes (CSV)');
      codes.addEventListener('click', () => download('finlock-enrollment-codes.csv', 'text/csv',
        ['line,imei,serial,device,enrollment_code'].concat(rows.filter((r) => r.code).map((r) =>
          [r.line, r.imei, r.serial, r.device, r.code].map(csvCell).join(','))).join('\r\n') + '\r\n'));
      progress.textContent = n === rows.length ? `Registered ${n} phones.`
        : `Registered ${n} of ${rows.length}; stopped at a refusal (see the table). ` +
          'Rows after it were not sent.';
      goBox.replaceChildren(codes);
    });
    goBox.replaceChildren(go);
    return `Dry run: all ${rows.length} rows are ready; nothing was registered yet.`;
  },
  h('h2', null, 'Import a list (CSV)'),
  field('CSV file', { id: 'import-file', name: 'file', type: 'file', accept: '.csv,text/csv', required: true },
    'Columns IMEI, IMEI 2, serial, model (IMEI 2 and model may be empty), ' +
    'with or without a header row. The list is checked first and nothing is registered until you say so.'),
  h('button', { type: 'submit' }, 'Check the list (dry run)'));
  return h('div', null, card, progress, rowsBox, goBox);
}

// --- portfolio -----------------------------------------------------------

function percent(r) {
  return r === null || r === undefined ? '-' : `${(r * 100).toFixed(1)}%`;
}

async function portfolioView() {
  const mine = viewSeq;
  const p = await api.call('GET', '/v1/reports/portfolio');
  if (mine !== viewSeq) return;
  const figure = (label, value, id) =>
    h('div', { class: 'figure' }, label, h('strong', { id }, value));
  const perCurrency = p.currencies.map((c) => h('section', {
    class: 'card', 'aria-labelledby': `ccy-${c.currency}`,
  },
  h('h2', { id: `ccy-${c.currency}` }, `Loans in ${c.currency}`),
  h('div', { class: 'figures' },
    figure('Loans', String(c.loans)),
    figure('Outstanding', money(c.outstanding, c.currency)),
    figure('Due now', money(c.due_now, c.currency)),
    figure('PAR1', percent(c.par1), `par1-${c.currency}`),
    figure('PAR7', percent(c.par7), `par7-${c.currency}`),
    figure('PAR30', percent(c.par30), `par30-${c.currency}`)),
  barChart(`Portfolio at risk, ${c.currency}`, [1, 7, 30].map((d) => ({
    label: `PAR${d}`, value: c[`par${d}`], cls: 'bar-par',
    text: `${percent(c[`par${d}`])} (${money(c[`par${d}_amount`], c.currency)})`,
  })), 1)));
  // The collections need every loan's schedule and payments: asked
  // after the figures above are on screen.
  const history = h('div', { id: 'collections' },
    h('p', { role: 'status' }, 'Loading the collections of the last 12 months...'));
  const trends = h('div', { id: 'trends' });
  show('Portfolio',
    h('p', { class: 'hint' }, `As of ${when(p.as_of)}. PAR N: the whole outstanding balance ` +
      'of every loan with an installment more than N days late, over the outstanding portfolio.'),
    h('section', { class: 'card', 'aria-labelledby': 'fleet-title' },
      h('h2', { id: 'fleet-title' }, 'Devices'),
      h('div', { class: 'figures' },
        figure('Devices', String(p.devices), 'fig-devices'),
        figure('Stolen', String(p.stolen)),
        figure('Lock rate', percent(p.lock_rate), 'fig-lock-rate')),
      barChart('Devices by state', STATES.map((s) => ({
        label: s, value: p.by_state[s], text: String(p.by_state[s]), cls: `bar-${s}`,
      })))),
    ...perCurrency,
    p.currencies.length === 0 ? h('p', null, 'No loans yet.') : history, trends);
  if (p.currencies.length === 0) return;
  const full = await api.call('GET', '/v1/reports/portfolio?history=true');
  if (!history.isConnected) return;
  history.replaceChildren(...full.currencies.map((c) => collectionsCard(c)));
  trends.replaceChildren(trendsCard(full));
}

function seconds(v) {
  if (v === null || v === undefined) return '-';
  return `${Number.isInteger(v) || v >= 10 ? Math.round(v) : v.toFixed(1)} s`;
}

// Lock rate, cure rate and payment-to-unlock latency p95 over the last 12
// periods of 30 days (docs/web.md, "Trends").
function trendsCard(full) {
  const per = full.trends || [];
  const labels = per.map((x) => x.to.slice(5, 10));
  const last = per.length ? per[per.length - 1] : null;
  const figure = (label, value, id) =>
    h('div', { class: 'figure' }, label, h('strong', { id }, value));
  return h('section', { class: 'card', 'aria-labelledby': 'trends-title' },
    h('h2', { id: 'trends-title' }, 'Locks and unlocks, last 30 days'),
    h('div', { class: 'figures' },
      figure('Cure rate', percent(full.cure_rate), 'fig-cure-rate'),
      figure('Payment to unlock, p95', seconds(full.unlock_latency_p95), 'fig-unlock-p95'),
      figure('Locks judged', String(last ? last.locks : 0)),
      figure('Unlocks by payment', String(last ? last.paid_unlocks : 0))),
    trendChart('Lock and cure rates, 30-day periods ending', labels, [
      { label: 'lock rate', cls: 's-lock', values: per.map((x) => x.lock_rate) },
      { label: 'cure rate', cls: 's-cure', values: per.map((x) => x.cure_rate) },
    ], percent, 'no figure'),
    trendChart('Payment to unlock confirmed, p95, 30-day periods ending', labels, [
      { label: 'p95 latency', cls: 's-latency', values: per.map((x) => x.unlock_latency_p95) },
    ], seconds, 'no unlock'),
    h('p', { class: 'hint' }, 'Lock rate: locked devices over those in service at the end of ' +
      'each period. Cure rate: locks for money begun in the period (at least 7 days ago) that a ' +
      'payment ended within 7 days. Payment to unlock: from the payment\'s record to the phone ' +
      'confirming it is unlocked, the 95th percentile.'));
}

// Collections of one currency over the last 12 periods of 30 days.
function collectionsCard(c) {
  const per = c.collections || [];
  const labels = per.map((x) => x.to.slice(5, 10));
  const rate = (k) => per.map((x) => (x[k] === null ? null : x[k]));
  const figure = (label, value, id) =>
    h('div', { class: 'figure' }, label, h('strong', { id }, value));
  return h('section', { class: 'card', 'aria-labelledby': `coll-${c.currency}` },
    h('h2', { id: `coll-${c.currency}` }, `Collections in ${c.currency}, last 30 days`),
    h('div', { class: 'figures' },
      figure('On-time collection rate', percent(c.on_time_rate), `ontime-${c.currency}`),
      figure('Collection rate', percent(c.collection_rate), `collrate-${c.currency}`),
      figure('Fell due', money(per.length ? per[per.length - 1].due : 0, c.currency)),
      figure('Collected', money(per.length ? per[per.length - 1].collected : 0, c.currency))),
    trendChart(`Collection rates in ${c.currency}, 30-day periods ending`, labels, [
      { label: 'on time', cls: 's-ontime', values: rate('on_time_rate') },
      { label: 'collected', cls: 's-collected', values: rate('collection_rate') },
    ], percent),
    h('p', { class: 'hint' }, 'On time: the part of the installments that fell due in the period ' +
      'paid by their due date. Collected: the payments made in the period over what fell due in it ' +
      '(it passes 100% when late payments come in).'));
}

// --- money from providers ---------------------------------------------------

// Payments a provider sent that matched no contract: assign one to a
// device (by IMEI or device id), which records it as that device's
// payment. ?all=true lists the assigned ones too.
async function unmatchedView(params) {
  const all = params.get('all') === 'true';
  const list = h('div', { id: 'unmatched-list' });
  async function load() {
    const items = await api.all(`/v1/payments/unmatched?all=${all}`);
    if (items.length === 0) {
      list.replaceChildren(h('p', { id: 'no-unmatched' },
        all ? 'No payment from a provider was ever left unmatched.' : 'Every payment is matched.'));
      return;
    }
    list.replaceChildren(h('table', { id: 'unmatched' }, h('caption', null, 'Unmatched payments, oldest first'),
      h('thead', null, h('tr', null, ['Received', 'Paid', 'Amount', 'Reference', 'Account', 'Payer',
        'Why unmatched', 'Device'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', null, items.map((u) => h('tr', { dataset: { id: u.id } },
        h('td', null, when(u.received_at)), h('td', null, when(u.paid_at)),
        h('td', { class: 'num' }, money(u.amount, u.currency)),
        h('td', null, u.reference), h('td', null, u.account), h('td', null, u.payer),
        h('td', null, u.reason),
        h('td', null, u.payment_id ? `assigned ${when(u.assigned_at)} as ${u.payment_id}`
          : assignForm(u, load)))))));
  }
  show('Unmatched payments',
    h('p', { class: 'hint' }, 'Payments a provider sent whose account matched no contract. Assigning ' +
      'one records it as a payment of the device you name (audited); if that was the wrong ' +
      'device, reverse the payment on its page.'),
    h('p', null, all ? h('a', { href: '#/unmatched' }, 'Show only those not yet assigned')
      : h('a', { href: '#/unmatched?all=true' }, 'Show the assigned ones too')),
    list);
  await load();
}

function assignForm(u, done) {
  const id = `assign-${u.id}`;
  return form({ class: 'row-form', id }, async (data) => {
    const who = String(data.get('device') || '').trim();
    let deviceId = who;
    if (/^\d{15}$/.test(who)) {
      const found = await api.call('GET', `/v1/devices/by-imei/${who}`);
      if (!found.items || found.items.length === 0) throw new Error(`No device of yours has IMEI ${who}.`);
      deviceId = found.items[0].id;
    } else if (!/^dv_/.test(who)) {
      throw new Error('Give the device\'s IMEI (15 digits) or its id (dv_...).');
    }
    const r = await api.call('POST', `/v1/payments/unmatched/${encodeURIComponent(u.id)}/assign`,
      { device_id: deviceId });
    await done();
    return `Recorded as ${r.payment.id}.`;
  },
  field('IMEI or device id', { id: `${id}-device`, name: 'device', required: true,
    autocomplete: 'off', inputmode: 'text' }),
  h('button', { type: 'submit', class: 'secondary', 'aria-label': `Assign payment ${u.reference || u.id}` },
    'Assign'));
}

// Payment sources: each provider feed's health and last callback; create
// one, disable one, rotate its secret. The callback URLs (and a signed
// source's HMAC secret) are shown once, when made.
async function sourcesView() {
  const list = h('div', { id: 'sources-list' });
  const shown = h('div', { id: 'source-secret' });
  const showSecrets = (r, what) => shown.replaceChildren(h('section', {
    class: 'card notice', 'aria-labelledby': 'secret-title',
  }, h('h2', { id: 'secret-title' }, what),
  h('p', null, 'These URLs hold the source\'s secret and are shown only this once: give them to ' +
    'the provider now. finlock keeps only a keyed hash of the secret.'),
  facts([
    ['Validation URL', r.validation_url, 'src-validation-url'],
    ['Confirmation URL', r.confirmation_url, 'src-confirmation-url'],
    ['Callback URL', r.callback_url, 'src-callback-url'],
    ['Signing secret', r.secret, 'src-secret'],
  ].filter(([, v]) => v))));
  async function load() {
    const items = await api.all('/v1/payment-sources');
    if (items.length === 0) {
      list.replaceChildren(h('p', { id: 'no-sources' }, 'No payment source yet.'));
      return;
    }
    list.replaceChildren(h('table', { id: 'sources' }, h('caption', null, 'Payment sources'),
      h('thead', null, h('tr', null, ['Name', 'Kind', 'Shortcode', 'Currency', 'Health',
        'Last callback', 'Quiet for at most', 'Networks', 'Actions'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', null, items.map((x) => h('tr', { dataset: { id: x.id } },
        h('td', null, x.name || x.id), h('td', null, x.kind), h('td', null, x.shortcode),
        h('td', null, x.currency),
        h('td', null, h('span', { class: `health health-${x.health}` }, x.health)),
        h('td', null, when(x.last_callback_at)),
        h('td', null, `${Math.round(x.max_silence / 60)} min`),
        h('td', null, (x.allowed_networks || []).join(', ')),
        h('td', null, x.enabled ? [
          rowForm(`rotate-${x.id}`, 'Rotate secret', `source ${x.name || x.id}`, async () => {
            const r = await api.call('POST', `/v1/payment-sources/${x.id}/rotate`, {});
            showSecrets(r, `New URLs of ${x.name || x.id}`);
            await load();
            return 'Rotated.';
          }),
          rowForm(`disable-${x.id}`, 'Disable', `source ${x.name || x.id}`, async () => {
            await api.call('POST', `/v1/payment-sources/${x.id}/disable`, {});
            await load();
            return 'Disabled.';
          }),
        ] : `disabled ${when(x.disabled_at)}`))))));
  }
  const kind = field('Kind', { id: 'src-kind', name: 'kind', tag: 'select',
    options: [['mpesa_c2b', 'M-Pesa C2B (Daraja)'], ['signed', 'Signed callbacks (other providers)']] });
  show('Payment sources',
    h('p', { class: 'hint' }, 'A source is one provider feed. Stale: no callback for longer than ' +
      'it may be quiet (locks are held meanwhile, see docs/payments.md).'),
    form({ class: 'card', id: 'source-form' }, async (data, f) => {
      const body = { kind: String(data.get('kind')) };
      for (const k of ['name', 'shortcode', 'currency'])
        if (String(data.get(k) || '').trim()) body[k] = String(data.get(k)).trim();
      const nets = String(data.get('networks') || '').split(/[\s,]+/).filter(Boolean);
      if (nets.length) body.allowed_networks = nets;
      if (String(data.get('max_silence') || '').trim()) {
        const m = Number(data.get('max_silence'));
        if (!(m >= 1)) throw new Error('Give the quiet time in whole minutes.');
        body.max_silence = Math.round(m * 60);
      }
      const r = await api.call('POST', '/v1/payment-sources', body);
      f.reset();
      showSecrets(r, `URLs of ${r.source.name || r.source.id}`);
      await load();
      return 'Created.';
    },
    h('h2', null, 'New source'),
    kind,
    field('Name', { id: 'src-name', name: 'name' }),
    field('Shortcode', { id: 'src-shortcode', name: 'shortcode', inputmode: 'numeric' },
      'M-Pesa: the paybill or till number.'),
    field('Currency', { id: 'src-currency', name: 'currency', placeholder: 'KES' }),
    field('Allowed networks', { id: 'src-networks', name: 'networks' },
      'CIDRs the provider calls from, separated by spaces or commas (M-Pesa: Safaricom\'s by default).'),
    field('Quiet for at most (minutes)', { id: 'src-silence', name: 'max_silence', inputmode: 'numeric' },
      'Default 360 (6 hours).'),
    h('button', { type: 'submit' }, 'Create the source')),
    shown, list);
  await load();
}

// --- keys and audit ------------------------------------------------------

async function keysView() {
  const list = h('div');
  const shown = h('div', { id: 'new-key' });
  async function load() {
    const keys = await api.all('/v1/keys');
    list.replaceChildren(h('table', { id: 'keys' }, h('caption', null, 'API keys'),
      h('thead', null, h('tr', null, ['Id', 'Role', 'Label', 'Created', 'State', 'Action']
        .map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', null, keys.map((k) => h('tr', null,
        h('td', null, k.id), h('td', null, k.role), h('td', null, k.label),
        h('td', null, when(k.created_at)),
        h('td', null, k.active ? 'active' : `revoked ${when(k.revoked_at)}`),
        h('td', null, k.active && k.id !== me.key_id ? h('button', {
          type: 'button', class: 'danger', 'aria-label': `Revoke ${k.id}`,
          onclick: async () => {
            await api.call('POST', `/v1/keys/${k.id}/revoke`, {});
            await load();
          },
        }, 'Revoke') : null))))));
  }
  show('Keys', form({ class: 'card', id: 'key-form' }, async (data) => {
    const body = { role: String(data.get('role')) };
    if (data.get('label')) body.label = String(data.get('label'));
    const k = await api.call('POST', '/v1/keys', body);
    shown.replaceChildren(h('p', { class: 'notice' }, 'The new key is shown only this once: give it to its holder now.'),
      h('p', { class: 'code small', id: 'key-secret' }, k.key));
    await load();
  },
  field('Role', { id: 'k-role', name: 'role', tag: 'select',
    options: [['clerk', 'clerk'], ['support', 'support'], ['auditor', 'auditor'], ['admin', 'admin']] }),
  field('Label', { id: 'k-label', name: 'label' }),
  h('button', { type: 'submit' }, 'Create a key')), shown, list);
  await load();
}

async function auditView() {
  const out = h('p', { id: 'verify-out', role: 'status' });
  const verify = h('button', { type: 'button', id: 'verify' }, 'Verify the chain');
  verify.addEventListener('click', async () => {
    const v = await api.call('GET', '/v1/audit/verify');
    out.textContent = v.ok ? `The chain verifies: ${v.entries} entries, head ${v.head_hash.slice(0, 16)}...`
      : `The chain is broken at entry ${v.bad_seq}: ${v.problem}`;
  });
  const mine = viewSeq;
  const page = await api.call('GET', '/v1/audit?limit=100');
  if (mine !== viewSeq) return;
  show('Audit log', verify, out, h('table', { id: 'audit' }, h('caption', null, 'Oldest first'),
    h('thead', null, h('tr', null, ['#', 'When', 'Who', 'What', 'Target']
      .map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', null, page.items.map((a) => h('tr', null, h('td', null, a.seq),
      h('td', null, when(a.at)), h('td', null, a.actor), h('td', null, a.action),
      h('td', null, /^dv_/.test(a.target || '') ? h('a', { href: `#/device/${a.target}` }, a.target) : a.target))))));
}

// --- routing -------------------------------------------------------------

// While a view loads, <main> is aria-busy; once it is drawn, data-shown
// names the address it shows (an older view's late answer changes neither).
async function go() {
  const mine = ++viewSeq;
  main.setAttribute('aria-busy', 'true');
  let moved = false;
  try {
    moved = await route() === 'moved';
  } finally {
    if (mine === viewSeq && !moved) {
      main.dataset.shown = location.hash;
      main.setAttribute('aria-busy', 'false');
    }
  }
}

async function route() {
  if (stopLive) { stopLive(); stopLive = null; }
  if (me === null) return signedOut();
  const [path, query] = location.hash.replace(/^#\/?/, '').split('?');
  const [view, arg] = path.split('/');
  const params = new URLSearchParams(query || '');
  const first = VIEWS.find(([, , c]) => can(c));
  const allowed = VIEWS.find(([id, , c]) => id === (view === 'device' ? 'devices' : view) && can(c));
  if (!allowed) {
    location.replace(`#/${first[0]}`);
    return 'moved'; // the hashchange draws the view
  }
  renderNav(allowed[0]);
  try {
    if (view === 'devices') await devicesView(params);
    else if (view === 'device') await deviceView(arg);
    else if (view === 'portfolio') await portfolioView();
    else if (view === 'register') registerView();
    else if (view === 'unmatched') await unmatchedView(params);
    else if (view === 'sources') await sourcesView();
    else if (view === 'keys') await keysView();
    else if (view === 'audit') await auditView();
  } catch (e) {
    if (me !== null) main.append(problem(e));
  }
}

window.addEventListener('hashchange', go);
// The server marks the page when its cookie names a live session, so a
// signed-out visit asks nothing of the API.
if (document.body.dataset.session === 'yes')
  me = await api.session().catch(() => null);
go();
