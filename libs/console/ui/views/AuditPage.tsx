/**
 * Owns the auditors' page (DESIGN §12, §17): verifying the tenant's hash chain
 * (`GET /enterprise/aispm/verify`) and a raw replay request (`GET /enterprise/aispm/replay-log`),
 * which the server audits like any other. The console shows the first lines of the NDJSON as text
 * and then cancels the response, which stops the server's read; the download link asks again.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import * as api from '../api';
import { Badge, Card, count, ErrorBox, Table, text, Time } from '../format';
import { session } from '../session';
import { REPLAY_STAGES, type ReplayLogQuery, type ReplayStage, type VerifyResult } from '../types';

export function AuditPage() {
  return (
    <>
      <div class="page-head">
        <h1>Audit</h1>
      </div>
      <p class="muted">
        Every raw replay request is recorded in the tenant's audit trail, with your reader id, before a record
        is read.
      </p>
      <VerifyCard />
      <ReplayCard />
    </>
  );
}

type Run<T> =
  | { readonly state: 'idle' }
  | { readonly state: 'running' }
  | { readonly state: 'done'; readonly result: T }
  | {
      readonly state: 'failed';
      readonly error: unknown;
    };

/** Runs one request at a time for a card, cancelled when the card goes away. */
function useRun<T>() {
  const [run, setRun] = useState<Run<T>>({ state: 'idle' });
  const controller = useRef<AbortController | undefined>(undefined);
  useEffect(() => () => controller.current?.abort(), []);
  const start = (task: (signal: AbortSignal) => Promise<T>) => {
    controller.current?.abort();
    const mine = new AbortController();
    controller.current = mine;
    setRun({ state: 'running' });
    task(mine.signal).then(
      (result) => {
        if (!mine.signal.aborted) setRun({ state: 'done', result });
      },
      (error: unknown) => {
        if (!mine.signal.aborted) setRun({ state: 'failed', error });
      },
    );
  };
  const stop = () => {
    controller.current?.abort();
    setRun({ state: 'idle' });
  };
  return { run, start, stop };
}

function VerifyCard() {
  const { run, start } = useRun<VerifyResult>();
  const result = run.state === 'done' ? run.result : undefined;
  const broken = result ? result.verdicts.filter((verdict) => !verdict.ok) : [];
  return (
    <Card
      title="Chain verification"
      actions={
        <button
          type="button"
          class="primary"
          disabled={run.state === 'running'}
          onClick={() => start(api.verify)}
        >
          {run.state === 'running' ? 'Verifying…' : 'Verify the chain'}
        </button>
      }
    >
      <p class="muted small">
        Checks the tenant's hash chain partition by partition and reports where it first breaks, if it does.
      </p>
      {run.state === 'failed' ? <ErrorBox error={run.error} /> : null}
      {result ? (
        <>
          <div
            class={`alert ${broken.length === 0 ? 'alert-ok' : 'alert-error'}`}
            role="status"
            data-testid="verify-verdict"
          >
            {broken.length === 0
              ? `Intact: ${count(result.verdicts.length)} partition${result.verdicts.length === 1 ? '' : 's'}, ${count(
                  result.verdicts.reduce((sum, verdict) => sum + (Number(verdict.records) || 0), 0),
                )} records.`
              : `Broken in ${count(broken.length)} of ${count(result.verdicts.length)} partitions.`}{' '}
            <span class="muted">
              Checked <Time value={result.checked_ms} />
            </span>
          </div>
          <Table
            caption="Verdict per partition"
            rows={result.verdicts}
            rowKey={(row, index) => `${text(row.partition)}#${index}`}
            empty="The tenant has no partitions to verify."
            columns={[
              { header: 'Partition', kind: 'num', cell: (row) => text(row.partition) },
              {
                header: 'Verdict',
                cell: (row) => (
                  <Badge value={row.ok ? 'ok' : 'failing'} label={row.ok ? 'Intact' : 'Broken'} />
                ),
              },
              { header: 'Records', kind: 'num', cell: (row) => count(row.records) },
              { header: 'First broken offset', kind: 'num', cell: (row) => text(row.first_broken_offset) },
              { header: 'Reason', kind: 'wide', cell: (row) => text(row.reason) },
            ]}
          />
        </>
      ) : null}
    </Card>
  );
}

interface ReplayForm {
  stage: ReplayStage;
  partition: string;
  fromKind: 'offset' | 'time';
  from: string;
  toKind: 'offset' | 'time';
  to: string;
  rate: string;
  dryRun: boolean;
  maxLines: string;
}

const INITIAL: ReplayForm = {
  stage: 'normalized',
  partition: '',
  fromKind: 'time',
  from: '',
  toKind: 'time',
  to: '',
  rate: '',
  dryRun: true,
  maxLines: '100',
};

/** The replay-log query of a form (empty fields left out). */
function queryOf(form: ReplayForm): ReplayLogQuery {
  const query: ReplayLogQuery = { stage: form.stage };
  const trimmed = (value: string) => value.trim() || undefined;
  const from = trimmed(form.from);
  const to = trimmed(form.to);
  if (trimmed(form.partition)) query.partition = form.partition.replace(/\s+/g, '');
  if (from) query[form.fromKind === 'offset' ? 'from_offset' : 'from_time'] = from;
  if (to) query[form.toKind === 'offset' ? 'to_offset' : 'to_time'] = to;
  if (trimmed(form.rate)) query.rate = form.rate.trim();
  if (form.dryRun) query.dry_run = true;
  return query;
}

const MAX_LINES_CAP = 1000;

function ReplayCard() {
  const [form, setForm] = useState<ReplayForm>(INITIAL);
  const [submitted, setSubmitted] = useState<ReplayLogQuery | undefined>(undefined);
  const { run, start, stop } = useRun<api.ReplayLogResult>();
  // authorizeReplay: the raw stage needs the auditor role itself, not admin.
  const rawAllowed = session.value?.role === 'auditor';
  const set = <K extends keyof ReplayForm>(key: K, value: ReplayForm[K]) =>
    setForm({ ...form, [key]: value });
  const input = (key: 'partition' | 'from' | 'to' | 'rate' | 'maxLines') => ({
    value: form[key],
    onInput: (event: Event) => set(key, (event.currentTarget as HTMLInputElement).value),
  });

  const submit = (event: Event) => {
    event.preventDefault();
    const query = queryOf(form);
    const lines = Math.min(MAX_LINES_CAP, Math.max(1, Math.floor(Number(form.maxLines)) || 100));
    setSubmitted(query);
    start((signal) => api.replayLog(query, lines, signal));
  };

  return (
    <Card title="Raw replay request">
      <form class="replay-form" onSubmit={submit} aria-describedby="replay-help">
        <p id="replay-help" class="muted small">
          Reads one stage of the tenant's log by offset or time, as NDJSON. A dry run answers how many records
          the request covers, without reading them.
        </p>
        <div class="form-grid">
          <div class="field">
            <label for="r-stage">Stage</label>
            <select
              id="r-stage"
              value={form.stage}
              onChange={(event) =>
                set('stage', (event.currentTarget as HTMLSelectElement).value as ReplayStage)
              }
            >
              {REPLAY_STAGES.map((stage) => (
                <option key={stage} value={stage} disabled={stage === 'raw' && !rawAllowed}>
                  {stage === 'raw' ? 'raw (auditor role only)' : stage}
                </option>
              ))}
            </select>
          </div>
          <div class="field">
            <label for="r-partition">Partitions</label>
            <input
              id="r-partition"
              type="text"
              inputMode="numeric"
              pattern="[0-9]{1,5}(,[0-9]{1,5})*"
              placeholder="all, or 0,1"
              {...input('partition')}
            />
          </div>
          <fieldset class="field">
            <legend>From</legend>
            <div class="inline">
              <select
                aria-label="From: offset or time"
                value={form.fromKind}
                onChange={(event) =>
                  set('fromKind', (event.currentTarget as HTMLSelectElement).value as 'offset' | 'time')
                }
              >
                <option value="time">time</option>
                <option value="offset">offset</option>
              </select>
              <input
                aria-label="From"
                type="text"
                placeholder={form.fromKind === 'time' ? '2026-12-01T00:00:00Z or epoch ms' : 'first offset'}
                {...input('from')}
              />
            </div>
          </fieldset>
          <fieldset class="field">
            <legend>To</legend>
            <div class="inline">
              <select
                aria-label="To: offset or time"
                value={form.toKind}
                onChange={(event) =>
                  set('toKind', (event.currentTarget as HTMLSelectElement).value as 'offset' | 'time')
                }
              >
                <option value="time">time (exclusive)</option>
                <option value="offset">offset (inclusive)</option>
              </select>
              <input
                aria-label="To"
                type="text"
                placeholder={form.toKind === 'time' ? 'now when empty' : 'last offset'}
                {...input('to')}
              />
            </div>
          </fieldset>
          <div class="field">
            <label for="r-rate">Rate (records/s)</label>
            <input id="r-rate" type="text" inputMode="decimal" placeholder="unlimited" {...input('rate')} />
          </div>
          <div class="field">
            <label for="r-lines">Lines to show</label>
            <input id="r-lines" type="number" min={1} max={MAX_LINES_CAP} {...input('maxLines')} />
          </div>
          <div class="field checkbox">
            <input
              id="r-dry"
              type="checkbox"
              checked={form.dryRun}
              onChange={(event) => set('dryRun', (event.currentTarget as HTMLInputElement).checked)}
            />
            <label for="r-dry">Dry run (count only)</label>
          </div>
        </div>
        <div class="actions">
          <button type="submit" class="primary" disabled={run.state === 'running'}>
            {form.dryRun ? 'Plan the replay' : 'Run the replay'}
          </button>
          {run.state === 'running' ? (
            <button type="button" onClick={stop}>
              Stop
            </button>
          ) : null}
        </div>
      </form>
      {run.state === 'running' ? (
        <p class="muted" role="status">
          Reading…
        </p>
      ) : null}
      {run.state === 'failed' ? <ErrorBox error={run.error} /> : null}
      {run.state === 'done' && submitted ? <ReplayOutput result={run.result} query={submitted} /> : null}
    </Card>
  );
}

function ReplayOutput({
  result,
  query,
}: {
  readonly result: api.ReplayLogResult;
  readonly query: ReplayLogQuery;
}) {
  if (result.kind === 'dry_run') {
    return (
      <>
        <h3>Plan</h3>
        <pre class="ndjson" tabIndex={0} aria-label="Dry run answer">
          {JSON.stringify(result.plan, null, 2)}
        </pre>
      </>
    );
  }
  const download = { ...query };
  delete download.dry_run;
  return (
    <>
      <h3>Records</h3>
      {result.failed ? (
        <div class="alert alert-error" role="alert">
          The server cut the stream short: this replay failed midway. The lines below are what arrived.
        </div>
      ) : null}
      <p class="muted small" role="status">
        {result.truncated
          ? `The first ${count(result.lines.length)} lines; the request was stopped there.`
          : `${count(result.lines.length)} line${result.lines.length === 1 ? '' : 's'}, the whole answer.`}
      </p>
      <pre class="ndjson" tabIndex={0} aria-label="NDJSON records">
        {result.lines.join('\n')}
      </pre>
      <p>
        <a href={api.replayLogUrl(download)} download={`replay-${download.stage}.ndjson`}>
          Download the whole replay as NDJSON
        </a>{' '}
        <span class="muted small">(runs the replay again, and is audited again)</span>
      </p>
    </>
  );
}
