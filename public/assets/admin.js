/**
 * Admin page: teams, a team's connections (kick, ban), bans (lift), publishing and
 * recent history. Kicks and bans ask for confirmation in a dialog first.
 * It uses only the public REST API with the admin token, which stays in this tab's
 * sessionStorage. Live updates poll the API every two seconds while the tab is visible.
 */
/* global Blob, clearTimeout, document, fetch, location, sessionStorage, setInterval, setTimeout, URL, window */
import { createCharts } from './charts.js';
import { $, dataText, formatAge, formatTime, h, ID_PATTERN } from './common.js';

const TOKEN_KEY = 'switchboard.adminToken';
const POLL_MS = 2000;
const CONNECTIONS_LIMIT = 1000;
const HISTORY_LIMIT = 30;

const signin = $('#signin');
const dash = $('#dash');
const live = $('#live');
const health = $('#health');
const teamSection = $('#team');
const drawCharts = createCharts($('#charts'));
/** The last GET /api/stats answer, redrawn when the scope changes. */
let lastStats;

let token = sessionStorage.getItem(TOKEN_KEY);
let selected = teamFromHash();
let pollTimer;
let polling = false;
/** Set when a refresh is asked for during a poll: the next poll follows at once. */
let pollAgain = false;
/** What each part last rendered from, so an unchanged poll leaves the DOM (and focus) alone. */
const rendered = { teams: '', connections: '', history: '', bans: '' };

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function api(method, path, body) {
  const headers = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, {
    method,
    headers,
    cache: 'no-store',
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (res.status === 204) return null;
  const payload = await res.json().catch(() => null);
  if (!res.ok) {
    throw new ApiError(
      res.status,
      payload?.error?.code ?? `http_${res.status}`,
      payload?.error?.message ?? res.statusText,
    );
  }
  return payload;
}

function teamFromHash() {
  const match = /^#team=(.+)$/.exec(location.hash);
  try {
    return match ? decodeURIComponent(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

function teamPath(teamId) {
  return `/api/teams/${encodeURIComponent(teamId)}`;
}

// ---- signing in and out ----------------------------------------------------------

function showSignin(message = '') {
  stopPolling();
  token = null;
  sessionStorage.removeItem(TOKEN_KEY);
  dash.hidden = true;
  live.hidden = true;
  health.hidden = true;
  $('#signout').hidden = true;
  $('#openapi').hidden = true;
  signin.hidden = false;
  $('#signin-error').textContent = message;
  signin.elements.token.value = '';
  signin.elements.token.focus();
}

function showDash() {
  signin.hidden = true;
  dash.hidden = false;
  live.hidden = false;
  $('#signout').hidden = false;
  $('#openapi').hidden = false;
  for (const key of Object.keys(rendered)) rendered[key] = '';
  startPolling();
}

signin.addEventListener('submit', async (event) => {
  event.preventDefault();
  token = signin.elements.token.value.trim();
  const button = signin.querySelector('button');
  button.disabled = true;
  try {
    await api('GET', '/api/teams');
    sessionStorage.setItem(TOKEN_KEY, token);
    showDash();
  } catch (err) {
    token = null;
    $('#signin-error').textContent =
      err instanceof ApiError && err.status === 401
        ? 'That token was refused.'
        : `Could not reach the server: ${err.message}`;
  } finally {
    button.disabled = false;
  }
});

$('#signout').addEventListener('click', () => showSignin());

// A plain link would go without the token (401): fetch it with the token, save the copy.
$('#openapi').addEventListener('click', async (event) => {
  event.preventDefault();
  const link = event.currentTarget;
  try {
    const spec = await api('GET', link.getAttribute('href'));
    const blob = new Blob([JSON.stringify(spec, null, 2)], { type: 'application/json' });
    const save = Object.assign(document.createElement('a'), {
      href: URL.createObjectURL(blob),
      download: link.getAttribute('download'),
    });
    save.click();
    setTimeout(() => URL.revokeObjectURL(save.href), 0);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) showSignin('The token was refused.');
    else setLive(`API document: ${err.message}`, 'bad');
  }
});

// ---- polling ---------------------------------------------------------------------

function startPolling() {
  stopPolling();
  void poll();
}

function stopPolling() {
  clearTimeout(pollTimer);
  pollTimer = undefined;
}

async function poll() {
  if (!token) return;
  if (polling) {
    pollAgain = true;
    return;
  }
  polling = true;
  try {
    await refresh();
    setLive(`live · ${formatTime(Date.now())}`, 'ok');
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      polling = false;
      showSignin('The token was refused. Did the server restart with a new one?');
      return;
    }
    setLive(`offline · retrying (${err.message})`, 'bad');
  } finally {
    polling = false;
  }
  clearTimeout(pollTimer);
  const delay = pollAgain ? 0 : POLL_MS;
  pollAgain = false;
  if (token && !document.hidden) pollTimer = setTimeout(poll, delay);
}

document.addEventListener('visibilitychange', () => {
  if (!document.hidden && token) startPolling();
});

function setLive(text, tone) {
  live.textContent = text;
  live.className = `pill ${tone}`;
}

async function refresh() {
  const [{ teams }, stats, { bans }] = await Promise.all([
    api('GET', '/api/teams'),
    api('GET', '/api/stats'),
    api('GET', '/api/bans'),
    refreshHealth(),
  ]);
  renderStats(stats);
  renderBans(bans);
  if (selected === undefined && teams.length > 0) {
    selected = (teams.find((t) => t.connections > 0) ?? teams[0]).id;
  }
  renderTeams(teams);
  if (selected === undefined) {
    teamSection.hidden = true;
    return;
  }
  teamSection.hidden = false;
  $('#team-title').textContent = selected;
  const [connections, history] = await Promise.all([
    api(
      'GET',
      `/api/connections?teamId=${encodeURIComponent(selected)}&limit=${CONNECTIONS_LIMIT}`,
    ),
    api('GET', `${teamPath(selected)}/messages?limit=${HISTORY_LIMIT}`).catch((err) => {
      if (err instanceof ApiError && err.status === 404) return { messages: [], more: false };
      throw err;
    }),
  ]);
  renderConnections(connections);
  renderHistory(history);
}

function renderStats(stats) {
  lastStats = stats;
  const scope = $('#stats input[name=scope]:checked').value;
  drawCharts(stats[scope].samples, stats.windowMs);
  const nodes = stats.cluster.nodes;
  $('#stats-nodes').textContent =
    scope === 'node' ? stats.node.id : `${nodes} node${nodes === 1 ? '' : 's'}`;
}

for (const radio of document.querySelectorAll('#stats input[name=scope]')) {
  radio.addEventListener('change', () => {
    if (lastStats) renderStats(lastStats);
  });
}

async function refreshHealth() {
  try {
    const res = await fetch('/api/ready', { cache: 'no-store' });
    const body = await res.json();
    const checks = Object.entries(body.checks ?? {})
      .map(([name, state]) => `${name}: ${state}`)
      .join(', ');
    health.textContent = body.status === 'ok' ? 'ready' : body.status;
    health.className = `pill ${body.status === 'ok' ? 'ok' : 'bad'}`;
    health.title = checks;
    health.hidden = false;
  } catch {
    health.hidden = true;
  }
}

// ---- rendering -------------------------------------------------------------------

/** A cell labelled by its column; the label shows when tables turn into cards on phones. */
function cell(label, ...content) {
  return h('td', { 'data-label': label }, h('span', {}, ...content));
}

/**
 * Fills the table `#<table>` with a row per item, and its count pill and empty note;
 * does nothing while `key` (all the rows depend on) is what it was last time.
 */
function renderTable({
  table,
  key,
  items,
  countPill,
  count = String(items.length),
  emptyNote,
  row,
}) {
  if (key === rendered[table]) return;
  rendered[table] = key;
  $(countPill).textContent = count;
  $(emptyNote).hidden = items.length > 0;
  $(`#${table} tbody`).replaceChildren(...items.map(row));
}

function renderTeams(teams) {
  renderTable({
    table: 'teams',
    key: JSON.stringify([teams, selected]),
    items: teams,
    countPill: '#team-count',
    emptyNote: '#no-teams',
    row: (t) =>
      h(
        'tr',
        {
          class: t.id === selected ? 'selected' : null,
          dataset: { team: t.id },
          onclick: () => selectTeam(t.id),
        },
        cell(
          'Team',
          h('a', { href: `#team=${encodeURIComponent(t.id)}` }, t.id),
          t.name !== t.id ? h('span', { class: 'team-name' }, t.name) : null,
        ),
        h('td', { 'data-label': 'Online users', class: 'num' }, String(t.online)),
        h('td', { 'data-label': 'Connections', class: 'num' }, String(t.connections)),
        cell('Created', t.createdAt ? formatTime(Date.parse(t.createdAt)) : '—'),
      ),
  });
}

function renderConnections({ connections, next }) {
  renderTable({
    table: 'connections',
    key: JSON.stringify([selected, connections, next]),
    items: [...connections].sort((a, b) => a.connectedAt.localeCompare(b.connectedAt)),
    countPill: '#conn-count',
    count: next ? `first ${connections.length}` : String(connections.length),
    emptyNote: '#no-connections',
    row: (c) =>
      h(
        'tr',
        { dataset: { conn: c.connId, user: c.userId } },
        cell(
          'User',
          h('strong', {}, c.name),
          ' ',
          h('span', { class: 'mono' }, c.userId),
          // A team the socket follows besides its home team (docs/PROTOCOL.md §10).
          c.homeTeamId === undefined
            ? null
            : h(
                'span',
                { class: 'pill', title: 'subscribed on a connection of another team' },
                `from ${c.homeTeamId}`,
              ),
        ),
        cell('Node', h('span', { class: 'mono' }, c.node)),
        cell('IP', h('span', { class: 'mono' }, c.ip)),
        h(
          'td',
          { 'data-label': 'Age', class: 'num', dataset: { since: c.connectedAt } },
          formatAge(Date.now() - Date.parse(c.connectedAt)),
        ),
        cell('Connection', h('span', { class: 'mono', title: c.connId }, c.connId.slice(0, 8))),
        h(
          'td',
          { 'data-label': '' },
          h(
            'span',
            { class: 'row-actions' },
            h(
              'button',
              {
                class: 'danger',
                type: 'button',
                'aria-label': `Kick ${c.name} (${c.connId})`,
                onclick: (event) => kick(event.currentTarget, c),
              },
              'Kick',
            ),
            h(
              'button',
              {
                class: 'danger',
                type: 'button',
                'aria-label': `Ban ${c.name} (${c.userId})`,
                onclick: () => ban(c),
              },
              'Ban',
            ),
          ),
        ),
      ),
  });
}

function renderBans(bans) {
  renderTable({
    table: 'bans',
    key: JSON.stringify(bans),
    items: bans,
    countPill: '#ban-count',
    emptyNote: '#no-bans',
    row: (b) =>
      h(
        'tr',
        { dataset: { user: b.userId, team: b.teamId ?? '' } },
        cell('User', h('span', { class: 'mono' }, b.userId)),
        cell('Team', b.teamId === null ? 'every team' : h('span', { class: 'mono' }, b.teamId)),
        cell('Until', b.expiresAt === null ? 'lifted' : formatTime(Date.parse(b.expiresAt))),
        cell('Reason', b.reason ?? '—'),
        cell(
          '',
          h(
            'button',
            {
              class: 'secondary',
              type: 'button',
              'aria-label': `Lift the ban of ${b.userId}${b.teamId === null ? '' : ` in ${b.teamId}`}`,
              onclick: (event) => lift(event.currentTarget, b),
            },
            'Lift',
          ),
        ),
      ),
  });
}

function renderHistory({ messages, more }) {
  const key = JSON.stringify([selected, messages.map((m) => m.id)]);
  if (key === rendered.history) return;
  rendered.history = key;
  const list = $('#history');
  const atBottom = list.scrollTop + list.clientHeight >= list.scrollHeight - 8;
  $('#no-history').hidden = messages.length > 0;
  list.replaceChildren(
    ...(more
      ? [h('li', { class: 'system' }, `Older messages exist; showing the last ${HISTORY_LIMIT}.`)]
      : []),
    ...messages.map((m) =>
      h(
        'li',
        { dataset: { seq: m.seq } },
        h('span', { class: 'meta' }, `#${m.seq} ${formatTime(m.ts)}`),
        h('span', { class: 'from', title: m.from.id }, m.from.name),
        m.to === undefined ? null : h('span', { class: 'pill' }, `to ${m.to}`),
        ' ',
        dataText(m.data),
      ),
    ),
  );
  if (atBottom) list.scrollTop = list.scrollHeight;
}

// Ages tick between polls.
setInterval(() => {
  for (const el of document.querySelectorAll('[data-since]')) {
    el.textContent = formatAge(Date.now() - Date.parse(el.dataset.since));
  }
}, 1000);

// ---- actions ---------------------------------------------------------------------

function selectTeam(teamId) {
  if (location.hash !== `#team=${encodeURIComponent(teamId)}`) {
    location.hash = `team=${encodeURIComponent(teamId)}`;
  }
}

window.addEventListener('hashchange', () => {
  const team = teamFromHash();
  if (team === undefined || team === selected) return;
  selected = team;
  $('#publish-result').textContent = '';
  startPolling();
});

const confirmDialog = $('#confirm');
const confirmForm = confirmDialog.querySelector('form');

/**
 * Asks before a kick or a ban. Resolves with the form's values on confirm, or null
 * on cancel (the Cancel button or Escape).
 */
function confirmAction({ title, text, verb, banOptions }) {
  confirmForm.reset();
  $('#confirm-title').textContent = title;
  $('#confirm-text').textContent = text;
  $('#confirm-ok').textContent = verb;
  $('#ban-options').hidden = !banOptions;
  confirmDialog.returnValue = '';
  confirmDialog.showModal();
  $('#confirm-ok').focus();
  return new Promise((resolve) => {
    confirmDialog.addEventListener(
      'close',
      () => {
        if (confirmDialog.returnValue !== 'confirm') return resolve(null);
        const { seconds, everywhere, reason } = confirmForm.elements;
        resolve({
          seconds: Number(seconds.value),
          everywhere: everywhere.checked,
          reason: reason.value.trim(),
        });
      },
      { once: true },
    );
  });
}

async function kick(button, c) {
  const ok = await confirmAction({
    title: `Kick ${c.name}?`,
    text: `Connection ${c.connId.slice(0, 8)} of ${c.userId} closes (4000). Their client may reconnect; to keep them out, ban them.`,
    verb: 'Kick',
    banOptions: false,
  });
  if (!ok) return;
  const connId = c.connId;
  button.disabled = true;
  button.textContent = 'Kicking…';
  try {
    await api('DELETE', `/api/connections/${encodeURIComponent(connId)}`);
    button.textContent = 'Kicked';
    button.closest('tr')?.classList.add('gone');
  } catch (err) {
    button.textContent = err instanceof ApiError && err.status === 404 ? 'Gone' : 'Failed';
    button.title = err.message;
  }
  startPolling();
}

async function ban(c) {
  const teamId = c.teamId;
  const ok = await confirmAction({
    title: `Ban ${c.name} (${c.userId})?`,
    text: `Every connection of ${c.userId} in team ${teamId} (or in every team, if ticked) closes with 4003, on every node, and new ones are refused until the ban ends.`,
    verb: 'Ban',
    banOptions: true,
  });
  if (!ok) return;
  const body = { userId: c.userId, seconds: ok.seconds };
  if (!ok.everywhere) body.teamId = teamId;
  if (ok.reason) body.reason = ok.reason;
  const result = $('#ban-result');
  try {
    await api('POST', '/api/bans', body);
    result.textContent = `${c.userId} banned ${ok.everywhere ? 'in every team' : `in ${teamId}`}.`;
  } catch (err) {
    result.textContent = `Not banned: ${err.message}`;
  }
  startPolling();
}

async function lift(button, b) {
  button.disabled = true;
  const query = b.teamId === null ? '' : `?teamId=${encodeURIComponent(b.teamId)}`;
  const result = $('#ban-result');
  try {
    await api('DELETE', `/api/bans/${encodeURIComponent(b.userId)}${query}`);
    result.textContent = `The ban of ${b.userId} was lifted.`;
  } catch (err) {
    result.textContent =
      err instanceof ApiError && err.status === 404
        ? `The ban of ${b.userId} had ended already.`
        : `Not lifted: ${err.message}`;
  }
  startPolling();
}

$('#publish').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const result = $('#publish-result');
  let data = form.elements.data.value;
  if (form.elements.json.checked) {
    try {
      data = JSON.parse(data);
    } catch {
      result.textContent = 'That is not valid JSON.';
      return;
    }
  }
  const to = form.elements.to.value.trim();
  const body = to ? { data, to } : { data };
  try {
    const ack = await api('POST', `${teamPath(selected)}/messages`, body);
    result.textContent = `Published as #${ack.seq}${to ? ` to ${to}` : ''}.`;
    form.elements.data.value = '';
    startPolling();
  } catch (err) {
    result.textContent = `Not published: ${err.message}`;
  }
});

const newTeam = $('#new-team');
newTeam.elements.id.pattern = ID_PATTERN;
newTeam.addEventListener('submit', async (event) => {
  event.preventDefault();
  const id = newTeam.elements.id.value.trim();
  const name = newTeam.elements.name.value.trim();
  const result = $('#new-team-result');
  try {
    await api('POST', '/api/teams', { id, name });
    result.textContent = `Team ${id} created.`;
    newTeam.reset();
    selectTeam(id);
  } catch (err) {
    result.textContent =
      err instanceof ApiError && err.status === 409
        ? `Team ${id} exists already.`
        : `Not created: ${err.message}`;
  }
});

if (token) showDash();
else showSignin();
