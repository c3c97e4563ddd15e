/**
 * The `data` of every bench message: `{"t":<scheduled send time>,"p":<publisher>,"k":<n>,"x":<pad>}`.
 * `t` is performance.now() of the load generator, which both sends and receives, so
 * no clocks need to agree. Receivers find `t` with a byte search instead of a JSON
 * decode; every server under test keeps `data` as it came.
 */

const SEND_TIME = Buffer.from('"t":');
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;

export function encodeData(sendTime: number, publisher: number, n: number, pad: string): string {
  return `{"t":${sendTime.toFixed(3)},"p":${publisher},"k":${n},"x":"${pad}"}`;
}

/** The send time carried in a delivered frame's bytes, or -1 when there is none. */
export function readSendTime(buf: Buffer, start: number, end: number): number {
  const at = buf.indexOf(SEND_TIME, start);
  if (at < 0 || at >= end) return -1;
  let whole = 0;
  let fraction = 0;
  let scale = 1;
  let afterDot = false;
  let digits = 0;
  // At most 32 characters: a send time is a few digits, a dot and three more.
  for (let i = at + SEND_TIME.length; i < end && i < at + 36; i++) {
    const c = buf[i];
    if (c === DOT && !afterDot) {
      afterDot = true;
    } else if (c >= ZERO && c <= NINE) {
      digits++;
      if (afterDot) {
        scale /= 10;
        fraction += (c - ZERO) * scale;
      } else {
        whole = whole * 10 + (c - ZERO);
      }
    } else {
      break;
    }
  }
  return digits === 0 ? -1 : whole + fraction;
}

/** Whether a fully decoded `data` is one of ours. */
export function isBenchData(data: unknown): boolean {
  return (
    typeof data === 'object' &&
    data !== null &&
    typeof Reflect.get(data, 't') === 'number' &&
    typeof Reflect.get(data, 'p') === 'number' &&
    typeof Reflect.get(data, 'k') === 'number'
  );
}
