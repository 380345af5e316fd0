import { useState } from 'preact/hooks';
import { ApiError, createApi, messageOf } from '../api.js';

/** Why a key cannot sign in, in words an operator can act on. */
function refusal(error: unknown): string {
  if (!(error instanceof ApiError)) return messageOf(error);
  if (error.status === 403) {
    return 'This key is valid, but it is not an admin key: it may use the MCP instances it is granted, but it cannot manage the gateway. Sign in with an admin key (DYNMCP_API_KEYS, or an auth.keys entry with "admin": true).';
  }
  if (error.status === 401) return 'The gateway does not know this key. Check it and try again.';
  if (error.status === 429) return `${error.message}`;
  return error.message;
}

export function SignIn({ onSignedIn }: { onSignedIn(key: string): void }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    if (key.trim() === '') {
      setError('Enter an admin key.');
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      // Any admin route proves the key: a non-admin key gets 403, an unknown one 401.
      await createApi(key.trim()).call('GET', '/admin/status');
      onSignedIn(key.trim());
    } catch (caught) {
      setError(refusal(caught));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main id="main" class="sign-in">
      <h1>DynMCP console</h1>
      <p>Sign in with an admin key of this gateway. It is kept in this tab only (session storage) and sent in the Authorization header.</p>
      <form onSubmit={submit} noValidate>
        <label for="admin-key">Admin key</label>
        <input
          id="admin-key"
          name="admin-key"
          type="password"
          autoComplete="current-password"
          value={key}
          aria-invalid={error !== undefined}
          aria-describedby={error === undefined ? undefined : 'admin-key-error'}
          onInput={(event) => setKey(event.currentTarget.value)}
        />
        {error !== undefined && (
          <p id="admin-key-error" class="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
