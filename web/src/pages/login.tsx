import { useEffect, useState } from 'preact/hooks';
import { CapstanClient } from '../../../src/client/index.js';
import { ErrorBox, Loading } from '../components/ui.js';
import { navigate } from '../lib/router.js';
import { signIn } from '../lib/session.js';
import { finishSignOn, startSignOn } from '../lib/sso.js';

type Providers = Awaited<ReturnType<CapstanClient['authProviders']>>;

export function LoginPage() {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);
  const [providers, setProviders] = useState<Providers | null>(null);
  useEffect(() => {
    new CapstanClient({ url: location.origin }).authProviders().then(setProviders, setError);
  }, []);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signIn(username, password);
    } catch (err) {
      setError(err as Error);
    } finally {
      setBusy(false);
    }
  };
  const oidc = providers?.oidc;
  return (
    <main class="login">
      <h1>Capstan</h1>
      {oidc ? (
        <div class="row">
          <button class="primary" style={{ width: '100%' }} disabled={busy} onClick={() => startSignOn(oidc).catch(setError)}>
            Sign in with single sign-on
          </button>
          <p class="muted small">Through {new URL(oidc.issuer).host}.</p>
        </div>
      ) : null}
      <form onSubmit={submit} aria-label="Sign in">
        <label>
          Account
          <input name="username" autoComplete="username" value={username} onInput={(e) => setUsername((e.target as HTMLInputElement).value)} required autoFocus={!oidc} />
        </label>
        <label>
          Password
          <input name="password" type="password" autoComplete="current-password" value={password} onInput={(e) => setPassword((e.target as HTMLInputElement).value)} required />
        </label>
        <ErrorBox error={error} />
        <button class={oidc ? '' : 'primary'} type="submit" disabled={busy}>Sign in</button>
        {!oidc ? (
          <p class="muted small">An owner creates accounts with <code>capstan accounts create NAME</code>; single sign-on appears here once the server has an OIDC client (<code>auth.oidc_client_id</code>).</p>
        ) : null}
      </form>
    </main>
  );
}

/** Where the identity provider sends the browser back: finishes the sign-in, then goes where it started. */
export function OidcCallbackPage({ query }: { query: URLSearchParams }) {
  const [error, setError] = useState<Error | null>(null);
  useEffect(() => {
    finishSignOn(query).then((back) => navigate(back, true), setError);
  }, []);
  return (
    <main class="login">
      <h1>Capstan</h1>
      {error ? (
        <>
          <ErrorBox error={error} />
          <p><a href="/ui/experiments">Back to the sign-in page</a></p>
        </>
      ) : <Loading what="your sign-in" />}
    </main>
  );
}
