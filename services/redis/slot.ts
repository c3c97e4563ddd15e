/**
 * The Redis Cluster hash slot of a key (CRC16/XMODEM of its hash tag, mod 16384),
 * as the cluster computes it: the publish batch is split by slot, then grouped by
 * the master its slot map names (master-groups.ts).
 */
export function hashSlot(key: string): number {
  const bytes = Buffer.from(hashTagOf(key));
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++)
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}

/** The part of a key that is hashed: the first non-empty `{…}`, else the whole key. */
function hashTagOf(key: string): string {
  const open = key.indexOf('{');
  if (open < 0) return key;
  const close = key.indexOf('}', open + 1);
  if (close <= open + 1) return key;
  return key.slice(open + 1, close);
}

/** Hash slots of a Redis Cluster. */
export const SLOTS = 16384;

let tags: string[] | undefined;

/**
 * A short hash tag (at most 4 characters) whose slot is `slot`: the first of 0, 1,
 * 2, … written in base 36 that hashes there, so every node names the same key for
 * a slot. Built once, for all slots (about 90,000 hashes, a few ms): a pure table,
 * the same in every process.
 */
export function slotTag(slot: number): string {
  if (tags === undefined) {
    const table: string[] = new Array<string>(SLOTS);
    for (let i = 0, left = SLOTS; left > 0; i++) {
      const tag = i.toString(36);
      const s = hashSlot(tag);
      if (table[s] === undefined) {
        table[s] = tag;
        left--;
      }
    }
    tags = table;
  }
  const tag = tags[slot];
  if (tag === undefined) throw new RangeError(`no hash slot ${slot}`);
  return tag;
}
