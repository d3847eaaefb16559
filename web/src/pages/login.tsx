import { useState } from 'preact/hooks';
import { ErrorBox } from '../components/ui.js';
import { signIn } from '../lib/session.js';

export function LoginPage() {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);
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
  return (
    <main class="login">
      <h1>Capstan</h1>
      <form onSubmit={submit} aria-label="Sign in">
        <label>
          Account
          <input name="username" autoComplete="username" value={username} onInput={(e) => setUsername((e.target as HTMLInputElement).value)} required autoFocus />
        </label>
        <label>
          Password
          <input name="password" type="password" autoComplete="current-password" value={password} onInput={(e) => setPassword((e.target as HTMLInputElement).value)} required />
        </label>
        <ErrorBox error={error} />
        <button class="primary" type="submit" disabled={busy}>Sign in</button>
        <p class="muted small">
          Single sign-on: OIDC tokens are accepted as bearer credentials by the API (<code>capstan login --token</code>); an owner can create
          an account with <code>capstan admin create NAME</code>.
        </p>
      </form>
    </main>
  );
}
