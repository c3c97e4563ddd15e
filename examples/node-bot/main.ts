import { startBot } from './echo-bot';

/** `npm run example:bot`: the echo bot configured from the environment. */
const env = process.env;
const bot = startBot({
  url: env['SWITCHBOARD_URL'] ?? 'ws://localhost:3000/socket',
  id: env['BOT_ID'] ?? 'echo-bot',
  name: env['BOT_NAME'] ?? 'Echo bot',
  teamId: env['TEAM_ID'] ?? 'demo',
  ...(env['TOKEN'] ? { token: env['TOKEN'] } : {}),
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.log(`${signal}: closing`);
    bot.stop();
    // Nothing else holds the event loop once the socket and its timers are gone.
  });
}
