import { parseSqlUrl } from '../../services/sql/connection';
import { sqlUrlNamesServer } from '../../services/sql/sql-url';

describe('parseSqlUrl', () => {
  test('reads an mssql:// URL, decoding credentials', () => {
    const config = parseSqlUrl({
      url: 'mssql://sa:p%40ss@db.internal:1444/switch%20board',
      poolMax: 5,
    });
    expect(config).toMatchObject({
      server: 'db.internal',
      port: 1444,
      user: 'sa',
      password: 'p@ss',
      database: 'switch board',
      pool: { max: 5 },
      options: { encrypt: true, trustServerCertificate: false },
    });
  });

  test('reads an ADO connection string, keeping its TLS settings', () => {
    const config = parseSqlUrl({
      url: 'Server=db,1433;Database=sb;User Id=sa;Password=x;Encrypt=true;TrustServerCertificate=true',
      poolMax: 10,
    });
    expect(config).toMatchObject({ server: 'db', port: 1433, database: 'sb', user: 'sa' });
    expect(config.options).toMatchObject({ encrypt: true, trustServerCertificate: true });
  });

  test('MSSQL_ENCRYPT and MSSQL_TRUST_SERVER_CERTIFICATE win over the string', () => {
    const config = parseSqlUrl({
      url: 'Server=db;Database=sb;Encrypt=true;TrustServerCertificate=true',
      encrypt: false,
      trustServerCertificate: false,
      poolMax: 10,
    });
    expect(config.options).toMatchObject({ encrypt: false, trustServerCertificate: false });
  });

  test('a string without a server is refused', () => {
    expect(() => parseSqlUrl({ url: 'Database=sb;User Id=sa', poolMax: 1 })).toThrow(/server/);
  });
});

describe('sqlUrlNamesServer (the config check, without loading mssql)', () => {
  test.each([
    'Server=db,1433;Database=sb',
    'Data Source=db\\inst;Database=sb',
    'database=sb; ADDRESS = db ;',
    'Password={a;b=c};Server=db',
    'mssql://sa:pw@db:1433/sb',
  ])('%s names a server, as parseSqlUrl agrees', (url) => {
    expect(sqlUrlNamesServer(url)).toBe(true);
    expect(parseSqlUrl({ url, poolMax: 1 }).server).toBe('db');
  });

  test.each(['Database=sb;User Id=sa', 'Password={Server=db};Database=sb', 'mssql://', 'pw'])(
    '%s names none',
    (url) => {
      expect(sqlUrlNamesServer(url)).toBe(false);
      expect(() => parseSqlUrl({ url, poolMax: 1 })).toThrow();
    },
  );
});
