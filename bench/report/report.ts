import type { Options } from '../options';
import type { Machine } from './machine';
import type { HoldRecord, StormRecord } from '../storms';
import type { RoundRecord, ScenarioSummary } from './summarize';

/** Everything one bench run produced: what results.json holds. */
export interface Report {
  generatedAt: string;
  /** The flags as given to `npm run bench --`. */
  command: string;
  durationS: number;
  machine: Machine;
  options: Options;
  scenarios: ScenarioSummary[];
  rounds: RoundRecord[];
  /** Reconnect storms (--storm), one per arm; absent in results from before they existed. */
  storms?: StormRecord[];
  /** Connections held by one process (--c100k); absent likewise. */
  holds?: HoldRecord[];
}
