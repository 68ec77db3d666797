import type { z } from 'zod';

/** One problem with a value that crossed a boundary: where (dotted path, empty for the whole) and what. */
export interface Problem {
  path: string;
  message: string;
}

/** A zod error as problems, one per issue, in the order zod found them. */
export function problemsOf(error: z.ZodError): Problem[] {
  return error.issues.map((i) => ({ path: i.path.map(String).join('.'), message: i.message }));
}

/** Problems as one line of text: `path: message; path: message` (the whole value is "(top)"). */
export function problemsText(problems: readonly Problem[], separator = '; '): string {
  return problems.map((p) => `${p.path || '(top)'}: ${p.message}`).join(separator);
}

/** A zod error as one line of text (see problemsText). */
export function issuesText(error: z.ZodError, separator = '; '): string {
  return problemsText(problemsOf(error), separator);
}
