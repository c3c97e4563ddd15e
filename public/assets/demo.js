/**
 * Demo chat on the client library: join a team, see who is online, send to the
 * team or to one person, and follow more teams on the same connection (a tab per
 * team). Everything the library reports (acks, reconnects, resumes, kicks) shows
 * up in the conversation, so two tabs make a quick manual test.
 */
/* global location, sessionStorage, URLSearchParams */
import { SwitchboardClient } from '/client/switchboard.js';
import { $, dataText, formatTime, h, ID_PATTERN } from './common.js';

const CLOSE_REASONS = {
  1000: 'closed',
  1001: 'the server is restarting',
  1006: 'the connection was lost',
  1008: 'refused by policy (token expired?)',
  1009: 'a message was too large',
  1011: 'server error',
  4000: 'kicked by an admin',
  4003: 'banned by an admin',
  4008: 'too slow to keep up',
};

const joinForm = $('#join');
const chat = $('#chat');
const log = $('#log');
const members = $('#members');
const status = $('#status');
const toSelect = $('#to');
const text = $('#text');

/** @type {SwitchboardClient | undefined} */
let client;
/**
 * The teams shown, home team first: teamId -> { api (the client, or a subscription
 * handle), online (id -> { name, connections }), tab }.
 */
const rooms = new Map();
/** The team whose conversation and members are on screen. */
let current = '';
/** Message ids on screen, so history and live messages never show twice. */
const shown = new Set();
const tabs = $('#rooms');
const followForm = $('#follow');

function randomSuffix() {
  return Math.random().toString(36).slice(2, 7);
}

function prefill() {
  const params = new URLSearchParams(location.search);
  const saved = JSON.parse(sessionStorage.getItem('switchboard.demo') ?? '{}');
  const suffix = randomSuffix();
  joinForm.elements.name.value = params.get('name') ?? saved.name ?? `Guest ${suffix}`;
  joinForm.elements.id.value = params.get('id') ?? saved.id ?? `guest-${suffix}`;
  joinForm.elements.teamId.value = params.get('team') ?? saved.teamId ?? 'lobby';
  joinForm.elements.id.pattern = ID_PATTERN;
  joinForm.elements.teamId.pattern = ID_PATTERN;
}

function setStatus(label, tone) {
  status.textContent = label;
  status.className = `pill ${tone}`;
}

function scrollDown() {
  log.scrollTop = log.scrollHeight;
}

function system(line, teamId = current) {
  const item = h(
    'li',
    { class: 'system', dataset: { team: teamId } },
    h('span', { class: 'meta' }, formatTime(Date.now())),
    line,
  );
  item.hidden = teamId !== current;
  log.append(item);
  scrollDown();
}

function messageItem(message, mine) {
  const direct =
    message.to === undefined
      ? null
      : h('span', { class: 'pill direct' }, mine ? `to ${message.to}` : 'direct');
  const item = h(
    'li',
    { class: mine ? 'mine' : null, dataset: { seq: message.seq ?? '', team: message.teamId } },
    h('span', { class: 'meta' }, formatTime(message.ts ?? Date.now())),
    h('span', { class: 'from' }, message.from.name),
    direct,
    h('span', { class: 'text' }, dataText(message.data)),
  );
  item.hidden = message.teamId !== current;
  return item;
}

function showMessage(message, where = 'end') {
  if (shown.has(message.id)) return;
  shown.add(message.id);
  const me = client?.welcome?.user.id;
  const item = messageItem(message, message.from.id === me);
  if (where === 'start') log.prepend(item);
  else log.append(item);
  scrollDown();
}

/** Recent messages: above the live ones when joining, below what is shown on a reload. */
async function loadHistory(where, teamId = client.welcome?.teamId ?? current) {
  const room = rooms.get(teamId);
  if (!room) return;
  try {
    const page = await room.api.history({ limit: 50 });
    const messages = where === 'start' ? [...page.messages].reverse() : page.messages;
    for (const message of messages) showMessage(message, where);
    scrollDown();
  } catch (err) {
    system(`Could not load history: ${err.message}`);
  }
}

function renderMembers() {
  const me = client?.welcome?.user.id;
  const online = rooms.get(current)?.online ?? new Map();
  const list = [...online.entries()].sort((a, b) => a[1].name.localeCompare(b[1].name));
  members.replaceChildren(
    ...list.map(([id, m]) =>
      h(
        'li',
        { dataset: { user: id } },
        h('span', {}, m.name),
        id === me ? h('span', { class: 'you' }, '(you)') : null,
      ),
    ),
  );
  $('#online-count').textContent = String(list.length);
  const chosen = toSelect.value;
  toSelect.replaceChildren(
    h('option', { value: '' }, 'Everyone'),
    ...list
      .filter(([id]) => id !== me)
      .map(([id, m]) => h('option', { value: id, selected: id === chosen }, `Only ${m.name}`)),
  );
}

async function refreshMembers(teamId) {
  const room = rooms.get(teamId);
  if (!room) return;
  try {
    const list = await room.api.presence();
    room.online.clear();
    for (const m of list) room.online.set(m.id, { name: m.name, connections: m.connections });
    renderMembers();
  } catch (err) {
    system(`Could not load who is online: ${err.message}`, teamId);
  }
}

function onPresence(event) {
  const room = rooms.get(event.teamId);
  if (!room) return;
  if (event.event === 'join') {
    room.online.set(event.user.id, { name: event.user.name, connections: 1 });
    system(`${event.user.name} joined.`, event.teamId);
  } else {
    room.online.delete(event.user.id);
    system(`${event.user.name} left.`, event.teamId);
  }
  renderMembers();
}

/** Shows one team: its conversation, members and tab. */
function show(teamId) {
  current = teamId;
  for (const item of log.children) item.hidden = item.dataset.team !== teamId;
  for (const [id, room] of rooms) room.tab.setAttribute('aria-selected', String(id === teamId));
  $('#team-name').textContent = teamId;
  renderMembers();
  scrollDown();
}

function addRoom(teamId, api) {
  const tab = h('button', { type: 'button', role: 'tab', dataset: { team: teamId } }, teamId);
  tab.addEventListener('click', () => show(teamId));
  tabs.append(tab);
  rooms.set(teamId, { api, online: new Map(), tab });
}

function dropRoom(teamId) {
  const room = rooms.get(teamId);
  if (!room) return;
  room.tab.remove();
  rooms.delete(teamId);
  for (const item of [...log.children]) if (item.dataset.team === teamId) item.remove();
  if (current === teamId) show(client?.welcome?.teamId ?? [...rooms.keys()][0] ?? '');
}

/** Follows another team on the same connection (client.subscribe). */
function follow(teamId) {
  if (!client || rooms.has(teamId)) {
    if (rooms.has(teamId)) show(teamId);
    return;
  }
  const sub = client.subscribe(teamId);
  addRoom(teamId, sub);
  show(teamId);
  sub.on('subscribed', () => void refreshMembers(teamId));
  sub.on('message', (message) => showMessage(message));
  sub.on('presence', onPresence);
  sub.on('resumed', (resumed) => {
    if (!resumed.complete) void loadHistory('end', teamId);
  });
  sub.on('unsubscribed', (end) => {
    if (end.reason === 'client') return;
    const why = end.reason === 'server' ? 'an admin banned you there' : end.error?.message;
    system(`You are no longer in ${teamId}: ${why ?? 'refused'}.`, client?.welcome?.teamId);
    dropRoom(teamId);
  });
  sub.ready.then(
    () => {
      system(`You joined ${teamId} too, on the same connection.`, teamId);
      void loadHistory('start', teamId);
    },
    () => undefined,
  );
}

function join(form) {
  const options = {
    id: form.id.value.trim(),
    name: form.name.value.trim(),
    teamId: form.teamId.value.trim(),
  };
  sessionStorage.setItem('switchboard.demo', JSON.stringify(options));
  const token = form.token.value.trim();
  client = new SwitchboardClient({ ...options, ...(token ? { token } : {}) });
  let firstOpen = true;
  let banned = false;

  client.on('state', (state) => {
    if (state === 'connecting') setStatus('connecting…', 'warn');
    if (state === 'closed')
      setStatus(banned ? 'banned by an admin; not reconnecting' : 'not connected', 'bad');
  });
  client.on('open', (welcome) => {
    setStatus(`connected as ${welcome.user.name}`, 'ok');
    if (firstOpen) {
      firstOpen = false;
      system(
        `You joined ${welcome.teamId} as ${welcome.user.name} (${welcome.user.id}).`,
        welcome.teamId,
      );
      void loadHistory('start', welcome.teamId);
    } else {
      system('Reconnected.', welcome.teamId);
    }
    void refreshMembers(welcome.teamId);
  });
  client.on('message', (message) => showMessage(message));
  client.on('presence', onPresence);
  client.on('resumed', (resumed) => {
    if (!resumed.complete) {
      system('Some messages could not be replayed; reloading history.');
      void loadHistory('end');
    }
  });
  client.on('epoch', () => {
    system("The team's history was reset on the server; messages from before may be missing.");
  });
  client.on('close', (close) => {
    const why = CLOSE_REASONS[close.code] ?? `code ${close.code}`;
    system(
      `Connection closed: ${why} (${close.code}).${close.willReconnect ? ' Reconnecting…' : ''}`,
    );
    if (close.willReconnect)
      setStatus(close.code === 4000 ? 'kicked; reconnecting…' : 'reconnecting…', 'warn');
  });
  // The library does not reconnect after a ban: say so instead of "reconnecting".
  client.on('banned', () => {
    banned = true;
  });
  client.on('reconnecting', ({ attempt, delayMs }) => {
    setStatus(`reconnecting (attempt ${attempt}, ${Math.round(delayMs / 100) / 10} s)…`, 'warn');
  });

  addRoom(options.teamId, client);
  show(options.teamId);
  joinForm.hidden = true;
  chat.hidden = false;
  text.focus();
  client.connect().catch((err) => system(`Could not connect: ${err.message}`));
}

async function send() {
  const value = text.value.trim();
  if (!value || !client) return;
  const room = rooms.get(current);
  if (!room) return;
  const to = toSelect.value;
  text.value = '';
  const me = client.welcome?.user ?? { id: '', name: 'me' };
  const item = messageItem({ from: me, to: to || undefined, data: value, teamId: current }, true);
  const state = h('span', { class: 'state' }, 'sending…');
  item.append(state);
  log.append(item);
  scrollDown();
  try {
    const ack = await (to ? room.api.sendTo(to, value) : room.api.send(value));
    shown.add(ack.id);
    item.dataset.seq = String(ack.seq);
    state.textContent = '✓';
    state.title = `stored as #${ack.seq}`;
  } catch (err) {
    state.textContent = `not sent: ${err.code}`;
    state.classList.add('failed');
  }
}

joinForm.addEventListener('submit', (event) => {
  event.preventDefault();
  join(joinForm.elements);
});

$('#composer').addEventListener('submit', (event) => {
  event.preventDefault();
  void send();
});

$('#leave').addEventListener('click', () => {
  client?.close();
  client = undefined;
  for (const room of rooms.values()) room.tab.remove();
  rooms.clear();
  shown.clear();
  log.replaceChildren();
  members.replaceChildren();
  chat.hidden = true;
  joinForm.hidden = false;
  setStatus('not connected', '');
});

followForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const input = followForm.elements.teamId;
  const teamId = input.value.trim();
  if (!new RegExp(`^${ID_PATTERN}$`).test(teamId)) return;
  input.value = '';
  follow(teamId);
});

prefill();
