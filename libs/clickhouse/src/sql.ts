/**
 * Owns how values and names get into SQL. Values never enter the text: the `sql` tag puts a typed
 * placeholder (`{p0:String}`) where each one goes and sends the value beside the statement as a
 * query parameter, which the server binds. Names (databases, tables) cannot be parameters; they
 * enter through `name`, which takes only identifiers that match a strict pattern. Nothing else in
 * the code base builds SQL from input.
 */
import { AppError } from '@aispm/errors';

/** A value a statement may carry. */
export type SqlValue = string | number | bigint | boolean | readonly string[] | readonly number[];

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/** The name, unchanged, if it is a safe identifier; otherwise CH_INVALID_IDENTIFIER. */
export function identifier(name: string): string {
  if (!IDENTIFIER.test(name)) {
    throw new AppError('CH_INVALID_IDENTIFIER', `"${name}" is not a valid ClickHouse identifier`);
  }
  return name;
}

/** A single-quoted ClickHouse string literal, for the files ClickHouse reads (users.d). */
export function quoteString(value: string): string {
  let out = "'";
  for (const char of value) {
    const code = char.codePointAt(0)!;
    if (char === '\\') out += '\\\\';
    else if (char === "'") out += "\\'";
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += char;
  }
  return `${out}'`;
}

/** A piece of SQL: text, with the values that go between its parts. */
export class Sql {
  private constructor(
    readonly parts: readonly string[],
    readonly values: readonly SqlValue[],
  ) {}

  /** Flattens nested statements: their text joins this text, their values these values. */
  static of(strings: readonly string[], values: readonly (SqlValue | Sql)[]): Sql {
    const parts = [strings[0]!];
    const flat: SqlValue[] = [];
    values.forEach((value, index) => {
      if (value instanceof Sql) {
        parts[parts.length - 1] += value.parts[0]!;
        for (let i = 0; i < value.values.length; i += 1) {
          flat.push(value.values[i]!);
          parts.push(value.parts[i + 1]!);
        }
        parts[parts.length - 1] += strings[index + 1]!;
      } else {
        flat.push(value);
        parts.push(strings[index + 1]!);
      }
    });
    return new Sql(parts, flat);
  }

  /** The text with numbered typed placeholders, and the parameters to send with it. */
  render(): { query: string; params: Record<string, unknown> } {
    const params: Record<string, unknown> = {};
    let query = this.parts[0]!;
    this.values.forEach((value, index) => {
      params[`p${index}`] = typeof value === 'bigint' ? value.toString() : value;
      query += `{p${index}:${typeOf(value)}}${this.parts[index + 1]!}`;
    });
    return { query, params };
  }
}

function typeOf(value: SqlValue): string {
  if (typeof value === 'string') return 'String';
  if (typeof value === 'boolean') return 'Bool';
  if (typeof value === 'bigint') return 'Int64';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new RangeError(`Cannot send ${value} to ClickHouse`);
    return Number.isInteger(value) ? 'Int64' : 'Float64';
  }
  return value.every((item) => typeof item === 'string') ? 'Array(String)' : 'Array(Int64)';
}

/** Tagged template: `sql\`SELECT ... WHERE tenant = ${tenant}\`` sends each value as a parameter. */
export function sql(strings: TemplateStringsArray, ...values: (SqlValue | Sql)[]): Sql {
  return Sql.of(strings, values);
}

/** A checked identifier as SQL, e.g. sql`SELECT * FROM ${name(database)}.events`. */
export function name(value: string): Sql {
  return Sql.of([identifier(value)], []);
}

/** A fixed piece of SQL (a shipped migration, a constant clause): text that holds no input. */
export function trusted(text: string): Sql {
  return Sql.of([text], []);
}

/** `items` joined by `separator`, e.g. the conditions of a WHERE. */
export function joinSql(items: readonly Sql[], separator: string): Sql {
  if (items.length === 0) return trusted('');
  return Sql.of(['', ...items.slice(1).map(() => separator), ''], items);
}

/**
 * The right side of `x IN …`: one array parameter, however many values (the HTTP interface caps
 * the number of parameters a request may carry), which still uses the table's primary key.
 */
export function inList(values: readonly string[] | readonly number[]): Sql {
  if (values.length === 0) throw new RangeError('Cannot send an empty IN list');
  return sql`${values}`;
}
