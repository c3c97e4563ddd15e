/**
 * Live charts on the admin page: messages and deliveries per second, connections
 * and teams, over the minutes GET /api/stats keeps, for this node or the cluster.
 * Plain SVG built with DOM calls (no library, no CDN); colours come from admin.css,
 * since the page's CSP allows no inline styles.
 */
/* global document */
import { h } from './common.js';

const SVG = 'http://www.w3.org/2000/svg';
const WIDTH = 300;
const HEIGHT = 64;

const SERIES = [
  { key: 'messagesPerS', title: 'Messages / s', digits: 1 },
  { key: 'deliveriesPerS', title: 'Deliveries / s', digits: 1 },
  { key: 'connections', title: 'Connections', digits: 0 },
  { key: 'teams', title: 'Teams', digits: 0 },
];

function svg(tag, attrs) {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  return el;
}

function format(value, digits) {
  return value >= 1000 ? `${(value / 1000).toFixed(1)}k` : value.toFixed(digits);
}

/** Builds the four empty charts in `root`; returns a function that draws a stats answer. */
export function createCharts(root) {
  const charts = SERIES.map((series) => {
    const line = svg('polyline', { class: 'chart-line', points: '' });
    const area = svg('polygon', { class: 'chart-area', points: '' });
    const plot = svg('svg', {
      viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
      preserveAspectRatio: 'none',
      class: 'chart-plot',
      role: 'img',
      'aria-label': series.title,
    });
    plot.append(area, line);
    const value = h('span', { class: 'chart-value' }, '–');
    const peak = h('span', { class: 'chart-peak' }, '');
    const figure = h(
      'figure',
      { class: 'chart', id: `chart-${series.key}`, dataset: { latest: '', points: '0' } },
      h('figcaption', {}, h('span', {}, series.title), value),
      plot,
      peak,
    );
    root.append(figure);
    return { series, figure, line, area, value, peak };
  });

  return function draw(samples, windowMs) {
    const end = samples.length > 0 ? samples[samples.length - 1].at : Date.now();
    // Until the window is full the data spans the whole width, not a sliver at its right.
    const start = samples.length > 1 ? Math.max(end - windowMs, samples[0].at) : end - windowMs;
    const span = Math.max(1, end - start);
    for (const { series, figure, line, area, value, peak } of charts) {
      const values = samples.map((s) => s[series.key]);
      const max = Math.max(1, ...values);
      const points = samples.map((s) => {
        const x = ((s.at - start) / span) * WIDTH;
        const y = HEIGHT - (s[series.key] / max) * (HEIGHT - 4);
        return `${x.toFixed(1)},${y.toFixed(1)}`;
      });
      line.setAttribute('points', points.join(' '));
      area.setAttribute(
        'points',
        points.length > 0
          ? `${points[0].split(',')[0]},${HEIGHT} ${points.join(' ')} ${points[points.length - 1].split(',')[0]},${HEIGHT}`
          : '',
      );
      const latest = values.length > 0 ? values[values.length - 1] : undefined;
      value.textContent = latest === undefined ? '–' : format(latest, series.digits);
      peak.textContent = values.length > 0 ? `peak ${format(max, series.digits)}` : '';
      figure.dataset.latest = latest === undefined ? '' : String(latest);
      figure.dataset.points = String(values.length);
    }
  };
}
