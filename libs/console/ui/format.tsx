/**
 * Owns how values become text on the page, and the shared pieces every view is made of: tables,
 * badges, times, counts, and links to events and sessions.
 *
 * TRICKY: event fields are attacker-controlled. Everything from the server goes through `text`
 * (a string, escaped by Preact as a text node) or a number formatter; class names come from fixed
 * tables keyed by the value, never from the value itself; links are built only by router `paths`.
 */
import type { ComponentChild, ComponentChildren } from 'preact';
import { canAudit } from './session';
import { Link, paths } from './router';
import type { Problem } from './types';
import { ApiError } from './api';

/** Any value as display text: strings as they are, other values as JSON, nothing as a dash. */
export function text(value: unknown): string {
  if (value === undefined || value === null || value === '') return '—';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}

const integer = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });

/** A count, grouped by the reader's locale; a dash when it is not a number. */
export function count(value: unknown): string {
  return typeof value === 'number' && Number.isFinite(value) ? integer.format(value) : '—';
}

/** A duration in the largest unit that keeps it readable. */
export function duration(ms: unknown): string {
  if (typeof ms !== 'number' || !Number.isFinite(ms)) return '—';
  const s = Math.round(ms / 1000);
  if (s < 1) return `${Math.round(ms)} ms`;
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}

function toDate(value: unknown): Date | undefined {
  if (typeof value !== 'number' && typeof value !== 'string') return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

/** A time (epoch ms or ISO 8601) in the reader's locale, with the exact UTC instant as its title. */
export function Time({ value }: { readonly value: unknown }) {
  const date = toDate(value);
  if (!date || (typeof value === 'number' && value <= 0)) return <span class="muted">—</span>;
  const iso = date.toISOString();
  return (
    <time dateTime={iso} title={iso}>
      {dateTime.format(date)}
    </time>
  );
}

/** Colour families; every badge's class is one of these. */
type Tone = 'good' | 'info' | 'warn' | 'bad' | 'crit' | 'neutral';

const TONES: Readonly<Record<string, Tone>> = {
  // Decisions.
  allow: 'good',
  allow_with_attestation: 'info',
  audit_only: 'neutral',
  warn: 'warn',
  require_approval: 'bad',
  block: 'crit',
  // Severities and risk levels.
  none: 'neutral',
  low: 'good',
  medium: 'warn',
  high: 'bad',
  critical: 'crit',
  // Coverage, drift and health statuses.
  enforced: 'good',
  approval_gated: 'info',
  warning_only: 'warn',
  attested: 'info',
  observed: 'neutral',
  not_observed_locally: 'neutral',
  baseline: 'good',
  unusual_behavior: 'warn',
  review_required: 'bad',
  ok: 'good',
  degraded: 'warn',
  stalled: 'crit',
  failing: 'crit',
  unknown: 'neutral',
};

/** A value as a coloured badge, its tone looked up from the fixed table above. */
export function Badge({ value, label }: { readonly value: unknown; readonly label?: string }) {
  const key = typeof value === 'string' ? value : '';
  const tone = Object.prototype.hasOwnProperty.call(TONES, key) ? TONES[key]! : 'neutral';
  return <span class={`badge tone-${tone}`}>{label ?? humanize(value)}</span>;
}

/** `require_approval` as "require approval": identifiers read as words (still text). */
export function humanize(value: unknown): string {
  return text(value).replace(/_/g, ' ');
}

/** A list of strings as small chips (an empty list as a dash). */
export function Chips({ values }: { readonly values: unknown }) {
  const list = Array.isArray(values) ? values : [];
  if (list.length === 0) return <span class="muted">—</span>;
  return (
    <ul class="chips">
      {list.map((value, index) => (
        <li key={index}>{text(value)}</li>
      ))}
    </ul>
  );
}

/** An id, in monospace. */
export function Id({ value }: { readonly value: unknown }) {
  return <code class="id">{text(value)}</code>;
}

/** An event id linking to its page. */
export function EventLink({ id }: { readonly id: unknown }) {
  if (typeof id !== 'string' || id === '') return <span class="muted">—</span>;
  return (
    <Link href={paths.event(id)} class="id-link">
      <Id value={id} />
    </Link>
  );
}

/** A session id linking to its timeline for readers who may replay it, as text for viewers. */
export function SessionLink({ id }: { readonly id: unknown }) {
  if (typeof id !== 'string' || id === '') return <span class="muted">—</span>;
  if (!canAudit.value) return <Id value={id} />;
  return (
    <Link href={paths.session(id)} class="id-link">
      <Id value={id} />
    </Link>
  );
}

/** One column of a Table. */
export interface Column<T> {
  readonly header: string;
  readonly cell: (row: T) => ComponentChild;
  /** `num` right-aligns counts. */
  readonly kind?: 'num' | 'wide';
}

/** A data table with a caption (for screen readers) and an empty state. */
export function Table<T>({
  caption,
  columns,
  rows,
  rowKey,
  empty = 'Nothing yet.',
  testId,
}: {
  readonly caption: string;
  readonly columns: readonly Column<T>[];
  readonly rows: readonly T[];
  readonly rowKey: (row: T, index: number) => string;
  readonly empty?: string;
  readonly testId?: string;
}) {
  return (
    <div class="table-wrap">
      <table data-testid={testId}>
        <caption class="visually-hidden">{caption}</caption>
        <thead>
          <tr>
            {columns.map((column) => (
              <th scope="col" key={column.header} class={column.kind}>
                {column.header}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.length === 0 ? (
            <tr>
              <td colSpan={columns.length} class="muted empty">
                {empty}
              </td>
            </tr>
          ) : (
            rows.map((row, index) => (
              <tr key={rowKey(row, index)}>
                {columns.map((column) => (
                  <td key={column.header} class={column.kind}>
                    {column.cell(row)}
                  </td>
                ))}
              </tr>
            ))
          )}
        </tbody>
      </table>
    </div>
  );
}

/** A `{name: count}` map as a two-column table, largest first. */
export function CountTable({
  caption,
  counts,
  nameHeader,
  empty,
}: {
  readonly caption: string;
  readonly counts: Readonly<Record<string, number>> | undefined;
  readonly nameHeader: string;
  readonly empty: string;
}) {
  const entries = Object.entries(counts ?? {}).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  return (
    <Table
      caption={caption}
      rows={entries}
      rowKey={([name]) => name}
      empty={empty}
      columns={[
        { header: nameHeader, cell: ([name]) => <code>{text(name)}</code> },
        { header: 'Count', kind: 'num', cell: ([, value]) => count(value) },
      ]}
    />
  );
}

/** A titled card. */
export function Card({
  title,
  children,
  class: extra,
  actions,
}: {
  readonly title: string;
  readonly children: ComponentChildren;
  readonly class?: string;
  readonly actions?: ComponentChildren;
}) {
  return (
    <section class={extra ? `card ${extra}` : 'card'}>
      <div class="card-head">
        <h2>{title}</h2>
        {actions}
      </div>
      {children}
    </section>
  );
}

/** A labelled number, big. */
/** A page's heading with when its data was read and a Refresh button. */
export function PageHead({
  title,
  readAt,
  loading,
  onRefresh,
}: {
  readonly title: string;
  readonly readAt: string | number | undefined;
  readonly loading: boolean;
  readonly onRefresh: () => void;
}) {
  return (
    <div class="page-head">
      <h1>{title}</h1>
      <div class="page-meta">
        {readAt !== undefined ? (
          <span class="muted">
            Read <Time value={readAt} />
          </span>
        ) : null}
        <button type="button" onClick={onRefresh} disabled={loading}>
          {loading ? 'Refreshing…' : 'Refresh'}
        </button>
      </div>
    </div>
  );
}

/** Stat cards, one per `[label, value, testId?]`, in a row. */
export function StatCards({
  stats,
}: {
  readonly stats: readonly (readonly [string, ComponentChild, string?])[];
}) {
  return (
    <>
      {stats.map(([label, value, testId]) => (
        <div class="card" key={label}>
          <Stat label={label} value={value} {...(testId ? { testId } : {})} />
        </div>
      ))}
    </>
  );
}

export function Stat({
  label,
  value,
  testId,
  children,
}: {
  readonly label: string;
  readonly value: ComponentChild;
  readonly testId?: string;
  readonly children?: ComponentChildren;
}) {
  return (
    <div class="stat">
      <div class="stat-label">{label}</div>
      <div class="stat-value" data-testid={testId}>
        {value}
      </div>
      {children}
    </div>
  );
}

/** The message of a failed request, for the page. */
export function problemText(error: unknown): { title: string; detail?: string } {
  if (error instanceof ApiError) {
    const problem: Problem = error.problem;
    const title = problem.title ?? `The server answered ${error.status}`;
    return problem.detail && problem.detail !== title ? { title, detail: problem.detail } : { title };
  }
  if (error instanceof Error) return { title: 'The request failed', detail: error.message };
  return { title: 'The request failed' };
}

/** A failed request, shown where its data would be. */
export function ErrorBox({ error }: { readonly error: unknown }) {
  const { title, detail } = problemText(error);
  return (
    <div class="alert alert-error" role="alert">
      <strong>{title}</strong>
      {detail ? <span> {detail}</span> : null}
    </div>
  );
}

/** The state of a load: spinner text, an error, or the content. */
export function Loading({ label = 'Loading…' }: { readonly label?: string }) {
  return (
    <p class="muted loading" role="status">
      {label}
    </p>
  );
}
