// The plan catalogue (DESIGN §3 organizations.plan): what each plan allows. Every team and solo
// organization starts on `free`; `pro` comes from a Stripe subscription, with seats = its quantity.

export const features = ['ai_generation'] as const;
export type Feature = (typeof features)[number];
export type PlanId = 'free' | 'pro';

export interface Plan {
  id: PlanId;
  name: string;
  /** Fixed seat count, or null when seats come from the subscription quantity. */
  seats: number | null;
  features: Feature[];
  storageQuotaBytes: number;
  /** Tasks the organization may have queued or running at once (tasks.start answers 412 past it). */
  concurrentTasks: number;
  /** The Stripe price that buys this plan (null for free, and for pro while billing is not set up). */
  stripePriceId: string | null;
}

export interface PlanSettings {
  freeSeats: number;
  /** Paid features granted to free organizations too (self-hosting without billing). */
  freeFeatures?: Feature[];
  freeStorageMb: number;
  proStorageMb: number;
  freeConcurrentTasks: number;
  proConcurrentTasks: number;
  proPriceId: string | undefined;
}

export function planCatalogue(settings: PlanSettings): Record<PlanId, Plan> {
  return {
    free: {
      id: 'free',
      name: 'Free',
      seats: settings.freeSeats,
      features: settings.freeFeatures ?? [],
      storageQuotaBytes: settings.freeStorageMb * 1024 * 1024,
      concurrentTasks: settings.freeConcurrentTasks,
      stripePriceId: null,
    },
    pro: {
      id: 'pro',
      name: 'Pro',
      seats: null,
      features: ['ai_generation'],
      storageQuotaBytes: settings.proStorageMb * 1024 * 1024,
      concurrentTasks: settings.proConcurrentTasks,
      stripePriceId: settings.proPriceId ?? null,
    },
  };
}
