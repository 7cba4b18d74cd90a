// Bar charts drawn as SVG by the page (no chart library): one bar per
// figure, its value written beside it, the whole described in words for
// screen readers. Colours come from the style sheet's classes.
const NS = 'http://www.w3.org/2000/svg';

function el(tag, attrs, text) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

// bars: [{ label, value, text, cls }]; max: the value of a full bar
// (default the largest). Returns an <svg> with role="img".
export function barChart(title, bars, max) {
  const row = 28, labelW = 110, barW = 260, textW = 220;
  const top = Math.max(max || 0, ...bars.map((b) => b.value), 0) || 1;
  const svg = el('svg', {
    class: 'chart', role: 'img', width: labelW + barW + textW,
    height: bars.length * row + 8,
    viewBox: `0 0 ${labelW + barW + textW} ${bars.length * row + 8}`,
    'aria-label': `${title}: ` + bars.map((b) => `${b.label} ${b.text}`).join(', '),
  });
  svg.append(el('title', null, title));
  bars.forEach((b, i) => {
    const y = 4 + i * row;
    const w = Math.max(b.value > 0 ? 2 : 0, Math.round((b.value / top) * barW));
    svg.append(el('text', { x: 0, y: y + 17, class: 'chart-label' }, b.label));
    svg.append(el('rect', { x: labelW, y: y + 3, width: barW, height: 18, class: 'chart-track' }));
    svg.append(el('rect', { x: labelW, y: y + 3, width: w, height: 18, class: `chart-bar ${b.cls || ''}` }));
    svg.append(el('text', { x: labelW + barW + 8, y: y + 17, class: 'chart-value' }, b.text));
  });
  return svg;
}
