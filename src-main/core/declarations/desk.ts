import type { Logger } from 'pino';
import { MAX_ANSWER_BITS, answersToBits, isFlaggedBits, type DeclarationAnswerSet } from '../../../base/common/declaration.js';
import { RequestRefusal } from '../../../base/common/refusal.js';
import type { DenyReason } from '../../../base/common/reasons.js';
import type { AlertKind, CredentialKind, NewGateEvent } from '../../../base/common/types.js';
import { VISITOR_ID_PATTERN } from '../../../base/common/visitor.js';
import type { Policy } from '../../../base/common/policy/policy.js';
import { isStorageFault, type SqliteDatabase } from '../../../base/node/sqlite.js';
import { alertFor, type Gatekeeper, type Passage } from '../gatekeeper.js';
import type { HeldCredential } from './declare-tokens.js';
import type { EventLog } from '../store/event-log.js';
import { RemoteDeclarations } from '../store/remote-passages.js';
import type { DeclareTokens } from './declare-tokens.js';

/** A declaration to record: who made it (a roster worker or a registered visitor), how they identified themselves, the answers. */
export type DeclarationRecord = (
  | { workerId: string; visitorId?: undefined; credentialKind: 'pass' | 'badge' }
  | { visitorId: string; workerId?: undefined; credentialKind: 'cccd' | 'dcc' }
) & {
  /** Yes/no per question, or the answer bitmask over DECLARATION_QUESTIONS. */
  answers: DeclarationAnswerSet | number;
};

export interface KioskDeclarationDeskDeps {
  db: SqliteDatabase;
  events: EventLog;
  gatekeeper: Pick<Gatekeeper, 'commitBeside' | 'decideAgain' | 'now' | 'checkpoint'>;
  tokens: DeclareTokens;
  policy: () => Policy;
  log: Logger;
  /** The province time zone: a flagged declaration stands for the rest of its day in it. */
  zone?: string;
}

/**
 * Health declarations taken on this kiosk's screen (issue 14). A declaration is an event of its own
 * (source 'declaration', the answers as codes, never free text: allow when clean, deny
 * DECLARATION_FLAGGED when not) and, for a roster worker, the kiosk's own record of them takes it at
 * once (as a phone declaration relayed by the site stream would: never an older one over a newer),
 * both in one transaction. Then the credential the worker showed is decided again through the gate's
 * ordinary path: a new scan event, admitted or refused, with the usual alert for a flagged one.
 *
 * It is the screen API's DeclarationDesk (src-main/api/screen-service.ts; the composition root hands
 * it over: the core does not see the API). The constructor only stores its dependencies.
 */
export class KioskDeclarationDesk {
  private readonly roster: RemoteDeclarations;

  constructor(private readonly deps: KioskDeclarationDeskDeps) {
    this.roster = new RemoteDeclarations(deps.db, deps.zone);
  }

  /**
   * Records the declaration of the person `token` names, then answers with what it changes at the gate.
   * Their scan is decided again only when it was refused for their declaration (missing or flagged):
   * a scan that let them through, or found them inside already (anti-passback), stands as logged; the
   * entry log then shows the passage and the declaration, not a refusal they never met at the gate.
   * Such a declaration answers for itself: flagged, refused DECLARATION_FLAGGED with the alert on the
   * declaration (someone with a warning answer is at the gate or inside: the manager must hear it);
   * clean, recorded (`declared`) for someone through or inside, else the refusal that stands.
   */
  submit(token: string, answers: DeclarationAnswerSet): Passage {
    const { tokens, gatekeeper, log } = this.deps;
    const held = tokens.peek(token);
    const kind = held.reading.kind;
    if (kind !== 'pass' && kind !== 'badge') throw new RequestRefusal('token-unknown', 'this declaration is not known here (scan again)');
    const again = decidesAgain(held.decision);
    const bits = answersToBits(answers);
    const alert = !again && isFlaggedBits(bits) ? alertFor(['DECLARATION_FLAGGED']) : undefined;
    const receivedAtNs = process.hrtime.bigint();
    const seq = this.recordDeclaration({ workerId: held.workerId, credentialKind: kind, answers: bits }, alert);
    tokens.use(token);
    // Counts and our own numbers only: whether it was flagged is health data.
    log.info({ seq }, 'declaration taken on the screen');
    if (again) return gatekeeper.decideAgain(held);
    const committedAtNs = process.hrtime.bigint();
    const { direction } = held.decision;
    const through = held.decision.outcome === 'allow' || held.decision.reasons.includes('ANTI_PASSBACK');
    const answer: Passage = {
      seq,
      decision: alert ? { outcome: 'deny', direction, reasons: ['DECLARATION_FLAGGED'] } : through ? { outcome: 'repeat', direction, reasons: [] } : held.decision,
      displayName: held.displayName,
      credentialAccepted: true,
      durable: true,
      // Nothing was driven: a declaration alone does not touch the gate.
      timing: { receivedAtNs, committedAtNs, actuatedAtNs: committedAtNs },
    };
    if (!alert && through) answer.declared = true;
    return answer;
  }

  /**
   * Records a declaration (the visitor desk records a visitor's with it too) and returns its event's
   * sequence number. A store that cannot take it now refuses (RequestRefusal 'store-unavailable'):
   * nothing is kept, the person may try again.
   */
  recordDeclaration(record: DeclarationRecord, alert?: AlertKind): number {
    const bits = typeof record.answers === 'number' ? record.answers : answersToBits(record.answers);
    if (!Number.isInteger(bits) || bits < 0 || bits > MAX_ANSWER_BITS) throw new RangeError(`declaration answers out of range: ${bits}`);
    if (record.visitorId !== undefined && !VISITOR_ID_PATTERN.test(record.visitorId)) throw new RangeError('not a visitor id');
    const { gatekeeper, events, db } = this.deps;
    const clock = gatekeeper.now();
    const flagged = isFlaggedBits(bits);
    const event: NewGateEvent = {
      wallMs: clock.wallMs,
      monoUs: clock.monoUs,
      bootId: clock.bootId,
      clockSynced: clock.synced,
      checkpointId: gatekeeper.checkpoint.id,
      zoneId: gatekeeper.checkpoint.zone,
      direction: 'entry',
      credentialKind: record.credentialKind satisfies CredentialKind,
      workerId: record.workerId ?? null,
      codeHash: null,
      decision: flagged ? 'deny' : 'allow',
      reasons: flagged ? ['DECLARATION_FLAGGED'] : [],
      source: 'declaration',
      policyVersion: this.deps.policy().version,
      declaration: { answers: bits },
      ...(record.visitorId !== undefined ? { visitorId: record.visitorId } : {}),
      ...(clock.source === 'gps' ? { clockSource: 'gps' as const } : {}),
    };
    try {
      return gatekeeper.commitBeside(event, (e) =>
        db.transaction(() => {
          const seq = events.append(e, alert);
          if (record.workerId !== undefined) this.roster.apply([{ workerId: record.workerId, declaredAtMs: e.wallMs, flagged }]);
          return seq;
        })(),
      );
    } catch (err) {
      if (!isStorageFault(err)) throw err;
      this.deps.log.error({ err: (err as Error).message }, 'cannot store a declaration: refused, the person may try again');
      throw new RequestRefusal('store-unavailable', 'the kiosk cannot record the declaration now; try again in a moment');
    }
  }
}

/**
 * Whether a declaration can change the decision of the scan it follows: that scan was refused for the
 * person's declaration (missing or flagged) and not because they are inside already. A scan that let
 * them through, or refused them only for something a declaration cannot change, is not decided again.
 */
function decidesAgain(decision: HeldCredential['decision']): boolean {
  if (decision.outcome !== 'deny') return false;
  const reasons: readonly DenyReason[] = decision.reasons;
  if (reasons.includes('ANTI_PASSBACK')) return false;
  return reasons.includes('DECLARATION_MISSING') || reasons.includes('DECLARATION_FLAGGED');
}
