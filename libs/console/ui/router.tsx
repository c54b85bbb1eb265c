/**
 * Owns navigation: the console's routes under `/console`, the History API, and the only way the
 * UI builds an internal link. Every path segment taken from data goes through
 * encodeURIComponent, so an id can never become a scheme, a host or another route.
 */
import type { ComponentChildren } from 'preact';
import { signal } from '@preact/signals';
import type { Filters } from './types';

/** Where the server mounts the app (every GET under it that is not an asset or API is the app). */
export const BASE = '/console';

/** The views, by route. */
export type Route =
  | { readonly view: 'overview' }
  | { readonly view: 'live' }
  | { readonly view: 'health' }
  | { readonly view: 'audit' }
  | { readonly view: 'event'; readonly id: string }
  | { readonly view: 'session'; readonly id: string }
  | { readonly view: 'not_found' };

export interface Location {
  readonly path: string;
  readonly query: URLSearchParams;
}

function current(): Location {
  return { path: window.location.pathname, query: new URLSearchParams(window.location.search) };
}

/** The browser's location; views read it and re-render when it changes. */
export const location = signal<Location>(current());

window.addEventListener('popstate', () => {
  location.value = current();
});

/** Goes to an internal `href` (one built by the helpers below) without a reload. */
export function navigate(href: string, replace = false): void {
  if (replace) window.history.replaceState(null, '', href);
  else window.history.pushState(null, '', href);
  location.value = current();
  if (!replace) window.scrollTo(0, 0);
}

function decode(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

/** The route of a path under BASE. */
export function match(path: string): Route {
  const rest = path.startsWith(BASE) ? path.slice(BASE.length) : path;
  const parts = rest.split('/').filter((part) => part !== '');
  if (parts.length === 0) return { view: 'overview' };
  const [head, id] = parts;
  if (parts.length === 1 && (head === 'live' || head === 'health' || head === 'audit')) return { view: head };
  if (parts.length === 2 && id !== undefined && (head === 'events' || head === 'sessions')) {
    const decoded = decode(id);
    if (decoded !== undefined && decoded !== '')
      return { view: head === 'events' ? 'event' : 'session', id: decoded };
  }
  return { view: 'not_found' };
}

/** The filter parameters, in the order the URL lists them. */
export const FILTER_KEYS = ['repository', 'agent_id', 'policy_pack', 'since'] as const;

/** The internal paths of the views. */
export const paths = {
  overview: (filters: Filters = {}) => {
    const params = new URLSearchParams();
    for (const key of FILTER_KEYS) {
      const value = filters[key];
      if (value) params.set(key, value);
    }
    const search = params.toString();
    return search === '' ? `${BASE}/` : `${BASE}/?${search}`;
  },
  live: () => `${BASE}/live`,
  health: () => `${BASE}/health`,
  audit: () => `${BASE}/audit`,
  event: (id: string) => `${BASE}/events/${encodeURIComponent(id)}`,
  session: (id: string) => `${BASE}/sessions/${encodeURIComponent(id)}`,
};

/** The dashboard filters in a query string (unknown keys are ignored). */
export function filtersOf(query: URLSearchParams): Filters {
  const filters: Filters = {};
  for (const key of FILTER_KEYS) {
    const value = query.get(key);
    if (value) filters[key] = value;
  }
  return filters;
}

interface LinkProps {
  /** An internal path from `paths`. */
  readonly href: string;
  readonly children: ComponentChildren;
  readonly class?: string;
  readonly title?: string;
  readonly 'aria-current'?: 'page';
}

/** An internal link: a real anchor (open in a new tab works), navigated in place on a plain click. */
export function Link({ href, children, ...rest }: LinkProps) {
  const onClick = (event: MouseEvent) => {
    if (event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(href);
  };
  return (
    <a {...rest} href={href} onClick={onClick}>
      {children}
    </a>
  );
}
