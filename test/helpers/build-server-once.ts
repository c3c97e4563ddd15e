import { buildServer } from '../../support/node-process';
import { buildOnce } from './build-once';

/**
 * buildServer for suites that spawn `node dist/app/main.js`, skipped when nothing
 * `tsconfig.build.json` compiles, nor a config, changed since the last build a test made.
 */
export function buildServerOnce(): void {
  buildOnce({
    stamp: 'dist/.test-build-stamp',
    inputs: ['tsconfig.build.json', 'app', 'middleware', 'protocol', 'routes', 'services'],
    output: 'dist/app/main.js',
    build: buildServer,
  });
}
