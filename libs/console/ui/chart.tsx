/**
 * Owns the decisions-by-outcome bar chart (uPlot, drawn on a canvas). The chart is a picture of
 * the table next to it, so it is hidden from screen readers, which read the table.
 */
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { humanize } from './format';
import type { NameCount } from './types';

/** The order outcomes are listed in: from let through to stopped. */
export const OUTCOME_ORDER = [
  'allow',
  'allow_with_attestation',
  'audit_only',
  'warn',
  'require_approval',
  'block',
] as const;

/** Bar colours; they match the badge tones of styles.css. */
const COLOURS: Readonly<Record<string, string>> = {
  allow: '#15803d',
  allow_with_attestation: '#0e7490',
  audit_only: '#64748b',
  warn: '#b45309',
  require_approval: '#c2410c',
  block: '#b91c1c',
};

/** Axis labels short enough to sit side by side under the bars; the table gives the full names. */
const SHORT: Readonly<Record<string, string>> = {
  allow_with_attestation: 'attested',
  audit_only: 'audit',
  require_approval: 'approval',
};

const HEIGHT = 220;

/** Bars of `outcomes` (already ordered), one series per bar so each keeps its colour. */
export function OutcomeChart({ outcomes }: { readonly outcomes: readonly NameCount[] }) {
  const host = useRef<HTMLDivElement>(null);
  const signature = outcomes.map((o) => `${o.name}=${o.count}`).join(',');

  useEffect(() => {
    const element = host.current;
    if (!element || outcomes.length === 0) return;
    const names = outcomes.map((o) => o.name);
    const xs = names.map((_, index) => index);
    const data: uPlot.AlignedData = [
      xs,
      ...outcomes.map((outcome, bar) => xs.map((index) => (index === bar ? outcome.count : null))),
    ];
    const bars = uPlot.paths.bars!({ size: [0.6, 72], align: 0 });
    const max = Math.max(1, ...outcomes.map((o) => o.count));
    const plot = new uPlot(
      {
        width: Math.max(240, element.clientWidth),
        height: HEIGHT,
        legend: { show: false },
        cursor: { show: false },
        scales: {
          x: { time: false, range: [-0.5, names.length - 0.5] },
          y: { range: [0, max * 1.12] },
        },
        axes: [
          {
            stroke: '#334155',
            grid: { show: false },
            ticks: { show: false },
            splits: () => xs,
            values: (_u, splits) =>
              splits.map((split) => SHORT[names[split] ?? ''] ?? humanize(names[split] ?? '')),
          },
          {
            stroke: '#334155',
            grid: { stroke: '#e2e8f0', width: 1 },
            ticks: { show: false },
            values: (_u, splits) => splits.map((split) => (Number.isInteger(split) ? String(split) : '')),
          },
        ],
        series: [
          {},
          ...names.map((name) => ({
            label: humanize(name),
            fill: COLOURS[name] ?? '#475569',
            stroke: COLOURS[name] ?? '#475569',
            width: 0,
            paths: bars,
            points: { show: false },
          })),
        ],
      },
      data,
      element,
    );
    const resize = new ResizeObserver(() =>
      plot.setSize({ width: Math.max(240, element.clientWidth), height: HEIGHT }),
    );
    resize.observe(element);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
    // The signature stands for `outcomes`: redraw only when a count changes.
  }, [signature]);

  return <div ref={host} class="chart" aria-hidden="true" />;
}

/**
 * Decisions by outcome, summed over the agents' fingerprints: every agent with a decision has one,
 * and its decision profile counts each decision once, so the sum is the document's total. Every
 * usual outcome is listed, with 0 when none happened.
 */
export function outcomesOf(profiles: readonly (readonly NameCount[])[]): NameCount[] {
  const totals = new Map<string, number>(OUTCOME_ORDER.map((name) => [name, 0]));
  for (const profile of profiles)
    for (const { name, count } of profile) totals.set(name, (totals.get(name) ?? 0) + count);
  const rank = (name: string) => {
    const index = (OUTCOME_ORDER as readonly string[]).indexOf(name);
    return index < 0 ? OUTCOME_ORDER.length : index;
  };
  return [...totals]
    .map(([name, count]) => ({ name, count }))
    .sort((a, b) => rank(a.name) - rank(b.name) || a.name.localeCompare(b.name));
}
