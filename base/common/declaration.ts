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
