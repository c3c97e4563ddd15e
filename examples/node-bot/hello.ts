// The "In Node" snippet of docs/CLIENT.md, kept here so that it is type-checked and
// linted; test/docs/client-snippet.test.ts keeps the two the same.
import WebSocket from 'ws';
import { SwitchboardClient } from '../../client/switchboard-client';

interface Chat {
  text: string;
}

async function main(): Promise<void> {
  const bot = new SwitchboardClient<Chat>({
    url: process.env['SWITCHBOARD_URL'] ?? 'ws://localhost:3000/socket',
    id: 'bot',
    name: 'Bot',
    teamId: 'A',
    WebSocket,
    // When the server sets AUTH_SECRET; a function here is called before every attempt.
    token: process.env['TOKEN'],
  });
  bot.on('message', (m) => console.log(m.data.text)); // m: Message<Chat>
  await bot.connect();
  await bot.send({ text: 'online' });
  bot.close();
}

if (require.main === module) void main();
