import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { socketUrl, type TestClient } from '../helpers/client';
import { eventually } from '../helpers/eventually';
import { serverPerTest } from '../helpers/server-per-test';

/**
 * The client runs in a process of its own, so it answers while the server's event
 * loop (this process) is blocked. It holds its answer to the first ping until told
 * on stdin, sends the pong, then writes `answered`; later pings it answers at once.
 */
const CLIENT = `
const { writeFileSync } = require('node:fs');
const WebSocket = require('ws');
const [url, answered] = process.argv.slice(1);
const ws = new WebSocket(url, { autoPong: false });
let pings = 0;
ws.on('message', (d) => { if (String(d).includes('"welcome"')) process.stdout.write('open\\n'); });
ws.on('ping', () => {
  pings++;
  process.stdout.write('ping\\n');
  if (pings > 1) ws.pong();
});
process.stdin.on('data', () => ws.pong(undefined, undefined, () => writeFileSync(answered, '')));
ws.on('close', (code) => process.stdout.write('close ' + code + '\\n'));
`;

const servers = serverPerTest();
const root = join(__dirname, '..', '..');
let child: ChildProcess | undefined;
let dir: string | undefined;

afterEach(() => {
  child?.kill('SIGKILL');
  child = undefined;
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

test('a pong that waits in the socket through a stall of the event loop keeps the client', async () => {
  const beatMs = 1000;
  const server = await servers.start({ HEARTBEAT_MS: String(beatMs) });
  dir = mkdtempSync(join(tmpdir(), 'heartbeat-stall-'));
  const answered = join(dir, 'answered');
  const url = socketUrl(server.socketUrl, { id: 'u1', teamId: 'A' });
  const proc = spawn(process.execPath, ['-e', CLIENT, url, answered], {
    cwd: root,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  child = proc;
  let out = '';
  proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  const pings = () => out.split('\n').filter((l) => l === 'ping').length;
  const closed = () => out.includes('close');
  await eventually(() => out.includes('open'), 20_000);
  await eventually(() => pings() >= 1, 10 * beatMs);

  // Blocks this process, the server, for well over a beat while the client answers
  // the ping: the pong waits in the socket, unread, when the next look is due.
  proc.stdin!.write('go\n');
  const until = Date.now() + 2.5 * beatMs;
  const giveUp = Date.now() + 30_000;
  while ((Date.now() < until || !existsSync(answered)) && Date.now() < giveUp) {
    // Busy on purpose: a stalled event loop (a long GC or a burst) is what is tested.
  }
  expect(existsSync(answered)).toBe(true);

  // Still there two pings later, answering as before.
  const seen = pings();
  await eventually(() => pings() >= seen + 2 || closed(), 20 * beatMs);
  expect(closed()).toBe(false);
  expect(server.app.hub.size).toBe(1);

  // A client that really stops answering (stopped by the OS) is still cut.
  proc.kill('SIGSTOP');
  await eventually(() => server.app.hub.size === 0, 20 * beatMs);
}, 90_000);

/**
 * A client that `talk`s ten times a beat is never pinged, and is pinged (not cut) once
 * it goes quiet.
 */
async function heardWhileTalking(name: string, talk: (client: TestClient) => void): Promise<void> {
  const beatMs = 1000;
  await servers.start({ HEARTBEAT_MS: String(beatMs) });
  const client = await servers.open(name);
  let pings = 0;
  client.ws.on('ping', () => pings++);
  const talking = setInterval(() => talk(client), beatMs / 10);
  try {
    // The first look may come before its first frame; from then on it has always spoken.
    await new Promise((resolve) => setTimeout(resolve, 2 * beatMs));
    pings = 0;
    await new Promise((resolve) => setTimeout(resolve, 4 * beatMs));
    expect(pings).toBe(0);
  } finally {
    clearInterval(talking);
  }
  await eventually(() => pings > 0, 10 * beatMs);
  expect(client.closed).toBeUndefined();
}

test('a client heard from between beats is not pinged, and one that goes quiet is', async () => {
  // Application pings, as the Node and browser client sends them, well inside a beat.
  await heardWhileTalking('chatty', (client) => client.send({ type: 'ping' }));
}, 60_000);

test('a client that sends WebSocket pings is heard from, and not pinged', async () => {
  // A ping frame is a frame (docs/PROTOCOL.md §7), as any other the client sends.
  await heardWhileTalking('pinger', (client) => client.ws.ping());
}, 60_000);
