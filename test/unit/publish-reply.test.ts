import { PublishReply, type PublishAnswer } from '../../services/redis/publish-reply';

/** Each answer of a reply for `count` messages, with its seq or text. */
function readAll(reply: unknown, count: number): [PublishAnswer, number | string][] {
  const read = new PublishReply(reply);
  const out: [PublishAnswer, number | string][] = [];
  for (let i = 0; i < count; i++) {
    const answer = read.next();
    out.push([answer, answer === 'published' ? read.seq : read.text()]);
  }
  return out;
}

describe('the publish script reply', () => {
  test('a line per message, read in order: seqs, ref records and refusals', () => {
    const reply = [
      '41',
      '=0b1c-id:7',
      '!',
      '-WRONGTYPE Operation against a key',
      '9007199254740991',
    ];
    expect(readAll(reply.join('\n'), 5)).toEqual([
      ['published', 41],
      ['repeated', '0b1c-id:7'],
      ['backlog-full', ''],
      ['refused', 'WRONGTYPE Operation against a key'],
      ['published', 9007199254740991],
    ]);
  });

  test('a reply of one message', () => {
    expect(readAll('1', 1)).toEqual([['published', 1]]);
  });

  test('what cannot be read is refused, never taken as a seq', () => {
    const noAnswer = 'no readable answer for the message';
    expect(readAll('3\n\n0\n4x\n90071992547409921', 6)).toEqual([
      ['published', 3],
      ['refused', noAnswer],
      ['refused', noAnswer],
      ['refused', noAnswer],
      ['refused', noAnswer],
      // The reply ran out before the messages did.
      ['refused', noAnswer],
    ]);
    expect(readAll(['1', '2'], 1)).toEqual([['refused', noAnswer]]);
    expect(readAll(null, 2)).toEqual([
      ['refused', noAnswer],
      ['refused', noAnswer],
    ]);
  });
});
