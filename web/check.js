// The buyer's page with JavaScript on: validates the IMEI as it is typed
// and shows the answer without reloading. The answer itself is the one
// the server renders for GET /check?imei=... (the page works without this
// script); it is fetched and its result section put in place.
import { parseImei } from './imei.js';

const form = document.getElementById('check-form');
const imei = document.getElementById('imei');
const serial = document.getElementById('serial');
const hint = document.getElementById('imei-hint');
const result = document.getElementById('result');
const defaultHint = hint.textContent;

function validate(final) {
  const text = imei.value.trim();
  if (text === '' && !final) {
    hint.textContent = defaultHint;
    imei.removeAttribute('aria-invalid');
    hint.classList.remove('bad', 'good');
    return null;
  }
  try {
    const digits = parseImei(text);
    hint.textContent = 'This IMEI is well formed.';
    imei.removeAttribute('aria-invalid');
    hint.classList.remove('bad');
    hint.classList.add('good');
    return digits;
  } catch (e) {
    // While typing, too few digits is not yet a mistake.
    const partial = /^[0-9\s\-\/]*$/.test(text) &&
      text.replace(/[^0-9]/g, '').length < 15;
    hint.textContent = partial && !final ? defaultHint + ' ' +
      `(${text.replace(/[^0-9]/g, '').length} so far)` : e.message;
    hint.classList.remove('good');
    hint.classList.toggle('bad', !partial || final);
    if (!partial || final) imei.setAttribute('aria-invalid', 'true');
    else imei.removeAttribute('aria-invalid');
    return null;
  }
}

imei.addEventListener('input', () => validate(false));

form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  if (validate(true) === null) {
    imei.focus();
    return;
  }
  const q = new URLSearchParams({ imei: imei.value.trim() });
  if (serial.value.trim() !== '') q.set('serial', serial.value.trim());
  const url = '/check?' + q.toString();
  result.setAttribute('aria-busy', 'true');
  try {
    const res = await fetch(url, { headers: { Accept: 'text/html' } });
    const doc = new DOMParser().parseFromString(await res.text(), 'text/html');
    const fresh = doc.getElementById('result');
    result.replaceChildren(...(fresh ? Array.from(fresh.childNodes) : []));
    history.replaceState(null, '', url);
  } catch (e) {
    const p = document.createElement('p');
    p.className = 'answer';
    p.dataset.status = 'error';
    p.textContent = 'No connection to the server. Please try again.';
    result.replaceChildren(p);
  } finally {
    result.removeAttribute('aria-busy');
  }
});
