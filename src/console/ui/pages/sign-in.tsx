import { useState } from 'preact/hooks';
import { ApiError, signIn, type Session } from '../api.js';
import { ErrorNote } from '../components.js';

/** Email and password of the platform account; operators may use a token instead. */
export function SignIn(props: { onSignedIn: (session: Session) => void }) {
  const [withToken, setWithToken] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    setBusy(true);
    setError(undefined);
    try {
      const session = await signIn(withToken ? { token: String(form.get('token')) } : { email: String(form.get('email')), password: String(form.get('password')) });
      props.onSignedIn(session);
    } catch (e) {
      setError(e instanceof ApiError ? e.detail : 'Sign-in failed; try again.');
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="sign-in">
      <h1>Sign in to Switchboard administration</h1>
      <form onSubmit={submit} aria-describedby={error ? 'sign-in-error' : undefined}>
        {withToken ? (
          <label>
            Token
            <input name="token" type="password" autocomplete="off" required />
          </label>
        ) : (
          <>
            <label>
              Email
              <input name="email" type="email" autocomplete="username" required />
            </label>
            <label>
              Password
              <input name="password" type="password" autocomplete="current-password" required />
            </label>
          </>
        )}
        <div id="sign-in-error">
          <ErrorNote error={error} />
        </div>
        <button type="submit" class="primary" disabled={busy}>
          Sign in
        </button>
        <button type="button" class="link" onClick={() => setWithToken(!withToken)}>
          {withToken ? 'Sign in with email and password' : 'Operator? Sign in with a token'}
        </button>
      </form>
    </main>
  );
}
