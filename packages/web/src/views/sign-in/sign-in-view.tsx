/**
 * Sign-in with a username and password. The server answers the same for an unknown user and a
 * wrong password, locks an account after repeated failures and rate-limits by address; this page
 * shows its message as it is, since it says what to do (wait, or ask an admin to unlock).
 */
import { useId, useState, type FormEvent } from 'react';
import { useAuth } from '../../app/auth.tsx';
import { messageOf } from '../../app/api-client.ts';

export default function SignInView() {
  const auth = useAuth();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const userId = useId();
  const passId = useId();
  const reason = auth.state.status === 'signed-out' ? auth.state.reason : undefined;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await auth.signIn(username.trim(), password);
      setPassword('');
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="sign-in" onSubmit={(e) => void submit(e)} aria-labelledby="sign-in-title">
      <h1 id="sign-in-title">Shellguard</h1>
      <p className="subtitle">Sign in to the site dashboard.</p>
      {reason === 'expired' ? <p className="notice" role="status">Your session ended. Sign in again to continue where you were.</p> : null}
      {reason === 'signed-out' ? <p className="notice" role="status">You are signed out.</p> : null}
      <label htmlFor={userId} className="field">
        <span>Username</span>
        <input id={userId} name="username" autoComplete="username" value={username} onChange={(e) => setUsername(e.target.value)} required autoFocus />
      </label>
      <label htmlFor={passId} className="field">
        <span>Password</span>
        <input id={passId} name="password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} required />
      </label>
      {error ? <p className="form-error" role="alert" data-testid="sign-in-error">{error}</p> : null}
      <button type="submit" className="primary" disabled={busy}>{busy ? 'Signing in…' : 'Sign in'}</button>
    </form>
  );
}
