import { z } from 'zod';
import type { DccType } from '../../common/dcc.js';

/**
 * The hcert payload checked against the EU DCC JSON schema (ehn-dcc-development/ehn-dcc-schema,
 * versions 1.0 to 1.3), as far as a verifier needs it: the version, the standardised surname, the
 * date of birth, and exactly one of v/t/r, with one entry, holding its required fields. Unknown
 * extra fields are allowed (newer schema versions add some).
 */

const text = (max: number) => z.string().max(max);
const nam = z.looseObject({
  fn: text(80).optional(),
  fnt: z.string().min(1).max(80).regex(/^[A-Z<]*$/),
  gn: text(80).optional(),
  gnt: z.string().max(80).regex(/^[A-Z<]*$/).optional(),
});
const common = { tg: text(64), co: text(64), is: text(80), ci: z.string().min(1).max(80) };
const vEntry = z.looseObject({ ...common, vp: text(64), mp: text(64), ma: text(64), dn: z.number().int().min(1).max(9), sd: z.number().int().min(1).max(9), dt: text(32) });
const tEntry = z.looseObject({ ...common, tt: text(64), nm: text(80).optional(), ma: text(64).optional(), sc: text(40), tr: text(64), tc: text(80).optional() });
const rEntry = z.looseObject({ ...common, fr: text(32), df: text(32), du: text(32) });

const base = {
  ver: z.string().regex(/^\d+\.\d+\.\d+$/),
  nam,
  dob: z.string().regex(/^((19|20)\d\d(-\d\d){0,2}){0,1}(T[\d:.+Z-]*)?$/),
};

const absent = z.never().optional();
const BRANCHES = {
  v: z.looseObject({ ...base, v: z.array(vEntry).length(1), t: absent, r: absent }),
  t: z.looseObject({ ...base, t: z.array(tEntry).length(1), v: absent, r: absent }),
  r: z.looseObject({ ...base, r: z.array(rEntry).length(1), v: absent, t: absent }),
};

/** The certificate's type from which group it holds (null when none or more than one). */
export function dccTypeOf(hcert: Record<string, unknown>): DccType | null {
  const present = (['v', 't', 'r'] as const).filter((k) => Array.isArray(hcert[k]) && (hcert[k] as unknown[]).length > 0);
  if (present.length !== 1) return null;
  return present[0] === 'v' ? 'vaccination' : present[0] === 't' ? 'test' : 'recovery';
}

/** Undefined when the hcert follows the schema, else the first problem (a field path, no values). */
export function hcertSchemaProblem(hcert: Record<string, unknown>): string | undefined {
  const type = dccTypeOf(hcert);
  if (!type) return 'exactly one of v, t, r';
  const r = BRANCHES[type === 'vaccination' ? 'v' : type === 'test' ? 't' : 'r'].safeParse(hcert);
  if (r.success) return undefined;
  const issue = r.error.issues[0];
  return `${issue?.path.join('.') || 'hcert'}: ${issue?.code ?? 'invalid'}`;
}
