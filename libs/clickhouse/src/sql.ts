/**
 * Owns how values and names get into SQL. ClickHouse 18.16 has no query parameters, so every
 * value is inlined through `literal` and every identifier passes `identifier`'s strict pattern.
 * Nothing else in the code base builds SQL from input.
 */
import { AppError } from '@aispm/errors';

/** A value that may be inlined into SQL. */
export type SqlValue = string | number | bigint | boolean | null | readonly (string | number)[];

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/** The name, unchanged, if it is a safe identifier; otherwise CH_INVALID_IDENTIFIER. */
export function identifier(name: string): string {
  if (!IDENTIFIER.test(name)) {
    throw new AppError('CH_INVALID_IDENTIFIER', `"${name}" is not a valid ClickHouse identifier`);
  }
  return name;
}

/** A single-quoted ClickHouse string literal; quotes, backslashes and control bytes are escaped. */
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

/** The SQL literal of a value. */
export function literal(value: SqlValue): string {
  if (value === null) return 'NULL';
  if (typeof value === 'string') return quoteString(value);
  if (typeof value === 'boolean') return value ? '1' : '0';
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new RangeError(`Cannot inline ${value} into SQL`);
    return String(value);
  }
  return `[${value.map((item) => literal(item)).join(', ')}]`;
}

/** A parenthesised list of literals, for `x IN (…)`, which uses the table's primary key. */
export function inList(values: readonly (string | number)[]): string {
  if (values.length === 0) throw new RangeError('Cannot inline an empty IN list');
  return `(${values.map((value) => literal(value)).join(', ')})`;
}

/** Tagged template: `sql\`SELECT ... WHERE tenant = ${tenant}\`` inlines each value as a literal. */
export function sql(strings: TemplateStringsArray, ...values: SqlValue[]): string {
  return strings.reduce(
    (text, part, index) => text + part + (index < values.length ? literal(values[index]!) : ''),
    '',
  );
}
