import { answer, startBot, type Bot } from '../../examples/node-bot/echo-bot';
import { connect, type Frame, type TestClient } from '../helpers/client';
import { eventually } from '../helpers/eventually';
import { api, startTestServer, type TestServer } from '../helpers/server';

/** The example bot (examples/node-bot) against a real server and a raw-socket teammate. */
describe('example echo bot', () => {
  let server: TestServer;
  let bot: Bot | undefined;
  let ann: TestClient | undefined;
  const lines: string[] = [];

  beforeEach(async () => {
    server = await startTestServer({ RATE_LIMIT_PER_S: '0' });
    lines.splice(0);
  });

  afterEach(async () => {
    bot?.stop();
    ann?.ws.close();
    await server.close();
  });

  function start(): Bot {
    bot = startBot({
      url: server.socketUrl,
      id: 'bot',
      name: 'Bot',
      teamId: 'ops',
      log: (line) => lines.push(line),
      reconnect: { initialDelayMs: 20, maxDelayMs: 200 },
    });
    return bot;
  }

  /** Sends a team message as Ann and returns the bot's next team message. */
  async function ask(text: string): Promise<Frame> {
    ann!.send({ type: 'team', data: text, ref: `r-${text}` });
    for (;;) {
      const frame = await ann!.next('message');
      if ((frame['from'] as { id: string }).id === 'bot') return frame;
    }
  }

  test('answers a teammate, logs presence, and answers again after a kick', async () => {
    const welcome = await start().ready;
    ann = await connect(server.socketUrl, { id: 'ann', name: 'Ann', teamId: 'ops' });
    await eventually(() => lines.includes('Ann joined'));

    expect((await ask('!echo hi'))['data']).toEqual({ text: 'hi' });

    const kicked = await api(server, 'DELETE', `/api/connections/${welcome.connId}`);
    expect(kicked.status).toBeLessThan(300);
    await eventually(() => lines.some((l) => l.startsWith('connection closed (4000')));
    await eventually(() => bot!.client.state === 'open' && bot!.client.welcome !== undefined);
    expect(bot!.client.welcome!.connId).not.toBe(welcome.connId);

    expect((await ask('!echo still here'))['data']).toEqual({ text: 'still here' });
  });

  test('leaves plain chat and its own answers alone', async () => {
    await start().ready;
    ann = await connect(server.socketUrl, { id: 'ann', name: 'Ann', teamId: 'ops' });
    ann.send({ type: 'team', data: 'hello everyone', ref: 'r-plain' });
    // The bot answers only commands: the next bot message is the answer to the command.
    expect((await ask('!echo {"text":"!echo loop"}'))['data']).toEqual({
      text: '{"text":"!echo loop"}',
    });
  });

  test('stop() closes for good', async () => {
    await start().ready;
    bot!.stop();
    expect(bot!.client.state).toBe('closed');
  });

  test('answer() knows the commands', () => {
    const now = () => new Date('2026-01-02T03:04:05.000Z');
    expect(answer('!time', now)).toBe('2026-01-02T03:04:05.000Z');
    expect(answer('  !echo a b  ')).toBe('a b');
    expect(answer('!echo')).toBe('');
    expect(answer('!echoes')).toBeUndefined();
    expect(answer('hello')).toBeUndefined();
  });
});
