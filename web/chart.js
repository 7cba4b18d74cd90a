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

// A line chart of fractions over time: series [{ label, cls, values }]
// (values: numbers 0..max or null for no figure), one point per period
// labelled by labels[]. Returns an <svg> with role="img" whose label
// gives every figure in words (`none` for a period without one).
export function trendChart(title, labels, series, fmt, none = 'none due') {
  const w = 560, hgt = 200, left = 44, right = 30, top = 12, bottom = 36;
  const all = series.flatMap((s) => s.values).filter((v) => v !== null);
  const max = Math.max(1, ...all);
  const x = (i) => left + (labels.length > 1 ? (i * (w - left - right)) / (labels.length - 1) : 0);
  const y = (v) => top + (hgt - top - bottom) * (1 - v / max);
  const svg = el('svg', {
    class: 'chart trend', role: 'img', width: w, height: hgt, viewBox: `0 0 ${w} ${hgt}`,
    'aria-label': `${title}: ` + series.map((s) => `${s.label} ` + s.values
      .map((v, i) => `${labels[i]} ${v === null ? none : fmt(v)}`).join(', ')).join('; '),
  });
  svg.append(el('title', null, title));
  for (const g of [0, 0.5, 1].map((f) => f * max)) {
    svg.append(el('line', { x1: left, x2: w - right, y1: y(g), y2: y(g), class: 'chart-grid' }));
    svg.append(el('text', { x: 0, y: y(g) + 4, class: 'chart-axis' }, fmt(g)));
  }
  labels.forEach((l, i) => {
    if (i % 2 === labels.length % 2 || i === labels.length - 1)
      svg.append(el('text', { x: x(i) - 14, y: hgt - 18, class: 'chart-axis' }, l));
  });
  series.forEach((s, k) => {
    let d = '';
    s.values.forEach((v, i) => {
      if (v === null) return;
      d += `${d === '' || s.values[i - 1] === null ? 'M' : 'L'}${x(i).toFixed(1)},${y(v).toFixed(1)} `;
    });
    if (d) svg.append(el('path', { d: d.trim(), class: `chart-line ${s.cls}` }));
    s.values.forEach((v, i) => {
      if (v !== null) svg.append(el('circle', { cx: x(i), cy: y(v), r: 3, class: `chart-dot ${s.cls}` }));
    });
    svg.append(el('text', { x: left + k * 200, y: hgt - 2, class: `chart-legend ${s.cls}` }, `\u25cf ${s.label}`));
  });
  return svg;
}
