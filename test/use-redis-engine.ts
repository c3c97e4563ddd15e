/**
 * setupFiles of the "redis" jest project. Jest workers are shared between projects
 * and process.env leaks between the files a worker runs, so the switch lives on
 * this test file's own global object.
 */
(globalThis as { __sbUseRedis?: boolean }).__sbUseRedis = true;
