import type { RedisClient } from './connection';
import type { NodeSample, NodeStats } from '../node-stats';
import { redisCall } from './call';
import type { RedisKeys } from './keys';

/**
 * Every node's latest sample in one hash, nodeId -> JSON. A node that stops
 * reporting ages out of `latest` and is removed by the next reader that sees it,
 * so the hash holds at most the nodes of the last few intervals.
 */
export class RedisNodeStats implements NodeStats {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly now: () => number = Date.now,
  ) {}

  async report(sample: NodeSample): Promise<void> {
    await redisCall(() =>
      this.redis.hset(this.keys.nodeStats(), sample.nodeId, JSON.stringify(sample)),
    );
  }

  async latest(maxAgeMs: number): Promise<NodeSample[]> {
    const all = await redisCall(() => this.redis.hgetall(this.keys.nodeStats()));
    const oldest = this.now() - maxAgeMs;
    const fresh: NodeSample[] = [];
    const stale: string[] = [];
    for (const [nodeId, text] of Object.entries(all)) {
      const sample = parseSample(text);
      if (sample && sample.at >= oldest) fresh.push(sample);
      // Far older than anyone asks for: a node that is gone.
      else if (!sample || sample.at < this.now() - 10 * maxAgeMs) stale.push(nodeId);
    }
    if (stale.length > 0)
      await this.redis.hdel(this.keys.nodeStats(), ...stale).catch(() => undefined);
    return fresh;
  }
}

function parseSample(text: string): NodeSample | undefined {
  try {
    const value = JSON.parse(text) as Partial<NodeSample>;
    const numbers = [value.at, value.connections, value.teams, value.messages, value.deliveries];
    if (typeof value.nodeId !== 'string' || numbers.some((n) => typeof n !== 'number'))
      return undefined;
    return value as NodeSample;
  } catch {
    return undefined;
  }
}
