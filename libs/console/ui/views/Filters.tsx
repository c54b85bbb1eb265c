/**
 * Owns the dashboard's filter bar: repository, agent, policy pack and time window, applied by
 * navigating to the overview's URL so a filtered view can be shared and the back button works.
 */
import { useEffect, useState } from 'preact/hooks';
import { navigate, paths } from '../router';
import type { Filters } from '../types';

/** Time-window presets: how far back `since` goes. */
const WINDOWS: readonly { readonly label: string; readonly ms: number }[] = [
  { label: 'Last hour', ms: 3600_000 },
  { label: 'Last 24 hours', ms: 86_400_000 },
  { label: 'Last 7 days', ms: 7 * 86_400_000 },
  { label: 'Last 30 days', ms: 30 * 86_400_000 },
];

/** An RFC 3339 instant, to the second. */
function rfc3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function FilterBar({
  filters,
  agents,
}: {
  readonly filters: Filters;
  readonly agents: readonly string[];
}) {
  const [draft, setDraft] = useState<Filters>(filters);
  const [invalid, setInvalid] = useState<string | undefined>(undefined);
  const applied = JSON.stringify(filters);
  useEffect(() => {
    setDraft(filters);
    setInvalid(undefined);
    // `applied` stands for `filters`.
  }, [applied]);

  const field = (key: keyof Filters) => ({
    value: draft[key] ?? '',
    onInput: (event: Event) => setDraft({ ...draft, [key]: (event.currentTarget as HTMLInputElement).value }),
  });

  const apply = (next: Filters) => {
    const cleaned: Filters = {};
    for (const key of ['repository', 'agent_id', 'policy_pack', 'since'] as const) {
      const value = next[key]?.trim();
      if (value) cleaned[key] = value;
    }
    if (cleaned.since !== undefined && Number.isNaN(Date.parse(cleaned.since))) {
      setInvalid('Use an RFC 3339 date-time, such as 2026-12-01T00:00:00Z.');
      return;
    }
    setInvalid(undefined);
    navigate(paths.overview(cleaned));
  };

  return (
    <form
      class="filters"
      aria-label="Filters"
      onSubmit={(event) => {
        event.preventDefault();
        apply(draft);
      }}
    >
      <div class="field">
        <label for="f-repository">Repository</label>
        <input
          id="f-repository"
          name="repository"
          type="text"
          placeholder="owner/name"
          {...field('repository')}
        />
      </div>
      <div class="field">
        <label for="f-agent">Agent</label>
        <input id="f-agent" name="agent_id" type="text" list="f-agent-list" {...field('agent_id')} />
        <datalist id="f-agent-list">
          {agents.map((agent) => (
            <option key={agent} value={agent} />
          ))}
        </datalist>
      </div>
      <div class="field">
        <label for="f-pack">Policy pack</label>
        <input id="f-pack" name="policy_pack" type="text" {...field('policy_pack')} />
      </div>
      <div class="field">
        <label for="f-since">Since (RFC 3339)</label>
        <input
          id="f-since"
          name="since"
          type="text"
          placeholder="2026-12-01T00:00:00Z"
          aria-invalid={invalid ? 'true' : undefined}
          aria-describedby={invalid ? 'f-since-error' : undefined}
          {...field('since')}
        />
      </div>
      <div class="field">
        <label for="f-window">Time window</label>
        <select
          id="f-window"
          value=""
          onChange={(event) => {
            const value = (event.currentTarget as HTMLSelectElement).value;
            if (value === 'all') apply({ ...draft, since: undefined });
            else if (value !== '') apply({ ...draft, since: rfc3339(Date.now() - Number(value)) });
          }}
        >
          <option value="">Choose…</option>
          {WINDOWS.map((window) => (
            <option key={window.ms} value={String(window.ms)}>
              {window.label}
            </option>
          ))}
          <option value="all">All time</option>
        </select>
      </div>
      <div class="field actions">
        <button type="submit" class="primary">
          Apply
        </button>
        <button type="button" onClick={() => navigate(paths.overview({}))}>
          Clear
        </button>
      </div>
      {invalid ? (
        <p id="f-since-error" class="field-error" role="alert">
          {invalid}
        </p>
      ) : null}
    </form>
  );
}
