import { z } from 'zod';

/** Text PostgreSQL can store: no NUL characters, no lone UTF-16 surrogates. */
export function isStorableText(v: string): boolean {
  return !v.includes('\u0000') && v.isWellFormed();
}

/** A string schema that refuses what isStorableText refuses. */
export function storable(s: z.ZodString) {
  return s.refine(isStorableText, 'contains a NUL character or invalid Unicode');
}

/** Zod issues as `{field, problem}` pairs, the `details` of a 400 answer. */
export function describeIssues(error: z.ZodError): { field: string; problem: string }[] {
  return error.issues.map((i) => ({ field: i.path.join('.') || '(body)', problem: i.message }));
}
