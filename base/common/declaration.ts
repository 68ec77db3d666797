import { dayKeyIn } from './time.js';

/**
 * The daily health declaration's questions (DOMAIN.md: the Ministry's usual ones), shared by the
 * phone page, the kiosk's declaration screen and the hub. Any "yes" flags a declaration.
 *
 * A declaration taken on a kiosk travels as answer codes only: a bitmask over DECLARATION_QUESTIONS
 * in this order (bit i = question i answered "yes"), never free text (the kiosk does not ask where
 * someone travelled; the phone page does). 0 is a clean declaration.
 */
export const SYMPTOMS = ['fever', 'cough', 'breath', 'throat', 'nausea', 'diarrhoea', 'tasteSmell'] as const;
export const CONTACTS = ['contactCase', 'contactArea', 'contactSymptoms'] as const;
/** Every yes/no question, travel first. The order is the wire's: new questions go at the end. */
export const DECLARATION_QUESTIONS = ['travel', ...SYMPTOMS, ...CONTACTS] as const;
export type DeclarationQuestion = (typeof DECLARATION_QUESTIONS)[number];

/** Yes/no per question, as the screens hold them. */
export type DeclarationAnswerSet = Record<DeclarationQuestion, boolean>;

/** The largest valid answer bitmask. */
export const MAX_ANSWER_BITS = 2 ** DECLARATION_QUESTIONS.length - 1;

export function answersToBits(answers: DeclarationAnswerSet): number {
  let bits = 0;
  DECLARATION_QUESTIONS.forEach((q, i) => {
    if (answers[q]) bits |= 1 << i;
  });
  return bits;
}

/** Throws RangeError on a mask with bits beyond the questions (validate at the door first). */
export function bitsToAnswers(bits: number): DeclarationAnswerSet {
  if (!Number.isInteger(bits) || bits < 0 || bits > MAX_ANSWER_BITS) throw new RangeError(`answer bits out of range: ${bits}`);
  return Object.fromEntries(DECLARATION_QUESTIONS.map((q, i) => [q, (bits & (1 << i)) !== 0])) as DeclarationAnswerSet;
}

export function isFlaggedBits(bits: number): boolean {
  return bits !== 0;
}

/**
 * How long after a scan the person may finish a declaration on the kiosk's screen (the token in
 * the result, held in memory only, used once).
 */
export const DECLARE_TOKEN_TTL_MS = 3 * 60_000;

/**
 * How long a declaration's answers are kept anywhere (Decree 13: health data, kept no longer than
 * needed; the questions look back 14 days): the hub's declarations table, and the answer bits of
 * declaration events on the kiosk and at the hub. The events themselves follow the store's retention.
 */
export const DECLARATION_ANSWERS_KEPT_DAYS = 14;
export const DECLARATION_ANSWERS_KEPT_MS = DECLARATION_ANSWERS_KEPT_DAYS * 86_400_000;

/** The declaration a worker's roster record goes by: its time (null: none yet) and whether it is flagged. */
export interface StandingDeclaration {
  declaredAtMs: number | null;
  flagged: boolean;
}

/**
 * The one rule for which declaration stands (the hub's roster record, the kiosk's own record from its
 * screen and from the site stream): whether `incoming` replaces `held`.
 * - never an older (or same-time) declaration over a newer one;
 * - a flagged declaration stands for the rest of its day in the province zone: a later clean one the
 *   same day is kept as a declaration (an event, a row) but does not clear the flag. The next day's
 *   clean declaration does, and so does a health officer at the hub (`hub declaration clear`), whose
 *   clearance is written to the record directly, not through this rule.
 * A flagged declaration over a clean one, or a newer flagged one over a flagged one, always stands.
 */
export function replacesDeclaration(held: StandingDeclaration, incoming: { declaredAtMs: number; flagged: boolean }, zone: string): boolean {
  if (held.declaredAtMs !== null && incoming.declaredAtMs <= held.declaredAtMs) return false;
  if (held.declaredAtMs !== null && held.flagged && !incoming.flagged && dayKeyIn(held.declaredAtMs, zone) === dayKeyIn(incoming.declaredAtMs, zone)) return false;
  return true;
}
