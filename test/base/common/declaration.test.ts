import { describe, expect, it } from 'vitest';
import { answersToBits, bitsToAnswers, DECLARATION_QUESTIONS, replacesDeclaration } from '../../../base/common/declaration.js';

const ZONE = 'Asia/Ho_Chi_Minh';
/** 08:00 on 27 November 2026 in Hồ Chí Minh City (UTC+7). */
const MORNING = Date.parse('2026-11-27T08:00:00+07:00');
const HOUR = 3_600_000;

describe('which declaration stands (the one rule for the hub roster and the kiosk)', () => {
  it('never an older or same-time declaration over a newer one; anything over none', () => {
    expect(replacesDeclaration({ declaredAtMs: null, flagged: false }, { declaredAtMs: MORNING, flagged: false }, ZONE)).toBe(true);
    expect(replacesDeclaration({ declaredAtMs: MORNING, flagged: false }, { declaredAtMs: MORNING - HOUR, flagged: true }, ZONE)).toBe(false);
    expect(replacesDeclaration({ declaredAtMs: MORNING, flagged: false }, { declaredAtMs: MORNING, flagged: true }, ZONE)).toBe(false);
    expect(replacesDeclaration({ declaredAtMs: MORNING, flagged: false }, { declaredAtMs: MORNING + HOUR, flagged: false }, ZONE)).toBe(true);
  });

  it('a flagged declaration stands until the end of its day in the province zone: a clean one that day does not replace it, a flagged one does, the next day any does', () => {
    const flagged = { declaredAtMs: MORNING, flagged: true };
    expect(replacesDeclaration(flagged, { declaredAtMs: MORNING + 30_000, flagged: false }, ZONE)).toBe(false);
    // 23:59:59 the same day, province time (16:59:59 UTC).
    expect(replacesDeclaration(flagged, { declaredAtMs: Date.parse('2026-11-27T23:59:59+07:00'), flagged: false }, ZONE)).toBe(false);
    expect(replacesDeclaration(flagged, { declaredAtMs: MORNING + HOUR, flagged: true }, ZONE)).toBe(true);
    // 00:00 the next day, province time: a new day, though the same UTC date.
    expect(replacesDeclaration(flagged, { declaredAtMs: Date.parse('2026-11-28T00:00:00+07:00'), flagged: false }, ZONE)).toBe(true);
    // The same instants in another zone split the days elsewhere: the zone is the rule's.
    expect(replacesDeclaration(flagged, { declaredAtMs: Date.parse('2026-11-27T23:59:59+07:00'), flagged: false }, 'UTC')).toBe(false);
    expect(replacesDeclaration({ declaredAtMs: Date.parse('2026-11-27T06:00:00+07:00'), flagged: true }, { declaredAtMs: Date.parse('2026-11-27T08:00:00+07:00'), flagged: false }, 'UTC')).toBe(true);
  });

  it('answer bits and answers convert both ways', () => {
    for (const bits of [0, 1, 0b101, 2 ** DECLARATION_QUESTIONS.length - 1]) expect(answersToBits(bitsToAnswers(bits))).toBe(bits);
  });
});
