import type { Page } from 'playwright-core';
import { DECLARATION_QUESTIONS, type DeclarationQuestion } from '../../base/common/declaration.js';

/** The screens' test ids these end-to-end tests drive (src-renderer, part F of issue 14). */
export const UI = {
  declareNow: 'declare-now',
  declareForm: 'declare-form',
  answer: (q: DeclarationQuestion, yes: boolean) => `q-${q}-${yes ? 'yes' : 'no'}`,
  declareNext: 'declare-next',
  declareSubmit: 'declare-submit',
  visitorNotice: 'visitor-notice',
  visitorGreeting: 'visitor-name',
  visitorKeptDays: 'visitor-kept-days',
  visitorAgree: 'visitor-agree',
  visitorHostChoice: 'visitor-host-choice',
  visitorPurposeChoice: 'visitor-purpose-choice',
  tabVisitors: 'tab-visitors',
  visitorRow: 'visitor-row',
  visitorApprove: 'visitor-approve',
} as const;

/**
 * Answers every question of the open declaration form ("yes" to those in `yes`), part by part (the
 * form shows some questions at a time and "next" once they are all answered), and submits it.
 * Returns how many taps it took.
 */
export async function answerDeclaration(page: Page, yes: readonly DeclarationQuestion[]): Promise<number> {
  await page.getByTestId(UI.declareForm).waitFor({ timeout: 30_000 });
  let taps = 0;
  const answered = new Set<DeclarationQuestion>();
  for (let part = 0; part < DECLARATION_QUESTIONS.length; part++) {
    for (const q of DECLARATION_QUESTIONS) {
      const answer = page.getByTestId(UI.answer(q, yes.includes(q)));
      if (answered.has(q) || !(await answer.isVisible())) continue;
      await answer.click();
      answered.add(q);
      taps++;
    }
    const next = page.getByTestId(UI.declareNext);
    if (!(await next.isVisible())) break;
    await next.click();
    taps++;
  }
  if (answered.size !== DECLARATION_QUESTIONS.length) throw new Error(`the form showed ${answered.size} of ${DECLARATION_QUESTIONS.length} questions`);
  await page.getByTestId(UI.declareSubmit).click();
  return taps + 1;
}

/** How long the supervisor corner target is held (SUPERVISOR_HOLD_MS in src-renderer/App.tsx). */
const SUPERVISOR_HOLD_MS = 2_000;

/** Holds the corner target, picks the named supervisor, types their PIN. */
export async function signInSupervisor(page: Page, id: string, pin: string): Promise<void> {
  const box = (await page.getByTestId('supervisor-open').boundingBox())!;
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.down();
  await page.getByTestId('supervisor').waitFor({ timeout: SUPERVISOR_HOLD_MS + 10_000 });
  await page.mouse.up();
  await page.getByTestId(`account-${id}`).click();
  for (const k of pin) await page.getByTestId(`pin-${k}`).click();
  await page.getByTestId('pin-OK').click();
  await page.getByTestId('tab-today').waitFor({ timeout: 30_000 });
}
