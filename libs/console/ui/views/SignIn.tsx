/**
 * Owns sign-in: a reader API key in a password field, exchanged by `POST /console/api/session`
 * for an HttpOnly session cookie. The key lives only in the field until it is sent; the field is
 * cleared whatever the answer, and nothing is written to Web Storage.
 */
import { useRef, useState } from 'preact/hooks';
import * as api from '../api';
import { problemText } from '../format';
import { session, signInNotice } from '../session';

export function SignIn() {
  const field = useRef<HTMLInputElement>(null);
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<{ title: string; detail?: string } | undefined>(undefined);
  const notice = signInNotice.value;

  const submit = async (event: Event) => {
    event.preventDefault();
    const input = field.current;
    if (!input) return;
    const key = input.value;
    input.value = '';
    if (key.trim() === '') {
      setFailure({ title: 'Enter a reader API key.' });
      input.focus();
      return;
    }
    setBusy(true);
    setFailure(undefined);
    try {
      const signedIn = await api.signIn(key.trim());
      signInNotice.value = undefined;
      session.value = signedIn;
    } catch (error) {
      setFailure(problemText(error));
      input.focus();
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="signin" id="main">
      <form class="card signin-card" onSubmit={(event) => void submit(event)} aria-labelledby="signin-title">
        <div class="brand brand-dark">
          <span class="brand-mark" aria-hidden="true" />
          AISPM
        </div>
        <h1 id="signin-title">Sign in to the console</h1>
        {notice ? (
          <div class="alert alert-info" role="status">
            {notice}
          </div>
        ) : null}
        {failure ? (
          <div class="alert alert-error" role="alert">
            <strong>{failure.title}</strong>
            {failure.detail ? <span> {failure.detail}</span> : null}
          </div>
        ) : null}
        <div class="field">
          <label for="api-key">Reader API key</label>
          <input
            ref={field}
            id="api-key"
            name="api_key"
            type="password"
            autoComplete="off"
            autoCapitalize="off"
            spellcheck={false}
            required
            autoFocus
          />
        </div>
        <p class="muted small">
          The key is exchanged for a short-lived session cookie and is not kept by this page. Ask your
          tenant's admin for a reader key (<code>aispm reader create</code>).
        </p>
        <button type="submit" class="primary wide" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
