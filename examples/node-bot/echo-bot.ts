import WebSocket from 'ws';
import { SwitchboardClient, type Message, type Welcome } from '../../client/switchboard-client';

/**
 * An example bot on the client library: it answers "!time" and "!echo <text>" in
 * its team. Reconnecting, resuming and re-sending are the library's job; the bot
 * only reports them, so this file shows which events an unattended client needs.
 */

/** The demo page sends plain strings; other clients may send `{ text }`. */
export type ChatData = string | { text: string };

export interface BotOptions {
  /** `ws://` or `wss://` URL of `/socket`. */
  url: string;
  id: string;
  name?: string;
  teamId: string;
  token?: string;
  /** Where the bot reports what happens; default `console.log`. */
  log?: (line: string) => void;
  /** Reconnect backoff; the library's defaults suit a long-running bot. */
  reconnect?: { initialDelayMs?: number; maxDelayMs?: number };
}

export interface Bot {
  client: SwitchboardClient<ChatData>;
  /** Resolves with the first welcome. */
  ready: Promise<Welcome>;
  /** Closes the connection for good; no reconnect follows. */
  stop(): void;
}

function textOf(data: ChatData): string | undefined {
  if (typeof data === 'string') return data;
  return typeof data?.text === 'string' ? data.text : undefined;
}

/** The answer to a message, or undefined when it is not a command for the bot. */
export function answer(text: string, now: () => Date = () => new Date()): string | undefined {
  const trimmed = text.trim();
  if (trimmed === '!time') return now().toISOString();
  const echo = /^!echo(?:\s+([\s\S]*))?$/.exec(trimmed);
  if (echo) return echo[1] ?? '';
  return undefined;
}

export function startBot(options: BotOptions): Bot {
  const log = options.log ?? ((line: string) => console.log(line));
  const client = new SwitchboardClient<ChatData>({
    url: options.url,
    id: options.id,
    name: options.name ?? options.id,
    teamId: options.teamId,
    WebSocket,
    ...(options.token === undefined ? {} : { token: options.token }),
    ...(options.reconnect === undefined ? {} : { reconnect: options.reconnect }),
  });

  client.on('open', (w) => log(`connected to ${w.teamId} as ${w.user.name} (${w.connId})`));
  client.on('presence', (p) => log(`${p.user.name} ${p.event === 'join' ? 'joined' : 'left'}`));
  client.on('close', (c) =>
    log(`connection closed (${c.code} ${c.reason})${c.willReconnect ? ', reconnecting' : ''}`),
  );
  client.on('reconnecting', (r) => log(`reconnect attempt ${r.attempt} in ${r.delayMs} ms`));
  client.on('resumed', (r) => {
    // Commands older than the gap are not worth answering late, so nothing is reloaded.
    log(r.complete ? 'resumed, nothing missed' : 'resumed with a gap: some messages were missed');
  });
  client.on('epoch', (e) =>
    log(`team history was reset (epoch ${e.epoch}); carrying on after seq ${e.seq}`),
  );
  client.on('error', (err) => log(`error: ${err.code} ${err.message}`));
  client.on('message', (m) => void reply(m));

  async function reply(m: Message<ChatData>): Promise<void> {
    if (m.from.id === options.id || m.to !== undefined) return;
    const text = textOf(m.data);
    const out = text === undefined ? undefined : answer(text);
    if (out === undefined) return;
    try {
      await client.send({ text: out });
    } catch (err) {
      const code = (err as { code?: string }).code;
      // An indeterminate send may have been stored: the library already retried it
      // with the same ref, so sending again could post the answer twice.
      log(code === 'indeterminate' ? 'reply may not have been posted' : `reply failed: ${code}`);
    }
  }

  const ready = client.connect();
  // A failure is reported by the `error` listener; `ready` is for callers that wait.
  ready.catch(() => undefined);
  return { client, ready, stop: () => client.close() };
}
