import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultPolicy } from '../../base/common/policy/policy.js';
import type { Checkpoint } from '../../base/common/types.js';
import { silentLogger } from '../../base/node/logger.js';
import { decide } from '../../src-main/core/decide.js';
import { openStore } from '../../src-main/core/store/database.js';
import { RemoteDeclarations } from '../../src-main/core/store/remote-passages.js';
import { Roster } from '../../src-main/core/store/roster.js';
import { SiteStream } from '../../sync/site-stream.js';
import { healthyWorker, tempDir } from '../helpers/fixtures.js';

const NOW = Date.parse('2026-11-27T01:00:00Z');
const HOUR = 3_600_000;
const gate: Checkpoint = { id: 'gate-a', name: 'Cổng A', kind: 'gate', zone: 'factory-1', direction: 'entry' };

describe('a kiosk takes workers’ phone declarations from the site stream into its roster, and decides by them', () => {
  const dir = tempDir('safegate-sitedecl-');
  const db = openStore(join(dir.path, 'kiosk.db'));
  const roster = new Roster(db);
  const declarations = new RemoteDeclarations(db);
  afterAll(() => {
    db.close();
    dir.remove();
  });
  roster.upsertAll([healthyWorker('W1', NOW, { declaredAt: null }), healthyWorker('W2', NOW, { declaredAt: NOW - 2 * HOUR })]);
  const got: number[] = [];
  const stream = new SiteStream(
    { deviceId: 'kiosk-a', siteId: 'site-1', freshMs: 60_000, wallMs: () => NOW },
    { record: () => 0, retract: () => 0, declare: (ds) => declarations.apply(ds, NOW + 10_000) },
    silentLogger,
  );
  stream.on('declarations', (_ds, news) => got.push(news));
  const message = (items: unknown[]) => Buffer.from(JSON.stringify({ v: 1, site: 'site-1', hub: 'hub.1', sentAtMs: NOW, items }));
  const decision = (workerId: string) =>
    decide({ reading: { status: 'valid', kind: 'pass', workerId }, worker: roster.get(workerId), policy: defaultPolicy(), checkpoint: gate, recent: { sameCodeSecondsAgo: null, lastPassage: null }, nowMs: NOW });

  it('a declaration turns DECLARATION_MISSING into an allow; a flagged one denies with DECLARATION_FLAGGED', () => {
    expect(decision('W1')).toMatchObject({ outcome: 'deny', reasons: ['DECLARATION_MISSING'] });
    stream.onMessage('safegate/v1/kiosk-a/site', message([{ kind: 'declaration', workerId: 'W1', declaredAtMs: NOW - 60_000, flagged: false }]));
    expect(roster.get('W1')).toMatchObject({ declaredAt: NOW - 60_000, declarationFlagged: false });
    expect(decision('W1')).toEqual({ outcome: 'allow', direction: 'entry', reasons: [] });
    stream.onMessage('safegate/v1/kiosk-a/site', message([{ kind: 'declaration', workerId: 'W2', declaredAtMs: NOW, flagged: true }]));
    expect(decision('W2')).toMatchObject({ outcome: 'deny', reasons: ['DECLARATION_FLAGGED'] });
    expect(got).toEqual([1, 1]);
  });

  it('an older declaration, one dated ahead of the kiosk clock, or one of a worker not on this roster changes nothing', () => {
    stream.onMessage(
      'safegate/v1/kiosk-a/site',
      message([
        { kind: 'declaration', workerId: 'W2', declaredAtMs: NOW - HOUR, flagged: false },
        { kind: 'declaration', workerId: 'W1', declaredAtMs: NOW + HOUR, flagged: true },
        { kind: 'declaration', workerId: 'W9', declaredAtMs: NOW, flagged: true },
        // Out of shape (answers do not travel): skipped, the rest of the message taken.
        { kind: 'declaration', workerId: 'W1', declaredAtMs: NOW, flagged: true, answers: { fever: true } },
      ]),
    );
    expect(got.at(-1)).toBe(0);
    expect(roster.get('W2')).toMatchObject({ declaredAt: NOW, declarationFlagged: true });
    expect(roster.get('W1')).toMatchObject({ declaredAt: NOW - 60_000, declarationFlagged: false });
    expect(roster.get('W9')).toBeUndefined();
  });
});
