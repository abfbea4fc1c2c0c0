// The plan catalogue (DESIGN §3 organizations.plan): what each plan allows. Every team and solo
// organization starts on `free`; `pro` comes from a Stripe subscription, with seats = its quantity.

export type Feature = 'ai_generation';
export type PlanId = 'free' | 'pro';

export interface Plan {
  id: PlanId;
  name: string;
  /** Fixed seat count, or null when seats come from the subscription quantity. */
  seats: number | null;
  features: Feature[];
  storageQuotaBytes: number;
  /** The Stripe price that buys this plan (null for free, and for pro while billing is not set up). */
  stripePriceId: string | null;
}

export interface PlanSettings {
  freeSeats: number;
  freeStorageMb: number;
  proStorageMb: number;
  proPriceId: string | undefined;
}

export function planCatalogue(settings: PlanSettings): Record<PlanId, Plan> {
  return {
    free: {
      id: 'free',
      name: 'Free',
      seats: settings.freeSeats,
      features: [],
      storageQuotaBytes: settings.freeStorageMb * 1024 * 1024,
      stripePriceId: null,
    },
    pro: {
      id: 'pro',
      name: 'Pro',
      seats: null,
      features: ['ai_generation'],
      storageQuotaBytes: settings.proStorageMb * 1024 * 1024,
      stripePriceId: settings.proPriceId ?? null,
    },
  };
}
