import { createServer } from 'node:http';
import type { Socket } from 'node:net';
import WebSocket, { WebSocketServer, type RawData } from 'ws';
import { corkingWriter, plainWriter } from './frame-writer';
import { exitOnSignals, serverEnv } from './server-env';
import { underlyingSocket } from './underlying-socket';

/**
 * The baseline: the least a Node + ws team server can do with Switchboard's frames.
 * Same URL and frames (welcome, team -> message to every other member, ack), JSON
 * encoded once per message and the same Buffer sent to every peer; no ids, no seq,
 * no history, no presence, no checks beyond what keeps it from crashing.
 * CORK=1 is the corked variant (see frame-writer.ts).
 */

interface Peer {
  ws: WebSocket;
  socket: Socket;
}

const { port, host } = serverEnv();
const writer = process.env['CORK'] === '1' ? corkingWriter() : plainWriter();
const teams = new Map<string, Set<Peer>>();
const WELCOME = Buffer.from('{"type":"welcome"}');

function text(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  return Buffer.concat(Array.isArray(data) ? data : [Buffer.from(data)]).toString('utf8');
}

function teamFrame(value: unknown): { data: unknown; ref: unknown } | undefined {
  if (typeof value !== 'object' || value === null || Reflect.get(value, 'type') !== 'team') {
    return undefined;
  }
  return { data: Reflect.get(value, 'data'), ref: Reflect.get(value, 'ref') };
}

const http = createServer((req, res) => {
  res.writeHead(req.url === '/health' ? 200 : 404).end();
});
const wss = new WebSocketServer({
  server: http,
  path: '/socket',
  perMessageDeflate: false,
  maxPayload: 64 * 1024,
  clientTracking: false,
});

wss.on('connection', (ws, req) => {
  const query = new URL(req.url ?? '/', 'http://localhost').searchParams;
  const teamId = query.get('teamId') ?? '';
  const from = { id: query.get('id') ?? '', name: query.get('name') ?? '' };
  const self: Peer = { ws, socket: underlyingSocket(ws) };
  let team = teams.get(teamId);
  if (!team) {
    team = new Set();
    teams.set(teamId, team);
  }
  const members = team;
  members.add(self);
  ws.on('error', () => ws.terminate());
  ws.on('close', () => {
    members.delete(self);
    if (members.size === 0) teams.delete(teamId);
  });
  ws.on('message', (raw) => {
    let frame: { data: unknown; ref: unknown } | undefined;
    try {
      frame = teamFrame(JSON.parse(text(raw)));
    } catch {
      return;
    }
    if (!frame) return;
    const out = Buffer.from(
      JSON.stringify({ type: 'message', teamId, from, data: frame.data, ts: Date.now() }),
    );
    for (const peer of members) if (peer !== self) writer.send(peer.ws, peer.socket, out);
    writer.send(
      ws,
      self.socket,
      JSON.stringify(
        typeof frame.ref === 'string' ? { type: 'ack', ref: frame.ref } : { type: 'ack' },
      ),
    );
  });
  writer.send(ws, self.socket, WELCOME);
});

exitOnSignals();
http.listen(port, host);
