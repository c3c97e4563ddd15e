/** A reply still being worked out; undefined when there is nothing to send. */
type Reply = Promise<Buffer | undefined>;

/**
 * One connection's replies, in the order of the frames they answer. A message is
 * handed to the bus at once, in arrival order, without waiting for the one before
 * it to be stored: the backend takes them in that order (the memory bus
 * synchronously, Redis over one connection), so seqs still follow the send order,
 * and a publisher's messages share round trips. A read (presence, history, ping)
 * waits for every frame before it, and the messages after it wait for the read,
 * so it sees exactly what was sent before it.
 */
export class ReplyQueue {
  /** The last read, while it runs: messages after it wait for it. */
  private reading: Reply | undefined;
  /** Settles once every reply queued so far has been sent. */
  private replies: Promise<void> = Promise.resolve();

  constructor(
    private readonly send: (frame: Buffer) => void,
    /** Nothing in the queue is expected to throw; if it did, later replies must still go. */
    private readonly onError: (err: unknown) => void,
  ) {}

  /** A message: published now, or once the read still running has its answer. */
  message(publish: () => Reply): void {
    // A read still running must not see messages sent after it.
    this.push(this.reading ? this.reading.then(publish) : publish());
  }

  /** A read: answered once every frame before it has its reply; never rejects. */
  read(answer: () => Reply, failure: (err: unknown) => Buffer): void {
    const read = this.replies.then(answer).catch(failure);
    this.reading = read;
    void read.then(() => {
      if (this.reading === read) this.reading = undefined;
    });
    this.push(read);
  }

  /** A reply known already (a refusal): it still waits for the replies before it. */
  reply(frame: Buffer): void {
    this.push(Promise.resolve(frame));
  }

  private push(reply: Reply): void {
    this.replies = this.replies
      .then(() => reply)
      .then((frame) => {
        if (frame) this.send(frame);
      })
      .catch(this.onError);
  }
}
