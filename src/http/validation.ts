import { z } from 'zod';

/** Text PostgreSQL can store: no NUL characters, no lone UTF-16 surrogates. */
export function storable(s: z.ZodString) {
  return s.refine((v) => !v.includes('\u0000') && v.isWellFormed(), 'contains a NUL character or invalid Unicode');
}

/** Zod issues as `{field, problem}` pairs, the `details` of a 400 answer. */
export function describeIssues(error: z.ZodError): { field: string; problem: string }[] {
  return error.issues.map((i) => ({ field: i.path.join('.') || '(body)', problem: i.message }));
}
