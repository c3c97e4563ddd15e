/**
 * For a describe block: `make`, wrapped so that whatever it made during a test is
 * closed after that test, whether the test passed or not.
 */
export function closedAfterEach<T extends { close(): Promise<void> }, A extends unknown[]>(
  make: (...args: A) => Promise<T>,
): (...args: A) => Promise<T> {
  const made: T[] = [];
  afterEach(async () => {
    await Promise.all(made.splice(0).map((m) => m.close()));
  });
  return async (...args) => {
    const m = await make(...args);
    made.push(m);
    return m;
  };
}
