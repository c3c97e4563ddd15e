import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** PEM files of a throwaway certificate authority and one server certificate it signed. */
export interface TlsFiles {
  dir: string;
  /** The authority's certificate: what a client must trust. */
  ca: string;
  /** The server's certificate, for 127.0.0.1 (subjectAltName IP), and its key. */
  cert: string;
  key: string;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

/**
 * A CA and a server certificate for 127.0.0.1, made by openssl in a fresh temporary
 * directory (the caller removes `dir`). Valid for a day: long enough for any test run.
 */
export function makeTlsFiles(prefix = 'switchboard-tls-'): TlsFiles {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(
    dir,
    ['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem'].concat([
      '-days',
      '1',
      '-subj',
      '/CN=switchboard-test-ca',
    ]),
  );
  openssl(dir, [
    'req',
    ...ec,
    '-keyout',
    'server.key',
    '-out',
    'server.csr',
    '-subj',
    '/CN=127.0.0.1',
  ]);
  // Clients check the address they dialled against subjectAltName, not the CN.
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1\n');
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.pem',
    '-days',
    '1',
    '-extfile',
    'server.ext',
  ]);
  return {
    dir,
    ca: join(dir, 'ca.pem'),
    cert: join(dir, 'server.pem'),
    key: join(dir, 'server.key'),
  };
}

/**
 * redis-server arguments for TLS only on `port` (no plain port), clients not asked for a
 * certificate. Replication (and a sentinel's links to the servers) go over TLS too: a
 * replica dials the master's TLS port as a client, presenting the same certificate.
 */
export function redisTlsArgs(port: number, files: TlsFiles): string[] {
  return [
    '--port',
    '0',
    '--tls-port',
    String(port),
    '--tls-cert-file',
    files.cert,
    '--tls-key-file',
    files.key,
    '--tls-ca-cert-file',
    files.ca,
    '--tls-auth-clients',
    'no',
    '--tls-replication',
    'yes',
  ];
}

/** `redis-cli` arguments to reach a server made with `redisTlsArgs`. */
export function redisCliTlsArgs(files: TlsFiles): string[] {
  return ['--tls', '--cacert', files.ca];
}

/** ioredis `tls` options that trust the files' authority (and nothing else). */
export function clientTlsOptions(files: TlsFiles): { ca: Buffer } {
  return { ca: readFileSync(files.ca) };
}
