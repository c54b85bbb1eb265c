/**
 * Owns the event page: every field of `GET /enterprise/aispm/events/{event_id}`, as text. Known
 * fields come first in a reading order; any other column the server adds is listed after them,
 * so nothing the API returns is hidden from the reader.
 */
import type { ComponentChild } from 'preact';
import * as api from '../api';
import { ApiError } from '../api';
import { Badge, Card, Chips, ErrorBox, Id, Loading, SessionLink, text, Time } from '../format';
import { useLoad } from '../hooks';
import type { EventRecord } from '../types';

/** Known fields in reading order, each with how to show it. */
const FIELDS: readonly (readonly [string, string, (value: unknown) => ComponentChild])[] = [
  ['event_id', 'Event id', (v) => <Id value={v} />],
  ['session_id', 'Session', (v) => <SessionLink id={v} />],
  ['agent_id', 'Agent', text],
  ['decision', 'Decision', (v) => <Badge value={v} />],
  ['severity', 'Severity', (v) => <Badge value={v} />],
  ['risk_classification', 'Risk classification', text],
  ['derived_risk_classification', 'Derived risk classification', text],
  ['control_surface', 'Control surface', text],
  ['policy_pack', 'Policy pack', text],
  ['target_summary', 'What (redacted summary)', text],
  ['action_type', 'Action type', text],
  ['tool_name', 'Tool', text],
  ['event_type', 'Event type', text],
  ['repository', 'Repository', text],
  ['environment', 'Environment', text],
  ['region', 'Region', text],
  ['connector_type', 'Connector type', text],
  ['connector_id', 'Connector', text],
  ['occurred_ms', 'Occurred', (v) => <Time value={v} />],
  ['received_ms', 'Received', (v) => <Time value={v} />],
  ['ingested_ms', 'Ingested', (v) => <Time value={v} />],
  ['evidence_refs', 'Evidence refs', (v) => <Chips values={v} />],
  ['signature_verified', 'Signature verified', (v) => (v === true ? 'Yes' : v === false ? 'No' : text(v))],
  ['payload_handling', 'Payload handling', text],
  ['hash_algorithm', 'Hash algorithm', text],
  ['payload_hash', 'Payload hash', (v) => <Id value={v} />],
  ['content_hash', 'Content hash', (v) => <Id value={v} />],
  ['redaction_counts', 'Redactions', (v) => <Redactions value={v} />],
  ['redactor', 'Redactor', text],
  ['redaction_pointers', 'Redacted fields', (v) => <Chips values={v} />],
  ['payload_ref', 'Raw payload reference', (v) => <Id value={v} />],
  [
    'source',
    'Log position',
    (v) => {
      const source = (v ?? {}) as EventRecord['source'] & object;
      return `${text(source.topic)} · partition ${text(source.partition)} · offset ${text(source.offset)}`;
    },
  ],
  ['chain_partition', 'Chain partition', text],
  ['chain_offset', 'Chain offset', text],
  ['prev_hash', 'Previous hash', (v) => <Id value={v} />],
  ['record_hash', 'Record hash', (v) => <Id value={v} />],
  ['idempotency_key', 'Idempotency key', (v) => <Id value={v} />],
  ['schema_version', 'Schema version', text],
  ['tenant', 'Tenant', text],
];

function Redactions({ value }: { readonly value: unknown }) {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return <>{text(value)}</>;
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 0) return <span class="muted">None</span>;
  return <Chips values={entries.map(([name, n]) => `${name} ×${text(n)}`)} />;
}

export function EventPage({ id }: { readonly id: string }) {
  const load = useLoad(`event:${id}`, (signal) => api.event(id, signal));
  const event = load.data;
  return (
    <>
      <div class="page-head">
        <h1>
          Event <Id value={id} />
        </h1>
      </div>
      {load.error instanceof ApiError && load.error.status === 404 ? (
        <div class="alert alert-warn" role="alert">
          No event with this id in your tenant.
        </div>
      ) : load.error ? (
        <ErrorBox error={load.error} />
      ) : null}
      {event ? <EventFields event={event} /> : load.error ? null : <Loading />}
    </>
  );
}

function EventFields({ event }: { readonly event: EventRecord }) {
  const known = new Set(FIELDS.map(([key]) => key));
  const others = Object.keys(event)
    .filter((key) => !known.has(key))
    .sort();
  const present = FIELDS.filter(([key]) => Object.prototype.hasOwnProperty.call(event, key));
  return (
    <>
      {event.payload_ref ? (
        <p class="alert alert-info">
          Your reading of this event's raw payload reference is recorded in the audit trail.
        </p>
      ) : null}
      <Card title="Fields">
        <dl class="fields">
          {present.map(([key, label, show]) => (
            <div key={key} class="field-row">
              <dt>{label}</dt>
              <dd>{show(event[key])}</dd>
            </div>
          ))}
          {others.map((key) => (
            <div key={key} class="field-row">
              <dt>
                <code>{text(key)}</code>
              </dt>
              <dd>{text(event[key])}</dd>
            </div>
          ))}
        </dl>
      </Card>
    </>
  );
}
