import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { corpus } from '../../helpers/corpora.js';
import QRCode from 'qrcode';
import { afterAll, describe, expect, it } from 'vitest';
import { safegate } from '../../helpers/cli.js';
import { tempDir } from '../../helpers/fixtures.js';

const PHOTOS = join(corpus('qr-photos'), 'qrcode-1');

describe('safegate decode', () => {
  const dir = tempDir('safegate-decode-');
  afterAll(() => dir.remove());

  it('prints one line per image: the name, a tab, then the text or an error; exit status 1 if any failed', async () => {
    const made = join(dir.path, 'pass.png');
    await QRCode.toFile(made, 'SG1:TEST-PASS-Ẽ', { width: 300 });
    const notImage = join(dir.path, 'notes.png');
    writeFileSync(notImage, 'this is not a picture');
    const blank = join(dir.path, 'blank.png');
    await QRCode.toFile(join(dir.path, 'ignored.png'), 'x');
    const { default: sharp } = await import('sharp');
    await sharp({ create: { width: 200, height: 200, channels: 3, background: '#fff' } }).png().toFile(blank);
    const photo = join(PHOTOS, '1.png');

    for (const decoder of ['combined', 'zxing-wasm', 'zxing-js']) {
      const r = safegate(['decode', '--decoder', decoder, made, photo, notImage, blank, join(dir.path, 'missing.png')]);
      const lines = r.stdout.trim().split('\n');
      expect(lines, decoder).toEqual([
        `${made}\tSG1:TEST-PASS-Ẽ`,
        `${photo}\t${readFileSync(join(PHOTOS, '1.txt'), 'utf8')}`,
        `${notImage}\terror: not a readable image`,
        `${blank}\terror: no QR code found`,
        `${join(dir.path, 'missing.png')}\terror: no such file`,
      ]);
      expect(r.status).toBe(1);
    }
    const ok = safegate(['decode', made]);
    expect(ok.status).toBe(0);
  });
});
