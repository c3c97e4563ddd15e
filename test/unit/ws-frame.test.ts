import { EventEmitter } from 'node:events';
import WebSocket from 'ws';
import { textFrame } from '../../services/socket/ws-frame';

// ws exports its frame parser at runtime; @types/ws leaves it out.
type ReceiverClass = new (options: { isServer: boolean; maxPayload: number }) => EventEmitter & {
  write(chunk: Buffer): void;
};
const Receiver = Reflect.get(WebSocket, 'Receiver') as ReceiverClass;

/** Reads frames back with ws's own client-side parser, as a browser would. */
function decode(frame: Buffer): { text: string; binary: boolean }[] {
  const receiver = new Receiver({ isServer: false, maxPayload: 0 });
  const out: { text: string; binary: boolean }[] = [];
  receiver.on('message', (data: Buffer, binary: boolean) => {
    out.push({ text: data.toString('utf8'), binary });
  });
  receiver.on('error', (err: Error) => {
    throw err;
  });
  receiver.write(frame);
  return out;
}

describe('textFrame', () => {
  // Each payload-length encoding (7, 16 and 64 bits) on both sides of its bounds.
  test.each([0, 1, 125, 126, 127, 65_535, 65_536, 70_000])('%i bytes', (bytes) => {
    const text = 'x'.repeat(bytes);
    const frame = textFrame(text);
    expect(frame[0]).toBe(0x81);
    expect(frame.length).toBe(bytes + (bytes < 126 ? 2 : bytes < 65_536 ? 4 : 10));
    expect(decode(frame)).toEqual([{ text, binary: false }]);
  });

  test('length counts UTF-8 bytes, not characters', () => {
    const text = '消息发送 🚀'.repeat(20);
    expect(decode(textFrame(text))).toEqual([{ text, binary: false }]);
  });

  test('frames written back to back parse as separate messages', () => {
    const frames = Buffer.concat([textFrame('{"a":1}'), textFrame('b'.repeat(300)), textFrame('')]);
    expect(decode(frames).map((m) => m.text)).toEqual(['{"a":1}', 'b'.repeat(300), '']);
  });
});
