// The plan, its seats and Stripe's checkout and portal, when the server has Stripe keys; a clear
// statement when it has not.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { fieldError } from '../../lib/errors';
import { trpc } from '../../lib/trpc';
import { ErrorNote, Field, formatBytes, formatDate, Loading, Page } from '../../ui';
import { useOrg } from './OrgLayout';

function Plans() {
  const plans = useQuery(trpc.billing.plans.queryOptions());
  if (plans.error) return <ErrorNote error={plans.error} />;
  if (!plans.data) return <Loading what="Loading plans" />;
  return (
    <div className="plans">
      {plans.data.plans.map((plan) => (
        <article key={plan.id} className="card plan" aria-labelledby={`plan-${plan.id}`}>
          <h3 id={`plan-${plan.id}`}>{plan.name}</h3>
          <ul>
            <li>{plan.seats === null ? 'Seats as you buy them' : `${plan.seats} seats`}</li>
            <li>{formatBytes(plan.storageQuotaBytes)} of files</li>
            <li>{plan.concurrentTasks} tasks at once</li>
            {plan.features.map((f) => (
              <li key={f}>{f.replace(/_/g, ' ')}</li>
            ))}
          </ul>
        </article>
      ))}
    </div>
  );
}

export function BillingPage() {
  const { organizationId, actor } = useOrg();
  const queryClient = useQueryClient();
  const billing = useQuery(trpc.billing.get.queryOptions({ organizationId }));
  const [seats, setSeats] = useState<number | null>(null);
  const redirect = { onSuccess: ({ url }: { url: string }) => window.location.assign(url) };
  const checkout = useMutation({ ...trpc.billing.checkout.mutationOptions(), ...redirect });
  const portal = useMutation({ ...trpc.billing.portal.mutationOptions(), ...redirect });
  const updateSeats = useMutation({
    ...trpc.billing.updateSeats.mutationOptions(),
    onSuccess: () =>
      queryClient.invalidateQueries({ queryKey: trpc.billing.get.queryKey({ organizationId }) }),
  });
  if (billing.error)
    return (
      <Page title="Billing">
        <ErrorNote error={billing.error} />
      </Page>
    );
  if (!billing.data) return <Loading />;
  const b = billing.data;
  const wanted = seats ?? Math.max(b.seats.used, b.seats.allowed, 1);
  const submitCheckout = (e: FormEvent) => {
    e.preventDefault();
    checkout.mutate({ organizationId, plan: 'pro', seats: wanted });
  };
  const submitSeats = (e: FormEvent) => {
    e.preventDefault();
    updateSeats.mutate({ organizationId, seats: wanted });
  };
  const subscribed = b.status !== null;
  return (
    <Page title="Billing">
      {!b.enabled && (
        <p className="notice" role="status">
          Billing is not configured on this server (it has no Stripe keys), so every organization is on the
          free plan.
        </p>
      )}
      <div className="card">
        <dl className="facts">
          <dt>Plan</dt>
          <dd>{b.plan}</dd>
          <dt>Subscription</dt>
          <dd>{b.status ?? 'none'}</dd>
          <dt>Seats</dt>
          <dd>
            {b.seats.used} used of {b.seats.allowed} ({b.seats.members} members, {b.seats.pendingInvitations}{' '}
            pending invitations)
          </dd>
          {b.currentPeriodEnd && (
            <>
              <dt>{b.cancelAtPeriodEnd ? 'Ends' : 'Renews'}</dt>
              <dd>{formatDate(b.currentPeriodEnd)}</dd>
            </>
          )}
          {b.inGracePeriod && (
            <>
              <dt>Payment</dt>
              <dd className="error">
                Past due since {formatDate(b.pastDueSince)}: update the payment method.
              </dd>
            </>
          )}
        </dl>
      </div>
      {b.enabled && actor.isSolo && <p>Paid plans are for team organizations.</p>}
      {b.enabled && !actor.isSolo && (
        <div className="card stack">
          <form onSubmit={subscribed ? submitSeats : submitCheckout} className="inline-form" noValidate>
            <Field label="Seats" error={fieldError((subscribed ? updateSeats : checkout).error, 'seats')}>
              {(p) => (
                <input
                  {...p}
                  type="number"
                  min={Math.max(1, b.seats.used)}
                  max={10000}
                  value={wanted}
                  onChange={(e) => setSeats(Number(e.target.value))}
                />
              )}
            </Field>
            <button type="submit" className="primary" disabled={checkout.isPending || updateSeats.isPending}>
              {subscribed ? 'Change seats' : 'Upgrade to Pro'}
            </button>
          </form>
          <ErrorNote error={checkout.error ?? updateSeats.error} />
          {subscribed && (
            <>
              <button
                type="button"
                onClick={() => portal.mutate({ organizationId })}
                disabled={portal.isPending}
              >
                Manage payment and invoices
              </button>
              <ErrorNote error={portal.error} />
            </>
          )}
        </div>
      )}
      <h2>Plans</h2>
      <Plans />
    </Page>
  );
}
