import { COLUMNS } from './columns';
import {
  HOLD_HEADER,
  holdRow,
  holdSummary,
  markdownTable,
  STORM_HEADER,
  stormRow,
} from './storm-tables';
import {
  STORM_MESSAGES_PER_S,
  STORM_TEAM_SIZE,
  HOLD_DELIVERIES_PER_S,
  HOLD_HEARTBEAT_MS,
} from '../storms';
import { machineLine } from './machine';
import type { Report } from './report';
import { scenarioNotes } from './notes';

/** docs/bench/README.md: the run's tables, settings and machine, next to the chart. */
export function markdownReport(report: Report): string {
  const o = report.options;
  const lines: string[] = [
    `# Benchmark: Switchboard vs raw ws vs Socket.IO`,
    '',
    `Generated ${report.generatedAt} by \`npm run bench${report.command ? ` -- ${report.command}` : ''}\` in ${Math.round(report.durationS)} s.`,
    '',
    `**Machine:** ${machineLine(report.machine)}. Load average at start ${report.machine.loadAverageAtStart.join(' / ')}, at end ${report.machine.loadAverageAtEnd.join(' / ')} (1/5/15 min).`,
    '',
  ];
  // A run of the storms alone has no load rounds to describe and no chart.
  if (report.scenarios.length > 0) {
    lines.push(
      `**Settings:** ${o.rounds} rounds, arms alternating (the first arm rotates each round); medians shown. ` +
        `Latency at a fixed open-loop load of ${o.rate.toLocaleString('en-US')} deliveries/s for ${o.latencyMs / 1000} s ` +
        `(after ${o.warmupMs / 1000} s of warm-up); saturation for ${o.saturationMs / 1000} s, each publisher keeping ${o.window} messages unacked ` +
        `and at most ${o.inFlight.toLocaleString('en-US')} deliveries in flight overall (an ack means stored, not delivered); ` +
        `${o.payloadBytes} characters of padding per message${o.useRef ? '; Switchboard messages carry a `ref`' : ''}. ` +
        `The Redis arm is two Switchboard nodes and a redis-server sharing the server CPUs, publishers on one node and everyone else on the other; ` +
        `the Cluster arm is the same on a Redis Cluster of three masters (no replicas), all three counted as server processes.`,
      '',
      '![Ratios to the raw ws arm](ratios.svg)',
      '',
    );
  }
  for (const s of report.scenarios) {
    lines.push(
      `## ${s.scenario.name}`,
      '',
      `${s.publishersPerTeam} publisher(s) per team.`,
      '',
      `| ${COLUMNS.map((c) => c.title).join(' | ')} |`,
      `| ${COLUMNS.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`,
      ...s.arms.map((a) => `| ${COLUMNS.map((c) => c.cell(a)).join(' | ')} |`),
      '',
    );
    const notes = scenarioNotes(s, o.rate);
    if (notes.length > 0) lines.push(...notes.map((n) => `- ${n}`), '');
  }
  const storms = report.storms ?? [];
  const holds = report.holds ?? [];
  if (storms.length > 0) {
    lines.push(
      '## Reconnect storm',
      '',
      `${storms[0]?.result?.connections.toLocaleString('en-US') ?? ''} clients in teams of ${STORM_TEAM_SIZE}, member 0 of each team publishing ` +
        `${STORM_MESSAGES_PER_S} messages/s in all. Then the node crashes (SIGKILL): Switchboard memory, raw ws and Socket.IO are restarted with the same set-up on the same port; ` +
        'on the Redis arm (clients alternate between two nodes, publishers on the first) the second node is killed and its clients go to the first. ' +
        'Every disconnected client reconnects at once (a refused try is retried after 100-200 ms), Switchboard clients with `since`/`epoch`. ' +
        '**back** = `resumed` received (Switchboard) or the welcome / namespace connect (raw ws, Socket.IO, which have no resume). ' +
        '**lost** = acked messages a following client never got (seq holes, or missing at the end); **undisturbed p99** = live deliveries to clients that kept their connection, from the crash until all were back. ' +
        'A restarted memory node has lost its history, so its resumes are complete:false with a new epoch: that is the protocol telling the client, not a loss.',
      '',
      ...markdownTable(STORM_HEADER, storms.map(stormRow)),
      '',
    );
  }
  if (holds.length > 0) {
    lines.push(
      '## Held connections (C100k)',
      '',
      'One Switchboard process (memory engine, `--max-old-space-size=8192`, `ulimit -n` raised) holds the connections, opened from a load generator in another process ' +
        `using ${holds[0]?.sourceAddresses ?? 1} loopback source address(es) from 127.0.0.2 with ports it picks itself (fd limit ${holds[0]?.fdLimit.toLocaleString('en-US') ?? '?'}: ` +
        'where `ulimit -n` cannot be raised to the number asked for, the run holds what the limit allows, less 1,000). ' +
        `**RSS/conn** from idle to all held; **idle CPU** over ${(holds[0]?.result?.idleWindowS ?? o.holdIdleMs / 1000).toFixed(0)} s (whole ping cycles of two beats) with nothing but heartbeats (\`HEARTBEAT_MS\` ${(holds[0]?.heartbeatMs ?? HOLD_HEARTBEAT_MS).toLocaleString('en-US')}); ` +
        `**broadcast** = one \`POST /api/broadcast\` until every connection has the message; **p50/p99/max** at ${HOLD_DELIVERIES_PER_S.toLocaleString('en-US')} team deliveries/s for ${o.holdLatencyMs / 1000} s while held.`,
      '',
      ...markdownTable(HOLD_HEADER, holds.map(holdRow)),
      '',
      ...holds.flatMap((h) => holdSummary(h).map((line) => `- ${line}`)),
      '',
    );
  }
  lines.push(
    '## Columns',
    '',
    '- **conn/s**: connections opened per second until every one is ready (Switchboard: `welcome` received; raw ws: its `welcome`; Socket.IO: namespace connected), 100 handshakes in flight by default.',
    "- **RSS/conn KB**: growth of the server processes' RSS from idle to all connected (after the settle pause), per connection. For the Redis arm this is both nodes plus redis-server; for the Cluster arm, both nodes plus the three masters.",
    '- After connecting and the settle pause, the load generator waits (up to 60 s) until the server processes use less than 20 % of a core, so the aftermath of the joins (presence fan-out) is not measured as latency; a note says when that took 2 s or more.',
    '- **p50/p99/max ms**: end-to-end latency of every delivery at the fixed load, from the time the message was due to be sent (open loop) to its arrival.',
    "- **loop p99/max ms**, **GC max/sum ms**: over the fixed-load phase, the worst server process's event-loop delay (`perf_hooks.monitorEventLoopDelay`, 1 ms resolution, so about 1 ms is the floor) and its GC pauses (`PerformanceObserver` `gc`), from a probe preloaded into every Node server process (`bench/servers/loop-probe.ts`; redis-server has none). A p99 spike with a quiet loop and no long GC came from the machine, not the server.",
    "- **gen loop p99/max ms**, **gen GC max ms**: the same figures for the load generator's own process over the same phase (`bench/loadgen/loop-window.ts`). Every delivery is read on its loop, and a message due while it is stalled is sent late and counts as late, so a stall there shows in every arm's tail: at 20,000 deliveries/s in teams of 100 the p99 is the slowest 1 % of deliveries, about eight messages' worth in a 4 s phase, and one 15-20 ms pause of the load generator delays three or four messages.",
    '- **sat. deliv/s**: deliveries per second received while every publisher keeps a fixed window of unacked messages.',
    '- **deliv/CPU-s**: those deliveries divided by the CPU seconds (user + system, from `/proc/<pid>/stat`) of every server-side process of the arm.',
    "- **x raw**: ratio to the raw ws arm's median (for p99, lower is better).",
    '- **srv CPU % / gen CPU %**: CPU of the server processes and of the load generator while saturated (100 = one core). A load generator near 100 % means the server was not the bottleneck.',
    '- **lost**: deliveries due and never received, over all rounds and both measured phases (must be 0). Each connection counts the message frames it gets; after each phase the load generator waits while late deliveries still arrive.',
    '',
    'Raw per-round figures are in `results.json`. Rerun with `npm run bench` (see docs/BENCHMARK.md).',
    '',
  );
  return lines.join('\n');
}
