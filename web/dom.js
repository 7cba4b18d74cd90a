// Building the console's elements. Every value goes in as text
// (createTextNode or an attribute value), never as markup, so whatever a
// user or a phone supplied shows as the characters it is.

// h('p', { class: 'x', onclick: fn }, 'text', child, ...): a new element.
// Props: class, dataset (object), on<event> (listener), anything else an
// attribute (true: present, false/null/undefined: absent).
export function h(tag, props, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const kid of kids.flat(Infinity)) {
    if (kid === null || kid === undefined || kid === false) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return el;
}

// A labelled form control: field('IMEI', { id: 'imei', ... }, 'hint')
// -> a div with the label, the control and the hint it is described by.
// props.tag picks 'select' (with props.options [[value, text], ...]) or
// 'textarea'; the rest are the control's attributes.
export function field(label, props, hint) {
  const { tag, options, ...attrs } = props;
  const hintId = hint ? attrs.id + '-hint' : null;
  return h('div', { class: 'field' },
    h('label', { for: attrs.id }, label),
    h(tag || 'input', { ...attrs, 'aria-describedby': hintId },
      ...(options || []).map(([v, t]) => h('option', { value: v }, t))),
    hint ? h('p', { id: hintId, class: 'hint', 'aria-live': 'polite' }, hint) : null);
}

// Money in minor units as text: 150000, 'KES' -> 'KES 1,500.00'.
export function money(minor, currency) {
  const v = Number(minor || 0) / 100;
  const text = v.toLocaleString('en', { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  return currency ? `${currency} ${text}` : text;
}

// An RFC 3339 time as short text ('2026-12-07 13:40 UTC'), or '-'.
export function when(t) {
  if (!t) return '-';
  return t.replace('T', ' ').replace(/:\d\dZ$/, ' UTC');
}

// Saves text as a file the browser downloads.
export function download(name, type, text) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h('a', { href: url, download: name, class: 'hidden' });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
