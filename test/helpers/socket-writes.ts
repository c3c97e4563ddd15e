import type { Socket } from 'node:net';

/**
 * Counts what each accepted socket hands to its handle, in `counts` (one entry per
 * socket, in accept order). A writev counts as one write (`'writes'`: what reaches
 * the kernel as one call) or as the buffers it carries (`'buffers'`: how many frames
 * or chunks were written, however Node grouped them).
 */
export function countSocketWrites(
  socket: Socket,
  counts: number[],
  writev: 'writes' | 'buffers',
): void {
  const index = counts.push(0) - 1;
  const write = socket._write.bind(socket);
  socket._write = (chunk, encoding, callback) => {
    counts[index]!++;
    write(chunk, encoding, callback);
  };
  const writeMany = socket._writev?.bind(socket);
  if (writeMany) {
    socket._writev = (chunks, callback) => {
      counts[index]! += writev === 'writes' ? 1 : chunks.length;
      writeMany(chunks, callback);
    };
  }
}
