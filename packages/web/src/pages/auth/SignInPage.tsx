import { useMutation } from '@tanstack/react-query';
import { type FormEvent, useEffect, useState } from 'react';
import { Link, Navigate, useNavigate, useSearchParams } from 'react-router';
import { errorCode, errorMessage, fieldError, retryAfterSeconds } from '../../lib/errors';
import { woopdi } from '../../lib/woopdi';
import { useSignedIn } from '../../session';
import { Field, Page } from '../../ui';

/** Only same-app paths: `next` comes from the URL, so it must not send anyone elsewhere. */
export const safeNext = (next: string | null) =>
  next?.startsWith('/') && !next.startsWith('//') ? next : '/';

/** Seconds left until `until` (ms), ticking each second; 0 when passed. */
function useCountdown(until: number | null) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (!until) return;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [until]);
  return until ? Math.max(0, Math.ceil((until - now) / 1000)) : 0;
}

export function SignInPage() {
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const signedIn = useSignedIn();
  const [email, setEmail] = useState(params.get('email') ?? '');
  const [password, setPassword] = useState('');
  const [blockedUntil, setBlockedUntil] = useState<number | null>(null);
  const wait = useCountdown(blockedUntil);
  const [challenge, setChallenge] = useState<string | null>(null);
  const login = useMutation({
    mutationFn: () => woopdi.login(email, password),
    onSuccess: (result) => {
      // With two-factor on, the password only opens the second step.
      if (result.twoFactorRequired) setChallenge(result.challengeToken);
      else navigate(safeNext(params.get('next')), { replace: true });
    },
    onError: (error) => {
      const seconds = retryAfterSeconds(error);
      setBlockedUntil(seconds ? Date.now() + seconds * 1000 : null);
    },
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    login.mutate();
  };
  const limited = errorCode(login.error) === 'TOO_MANY_REQUESTS';
  if (signedIn && !login.isPending) return <Navigate to={safeNext(params.get('next'))} replace />;
  if (challenge) {
    return (
      <TwoFactorStep
        challengeToken={challenge}
        onDone={() => navigate(safeNext(params.get('next')), { replace: true })}
        onRestart={() => setChallenge(null)}
      />
    );
  }
  return (
    <Page title="Sign in">
      <form onSubmit={submit} className="card stack" noValidate>
        <Field label="Email" error={fieldError(login.error, 'email')}>
          {(p) => (
            <input
              {...p}
              type="email"
              autoComplete="email"
              required
              maxLength={254}
              value={email}
              onChange={(e) => setEmail(e.target.value)}
            />
          )}
        </Field>
        <Field label="Password" error={fieldError(login.error, 'password')}>
          {(p) => (
            <input
              {...p}
              type="password"
              autoComplete="current-password"
              required
              maxLength={256}
              value={password}
              onChange={(e) => setPassword(e.target.value)}
            />
          )}
        </Field>
        {login.error && (
          <p className="error" role="alert">
            {limited && wait > 0
              ? `Too many sign-in attempts. Try again in ${wait} second${wait === 1 ? '' : 's'}.`
              : errorMessage(login.error)}
          </p>
        )}
        <button type="submit" className="primary" disabled={login.isPending || (limited && wait > 0)}>
          {login.isPending ? 'Signing in…' : 'Sign in'}
        </button>
        <p className="row">
          <Link to="/forgot-password">Forgot your password?</Link>
          <Link
            to={`/sign-up${params.get('next') ? `?next=${encodeURIComponent(params.get('next')!)}` : ''}`}
          >
            Create an account
          </Link>
        </p>
      </form>
    </Page>
  );
}

/** The sign-in's second step: a code from the authenticator app, or a recovery code. */
function TwoFactorStep(props: { challengeToken: string; onDone: () => void; onRestart: () => void }) {
  const [code, setCode] = useState('');
  const [useRecovery, setUseRecovery] = useState(false);
  const verify = useMutation({
    mutationFn: () =>
      woopdi.verifyTwoFactor(props.challengeToken, useRecovery ? { recoveryCode: code.trim() } : code.trim()),
    onSuccess: props.onDone,
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    verify.mutate();
  };
  // An expired or used challenge cannot be retried: back to the password.
  const restart = /sign in again/.test(verify.error ? errorMessage(verify.error) : '');
  return (
    <Page title="Two-factor sign-in">
      <form onSubmit={submit} className="card stack" noValidate>
        <Field label={useRecovery ? 'Recovery code' : 'Code from your authenticator app'}>
          {(p) => (
            <input
              {...p}
              autoComplete="one-time-code"
              inputMode={useRecovery ? 'text' : 'numeric'}
              required
              maxLength={32}
              value={code}
              onChange={(e) => setCode(e.target.value)}
            />
          )}
        </Field>
        {verify.error && (
          <p className="error" role="alert">
            {errorMessage(verify.error)}
          </p>
        )}
        <button type="submit" className="primary" disabled={verify.isPending || !code.trim()}>
          {verify.isPending ? 'Checking…' : 'Continue'}
        </button>
        <p className="row">
          <button type="button" onClick={() => setUseRecovery(!useRecovery)}>
            {useRecovery ? 'Use a code from the app' : 'Use a recovery code'}
          </button>
          {restart && (
            <button type="button" onClick={props.onRestart}>
              Sign in again
            </button>
          )}
        </p>
      </form>
    </Page>
  );
}
