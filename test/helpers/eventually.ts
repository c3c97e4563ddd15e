/**
 * Polls until `check` stops throwing (or returns true). For state that settles
 * asynchronously on the server, such as cleanup after a close; not a timing assertion.
 */
export async function eventually<T>(
  check: () => T | false | Promise<T | false>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const result = await check();
      if (result !== false) return result;
      if (Date.now() > deadline) throw new Error('condition never became true');
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
