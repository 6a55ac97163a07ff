import { z } from 'zod';

/** Languages the shopper's pay page and widget speak. */
export const CHECKOUT_LOCALES = ['en', 'es', 'de', 'fr', 'pt'] as const;
export type CheckoutLocale = (typeof CHECKOUT_LOCALES)[number];

/** WCAG AA for normal text: the brand colour carries white text (buttons, header). */
export const MIN_BRAND_CONTRAST = 4.5;
const HEX_COLOUR = /^#[0-9a-fA-F]{6}$/;

/** WCAG 2 relative luminance of an sRGB `#rrggbb` colour (0 black … 1 white). */
export function relativeLuminance(hex: string): number {
  const channel = (i: number) => {
    const c = parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
}

/** Contrast ratio of white text on this colour, 1 to 21. */
export function contrastWithWhite(hex: string): number {
  return 1.05 / (relativeLuminance(hex) + 0.05);
}

const brandColor = z.string().regex(HEX_COLOUR, 'must be a colour written #rrggbb, e.g. #1d4ed8').superRefine((colour, ctx) => {
  if (!HEX_COLOUR.test(colour)) return;
  const ratio = contrastWithWhite(colour);
  if (ratio < MIN_BRAND_CONTRAST) {
    ctx.addIssue({
      code: 'custom',
      message: `${colour} is too light: white text on it has a contrast of ${(Math.floor(ratio * 100) / 100).toFixed(2)}:1, and WCAG AA needs at least ${MIN_BRAND_CONTRAST}:1; choose a darker shade`,
    });
  }
});

/**
 * An origin allowed to frame the pay page (the store's own site, for the modal): https with a
 * lowercase host and optional port, no path. Loopback over http (`http://localhost:3000`,
 * `http://127.0.0.1:8080`) is accepted too, for development and tests: only the shopper's own
 * machine can serve it.
 */
const FRAME_ORIGIN = /^(?:https:\/\/(?=[^:]{1,253}(?::|$))[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*|http:\/\/(?:localhost|127\.0\.0\.1|\[::1\]))(?::[1-9][0-9]{0,4})?$/;
const frameOrigin = z.string().max(300).regex(FRAME_ORIGIN, 'must be an origin such as https://shop.example.com (https, lowercase host, optional :port, no path; http only for localhost)')
  .refine((o) => { const port = /:(\d+)$/.exec(o.replace(/^https?:\/\//, '')); return !port || Number(port[1]) <= 65535; }, 'has a port above 65535');

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
  /** Accent colour of the pay page and widget; must keep white text readable (WCAG AA). */
  brandColor: brandColor.default('#1d4ed8'),
  /** The store's logo on the pay page and widget, loaded by the shopper's browser. */
  logoUrl: z.url({ protocol: /^https$/, error: 'must be an https:// URL' }).max(2048).nullable().default(null),
  /** Language of the pay page and widget when the shopper's browser does not pick one. */
  locale: z.enum(CHECKOUT_LOCALES).default('en'),
  /** Origins allowed to frame the hosted pay page (the store's site, for the widget's modal); none by default. */
  frameAncestors: z.array(frameOrigin).max(10).default([]),
  /** Whom a shopper with a problem (e.g. an underpayment that cannot be topped up) should write to. */
  supportEmail: z.email().max(254).nullable().default(null),
});

export type MerchantSettings = z.infer<typeof MerchantSettingsSchema>;

export const DEFAULT_SETTINGS: MerchantSettings = MerchantSettingsSchema.parse({});

export function readSettings(stored: unknown): MerchantSettings {
  const parsed = MerchantSettingsSchema.safeParse(stored ?? {});
  return parsed.success ? parsed.data : DEFAULT_SETTINGS;
}
