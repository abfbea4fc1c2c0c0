import { useMutation } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { Link, Navigate, useNavigate, useSearchParams } from 'react-router';
import { fieldError } from '../../lib/errors';
import { woopdi } from '../../lib/woopdi';
import { useSignedIn } from '../../session';
import { ErrorNote, Field, Page } from '../../ui';
import { safeNext } from './SignInPage';

export function SignUpPage() {
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const signedIn = useSignedIn();
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const signup = useMutation({
    mutationFn: () => woopdi.signup({ email, password, ...(name.trim() ? { name: name.trim() } : {}) }),
    onSuccess: () => navigate(safeNext(params.get('next')), { replace: true }),
  });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    signup.mutate();
  };
  const fields = ['email', 'password', 'name'];
  if (signedIn && !signup.isPending) return <Navigate to={safeNext(params.get('next'))} replace />;
  const general = signup.error && !fields.some((f) => fieldError(signup.error, f)) ? signup.error : null;
  return (
    <Page title="Create your account">
      <form onSubmit={submit} className="card stack" noValidate>
        <Field label="Name" error={fieldError(signup.error, 'name')} hint="Optional">
          {(p) => (
            <input
              {...p}
              autoComplete="name"
              maxLength={120}
              value={name}
              onChange={(e) => setName(e.target.value)}
            />
          )}
        </Field>
        <Field label="Email" error={fieldError(signup.error, 'email')}>
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
        <Field label="Password" error={fieldError(signup.error, 'password')} hint="At least 8 characters">
          {(p) => (
            <input
              {...p}
              type="password"
              autoComplete="new-password"
              required
              minLength={8}
              maxLength={256}
              value={password}
              onChange={(e) => setPassword(e.target.value)}
            />
          )}
        </Field>
        <ErrorNote error={general} />
        <button type="submit" className="primary" disabled={signup.isPending}>
          {signup.isPending ? 'Creating…' : 'Create account'}
        </button>
        <p>
          Already have an account? <Link to="/sign-in">Sign in</Link>
        </p>
      </form>
    </Page>
  );
}
