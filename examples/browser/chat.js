/**
 * The example chat: connect, list who is online, show and send team messages.
 * The client library is imported from the Switchboard server named in the form,
 * so the page works when that server serves it (/examples/browser/) and when it is
 * opened from any other static server.
 */
/* global document, FormData, location, URL */

const $ = (selector) => document.querySelector(selector);
const join = $('#join');
const say = $('#say');
const text = $('#text');
const online = new Map();
let client;

// Served by Switchboard itself: its own /socket. Opened from a file or another host:
// the usual local server.
join.elements.url.value = location.protocol.startsWith('http')
  ? `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/socket`
  : 'ws://localhost:3000/socket';

function status(label) {
  $('#status').textContent = label;
}

function line(label, from) {
  const li = document.createElement('li');
  if (from) {
    const who = document.createElement('b');
    who.className = 'from';
    who.textContent = `${from}: `;
    li.append(who);
  }
  li.append(label);
  $('#log').append(li);
  return li;
}

function showMembers() {
  const list = $('#members');
  list.replaceChildren();
  for (const [id, name] of online) {
    const li = document.createElement('li');
    li.dataset.user = id;
    li.textContent = name;
    list.append(li);
  }
}

function textOf(data) {
  if (typeof data === 'string') return data;
  if (data && typeof data.text === 'string') return data.text;
  return JSON.stringify(data);
}

/** `ws://host/socket` → `http://host/client/switchboard.js`, where the server serves the library. */
function libraryUrl(socketUrl) {
  const url = new URL(socketUrl);
  url.protocol = url.protocol === 'wss:' ? 'https:' : 'http:';
  url.pathname = '/client/switchboard.js';
  url.search = '';
  return url.href;
}

async function connect(form) {
  const { SwitchboardClient } = await import(libraryUrl(form.url));
  client?.close();
  client = new SwitchboardClient({
    url: form.url,
    id: form.id,
    name: form.name,
    teamId: form.teamId,
    ...(form.token ? { token: form.token } : {}),
  });
  client.on('state', (state) => {
    if (state !== 'open') status(state);
  });
  client.on('open', (welcome) => status(`connected as ${welcome.user.name} in ${welcome.teamId}`));
  client.on('message', (m) => line(textOf(m.data), m.from.name));
  client.on('presence', (p) => {
    if (p.event === 'join') online.set(p.user.id, p.user.name);
    else online.delete(p.user.id);
    showMembers();
    line(`${p.user.name} ${p.event === 'join' ? 'joined' : 'left'}.`);
  });
  client.on('close', (c) => line(`Disconnected (${c.code}${c.reason ? ` ${c.reason}` : ''}).`));
  client.on('resumed', (r) =>
    line(r.complete ? 'Reconnected.' : 'Reconnected; some messages were missed.'),
  );
  client.on('epoch', () => line('The team history was reset.'));
  client.on('error', (err) => line(`Error: ${err.code} ${err.message}`));

  await client.connect();
  online.clear();
  for (const member of await client.presence()) online.set(member.id, member.name);
  showMembers();
  text.disabled = false;
  say.querySelector('button').disabled = false;
}

join.addEventListener('submit', (event) => {
  event.preventDefault();
  const form = Object.fromEntries(new FormData(join));
  status('connecting');
  connect(form).catch((err) => status(`not connected: ${err.message}`));
});

say.addEventListener('submit', (event) => {
  event.preventDefault();
  const value = text.value.trim();
  if (!value || !client) return;
  text.value = '';
  const li = line(value, 'me');
  li.className = 'mine';
  client.send(value).then(
    (ack) => {
      li.dataset.seq = String(ack.seq);
      li.append(' ✓');
    },
    // `indeterminate`: the library already retried with the same ref; it may be stored.
    (err) => li.append(` (not sent: ${err.code})`),
  );
});
