import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { exitOnSignals, serverEnv } from './server-env';

/**
 * Socket.IO 4 the way its docs build a team chat: one room per team, the sender
 * broadcasts with `socket.to(room).emit` (Socket.IO encodes a broadcast once), and
 * the ack callback answers the sender. WebSocket transport only, no compression.
 */

interface Delivery {
  teamId: string;
  from: { id: string; name: string };
  data: unknown;
  ts: number;
}

interface ClientToServer {
  team(data: unknown, ack: (reply: { ok: true }) => void): void;
}

interface ServerToClient {
  message(delivery: Delivery): void;
}

const { port, host } = serverEnv();
const http = createServer((req, res) => {
  // Socket.IO answers its own path first; everything else lands here.
  res.writeHead(req.url === '/health' ? 200 : 404).end();
});
const io = new Server<ClientToServer, ServerToClient>(http, {
  transports: ['websocket'],
  serveClient: false,
  perMessageDeflate: false,
  httpCompression: false,
  maxHttpBufferSize: 64 * 1024,
});

const param = (value: unknown): string => (typeof value === 'string' ? value : '');

io.on('connection', (socket) => {
  const query = socket.handshake.query;
  const teamId = param(query['teamId']);
  const from = { id: param(query['id']), name: param(query['name']) };
  void socket.join(teamId);
  socket.on('team', (data, ack) => {
    socket.to(teamId).emit('message', { teamId, from, data, ts: Date.now() });
    if (typeof ack === 'function') ack({ ok: true });
  });
});

exitOnSignals();
http.listen(port, host);
