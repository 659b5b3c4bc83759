import { Notice } from '../components/Notice';
import { useTitle } from '../lib/title';

export function SignIn({ reason, onSignIn }: { reason?: 'expired' | 'logout'; onSignIn: () => void }) {
  useTitle('Sign in');
  return (
    <section class="signin" aria-labelledby="signin-title">
      <h1 id="signin-title" tabIndex={-1}>
        Sign in to SpawnIt
      </h1>
      {reason === 'expired' ? (
        <Notice tone="warn">Your session has ended. Sign in again to continue where you were.</Notice>
      ) : reason === 'logout' ? (
        <Notice tone="info">You have signed out.</Notice>
      ) : null}
      <p>
        SpawnIt deploys databases, game servers and developer tools for you from a catalog: pick one, fill in a short
        form, and it is set up on this machine.
      </p>
      <p>Sign in with your organisation’s account to see your services.</p>
      {/* A plain link: the sign-in is a full-page redirect to the identity provider. */}
      <a class="button button--primary button--large" href="/auth/login" onClick={onSignIn} data-testid="sign-in">
        Sign in
      </a>
    </section>
  );
}
