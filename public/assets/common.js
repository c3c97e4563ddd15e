/**
 * Small helpers shared by the admin page and the demo chat. Pages build their DOM
 * with `h()` and text nodes only, never from HTML strings, so data shown on them
 * cannot inject markup.
 */
/* global document */

/**
 * Creates an element: `h('a', { href: '/x', class: 'y' }, 'text', child)`.
 * Attributes starting with `on` are event listeners; `null`/`false` ones are skipped.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), value);
    } else if (key === 'dataset') {
      Object.assign(el.dataset, value);
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  el.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

/** `$('#id')`, throwing when a page lacks an element it needs. */
export function $(selector, root = document) {
  const el = root.querySelector(selector);
  if (!el) throw new Error(`missing element ${selector}`);
  return el;
}

/** "5 s", "3 min", "2 h 5 min", "3 d". */
export function formatAge(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const hours = Math.floor(m / 60);
  if (hours < 24) return m % 60 ? `${hours} h ${m % 60} min` : `${hours} h`;
  return `${Math.floor(hours / 24)} d`;
}

/** Local clock time of a ms timestamp; the date too when it is not today. */
export function formatTime(ts) {
  const d = new Date(ts);
  const sameDay = d.toDateString() === new Date().toDateString();
  return sameDay
    ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' })
    : d.toLocaleString([], { dateStyle: 'short', timeStyle: 'short' });
}

/** A message's data as one line of text: strings as they are, `{text}` objects by their text. */
export function dataText(data) {
  if (typeof data === 'string') return data;
  if (data && typeof data === 'object' && typeof data.text === 'string') return data.text;
  return JSON.stringify(data);
}

/** Ids of users and teams (docs/PROTOCOL.md §1). */
export const ID_PATTERN = '[A-Za-z0-9_.:@\\-]{1,64}';
