/**
 * Owns who is signed in, in memory only: the reader the server's session cookie stands for, and
 * what the role lets the page offer. Nothing is kept in Web Storage; a reload asks the server.
 */
import { computed, signal } from '@preact/signals';
import * as api from './api';
import type { Session } from './types';

/** undefined while the first check runs; null when signed out. */
export const session = signal<Session | null | undefined>(undefined);

/** What the sign-in page says after a 401 on any call. */
export const SESSION_ENDED = 'Your session has ended. Sign in again to continue.';

/** Why the sign-in page is shown, when it is not the first visit (e.g. an expired session). */
export const signInNotice = signal<string | undefined>(undefined);

/** Auditors and admins replay sessions, read the raw log and verify the chain (DESIGN §5, §17). */
export const canAudit = computed(() => {
  const role = session.value?.role;
  return role === 'auditor' || role === 'admin';
});

/** Goes back to sign-in, saying why. */
export function endSession(notice: string): void {
  if (session.value === null) return;
  signInNotice.value = notice;
  session.value = null;
}

api.onSessionEnded(() => endSession(SESSION_ENDED));

/** Asks the server whether the cookie is still a live session. */
export async function checkSession(): Promise<void> {
  try {
    const current = await api.currentSession();
    if (current === null && session.value) endSession(SESSION_ENDED);
    else session.value = current;
  } catch {
    session.value = null;
    signInNotice.value = 'The console could not reach the server. Try again in a moment.';
  }
}

/** Signs out on the server (which clears the cookie), then here. */
export async function signOut(): Promise<void> {
  try {
    await api.signOut();
  } finally {
    signInNotice.value = 'You have signed out.';
    session.value = null;
  }
}
