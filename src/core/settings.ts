import { z } from 'zod';

/** What a merchant decides about their payments; stored per store, defaults below. */
export const MerchantSettingsSchema = z.object({
  /** Shortfall accepted as paid, in basis points of the amount (50 = 0.5 %), for network fees. */
  underpaymentToleranceBp: z.number().int().min(0).max(1000).default(50),
  /** How long the shopper has to pay. */
  expiryMinutes: z.number().int().min(5).max(1440).default(30),
  /** A payment arriving this long after expiry can still count (as `paid_late`, or for review). */
  latePaymentWindowMinutes: z.number().int().min(0).max(10080).default(60),
  latePaymentPolicy: z.enum(['paid_late', 'review']).default('paid_late'),
  /** `fast`: accept on first sighting; `secure`: wait for block confirmations. */
  confirmationSpeed: z.enum(['fast', 'secure']).default('secure'),
});

export type MerchantSettings = z.infer<typeof MerchantSettingsSchema>;

export const DEFAULT_SETTINGS: MerchantSettings = MerchantSettingsSchema.parse({});

export function readSettings(stored: unknown): MerchantSettings {
  const parsed = MerchantSettingsSchema.safeParse(stored ?? {});
  return parsed.success ? parsed.data : DEFAULT_SETTINGS;
}
