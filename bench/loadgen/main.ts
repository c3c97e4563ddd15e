import type { FromLoadgen, LoadPlan, ToLoadgen } from './contract';
import { LoadRun } from './load-run';
import type { Protocol } from './protocol';
import { socketIoProtocol } from './socket-io-protocol';
import { switchboardProtocol } from './switchboard-protocol';

/**
 * The load-generator process: started by the orchestrator (pinned to its own core),
 * it receives one plan over IPC, runs it, answers with the result and exits.
 */

function isPlanMessage(message: unknown): message is ToLoadgen {
  return (
    typeof message === 'object' &&
    message !== null &&
    Reflect.get(message, 'type') === 'plan' &&
    typeof Reflect.get(message, 'plan') === 'object'
  );
}

function protocolFor(plan: LoadPlan): Protocol {
  return plan.protocol === 'socket-io'
    ? socketIoProtocol()
    : switchboardProtocol({ useRef: plan.useRef });
}

function reply(message: FromLoadgen): void {
  if (!process.send) {
    process.stderr.write('loadgen: no IPC channel; start it through `npm run bench`\n');
    process.exit(2);
  }
  process.send(message, () => process.exit(0));
}

if (!process.send) {
  process.stderr.write('loadgen: no IPC channel; start it through `npm run bench`\n');
  process.exit(2);
}
// The orchestrator gone means nobody wants the result.
process.on('disconnect', () => process.exit(1));
process.once('message', (message: unknown) => {
  if (!isPlanMessage(message)) {
    reply({ type: 'failed', message: 'loadgen: expected a plan' });
    return;
  }
  new LoadRun(message.plan, protocolFor(message.plan)).run().then(
    (result) => reply({ type: 'result', result }),
    (err: unknown) =>
      reply({ type: 'failed', message: err instanceof Error ? err.message : String(err) }),
  );
});
