import { closeSync, openSync, writeSync } from 'node:fs';
import { writeCalls } from '../../bench/proc-stats';

/** The bench reads the servers' write system calls from /proc (Linux). */

test('writeCalls counts the write system calls a process made', () => {
  const fd = openSync('/dev/null', 'w');
  try {
    const before = writeCalls(process.pid);
    for (let i = 0; i < 10; i++) writeSync(fd, 'x');
    expect(writeCalls(process.pid) - before).toBeGreaterThanOrEqual(10);
  } finally {
    closeSync(fd);
  }
});

test('writeCalls of a process that is gone is 0', () => {
  // Above the kernel's pid_max limit (2^22): never a live process.
  expect(writeCalls(2 ** 23)).toBe(0);
});
