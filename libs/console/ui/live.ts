/**
 * Owns the console's one connection to the live stream (`GET /enterprise/aispm/stream`, Server-Sent
 * Events of posture deltas), opened at sign-in and closed at sign-out, so the feed keeps filling
 * while the reader looks at other views and the server holds one consumer per tab, not per view.
 *
 * The browser's EventSource reconnects by itself after a dropped connection and resends the last
 * event id it saw as `Last-Event-ID`, so the server resumes exactly after the last delta shown.
 * When the server refuses the stream instead (EventSource gives up: a 401, a 503), the session is
 * checked (a 401 goes back to sign-in) and a new EventSource resumes after the last delta received
 * (`?last_event_id=`, which the server reads like the header); one that never received a delta
 * starts at the live end, and the feed says deltas may be missing.
 *
 * Deltas are at least once (the projector republishes a redelivered batch), so rows are keyed by
 * event id and a repeated id updates its row rather than adding one.
 */
import { batch, signal } from '@preact/signals';
import * as api from './api';
import { endSession, SESSION_ENDED } from './session';
import type { DeltaKind, PostureDelta } from './types';

/** One event in the feed; the fields other than the id arrive with finding and near-miss deltas. */
export interface FeedRow {
  readonly event_id: string;
  /** When this browser received it (ms). */
  readonly received_ms: number;
  readonly session_id?: string;
  readonly agent_id?: string;
  readonly repository?: string;
  readonly decision?: string;
  readonly severity?: string;
  readonly control_surface?: string;
  readonly target_summary?: string;
  readonly finding?: boolean;
  readonly near_miss?: boolean;
}

export type StreamStatus = 'off' | 'connecting' | 'live' | 'reconnecting' | 'restarting';

/** The feed keeps this many rows, newest first. */
export const FEED_LIMIT = 500;
/** Wait before a new EventSource after the server refused the stream. */
const RESTART_MS = 5000;
const KINDS: readonly DeltaKind[] = ['overview', 'finding', 'near_miss', 'coverage', 'watermark'];

export const status = signal<StreamStatus>('off');
export const rows = signal<readonly FeedRow[]>([]);
/** When the stream last came back after a drop (ms), and how often it did. */
export const resumed = signal<{ readonly at_ms: number; readonly count: number } | undefined>(undefined);
/** Something the reader should know about the stream's continuity (a gap, a restart). */
export const notice = signal<string | undefined>(undefined);
/** The latest freshness watermark a delta carried. */
export const watermark = signal<PostureDelta['watermark'] | undefined>(undefined);
/** Bumped on every delta that changes counts; views holding the posture document re-read it. */
export const postureChanged = signal(0);
/** Deltas received since sign-in. */
export const deltasSeen = signal(0);

let source: EventSource | undefined;
/** The id of the last delta received, so a new EventSource resumes after it. */
let lastEventId: string | undefined;
let restartTimer: ReturnType<typeof setTimeout> | undefined;
let opened = false;

const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

function upsert(eventId: string, patch: Omit<FeedRow, 'event_id' | 'received_ms'>, next: FeedRow[]): void {
  const index = next.findIndex((row) => row.event_id === eventId);
  if (index >= 0) {
    next[index] = { ...next[index]!, ...patch };
  } else {
    next.unshift({ event_id: eventId, received_ms: Date.now(), ...patch });
  }
}

function apply(delta: PostureDelta): void {
  const data = delta.data ?? {};
  const next = [...rows.value];
  if (delta.kind === 'overview') {
    const ids = Array.isArray(data.event_ids) ? data.event_ids : [];
    // The batch's ids in publishing order, so the newest ends up first.
    for (const id of ids) if (typeof id === 'string' && id !== '') upsert(id, {}, next);
  } else if (delta.kind === 'finding' || delta.kind === 'near_miss') {
    const id = str(data.event_id);
    if (id !== undefined && id !== '') {
      upsert(
        id,
        {
          session_id: str(data.session_id),
          agent_id: str(data.agent_id),
          repository: str(data.repository),
          decision: str(data.decision),
          severity: str(data.severity),
          control_surface: str(data.control_surface),
          target_summary: str(data.target_summary),
          ...(delta.kind === 'finding' ? { finding: true } : { near_miss: true }),
        },
        next,
      );
    }
  }
  batch(() => {
    if (next.length > FEED_LIMIT) next.length = FEED_LIMIT;
    rows.value = next;
    deltasSeen.value += 1;
    if (delta.watermark) watermark.value = delta.watermark;
    if (delta.kind !== 'watermark') postureChanged.value += 1;
  });
}

function parse(raw: unknown): PostureDelta | undefined {
  if (typeof raw !== 'string') return undefined;
  try {
    const value: unknown = JSON.parse(raw);
    if (value === null || typeof value !== 'object') return undefined;
    const delta = value as PostureDelta;
    if (!KINDS.includes(delta.kind)) return undefined;
    if (delta.data !== undefined && (delta.data === null || typeof delta.data !== 'object')) return undefined;
    return delta;
  } catch {
    return undefined;
  }
}

function open(restarted: boolean): void {
  const es = new EventSource(
    lastEventId === undefined
      ? '/enterprise/aispm/stream'
      : `/enterprise/aispm/stream?last_event_id=${encodeURIComponent(lastEventId)}`,
  );
  source = es;
  status.value = restarted ? 'restarting' : 'connecting';
  es.onopen = () => {
    batch(() => {
      if (opened) resumed.value = { at_ms: Date.now(), count: (resumed.value?.count ?? 0) + 1 };
      status.value = 'live';
    });
    opened = true;
  };
  for (const kind of KINDS) {
    es.addEventListener(kind, (event: MessageEvent) => {
      if (event.lastEventId) lastEventId = event.lastEventId;
      const delta = parse(event.data);
      if (delta) apply(delta);
    });
  }
  es.addEventListener('gap', () => {
    notice.value =
      'Some deltas were removed by retention before this browser read them; the feed resumed after them. The overview was re-read.';
    postureChanged.value += 1;
  });
  es.onerror = () => {
    if (source !== es) return;
    if (es.readyState === EventSource.CONNECTING) {
      status.value = 'reconnecting';
      return;
    }
    // The server refused the stream; EventSource will not retry. Is the session still alive?
    es.close();
    status.value = 'restarting';
    restartTimer = setTimeout(() => void restart(), RESTART_MS);
  };
}

async function restart(): Promise<void> {
  restartTimer = undefined;
  if (source === undefined) return;
  try {
    if ((await api.currentSession()) === null) {
      endSession(SESSION_ENDED);
      return;
    }
  } catch {
    // The server is unreachable: try the stream again later.
  }
  if (source === undefined || source.readyState !== EventSource.CLOSED) return;
  if (lastEventId === undefined) {
    notice.value =
      'The stream restarted from the live end: deltas published while it was down are not in the feed. The overview was re-read.';
    postureChanged.value += 1;
  }
  open(true);
}

/** Opens the stream (once per sign-in). */
export function start(): void {
  if (source !== undefined) return;
  opened = false;
  open(false);
}

/** Closes the stream and forgets the feed (sign-out, or an ended session). */
export function stop(): void {
  if (restartTimer !== undefined) clearTimeout(restartTimer);
  restartTimer = undefined;
  source?.close();
  source = undefined;
  lastEventId = undefined;
  batch(() => {
    status.value = 'off';
    rows.value = [];
    resumed.value = undefined;
    notice.value = undefined;
    watermark.value = undefined;
    deltasSeen.value = 0;
  });
}
