import { execFileSync } from 'node:child_process';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import QRCode from 'qrcode';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HubKeyring, generateSigningKeyPair } from '../../../base/node/keys.js';
import { checkPass } from '../../../base/node/pass.js';
import { createNodeDecoder } from '../../../src-main/core/decoders.js';
import { HubDirectory } from '../../../sync/hub/directory.js';
import { QR_MODULE_MM } from '../../../sync/hub/pass-sheet.js';
import { PassRegistry } from '../../../sync/hub/passes.js';
import type { ListedWorker } from '../../../sync/hub/registry-upload.js';
import { tempDir } from '../../helpers/fixtures.js';
import { directoryBackends } from '../../helpers/directory-db.js';

const NOW = Date.parse('2026-11-27T03:00:00Z');
const ZONE = 'Asia/Ho_Chi_Minh';
/** Rasterised at 100 dpi: a 0.75 mm module is about 3 pixels, what a gate camera sees of a card held up to it. */
const DPI = 100;
const PX_PER_MM = DPI / 25.4;
/** The sheet's grid (sync/hub/pass-sheet.ts): 10 mm margins, a 12 mm header, 2 x 4 cards. */
const CARD = { left: 10, top: 22, w: 95, h: (297 - 20 - 12) / 4 };

/** Ten workers of one team with the names Vietnamese companies print: every tone mark, đ and ư, ơ. */
const NAMES = ['Nguyễn Thị Hồng Nhung', 'Trần Văn Đức', 'Lê Thị Ánh Tuyết', 'Phạm Quốc Bảo', 'Hoàng Thị Thủy', 'Võ Văn Ưng', 'Đặng Thị Mỹ Dung', 'Bùi Xuân Phước', 'Đỗ Thị Ngọc Ẩn', 'Huỳnh Văn Lợi'];

function listed(i: number): ListedWorker {
  return { line: i + 2, workerId: `nv-${String(i + 1).padStart(3, '0')}`, fullName: NAMES[i]!, team: 'Tổ May 1', birthYear: 1990, sex: null, idNumber: null, phone: null, residence: null, siteId: null, testResult: null, testedAtMs: null, vaccineDoses: 2 };
}

describe.each(directoryBackends)('A4 pass sheet on $name', (backend) => {
  const dir = tempDir('safegate-sheet-');
  const key = generateSigningKeyPair('EdDSA');
  const keyring = new HubKeyring();
  keyring.add(createPublicKey(key.publicPem), { role: 'pass', source: 'test' });
  let directory: HubDirectory;
  let registry: PassRegistry;
  let sheet: { pdf: Uint8Array; passes: number; pages: number; issued: number };
  const file = join(dir.path, 'sheet.pdf');

  beforeAll(async () => {
    directory = await HubDirectory.open(await backend.target());
    await directory.addOrganisation({ id: 'may-a', name: 'Công ty May Á Châu', kind: 'company' }, NOW);
    await directory.addSite({ id: 'xuong-1', orgId: 'may-a' });
    await directory.uploadWorkers('may-a', NAMES.map((_, i) => listed(i)), { nowMs: NOW });
    registry = new PassRegistry({ sql: directory.sql, passKey: createPrivateKey(key.privatePem), now: () => NOW });
    sheet = await (await registry.of('may-a')).sheet('Tổ May 1', { expiresAt: new Date(NOW + 90 * 86_400_000), zone: ZONE });
    writeFileSync(file, sheet.pdf);
    execFileSync('pdftoppm', ['-r', String(DPI), '-gray', '-png', file, join(dir.path, 'page')]);
  });
  afterAll(async () => {
    await directory.close();
    dir.remove();
  });

  it('is an A4 PDF of two pages for ten workers, each issued a printed pass', async () => {
    expect(Buffer.from(sheet.pdf.subarray(0, 5)).toString()).toBe('%PDF-');
    expect(sheet).toMatchObject({ passes: 10, pages: 2, issued: 10 });
    const info = execFileSync('pdfinfo', [file], { encoding: 'utf8' });
    expect(info).toMatch(/Pages:\s+2/);
    expect(info).toMatch(/Page size:\s+595\.\d+ x 841\.\d+ pts \(A4\)/);
    expect((await (await registry.of('may-a')).list()).map((p) => [p.kind, p.state])).toEqual(Array(10).fill(['printed', 'live']));
  });

  it('prints every QR so the kiosk decoder reads it from the rasterised page, at least 25 mm wide, and each is a pass the kiosk accepts', async () => {
    const decoder = await createNodeDecoder('zxing-wasm');
    const pages = readdirSync(dir.path).filter((f) => f.startsWith('page')).sort();
    expect(pages).toHaveLength(2);
    const read: string[] = [];
    const widths: number[] = [];
    for (const [p, name] of pages.entries()) {
      const cards = p === 0 ? 8 : 2;
      for (let i = 0; i < cards; i++) {
        const px = (mm: number) => Math.round(mm * PX_PER_MM);
        // The card as cut out along its dashed lines.
        const region = { left: px(CARD.left + (i % 2) * CARD.w), top: px(CARD.top + Math.floor(i / 2) * CARD.h), width: px(CARD.w), height: px(CARD.h) };
        const { data, info } = await sharp(join(dir.path, name)).extract(region).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
        const texts = await decoder.decode({ data: new Uint8ClampedArray(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height });
        expect(texts, `page ${p + 1} card ${i + 1}`).toHaveLength(1);
        read.push(texts[0]!);
        // The symbol's printed width: the dark modules' extent in the QR's part of the card (left of the
        // text, which starts 3 mm after the QR's quiet zone: 4 + 42.75 + 3 mm for today's version 8).
        const qrPart = await sharp(join(dir.path, name)).extract({ ...region, width: px(48) }).greyscale().raw().toBuffer({ resolveWithObject: true });
        let minX = Infinity;
        let maxX = -Infinity;
        for (let y = 0; y < qrPart.info.height; y++) {
          for (let x = 0; x < qrPart.info.width; x++) {
            if (qrPart.data[y * qrPart.info.width + x]! < 100) {
              minX = Math.min(minX, x);
              maxX = Math.max(maxX, x);
            }
          }
        }
        const symbolMm = (maxX - minX + 1) / PX_PER_MM;
        widths.push(symbolMm);
        // With its 4-module quiet zone on each side.
        expect(symbolMm + 8 * QR_MODULE_MM).toBeGreaterThanOrEqual(25);
      }
    }
    // Each symbol is printed at 0.75 mm a module (within two pixels at 100 dpi): its modules across, times the module size.
    widths.forEach((w, i) => expect(Math.abs(w - QRCode.create(read[i]!, { errorCorrectionLevel: 'M' }).modules.size * QR_MODULE_MM)).toBeLessThan(0.6));
    const listedPasses = new Map((await (await registry.of('may-a')).list()).map((p) => [p.passId, p.workerId]));
    expect(read).toHaveLength(10);
    const workers = read.map((text) => {
      const check = checkPass(text, keyring, NOW + 86_400_000);
      expect(check.ok).toBe(true);
      if (!check.ok) return '';
      expect(listedPasses.get(check.pass.claims.passId!)).toBe(check.pass.claims.workerId);
      return check.pass.claims.workerId;
    });
    expect(workers.sort()).toEqual(NAMES.map((_, i) => listed(i).workerId).sort());
  });

  it('carries the Vietnamese names, the team and the ids as text (an embedded font with every Vietnamese letter)', () => {
    // A long name may wrap onto a second line: compare with the line breaks as spaces.
    const text = execFileSync('pdftotext', ['-enc', 'UTF-8', file, '-'], { encoding: 'utf8' }).normalize('NFC').replace(/\s+/g, ' ');
    for (const n of NAMES) expect(text).toContain(n);
    expect(text).toContain('Tổ May 1');
    expect(text).toContain('Công ty May Á Châu — Tổ May 1');
    expect(text).toContain('nv-010');
    const fonts = execFileSync('pdffonts', [file], { encoding: 'utf8' });
    expect(fonts).toMatch(/DejaVuSans\b.*TrueType.*yes\s+yes/);
    expect(fonts).toMatch(/DejaVuSansCondensed-Bold\b.*TrueType.*yes\s+yes/);
  });

  it('prints the same live passes again on a second sheet, issuing none', async () => {
    const again = await (await registry.of('may-a')).sheet('Tổ May 1', { expiresAt: new Date(NOW + 90 * 86_400_000), zone: ZONE });
    expect(again).toMatchObject({ passes: 10, issued: 0 });
    expect(await (await registry.of('may-a')).list()).toHaveLength(10);
  });
});
