/**
 * Owns the page's frame: sign-in or the signed-in console (header, navigation, the view of the
 * route), what the reader's role offers, and the live stream's lifetime (open while signed in).
 */
import { useEffect, useRef } from 'preact/hooks';
import { useSignalEffect } from '@preact/signals';
import * as live from './live';
import { filtersOf, Link, location, match, paths, type Route } from './router';
import { canAudit, checkSession, session, signOut } from './session';
import { Loading } from './format';
import { AuditPage } from './views/AuditPage';
import { EventPage } from './views/EventPage';
import { HealthPage } from './views/HealthPage';
import { LiveFeed } from './views/LiveFeed';
import { Overview } from './views/Overview';
import { SessionPage } from './views/SessionPage';
import { SignIn } from './views/SignIn';

/** Re-check the session this long after the server said it expires (it may have been renewed). */
const EXPIRY_GRACE_MS = 1000;

export function App() {
  useEffect(() => {
    void checkSession();
  }, []);

  // The stream is open exactly while someone is signed in; an expired session is checked at its
  // expiry, so the page returns to sign-in without waiting for the next request to fail.
  useSignalEffect(() => {
    const current = session.value;
    if (!current) {
      live.stop();
      return;
    }
    live.start();
    const wait = Math.max(0, Number(current.expires_ms) - Date.now()) + EXPIRY_GRACE_MS;
    // setTimeout fires at once for delays past 2^31 ms; nothing here lives that long.
    const timer = setTimeout(() => void checkSession(), Math.min(wait, 2 ** 31 - 1));
    return () => clearTimeout(timer);
  });

  if (session.value === undefined) {
    return (
      <main class="signin" id="main">
        <Loading label="Checking your session…" />
      </main>
    );
  }
  if (session.value === null) {
    overviewHref = paths.overview();
    return <SignIn />;
  }
  return <Console />;
}

const TITLES: Readonly<Record<Route['view'], string>> = {
  overview: 'Posture',
  live: 'Live feed',
  health: 'Ingestion health',
  audit: 'Audit',
  event: 'Event',
  session: 'Session',
  not_found: 'Not found',
};

/** The overview's last filters, so coming back to it from another view keeps them (memory only). */
let overviewHref = paths.overview();

function Console() {
  const reader = session.value!;
  const route = match(location.value.path);
  if (route.view === 'overview') overviewHref = paths.overview(filtersOf(location.value.query));
  const main = useRef<HTMLElement>(null);
  const first = useRef(true);

  useEffect(() => {
    document.title = `${TITLES[route.view]} · AISPM console`;
    // Move focus to the new view for keyboard and screen-reader users (not on the first load).
    if (first.current) first.current = false;
    else main.current?.focus();
  }, [location.value.path]);

  return (
    <>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="top">
        <div class="brand">
          <span class="brand-mark" aria-hidden="true" />
          AISPM
        </div>
        <nav aria-label="Views">
          <NavLink href={overviewHref} active={route.view === 'overview'} label="Overview" />
          <NavLink href={paths.live()} active={route.view === 'live'} label="Live" />
          <NavLink href={paths.health()} active={route.view === 'health'} label="Health" />
          {canAudit.value ? (
            <NavLink href={paths.audit()} active={route.view === 'audit'} label="Audit" />
          ) : null}
        </nav>
        <div class="who">
          <span class={`stream-status stream-${live.status.value}`} title="Live stream">
            <span class="dot" aria-hidden="true" />
            <span class="visually-hidden">Live stream: </span>
            {live.status.value === 'live' ? 'live' : live.status.value}
          </span>
          <span class="tenant" title="Tenant">
            {reader.tenant}
          </span>
          <span class="reader" title="Reader">
            {reader.reader_id} · {reader.role}
          </span>
          <button type="button" class="ghost" onClick={() => void signOut()}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" ref={main} tabIndex={-1}>
        <View route={route} />
      </main>
    </>
  );
}

function NavLink({
  href,
  active,
  label,
}: {
  readonly href: string;
  readonly active: boolean;
  readonly label: string;
}) {
  return (
    <Link
      href={href}
      class={active ? 'nav-link active' : 'nav-link'}
      aria-current={active ? 'page' : undefined}
    >
      {label}
    </Link>
  );
}

function View({ route }: { readonly route: Route }) {
  const auditor = canAudit.value;
  switch (route.view) {
    case 'overview':
      return <Overview />;
    case 'live':
      return <LiveFeed />;
    case 'health':
      return <HealthPage />;
    case 'event':
      return <EventPage key={route.id} id={route.id} />;
    case 'session':
      return <SessionPage key={route.id} id={route.id} />;
    case 'audit':
      return auditor ? <AuditPage /> : <Forbidden />;
    case 'not_found':
      return <NotFound />;
  }
}

function Forbidden() {
  return (
    <>
      <h1>Not available</h1>
      <p>This page is for auditors and admins; your reader is a viewer.</p>
      <p>
        <Link href={paths.overview()}>Back to the overview</Link>
      </p>
    </>
  );
}

function NotFound() {
  return (
    <>
      <h1>Page not found</h1>
      <p>
        <Link href={paths.overview()}>Back to the overview</Link>
      </p>
    </>
  );
}
