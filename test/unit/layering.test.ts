import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/**
 * The folders are the architecture (README, "Where things live"): these rules keep
 * them so. Layers import downward only (app → routes → middleware → services), and
 * a backend folder in services/ never reaches into another.
 */
const root = resolve(__dirname, '../..');
const LAYERS = ['app', 'routes', 'middleware', 'services'];
const BACKENDS = ['memory', 'redis', 'sql', 'socket'];

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    // Build output (client/dist: declarations beside the code) is not source.
    if (statSync(path).isDirectory()) return name === 'dist' ? [] : tsFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

/** Every relative import of a file, as a path from the repository root. */
function importsOf(file: string): string[] {
  const source = readFileSync(file, 'utf8');
  return [...source.matchAll(/from '(\.{1,2}\/[^']+)'/g)].map((m) =>
    relative(root, resolve(dirname(file), m[1]!)),
  );
}

/** Every relative import of the .ts files under `folder`, from the repository root. */
const importsUnder = (folder: string) =>
  tsFiles(join(root, folder)).flatMap((file) =>
    importsOf(file).map((target) => ({ from: relative(root, file), to: target })),
  );

const edges = LAYERS.flatMap(importsUnder);

test('the scan sees the code', () => {
  expect(edges.length).toBeGreaterThan(100);
});

test('layers import only the layers below them', () => {
  const upward = edges.filter(({ from, to }) => {
    const a = LAYERS.indexOf(from.split('/')[0]!);
    const b = LAYERS.indexOf(to.split('/')[0]!);
    return b !== -1 && b < a;
  });
  expect(upward).toEqual([]);
});

test('nothing on the server imports the client library, and the client imports no server code', () => {
  expect(edges.filter(({ to }) => to.startsWith('client/'))).toEqual([]);
  // The shared protocol module is the one thing of ours the client may import.
  const client = importsUnder('client').filter(
    ({ to }) => !to.startsWith('client/') && !to.startsWith('protocol/'),
  );
  expect(client).toEqual([]);
});

test('protocol/ imports nothing outside itself, so the server and the browser client share it', () => {
  const protocol = importsUnder('protocol');
  expect(protocol.length).toBeGreaterThan(0);
  expect(protocol.filter(({ to }) => !to.startsWith('protocol/'))).toEqual([]);
  // No package either (zod, node:…): the browser build of the client has no dependencies.
  const packages = tsFiles(join(root, 'protocol')).flatMap((file) =>
    [...readFileSync(file, 'utf8').matchAll(/from '([^.'][^']*)'/g)].map((m) => m[1]),
  );
  expect(packages).toEqual([]);
});

test('no backend folder in services/ imports another, and ports import no backend', () => {
  const folderOf = (path: string) => {
    const [top, folder, file] = path.split('/');
    return top === 'services' && file !== undefined && BACKENDS.includes(folder!) ? folder : '';
  };
  const crossing = edges.filter(({ from, to }) => {
    if (!from.startsWith('services/') || !to.startsWith('services/')) return false;
    const target = folderOf(to);
    return target !== '' && target !== folderOf(from);
  });
  expect(crossing).toEqual([]);
});
