/**
 * Owns the shapes of what the console reads, as the browser sees them. They mirror the gateway's
 * documents (the posture document of libs/projection `postureDocument` and
 * schemas/cavra/aispm-dashboard.schema.json, `traceReplay`, libs/health `tenantHealth`, the
 * posture deltas of libs/projection `postureDeltas`, the event row of `GET /events/{id}`), typed
 * here by hand because the UI compiles for the DOM without the Node libraries.
 *
 * TRICKY: every string in these documents may come from an event, which an attacker can write.
 * Views render them as text (see format.tsx `text`), never as markup or as a URL.
 */

/** Reader roles of DESIGN §5. */
export type Role = 'viewer' | 'auditor' | 'admin';

/** `GET|POST /console/api/session`. */
export interface Session {
  readonly reader_id: string;
  readonly tenant: string;
  readonly role: Role;
  readonly expires_ms: number;
}

/** An RFC 9457 problem document (services/ingest-gateway/src/plugins/problems.ts). */
export interface Problem {
  readonly type?: string;
  readonly title?: string;
  readonly status?: number;
  readonly code?: string;
  readonly detail?: string;
}

/** The dashboard's filters, as kept in the URL. */
export interface Filters {
  repository?: string;
  agent_id?: string;
  policy_pack?: string;
  /** RFC 3339: events that occurred at or after it. */
  since?: string;
}

export type RiskLevel = 'low' | 'medium' | 'high' | 'critical';

/** A decision as findings, near misses and the timeline list it. */
export interface DecisionSummary {
  readonly decision_id: string;
  readonly session_id: string;
  readonly agent_id: string;
  readonly repository: string;
  readonly surface_id: string;
  readonly severity: string;
  readonly decision: string;
  readonly risk_classification: string;
  readonly evidence_refs: readonly string[];
  readonly timestamp: string;
}

export interface Finding extends DecisionSummary {
  readonly finding_id: string;
}

export interface NearMiss extends DecisionSummary {
  readonly near_miss_id: string;
  readonly reason: string;
  readonly operator_signal: string;
}

export interface TimelineEntry extends DecisionSummary {
  readonly event_id: string;
}

export interface Coverage {
  readonly surface_id: string;
  readonly label: string;
  readonly description: string;
  readonly coverage_status: string;
  readonly decision_count: number;
  readonly blocked_actions: number;
  readonly approval_required_actions: number;
  readonly warned_actions: number;
  readonly evidence_confidence: string;
  readonly evidence_refs: readonly string[];
}

export interface NameCount {
  readonly name: string;
  readonly count: number;
}

export interface Fingerprint {
  readonly fingerprint_id: string;
  readonly agent_id: string;
  readonly repositories: readonly string[];
  readonly session_count: number;
  readonly decision_count: number;
  readonly action_profile: readonly NameCount[];
  readonly decision_profile: readonly NameCount[];
  readonly policy_packs: readonly string[];
  readonly control_surfaces: readonly string[];
  readonly risk_signals: readonly string[];
  readonly drift_status: string;
  readonly drift_score: number;
  readonly evidence_refs: readonly string[];
  readonly last_seen_at: string | null;
}

export interface AgentRow {
  readonly agent_id: string;
  readonly session_count: number;
  readonly decision_count: number;
  readonly coverage_status: string;
  readonly drift_status?: string;
}

/** `control_plane.freshness` of the posture document. */
export interface Freshness {
  readonly watermark_ms: number | null;
  readonly watermark?: string | null;
  readonly observed_ms?: number;
  readonly caught_up: boolean;
  readonly stages?: readonly { readonly stage: string; readonly lag: number }[];
}

/** `GET /enterprise/aispm/dashboard`: a `cavra.aispm.dashboard.v1` document. */
export interface Dashboard {
  readonly schema_version: string;
  readonly overview: {
    readonly posture_score: number;
    readonly risk_level: RiskLevel;
    readonly total_sessions: number;
    readonly total_decisions: number;
    readonly blocked_actions?: number;
    readonly approval_required_actions?: number;
    readonly risk_findings?: number;
    readonly evidence_confidence?: string;
  };
  readonly agents: readonly AgentRow[];
  readonly findings: readonly Finding[];
  readonly timeline: readonly TimelineEntry[];
  readonly control_coverage: readonly Coverage[];
  readonly near_misses: readonly NearMiss[];
  readonly behavior_fingerprints: readonly Fingerprint[];
  readonly control_plane: {
    readonly tenant?: string;
    readonly freshness?: Freshness;
    readonly limits?: Readonly<Record<string, number>>;
    readonly generated_at?: string;
  };
}

/**
 * `GET /enterprise/aispm/events/{event_id}`: the event's row. `payload_ref` and `source` are
 * present for auditors and admins only. Other columns may appear; the page lists them all.
 */
export interface EventRecord {
  readonly event_id: string;
  readonly session_id: string;
  readonly occurred_ms: number;
  readonly received_ms: number;
  readonly ingested_ms: number;
  readonly payload_ref?: string;
  readonly source?: { readonly topic: string; readonly partition: number; readonly offset: string };
  readonly [column: string]: unknown;
}

/** One step of `GET /enterprise/aispm/replay/{session_id}`. */
export interface ReplayStep {
  readonly step: number;
  readonly event_id: string;
  readonly agent_id: string;
  readonly decision: string;
  readonly severity: string;
  readonly risk_classification: string;
  readonly control_surface: string;
  readonly target_summary: string;
  readonly evidence_refs: readonly string[];
  readonly timestamp: string;
}

/** `GET /enterprise/aispm/replay/{session_id}`: a session's trace replay (§11, §12). */
export interface TraceReplay {
  readonly session_id: string;
  readonly steps: readonly ReplayStep[];
  readonly summary: {
    readonly steps: number;
    readonly blocks: number;
    readonly approvals: number;
    readonly warnings: number;
    readonly critical_or_high: number;
  };
}

/** `GET /enterprise/aispm/ingestion/health` (libs/health `tenantHealth`). */
export interface Health {
  readonly tenant: string;
  readonly observed_ms: number;
  readonly window_ms: number;
  readonly status: 'ok' | 'degraded' | 'stalled' | string;
  readonly stalled: readonly {
    readonly service: string;
    readonly instance: string;
    readonly stalled_ms: number;
  }[];
  /** null when the broker could not be read. */
  readonly stages:
    | readonly {
        readonly service: string;
        readonly topic: string;
        readonly group: string;
        readonly lag: number;
        readonly partitions: readonly {
          readonly partition: number;
          readonly committed: number;
          readonly end: number;
          readonly lag: number;
        }[];
      }[]
    | null;
  readonly rejections: { readonly total: number; readonly by_reason: Readonly<Record<string, number>> };
  readonly retries: { readonly total: number; readonly by_operation: Readonly<Record<string, number>> };
  readonly dlq: {
    readonly depth: number | null;
    readonly added: number;
    readonly by_code: Readonly<Record<string, number>>;
  };
  readonly storage: {
    readonly status: string;
    readonly failures: number;
    readonly reported_ms: number | null;
  };
  readonly freshness: { readonly watermark_ms: number | null; readonly caught_up: boolean };
  readonly collectors: {
    readonly total: number;
    readonly stale: readonly {
      readonly collector_id: string;
      readonly last_seen_ms: number | null;
      readonly expected_interval_s: number;
      readonly silent_for_ms: number;
    }[];
  };
}

/** `GET /enterprise/aispm/verify`: the hash chain's verdict per partition. */
export interface VerifyResult {
  readonly tenant: string;
  readonly verdicts: readonly {
    readonly partition: number | string;
    readonly ok: boolean;
    readonly records: number;
    readonly first_broken_offset?: string;
    readonly reason?: string;
  }[];
  readonly checked_ms: number;
}

/** The stages `GET /enterprise/aispm/replay-log` reads (libs/contracts `TENANT_STAGES`). */
export const REPLAY_STAGES = ['normalized', 'posture', 'redacted', 'raw', 'dlq'] as const;
export type ReplayStage = (typeof REPLAY_STAGES)[number];

/** The query of `GET /enterprise/aispm/replay-log` (services/ingest-gateway/src/plugins/replay.ts). */
export interface ReplayLogQuery {
  stage: ReplayStage;
  partition?: string;
  from_offset?: string;
  to_offset?: string;
  from_time?: string;
  to_time?: string;
  rate?: string;
  dry_run?: boolean;
}

/** The `kind` of a posture delta, which is also its SSE event name. */
export type DeltaKind = 'overview' | 'finding' | 'near_miss' | 'coverage' | 'watermark';

/** One posture delta of `GET /enterprise/aispm/stream` (schemas posture-delta.v1). */
export interface PostureDelta {
  readonly schema_version: string;
  readonly tenant: string;
  readonly kind: DeltaKind;
  readonly produced_ms: number;
  readonly data?: Readonly<Record<string, unknown>>;
  readonly watermark?: {
    readonly watermark_ms: number;
    readonly observed_ms?: number;
    readonly lag: Readonly<Record<string, number>>;
  };
}
