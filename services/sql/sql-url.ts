/**
 * MSSQL_URL as the config reads it. This module must not import `mssql`: the
 * config loads on every start, and `mssql` (tedious) costs ~300 ms of start time
 * that a node without SQL Server should not pay. The full parse into an mssql
 * config is `parseSqlUrl` in ./connection, loaded only when MSSQL_URL is set.
 */

export interface SqlOptions {
  /** ADO-style connection string (`Server=…;Database=…`) or `mssql://user:pass@host:port/db`. */
  url: string;
  /** Overrides the connection string's Encrypt; default true. */
  encrypt?: boolean;
  /** Overrides the connection string's TrustServerCertificate; default false. */
  trustServerCertificate?: boolean;
  poolMax: number;
}

/** The keys an ADO connection string may name its server by (the tedious schema's aliases). */
const SERVER_KEYS = new Set(['server', 'data source', 'addr', 'address', 'network address']);

export function isSqlUri(url: string): boolean {
  return /^(mssql|sqlserver):\/\//i.test(url);
}

/** Whether MSSQL_URL names a server: the one thing the config checks before the engine starts. */
export function sqlUrlNamesServer(url: string): boolean {
  if (isSqlUri(url)) {
    try {
      return new URL(url).hostname.length > 0;
    } catch {
      return false;
    }
  }
  return adoEntries(url).some(([key, value]) => SERVER_KEYS.has(key) && value.length > 0);
}

/**
 * The key/value pairs of an ADO connection string: `;`-separated, keys case-blind,
 * values optionally quoted with '…', "…" or {…} so they may hold a `;`.
 */
function adoEntries(text: string): [string, string][] {
  const entries: [string, string][] = [];
  let i = 0;
  while (i < text.length) {
    const eq = text.indexOf('=', i);
    if (eq < 0) break;
    const key = text.slice(i, eq).trim().toLowerCase();
    let j = eq + 1;
    while (j < text.length && text[j] === ' ') j++;
    const open = text[j];
    const close = open === '{' ? '}' : open === '"' || open === "'" ? open : undefined;
    let value: string;
    if (close !== undefined) {
      const end = text.indexOf(close, j + 1);
      value = text.slice(j + 1, end < 0 ? text.length : end);
      const semi = text.indexOf(';', end < 0 ? text.length : end);
      i = semi < 0 ? text.length : semi + 1;
    } else {
      const semi = text.indexOf(';', j);
      value = text.slice(j, semi < 0 ? text.length : semi).trim();
      i = semi < 0 ? text.length : semi + 1;
    }
    entries.push([key, value]);
  }
  return entries;
}
