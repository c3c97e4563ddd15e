import type { FromLoadgen, LoadPlan, StormPlan, ToLoadgen } from './contract';
import { HoldRun } from './hold-run';
import { LoadRun } from './load-run';
import type { Protocol } from './protocol';
import { socketIoProtocol } from './socket-io-protocol';
import { StormRun } from './storm-run';
import { switchboardProtocol } from './switchboard-protocol';

/**
 * The load-generator process: started by the orchestrator (pinned to its own core),
 * it receives one plan over IPC, runs it, answers with the result and exits.
 */

function isMessage(message: unknown): message is ToLoadgen {
  if (typeof message !== 'object' || message === null) return false;
  const type: unknown = Reflect.get(message, 'type');
  if (type === 'disrupted') return true;
  return (
    (type === 'plan' || type === 'storm' || type === 'hold') &&
    typeof Reflect.get(message, 'plan') === 'object'
  );
}

function protocolFor(plan: LoadPlan | StormPlan): Protocol {
  return plan.protocol === 'socket-io'
    ? socketIoProtocol()
    : switchboardProtocol({ useRef: false });
}

function send(message: FromLoadgen): void {
  if (!process.send) {
    process.stderr.write('loadgen: no IPC channel; start it through `npm run bench`\n');
    process.exit(2);
  }
  process.send(message);
}

function reply(message: FromLoadgen): void {
  if (!process.send) return send(message);
  process.send(message, () => process.exit(0));
}

/** Asks the orchestrator to kill (or restart) the node, and waits until it has. */
function disrupt(): Promise<void> {
  return new Promise<void>((resolve) => {
    const onMessage = (message: unknown) => {
      if (!isMessage(message) || message.type !== 'disrupted') return;
      process.off('message', onMessage);
      resolve();
    };
    process.on('message', onMessage);
    send({ type: 'disrupt' });
  });
}

function failed(err: unknown): void {
  reply({ type: 'failed', message: err instanceof Error ? err.message : String(err) });
}

if (!process.send) {
  process.stderr.write('loadgen: no IPC channel; start it through `npm run bench`\n');
  process.exit(2);
}
// The orchestrator gone means nobody wants the result.
process.on('disconnect', () => process.exit(1));
process.once('message', (message: unknown) => {
  if (!isMessage(message) || message.type === 'disrupted') {
    reply({ type: 'failed', message: 'loadgen: expected a plan' });
    return;
  }
  switch (message.type) {
    case 'plan': {
      const protocol =
        message.plan.protocol === 'socket-io'
          ? socketIoProtocol()
          : switchboardProtocol({ useRef: message.plan.useRef });
      new LoadRun(message.plan, protocol)
        .run()
        .then((result) => reply({ type: 'result', result }), failed);
      return;
    }
    case 'storm':
      new StormRun(message.plan, protocolFor(message.plan), disrupt)
        .run()
        .then((result) => reply({ type: 'storm-result', result }), failed);
      return;
    case 'hold':
      new HoldRun(message.plan, switchboardProtocol({ useRef: false }))
        .run()
        .then((result) => reply({ type: 'hold-result', result }), failed);
      return;
  }
});
