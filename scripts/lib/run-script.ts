/**
 * Runs a check script's `main`: says PASS or FAIL under the script's name and exits
 * 0 or 1, so CI and a shell loop read the verdict from the exit code; a crash
 * prints its stack and exits 1.
 */
export function runScript(name: string, main: () => Promise<boolean>): void {
  main().then(
    (ok) => {
      process.stderr.write(`${name}: ${ok ? 'PASS' : 'FAIL'}\n`);
      process.exit(ok ? 0 : 1);
    },
    (err: unknown) => {
      process.stderr.write(
        `${name}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
      process.exit(1);
    },
  );
}
