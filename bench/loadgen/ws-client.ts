import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

/**
 * A minimal WebSocket client on a bare `net.Socket`, so the load generator stays
 * cheap next to the server it measures: it does the handshake itself, reads into
 * one shared buffer (no allocation per read), frames nothing it does not send, and
 * hands each text frame to its handler as a byte range, undecoded.
 */
export interface ClientHandler {
  /** The server answered the upgrade with 101. */
  opened(client: WsClient): void;
  /** One data frame; `buf` is only valid during the call. `now` is the read's performance.now(). */
  frame(client: WsClient, buf: Buffer, start: number, end: number, now: number): void;
  /** The connection is gone (or never came up); called once. */
  closed(client: WsClient, reason: string): void;
}

// Reads are handled one at a time on this thread and a frame split across reads is
// copied out before the next one, so every socket can share one read buffer.
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024);
const HEADER_END = Buffer.from('\r\n\r\n');
const MAX_RESPONSE_HEAD = 16 * 1024;

// Client frames must be masked (RFC 6455 §5.3); keys come from a pool filled once.
const MASKS = randomBytes(64 * 1024);
let maskAt = 0;

const OPCODE_TEXT = 0x1;
const OPCODE_BINARY = 0x2;
const OPCODE_CLOSE = 0x8;
const OPCODE_PING = 0x9;
const OPCODE_PONG = 0xa;

export class WsClient {
  private socket: Socket | undefined;
  private upgraded = false;
  /** Bytes of an incomplete response head or frame, waiting for the next read. */
  private rest: Buffer | null = null;
  private done = false;

  constructor(
    /** The caller's index for this connection. */
    readonly index: number,
    private readonly handler: ClientHandler,
  ) {}

  get isOpen(): boolean {
    return this.upgraded && !this.done;
  }

  /**
   * `local` (127.0.0.x and a port) gives the connection another set of source ports:
   * past about 28,000 connections one source address runs out of ephemeral ports.
   */
  open(port: number, path: string, local?: { address: string; port: number }): void {
    const key = randomBytes(16).toString('base64');
    const socket = connect({
      host: '127.0.0.1',
      port,
      ...(local ? { localAddress: local.address, localPort: local.port } : {}),
      noDelay: true,
      onread: {
        buffer: READ_BUFFER,
        callback: (bytes) => {
          this.read(bytes);
          return true;
        },
      },
    });
    this.socket = socket;
    socket.on('connect', () => {
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
          `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    socket.on('error', (err) => this.finish(err.message));
    socket.on('close', () => this.finish('socket closed'));
  }

  /** Sends one masked text frame. */
  send(text: string): void {
    const length = Buffer.byteLength(text);
    const frame = this.header(OPCODE_TEXT, length);
    const at = frame.length - length;
    frame.write(text, at, 'utf8');
    for (let i = 0; i < length; i++) frame[at + i] ^= frame[at - 4 + (i & 3)];
    this.socket?.write(frame);
  }

  close(): void {
    this.done = true;
    this.socket?.destroy();
  }

  private header(opcode: number, length: number): Buffer {
    const lengthBytes = length < 126 ? 0 : length < 65536 ? 2 : 8;
    const frame = Buffer.allocUnsafe(2 + lengthBytes + 4 + length);
    frame[0] = 0x80 | opcode;
    if (lengthBytes === 0) {
      frame[1] = 0x80 | length;
    } else if (lengthBytes === 2) {
      frame[1] = 0x80 | 126;
      frame.writeUInt16BE(length, 2);
    } else {
      frame[1] = 0x80 | 127;
      frame.writeUInt32BE(0, 2);
      frame.writeUInt32BE(length, 6);
    }
    if (maskAt + 4 > MASKS.length) maskAt = 0;
    MASKS.copy(frame, 2 + lengthBytes, maskAt, maskAt + 4);
    maskAt += 4;
    return frame;
  }

  private control(opcode: number, payload: Buffer): void {
    const frame = this.header(opcode, payload.length);
    const at = frame.length - payload.length;
    for (let i = 0; i < payload.length; i++) frame[at + i] = payload[i] ^ frame[at - 4 + (i & 3)];
    this.socket?.write(frame);
  }

  private finish(reason: string): void {
    if (this.done) return;
    this.done = true;
    this.socket?.destroy();
    this.handler.closed(this, reason);
  }

  private read(bytes: number): void {
    if (this.done) return;
    const now = performance.now();
    let buf = READ_BUFFER;
    let length = bytes;
    if (this.rest) {
      buf = Buffer.concat([this.rest, READ_BUFFER.subarray(0, bytes)]);
      length = buf.length;
      this.rest = null;
    }
    let at = 0;
    if (!this.upgraded) {
      const head = buf.subarray(0, length);
      const end = head.indexOf(HEADER_END);
      if (end < 0) {
        if (length > MAX_RESPONSE_HEAD) return this.finish('response head too large');
        this.rest = Buffer.from(head);
        return;
      }
      const status = head.toString('latin1', 0, Math.min(end, 64)).split('\r\n')[0] ?? '';
      if (!/^HTTP\/1\.1 101 /.test(status)) return this.finish(`upgrade refused: ${status}`);
      this.upgraded = true;
      at = end + HEADER_END.length;
      this.handler.opened(this);
    }
    at = this.frames(buf, at, length, now);
    if (at < length && !this.done) this.rest = Buffer.from(buf.subarray(at, length));
  }

  /** Handles every complete frame in buf[at, length); returns where the incomplete tail starts. */
  private frames(buf: Buffer, at: number, length: number, now: number): number {
    while (at + 2 <= length && !this.done) {
      const first = buf[at];
      const second = buf[at + 1];
      let size = second & 0x7f;
      let head = 2;
      if (size === 126) {
        if (at + 4 > length) break;
        size = buf.readUInt16BE(at + 2);
        head = 4;
      } else if (size === 127) {
        if (at + 10 > length) break;
        if (buf.readUInt32BE(at + 2) !== 0) {
          this.finish('frame too large');
          break;
        }
        size = buf.readUInt32BE(at + 6);
        head = 10;
      }
      if ((second & 0x80) !== 0) {
        this.finish('masked frame from the server');
        break;
      }
      const start = at + head;
      const end = start + size;
      if (end > length) break;
      at = end;
      const opcode = first & 0x0f;
      if ((first & 0x80) === 0 || opcode === 0) {
        // Neither server under test fragments messages; reassembly is not worth the code.
        this.finish('fragmented frame');
        break;
      }
      if (opcode === OPCODE_TEXT || opcode === OPCODE_BINARY) {
        this.handler.frame(this, buf, start, end, now);
      } else if (opcode === OPCODE_PING) {
        this.control(OPCODE_PONG, Buffer.from(buf.subarray(start, end)));
      } else if (opcode === OPCODE_CLOSE) {
        const code = size >= 2 ? buf.readUInt16BE(start) : 1005;
        this.finish(`close ${code} ${buf.toString('utf8', start + 2, end)}`.trim());
      } else if (opcode !== OPCODE_PONG) {
        this.finish(`unknown opcode ${opcode}`);
      }
    }
    return at;
  }
}
