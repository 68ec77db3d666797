import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CCCD_TEXT_MAX, isDdmmyyyy, looksLikeCccd, parseCccd } from '../../../base/common/cccd.js';

// Synthetic cards only: numbers, names and addresses made up for the tests.
const NUMBER = '079099000123';
const ADDRESS = 'So 1 Duong Thu Nghiem, Phuong Mau, Quan Gia';
const DOB = '15041990';
const good = (over: Record<number, string> = {}): string => {
  const f = [NUMBER, '', 'Nguyễn Văn Thử', DOB, 'Nam', ADDRESS, '01022021'];
  for (const [i, v] of Object.entries(over)) f[Number(i)] = v;
  return f.join('|');
};

describe('parseCccd: the documented layout', () => {
  it('accepts a card with and without the old 9-digit number', () => {
    const a = parseCccd(good());
    expect(a).toEqual({
      ok: true,
      card: { idNumber: NUMBER, oldIdNumber: '', fullName: 'Nguyễn Văn Thử', dateOfBirth: DOB, sex: 'Nam', address: ADDRESS, issuedOn: '01022021' },
    });
    const b = parseCccd(good({ 1: '123456789', 4: 'Nữ' }));
    expect(b.ok && b.card.oldIdNumber).toBe('123456789');
    expect(b.ok && b.card.sex).toBe('Nữ');
  });

  it('accepts a trailing newline from the scanner and normalises the name to NFC', () => {
    const r = parseCccd(good({ 2: 'Nguye\u0302\u0303n Thi\u0323 Mẫu' }) + '\n');
    expect(r.ok && r.card.fullName).toBe('Nguyễn Thị Mẫu');
  });

  it.each([
    [good().split('|').slice(0, 6).join('|'), 'field-count'],
    [good() + '|extra', 'field-count'],
    [good({ 0: '07909900012' }), 'id-number'], // 11 digits: still a CCCD attempt
    [good({ 0: '0790990001234' }), 'id-number'],
    [good({ 1: '12345' }), 'old-id-number'],
    [good({ 2: '' }), 'name'],
    [good({ 2: 'Robert<script>' }), 'name'],
    [good({ 2: 'A'.repeat(121) }), 'name'],
    [good({ 3: '31021990' }), 'date-of-birth'],
    [good({ 3: '1990-04-15' }), 'date-of-birth'],
    [good({ 4: 'Male' }), 'sex'],
    [good({ 6: '00002021' }), 'issued-on'],
    ['x'.repeat(CCCD_TEXT_MAX + 1), 'too-long'],
    ['SG1:abcdef', 'not-cccd'],
    ['HC1:6BFOXN', 'not-cccd'],
    ['', 'not-cccd'],
  ])('refuses %#: %s', (text, reason) => {
    const r = parseCccd(text);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toBe(reason);
  });

  it('never repeats the personal data of a refused text in the detail', () => {
    for (const text of [good({ 4: 'X' }), good({ 6: '99999999' }), good({ 1: '1' }), good({ 2: '' })]) {
      const r = parseCccd(text);
      expect(r.ok).toBe(false);
      if (!r.ok) {
        for (const secret of [NUMBER, ADDRESS, DOB, 'Nguyễn']) expect(r.detail).not.toContain(secret);
      }
    }
  });

  it('counts as a CCCD attempt only a text with | after 1-16 leading digits', () => {
    expect(looksLikeCccd(good())).toBe(true);
    expect(looksLikeCccd('123|')).toBe(true);
    expect(looksLikeCccd('|123')).toBe(false);
    expect(looksLikeCccd('SG1|x')).toBe(false);
    expect(looksLikeCccd('12345')).toBe(false);
  });

  it('checks dates as real calendar dates', () => {
    expect(isDdmmyyyy('29022000')).toBe(true);
    expect(isDdmmyyyy('29021900')).toBe(false);
    expect(isDdmmyyyy('31042020')).toBe(false);
    expect(isDdmmyyyy('01131990')).toBe(false);
  });
});

describe('parseCccd: properties', () => {
  it('every string is accepted or refused with a reason, never a throw', () => {
    const bars = fc.array(fc.oneof(fc.string(), fc.stringMatching(/^[0-9]{0,13}$/)), { maxLength: 9 }).map((a) => a.join('|'));
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 600 }), fc.string({ unit: 'binary', maxLength: 600 }), bars), (text) => {
        const r = parseCccd(text);
        if (!r.ok) expect(typeof r.detail).toBe('string');
        else expect(r.card.idNumber).toMatch(/^[0-9]{12}$/);
      }),
      { numRuns: 2000 },
    );
  });

  it('generated valid cards round-trip', () => {
    const digits = (n: number) => fc.stringMatching(new RegExp(`^[0-9]{${n}}$`));
    const date = fc.date({ min: new Date(Date.UTC(1900, 0, 1)), max: new Date(Date.UTC(2100, 11, 31)), noInvalidDate: true }).map(
      (d) => `${String(d.getUTCDate()).padStart(2, '0')}${String(d.getUTCMonth() + 1).padStart(2, '0')}${d.getUTCFullYear()}`,
    );
    const word = fc.constantFrom('Nguyễn', 'Trần', 'Lê', 'Thị', 'Văn', 'Mẫu', 'Thử', "O'Neil", 'Anne-Marie');
    const name = fc.array(word, { minLength: 1, maxLength: 5 }).map((w) => w.join(' '));
    // eslint-disable-next-line no-control-regex -- generated addresses must avoid the control characters the parser refuses
    const addr = fc.string({ maxLength: 100 }).filter((s) => !s.includes('|') && !/[\u0000-\u001f\u007f-\u009f]/.test(s));
    fc.assert(
      fc.property(digits(12), fc.oneof(fc.constant(''), digits(9)), name, date, fc.constantFrom<'Nam' | 'Nữ'>('Nam', 'Nữ'), addr, date,
        (idNumber, oldIdNumber, fullName, dateOfBirth, sex, address, issuedOn) => {
          const card = { idNumber, oldIdNumber, fullName, dateOfBirth, sex, address, issuedOn };
          expect(parseCccd([idNumber, oldIdNumber, fullName, dateOfBirth, sex, address, issuedOn].join('|'))).toEqual({ ok: true, card });
        }),
      { numRuns: 500 },
    );
  });
});
