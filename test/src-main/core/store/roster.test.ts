import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openStore } from '../../../../src-main/core/store/database.js';
import { Roster, RosterImportError, parseRosterCsv } from '../../../../src-main/core/store/roster.js';
import { healthyWorker, tempDir } from '../../../helpers/fixtures.js';

const HEADER = 'worker_id,display_name,company,team,declared_at,declaration_flagged,test_result,tested_at,vaccine_doses,quarantine_until,case_status';

function problemsOf(csv: string) {
  try {
    parseRosterCsv(csv);
  } catch (err) {
    if (err instanceof RosterImportError) return err.problems;
    throw err;
  }
  throw new Error('expected the CSV to be refused');
}

describe('roster CSV', () => {
  it('reads every status field, with a BOM and Vietnamese names', () => {
    const csv = `\uFEFF${HEADER}\nW1,Nguyễn Văn An,Công ty A,Tổ 1,2026-11-25T08:00:00+07:00,no,negative,2026-11-24,3,,F1\nW2,Trần Thị Bình,,,,,,,,2026-12-01T00:00:00Z,F0\n`;
    const [a, b] = parseRosterCsv(csv);
    expect(a).toEqual({
      workerId: 'W1',
      displayName: 'Nguyễn Văn An',
      company: 'Công ty A',
      team: 'Tổ 1',
      declaredAt: Date.parse('2026-11-25T01:00:00Z'),
      declarationFlagged: false,
      testResult: 'negative',
      // A plain date is the start of that day in the province time zone (UTC+7).
      testedAt: Date.parse('2026-11-23T17:00:00Z'),
      vaccineDoses: 3,
      quarantineUntil: null,
      caseStatus: 'F1',
    });
    expect(b).toMatchObject({ workerId: 'W2', vaccineDoses: 0, caseStatus: 'F0', quarantineUntil: Date.parse('2026-12-01T00:00:00Z') });
  });

  it('accepts a file with only the required columns', () => {
    expect(parseRosterCsv('worker_id,display_name\nW1,An\n')).toHaveLength(1);
  });

  it('reports every bad row by its line number', () => {
    const csv = [
      HEADER,
      'W1,An,,,,,,,2,,none',
      'W 2,Bình,,,,,,,2,,none',
      'W3,,,,,,,,2,,none',
      'W4,Cường,,,yesterday,,,,2,,none',
      'W5,Dung,,,,maybe,,,x,,F9',
      'W1,An again,,,,,,,2,,none',
      'W6,Too,many,columns,,,,,,,,,,',
    ].join('\n');
    const problems = problemsOf(csv);
    const lines = [...new Set(problems.map((p) => p.line))];
    expect(lines).toEqual([3, 4, 5, 6, 7, 8]);
    expect(problems.find((p) => p.line === 6 && p.message.startsWith('vaccine_doses'))).toBeTruthy();
    expect(problems.find((p) => p.line === 7)?.message).toMatch(/already appears on line 2/);
  });

  it('refuses a header with unknown or missing columns', () => {
    expect(problemsOf('worker_id,name\nW1,An\n')[0]!.message).toMatch(/unknown column\(s\) name; missing column\(s\) display_name/);
  });

  describe('stored', () => {
    const dirs: { remove(): void }[] = [];
    afterEach(() => dirs.splice(0).forEach((d) => d.remove()));

    it('keeps nothing of a file with any bad row', () => {
      const d = tempDir();
      dirs.push(d);
      const db = openStore(join(d.path, 's.db'));
      const roster = new Roster(db);
      roster.upsertAll([healthyWorker('W0')]);
      expect(() => roster.upsertAll(parseRosterCsv(`${HEADER}\nW1,An,,,,,,,2,,none\nW2,,,,,,,,2,,none\n`))).toThrow(RosterImportError);
      expect(roster.count()).toBe(1);
      expect(roster.get('W1')).toBeUndefined();
      db.close();
    });

    it('upserts, or replaces the whole roster', () => {
      const d = tempDir();
      dirs.push(d);
      const db = openStore(join(d.path, 's.db'));
      const roster = new Roster(db);
      roster.upsertAll([healthyWorker('W0'), healthyWorker('W1')]);
      roster.upsertAll([healthyWorker('W1', Date.now(), { caseStatus: 'F1' })]);
      expect(roster.count()).toBe(2);
      expect(roster.get('W1')?.caseStatus).toBe('F1');
      roster.upsertAll([healthyWorker('W2')], { replace: true });
      expect(roster.count()).toBe(1);
      expect(roster.get('W2')?.displayName).toBe('Người lao động W2');
      db.close();
    });
  });
});
