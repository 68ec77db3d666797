import type { StoredBinding } from './binding-store.js';
import { DECLARATION_MESSAGES } from './declaration-messages.js';
import { enqueue, flushOutbox, newUploadId, onFlushed, queued, signUpload, type FlushResult } from './declaration-outbox.js';
import { fill, type Lang } from './messages.js';

/**
 * The daily health declaration on the phone page: the Ministry's usual questions (travel and where,
 * seven symptoms, three contacts), each answered yes or no. Sending signs it with the phone's key
 * and puts it in the outbox (declaration-outbox.ts), which goes to the hub now if the phone is
 * online, else as soon as it is; the hub keeps it once. The answers stay in the signed upload only
 * until the hub has it; the page remembers just when the worker last declared.
 */

const TRAVEL = 'travel';
const SYMPTOMS = ['fever', 'cough', 'breath', 'throat', 'nausea', 'diarrhoea', 'tasteSmell'] as const;
const CONTACTS = ['contactCase', 'contactArea', 'contactSymptoms'] as const;
const QUESTIONS = [TRAVEL, ...SYMPTOMS, ...CONTACTS] as const;
type Question = (typeof QUESTIONS)[number];

/** When the worker last declared, and whether the hub has it (no answers: those go with the upload). */
const LAST_KEY = 'sg-declared';
interface LastDeclaration {
  atMs: number;
  state: 'sent' | 'queued' | 'refused';
  flagged: boolean;
  error?: string;
}

function lastDeclaration(): LastDeclaration | undefined {
  try {
    return JSON.parse(localStorage.getItem(LAST_KEY) ?? 'null') ?? undefined;
  } catch {
    return undefined;
  }
}

function remember(last: LastDeclaration): void {
  localStorage.setItem(LAST_KEY, JSON.stringify(last));
}

/** After a flush: what became of the latest declaration (it may have been sent in the background). */
export function noteFlush(result: FlushResult): void {
  const last = lastDeclaration();
  if (!last) return;
  for (const item of result.sent) if (item.kind === 'declaration' && JSON.parse(item.body.payload).madeAtMs === last.atMs) remember({ ...last, state: 'sent' });
  for (const r of result.refused) if (r.item.kind === 'declaration' && JSON.parse(r.item.body.payload).madeAtMs === last.atMs) remember({ ...last, state: 'refused', error: r.error });
}

onFlushed(noteFlush);

/** Sends what the outbox holds (online, page opened, after a declaration or a scan); each tab notes its own outcome. */
export async function sendWaiting(): Promise<FlushResult | undefined> {
  if ((await queued().catch(() => [])).length === 0) return undefined;
  return flushOutbox();
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  node.append(...children);
  return node;
}

function timeText(atMs: number, lang: Lang): string {
  return new Date(atMs).toLocaleString(lang === 'vi' ? 'vi-VN' : 'en-GB', { hour: '2-digit', minute: '2-digit', day: '2-digit', month: '2-digit' });
}

/** The declaration tab: the last declaration's state and the form. `redraw` shows the tab again. */
export function declarationView(binding: StoredBinding, lang: Lang, redraw: () => void): HTMLElement {
  const t = DECLARATION_MESSAGES[lang];
  const section = el('section', { class: 'declaration', 'data-testid': 'declaration' }, el('h2', {}, t.heading));
  const last = lastDeclaration();
  if (last) {
    const words = last.state === 'sent' ? t.sent : last.state === 'queued' ? t.queued : t.refused;
    section.append(el('p', { class: `status ${last.state}`, 'data-testid': 'declaration-status', 'data-state': last.state }, fill(words, { time: timeText(last.atMs, lang), error: last.error ?? '' })));
    if (last.flagged) section.append(el('p', { class: 'flagged', 'data-testid': 'declaration-flagged' }, t.flagged));
  }
  const form = el('form', { 'data-testid': 'declaration-form', novalidate: '' });
  form.append(el('p', { class: 'intro' }, t.intro));
  const question = (q: Question) => {
    const set = el('fieldset', { 'data-testid': `q-${q}` }, el('legend', {}, t[q]));
    for (const [value, label] of [['yes', t.yes], ['no', t.no]] as const) {
      set.append(el('label', {}, el('input', { type: 'radio', name: q, value, 'data-testid': `q-${q}-${value}` }), ' ', label));
    }
    return set;
  };
  form.append(question(TRAVEL));
  const where = el('input', { type: 'text', name: 'travelWhere', maxlength: '200', 'data-testid': 'travel-where', 'aria-label': t.travelWhere });
  const whereRow = el('label', { class: 'where', hidden: '' }, t.travelWhere, ' ', where);
  form.append(whereRow);
  form.addEventListener('change', () => (whereRow.hidden = (form.elements.namedItem(TRAVEL) as RadioNodeList).value !== 'yes'));
  form.append(el('h3', {}, t.symptomsHeading), ...SYMPTOMS.map(question), el('h3', {}, t.contactsHeading), ...CONTACTS.map(question));
  const problem = el('p', { class: 'problem', role: 'alert', 'data-testid': 'declaration-problem', hidden: '' });
  const submit = el('button', { type: 'submit', class: 'primary', 'data-testid': 'declaration-submit' }, t.submit);
  form.append(problem, submit);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const answers: Record<string, boolean | string> = {};
    for (const q of QUESTIONS) {
      const value = (form.elements.namedItem(q) as RadioNodeList).value;
      if (value !== 'yes' && value !== 'no') {
        problem.textContent = t.missing;
        problem.hidden = false;
        return;
      }
      answers[q] = value === 'yes';
    }
    if (answers[TRAVEL] && where.value.trim()) answers.travelWhere = where.value.trim().slice(0, 200);
    submit.disabled = true;
    void declare(binding, answers).finally(() => {
      redraw();
      // The outcome is at the top of the tab.
      window.scrollTo(0, 0);
    });
  });
  section.append(form);
  return section;
}

async function declare(binding: StoredBinding, answers: Record<string, boolean | string>): Promise<void> {
  const madeAtMs = Date.now();
  const id = newUploadId();
  const payload = JSON.stringify({ kind: 'declaration', id, madeAtMs, answers });
  const flagged = QUESTIONS.some((q) => answers[q] === true);
  await enqueue({ id, kind: 'declaration', body: await signUpload(binding.pass, payload, binding.key), queuedAtMs: madeAtMs });
  remember({ atMs: madeAtMs, state: 'queued', flagged });
  await sendWaiting();
}
