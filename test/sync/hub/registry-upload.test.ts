import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IDENTIFIER_PATTERN } from '../../../base/common/ids.js';
import { parseWorkerList, parseWorkerRows, WorkerListError } from '../../../sync/hub/registry-upload.js';

const ZONE = 'Asia/Ho_Chi_Minh';
const NOW = Date.parse('2026-11-27T06:00:00Z');
const HEADERS = ['STT', 'Mã NV', 'Họ và tên', 'Năm sinh', 'Giới tính', 'Số CCCD', 'Số điện thoại', 'Nơi ở hiện tại', 'Bộ phận/Tổ', 'Ngày xét nghiệm', 'Kết quả xét nghiệm', 'Số mũi vắc xin', 'Worker ID', 'Full name', 'Lương', ''];
/** Headers of distinct fields: with the two required ones, a header that is accepted. */
const OPTIONAL_HEADERS = ['STT', 'Năm sinh', 'Giới tính', 'Số CCCD', 'Số điện thoại', 'Nơi ở hiện tại', 'Bộ phận/Tổ', 'Ngày xét nghiệm', 'Kết quả xét nghiệm', 'Số mũi vắc xin'];
const FIT: Record<string, string[]> = {
  'Mã NV': ['A001', 'A002', 'B-7', 'x.y_z'],
  'Họ và tên': ['Trần Thị Mai', 'Lê Văn Hùng'],
  'Năm sinh': ['1990', '', '2001'],
  'Giới tính': ['Nữ', 'Nam', 'male', ''],
  'Số CCCD': ['079190000001', '123456789', ''],
  'Số điện thoại': ['0912345678', '+84 912 345 678', ''],
  'Nơi ở hiện tại': ['KTX Tân Tạo', ''],
  'Bộ phận/Tổ': ['Tổ May 1', ''],
  'Ngày xét nghiệm': ['26/11/2026', '2026-11-25', ''],
  'Kết quả xét nghiệm': ['Âm tính', 'negative', ''],
  'Số mũi vắc xin': ['2', '0', ''],
  STT: ['1', ''],
};
const CELLS = ['', ' ', 'A001', 'a b', 'Trần Thị Mai', '1990', '1890', 'Nữ', 'Nam', 'x', '079190000001', '12345', '0912345678', '+84 912 345 678', '26/11/2026', '31/02/2026', '2026-11-26', '01/12/2099', 'Âm tính', 'dương tính', 'maybe', '2', '99', '100', '-1', '"', ',', '\n', 'x'.repeat(400)];

/** Property: every worker list is either read into valid workers or refused with its problems; nothing else escapes. */
describe('CV 2242 worker list parser (property)', () => {
  it('accepts a list only with valid rows, or refuses it with WorkerListError naming lines; never throws anything else', () => {
    const anyCell = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...CELLS) }, fc.string({ maxLength: 20 }));
    const randomList = fc.tuple(
      fc.array(fc.oneof(fc.constantFrom(...HEADERS), fc.string({ maxLength: 8 })), { maxLength: 14 }),
      fc.array(fc.array(anyCell, { maxLength: 16 }), { maxLength: 8 }),
    );
    // A header the parser takes, with rows mostly of values fit for their column (and now and then any cell).
    const formList = fc
      .shuffledSubarray(OPTIONAL_HEADERS)
      .chain((rest) => fc.shuffledSubarray(['Mã NV', 'Họ và tên', ...rest], { minLength: rest.length + 2 }))
      .chain((header) =>
        fc.tuple(
          fc.constant(header),
          fc.array(fc.tuple(...header.map((h) => fc.oneof({ weight: 20, arbitrary: fc.constantFrom(...(FIT[h] ?? [''])) }, anyCell))), { minLength: 1, maxLength: 6 }),
        ),
      );
    const rows = fc.oneof(randomList, formList);
    let accepted = 0;
    fc.assert(
      fc.property(rows, ([header, body]) => {
        const input = [header, ...body].map((cells, i) => ({ line: i + 1, cells }));
        try {
          const list = parseWorkerRows(input, ZONE, NOW);
          expect(list.length).toBeGreaterThan(0);
          for (const w of list) {
            expect(w.workerId).toMatch(IDENTIFIER_PATTERN);
            expect(w.fullName.trim()).not.toBe('');
            if (w.testedAtMs !== null) expect(w.testedAtMs).toBeLessThanOrEqual(NOW);
            expect(w.vaccineDoses).toBeGreaterThanOrEqual(0);
          }
          expect(new Set(list.map((w) => w.workerId)).size).toBe(list.length);
          accepted++;
        } catch (err) {
          if (!(err instanceof WorkerListError)) throw err;
          expect(err.problems.length).toBeGreaterThan(0);
          for (const p of err.problems) {
            expect(p.line).toBeLessThanOrEqual(input.length);
            // Each problem carries a stable code (the console translates it) with its parameters.
            expect(p.code).toMatch(/^(file|header|row|field)\.[a-zA-Z]+$/);
            expect(Object.values(p.params).every((v) => typeof v === 'string' || typeof v === 'number')).toBe(true);
          }
        }
      }),
      { seed: 20_261_127, numRuns: 500 },
    );
    expect(accepted).toBeGreaterThan(10); // the property saw lists it accepted, not only refusals
  });

  it('refuses any bytes that are not a list, CSV or XLSX, with WorkerListError', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ maxLength: 200 }).map((b) => Uint8Array.from([0x50, 0x4b, 3, 4, ...b]))), async (bytes) => {
        await parseWorkerList(Buffer.from(bytes), ZONE, NOW).then(
          (list) => expect(list.length).toBeGreaterThan(0),
          (err: unknown) => {
            if (!(err instanceof WorkerListError)) throw err;
          },
        );
      }),
      { seed: 20_261_128, numRuns: 200 },
    );
  });
});

describe('CV 2242 worker list: control characters', () => {
  it('refuses a name, team or residence holding a control character (NUL among them), by line', () => {
    const header = { line: 1, cells: ['Mã NV', 'Họ và tên', 'Bộ phận/Tổ', 'Nơi ở hiện tại'] };
    for (const [col, bad] of [[1, 'Trần\u0000Mai'], [2, 'Tổ\u0007 1'], [3, 'KTX\u001bA']] as const) {
      const row = ['A001', 'Trần Thị Mai', 'Tổ 1', 'KTX A'];
      row[col] = bad;
      let err: unknown;
      try {
        parseWorkerRows([header, { line: 2, cells: ['A000', 'Lê Văn Hùng', 'Tổ 1', ''] }, { line: 3, cells: row }], ZONE, NOW);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(WorkerListError);
      const problems = (err as WorkerListError).problems;
      expect(problems.map((p) => p.line)).toEqual([3]);
      expect(JSON.stringify(problems)).toMatch(/control characters/);
    }
    // The same row without them is taken.
    expect(parseWorkerRows([header, { line: 2, cells: ['A001', 'Trần Thị Mai', 'Tổ 1', 'KTX A'] }], ZONE, NOW)).toHaveLength(1);
  });
});
