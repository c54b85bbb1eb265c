/**
 * Owns the SQL of the reader endpoints: every statement filtered by the reader's tenant, read
 * with FINAL so each idempotency key counts once, every value a query parameter. Pure: it builds
 * statements and runs none.
 */
import { joinSql, name, sql, trusted, type Sql } from '@aispm/clickhouse';
import { EVENT_RECORD_COLUMNS } from '@aispm/projection';

/** Bounds of the document's lists; counts are always exact. */
export const DASHBOARD_LIMITS = { findings_and_near_misses: 100, timeline: 50, evidence_refs: 10 } as const;

/** The dashboard's filters (query string). */
export interface Filters {
  repository?: string;
  agent_id?: string;
  policy_pack?: string;
  /** RFC 3339; the caller has checked it parses. */
  since?: string;
}

const RECORD_COLUMNS = trusted(
  'event_id, session_id, agent_id, repository, control_surface, decision, severity, risk_classification, target_summary, evidence_refs, occurred_ms',
);

/** The six statements the posture document is computed from. */
export function dashboardQueries(database: string, tenant: string, filters: Filters) {
  const conditions = [sql`tenant = ${tenant}`];
  if (filters.repository !== undefined)
    conditions.push(sql`repository = ${filters.repository.toLowerCase()}`);
  if (filters.agent_id !== undefined) conditions.push(sql`agent_id = ${filters.agent_id}`);
  if (filters.policy_pack !== undefined) conditions.push(sql`policy_pack = ${filters.policy_pack}`);
  if (filters.since !== undefined) conditions.push(sql`occurred_ms >= ${Date.parse(filters.since)}`);
  const events = sql`${name(database)}.events FINAL WHERE ${joinSql(conditions, ' AND ')}`;
  const decisions = sql`${events} AND decision != 'not_applicable'`;
  const { findings_and_near_misses, timeline, evidence_refs } = DASHBOARD_LIMITS;
  return {
    groups: sql`SELECT agent_id, repository, policy_pack, control_surface, action_type, decision, severity,
      toUInt32(count()) AS count, toUInt32(countIf(length(evidence_refs) > 0)) AS with_refs,
      toUInt32(countIf(arrayExists(r -> substring(r, 1, 9) = 'signed://' OR position(r, 'signature') > 0, evidence_refs))) AS signed
      FROM ${decisions} GROUP BY agent_id, repository, policy_pack, control_surface, action_type, decision, severity`,
    agents: sql`SELECT agent_id, toUInt32(uniqExact(session_id)) AS session_count, max(occurred_ms) AS last_seen_ms FROM ${events} GROUP BY agent_id`,
    sessions: sql`SELECT toUInt32(uniqExact(session_id)) AS sessions FROM ${events}`,
    risky: sql`SELECT ${RECORD_COLUMNS} FROM ${decisions}
      AND (decision IN ('block', 'require_approval', 'warn', 'allow_with_attestation') OR severity IN ('critical', 'high'))
      ORDER BY occurred_ms DESC, event_id LIMIT ${findings_and_near_misses}`,
    recent: sql`SELECT ${RECORD_COLUMNS} FROM ${decisions} ORDER BY occurred_ms DESC, event_id LIMIT ${timeline}`,
    refs: sql`SELECT control_surface, arraySlice(groupUniqArray(ref), 1, ${evidence_refs}) AS refs
      FROM (SELECT control_surface, arrayJoin(evidence_refs) AS ref FROM ${decisions}) GROUP BY control_surface`,
  };
}

/** The events key of an event id (event_lookup). */
export function eventLookupQuery(database: string, tenant: string, eventId: string): Sql {
  return sql`SELECT session_id, occurred_ms, idempotency_key FROM ${name(database)}.event_lookup FINAL
    WHERE tenant = ${tenant} AND event_id = ${eventId} ORDER BY projected_ms DESC LIMIT 1`;
}

/** One events row by its primary key. */
export function eventQuery(
  database: string,
  tenant: string,
  key: { session_id: string; occurred_ms: number; idempotency_key: string },
): Sql {
  return sql`SELECT * FROM ${name(database)}.events FINAL WHERE tenant = ${tenant} AND session_id = ${key.session_id}
    AND occurred_ms = ${key.occurred_ms} AND idempotency_key = ${key.idempotency_key}`;
}

/** A session's decisions, oldest first. */
export function replayQuery(database: string, tenant: string, sessionId: string): Sql {
  return sql`SELECT ${RECORD_COLUMNS} FROM ${name(database)}.events FINAL WHERE tenant = ${tenant} AND session_id = ${sessionId}
    AND decision != 'not_applicable' ORDER BY occurred_ms, event_id`;
}

/** Most rows one chain verification reads; the verdict says when it stopped short. */
export const VERIFY_MAX_ROWS = 200_000;

/** The tenant's stored canonical records in chain order, for verification. */
export function chainQuery(database: string, tenant: string): Sql {
  return sql`SELECT ${trusted(EVENT_RECORD_COLUMNS.join(', '))} FROM ${name(database)}.events FINAL
    WHERE tenant = ${tenant} ORDER BY chain_partition, chain_offset LIMIT ${VERIFY_MAX_ROWS + 1}`;
}
