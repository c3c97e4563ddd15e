import sql from 'mssql';
import { Parser } from 'node-sql-parser';
import type { SqlConnection } from '../../services/sql/connection';
import { MIGRATIONS } from '../../services/sql/statements';

/** One `request.input` call as the driver would see it. */
export interface BoundParameter {
  name: string;
  /** The mssql type's name (`NVarChar`, `BigInt`, …). */
  type: string;
  /** Declared length; undefined for types without one. */
  length: number | undefined;
  value: unknown;
}

export interface CapturedQuery {
  text: string;
  inputs: BoundParameter[];
}

/**
 * A stand-in for SqlConnection that records every bound parameter and answers
 * each query with `answer` (an empty result unless told otherwise), so the
 * bindings of the SQL services can be checked without a server.
 */
export function capturingConnection(
  answer: (query: CapturedQuery) => unknown = () => ({ recordset: [], rowsAffected: [0] }),
): { db: SqlConnection; queries: CapturedQuery[] } {
  const queries: CapturedQuery[] = [];
  const request = () => {
    const inputs: BoundParameter[] = [];
    const req = {
      input(name: string, type: unknown, value: unknown) {
        const t = type as { type?: { name: string }; length?: number; name?: string };
        inputs.push({
          name,
          type: t.type?.name ?? t.name ?? 'unknown',
          length: t.length,
          value,
        });
        return req;
      },
      async query(text: string) {
        const query = { text, inputs };
        queries.push(query);
        return answer(query);
      },
    };
    return req as unknown as sql.Request;
  };
  const fake = { connected: true, request, down: () => undefined };
  return { db: fake as unknown as SqlConnection, queries };
}

export interface ColumnType {
  dataType: string;
  /** In the units the type counts (UTF-16 units for NVARCHAR); undefined without a length. */
  length: number | 'max' | undefined;
}

interface ColumnDefinition {
  column?: { column?: unknown };
  definition?: { dataType?: string; length?: number | string };
  resource?: string;
}

interface AlterExpr {
  action?: string;
  column?: { column?: unknown };
  definition?: { dataType?: string; length?: number | string };
}

interface TableStatement {
  type: string;
  table: { table: string }[];
  create_definitions?: ColumnDefinition[];
  expr?: AlterExpr[];
}

function columnType(definition: { dataType?: string; length?: number | string }): ColumnType {
  const length = definition.length;
  return {
    dataType: String(definition.dataType).toUpperCase(),
    length: typeof length === 'number' ? length : length === undefined ? undefined : 'max',
  };
}

/** The string columns as they are after every migration: table -> column -> type. */
export function schemaAfterMigrations(): Map<string, Map<string, ColumnType>> {
  const parser = new Parser();
  const tables = new Map<string, Map<string, ColumnType>>();
  for (const migration of MIGRATIONS) {
    for (const text of migration.statements) {
      const ast = parser.astify(text, { database: 'TransactSQL' });
      const statement = (Array.isArray(ast) ? ast[0] : ast) as unknown as TableStatement;
      const table = statement.table[0]!.table;
      if (statement.type === 'create') {
        const columns = new Map<string, ColumnType>();
        for (const d of statement.create_definitions ?? []) {
          if (d.resource === 'column' && d.definition)
            columns.set(String(d.column?.column), columnType(d.definition));
        }
        tables.set(table, columns);
      } else if (statement.type === 'alter') {
        for (const e of statement.expr ?? []) {
          if (e.action === 'alter' && e.definition)
            tables.get(table)!.set(String(e.column?.column), columnType(e.definition));
        }
      }
    }
  }
  return tables;
}
