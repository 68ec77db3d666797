import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import PDFDocument from 'pdfkit';
import QRCode from 'qrcode';
import { dayKeyIn } from '../../base/common/time.js';

/**
 * A team's A4 sheet of printed passes (PDF, made with pdfkit): eight cards a page, two across and four
 * down, each with the worker's QR pass, name, team and id, dashed cut lines around every card.
 *
 * The QR is drawn as vector squares at a fixed module size of 0.75 mm (with the 4-module quiet zone
 * the QR standard asks for), not scaled to fill the card: a gate camera frames a card held 15 to 25 cm
 * away across about 20 cm, which at 640 pixels is about 3.2 pixels a millimetre, so a 0.75 mm module
 * is 2.4 pixels, above the 2 pixels a module the decoders need, where 0.5 mm (1.6 pixels) is not. A
 * pass of today's size (about 220 characters) is a version 8 symbol (49 modules) at error correction
 * M (15 %, for creased and smudged paper): 36.75 mm, 42.75 mm with its quiet zone, over the 25 mm
 * minimum. A card holds up to version 13 at this module size; a longer pass is drawn with smaller
 * modules rather than cut. Names are set in DejaVu Sans and DejaVu Sans Condensed (embedded, from
 * the dejavu-fonts-ttf package), which have every Vietnamese letter.
 */

export const QR_MODULE_MM = 0.75;
const QUIET_MODULES = 4;
const MM = 72 / 25.4;
const PAGE = { width: 210, height: 297 };
const MARGIN = 10;
const HEADER = 12;
const COLUMNS = 2;
const ROWS = 4;
export const CARDS_PER_PAGE = COLUMNS * ROWS;
/**
 * The most cards one sheet (one PDF) holds: 200 cards, 25 pages. A factory team is a few dozen
 * workers and rarely over 150, so a team's sheet is one PDF; drawing 200 cards takes a worker thread
 * about 1 to 4 s of one core (more on a loaded hub), and the PDF stays under a few MB. A larger team
 * is printed in parts (sheet part 1, 2, ...) of at most this many cards each.
 */
export const MAX_CARDS_PER_SHEET = 200;
/** Sheets drawn at the same time, whatever the accounts asking: each takes a core while it is drawn. */
export const MAX_SHEETS_AT_ONCE = 2;
/** A sheet not drawn by then is given up (its worker thread stopped). */
const DRAW_TIMEOUT_MS = 120_000;
const PADDING = 4;

export interface SheetCard {
  workerId: string;
  fullName: string;
  team: string;
  passId: string;
  code: string;
  expiresAtMs: number;
}

export interface SheetOptions {
  /** The organisation and team, printed at the top of each page. */
  title: string;
  /** The province time zone, for the dates printed. */
  zone: string;
  /** When the sheet was made (tests). */
  nowMs?: number;
}

const fontFile = (name: string): string => createRequire(import.meta.url).resolve(`dejavu-fonts-ttf/ttf/${name}`);

/** A date as people in the province write it (dd/mm/yyyy). */
function dayText(ms: number, zone: string): string {
  const [y, m, d] = dayKeyIn(ms, zone).split('-');
  return `${d}/${m}/${y}`;
}

/** Why a sheet could not be drawn; `busy`: other sheets are being drawn, try again shortly. */
export class PassSheetError extends Error {
  override name = 'PassSheetError';
  constructor(
    message: string,
    readonly busy = false,
  ) {
    super(message);
  }
}

let drawing = 0;

/**
 * Draws the sheet in a worker thread, so the hub's event loop (the console, the broker link, the
 * kiosks' downloads) keeps answering while it is drawn: one thread per sheet, which ends when the
 * sheet is drawn or has failed. At most MAX_SHEETS_AT_ONCE at a time (another is refused as busy),
 * at most MAX_CARDS_PER_SHEET cards; a failure or a sheet not drawn in two minutes is a
 * PassSheetError, never a crash of the hub.
 */
export async function drawPassSheet(cards: readonly SheetCard[], options: SheetOptions, limits: { timeoutMs?: number } = {}): Promise<Uint8Array> {
  if (cards.length === 0) throw new PassSheetError('a pass sheet needs at least one pass');
  if (cards.length > MAX_CARDS_PER_SHEET) throw new PassSheetError(`a sheet holds at most ${MAX_CARDS_PER_SHEET} cards: print ${cards.length} in parts`);
  if (drawing >= MAX_SHEETS_AT_ONCE) throw new PassSheetError(`${drawing} pass sheets are being drawn: try again in a minute`, true);
  drawing++;
  try {
    return await new Promise<Uint8Array>((resolve, reject) => {
      const workerOptions = { workerData: { cards, options: { ...options, nowMs: options.nowMs ?? Date.now() } }, resourceLimits: { maxOldGenerationSizeMb: 512 } };
      // Run from the sources (tests, tsx), the worker is the .ts file: the thread registers tsx's loader first.
      const fromSource = import.meta.url.endsWith('.ts');
      const file = new URL(fromSource ? './pass-sheet-worker.ts' : './pass-sheet-worker.js', import.meta.url);
      const worker = fromSource
        ? new Worker(`import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(file.href)}); });`, { ...workerOptions, eval: true })
        : new Worker(file, workerOptions);
      let settled = false;
      const settle = (err: Error | undefined, pdf?: Uint8Array): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        void worker.terminate();
        if (err) reject(err);
        else resolve(pdf!);
      };
      const timer = setTimeout(() => settle(new PassSheetError(`the pass sheet was not drawn within ${Math.round((limits.timeoutMs ?? DRAW_TIMEOUT_MS) / 1000)} s: try again, or print fewer cards`)), limits.timeoutMs ?? DRAW_TIMEOUT_MS);
      worker.once('message', (m: { ok: true; pdf: Uint8Array } | { ok: false; error: string }) =>
        m.ok ? settle(undefined, new Uint8Array(m.pdf)) : settle(new PassSheetError(`the pass sheet could not be drawn: ${m.error}`)),
      );
      worker.once('error', (err) => settle(new PassSheetError(`the pass sheet could not be drawn: ${err.message}`)));
      worker.once('exit', (code) => settle(new PassSheetError(`the pass sheet could not be drawn (its worker thread ended with code ${code})`)));
    });
  } finally {
    drawing--;
  }
}

/** Renders the sheet on the calling thread; the cards in the order given (the caller sorts them by name). */
export async function renderPassSheet(cards: readonly SheetCard[], options: SheetOptions): Promise<Uint8Array> {
  if (cards.length === 0) throw new Error('a pass sheet needs at least one pass');
  const nowMs = options.nowMs ?? Date.now();
  const doc = new PDFDocument({
    size: 'A4',
    margin: 0,
    autoFirstPage: false,
    info: { Title: `Thẻ ra vào / Worker passes: ${options.title}`, Creator: 'SafeGate', CreationDate: new Date(nowMs) },
  });
  const chunks: Buffer[] = [];
  doc.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<void>((resolve, reject) => {
    doc.on('end', resolve);
    doc.on('error', reject);
  });
  doc.registerFont('sans', fontFile('DejaVuSans.ttf'));
  doc.registerFont('sans-bold', fontFile('DejaVuSans-Bold.ttf'));
  doc.registerFont('name', fontFile('DejaVuSansCondensed-Bold.ttf'));

  const pages = Math.ceil(cards.length / CARDS_PER_PAGE);
  const cardW = (PAGE.width - 2 * MARGIN) / COLUMNS;
  const cardH = (PAGE.height - 2 * MARGIN - HEADER) / ROWS;
  for (let page = 0; page < pages; page++) {
    doc.addPage({ size: 'A4', margin: 0 });
    doc.font('sans-bold').fontSize(11).fillColor('black').text(options.title, MARGIN * MM, MARGIN * MM, { width: (PAGE.width - 2 * MARGIN) * MM, lineBreak: false, ellipsis: true });
    doc
      .font('sans')
      .fontSize(7.5)
      .fillColor('#444444')
      .text(`In ngày / Printed ${dayText(nowMs, options.zone)} · Trang / Page ${page + 1}/${pages} · Cắt theo đường nét đứt / Cut along the dashed lines`, MARGIN * MM, (MARGIN + 5.5) * MM, {
        width: (PAGE.width - 2 * MARGIN) * MM,
        lineBreak: false,
      });
    const onPage = cards.slice(page * CARDS_PER_PAGE, (page + 1) * CARDS_PER_PAGE);
    const top = MARGIN + HEADER;
    cutLines(doc, MARGIN, top, cardW, cardH, onPage.length);
    onPage.forEach((card, i) => {
      const x = MARGIN + (i % COLUMNS) * cardW;
      const y = top + Math.floor(i / COLUMNS) * cardH;
      drawCard(doc, card, x, y, cardW, cardH, options.zone);
    });
  }
  doc.end();
  await done;
  return new Uint8Array(Buffer.concat(chunks));
}

/** Dashed lines around every card on the page, each shared edge drawn once (so the dashes line up). */
function cutLines(doc: PDFKit.PDFDocument, left: number, top: number, w: number, h: number, count: number): void {
  doc.save().lineWidth(0.5).strokeColor('#777777').dash(3, { space: 3 });
  const edge = (x1: number, y1: number, x2: number, y2: number): void => {
    doc.moveTo(x1 * MM, y1 * MM).lineTo(x2 * MM, y2 * MM).stroke();
  };
  for (let i = 0; i < count; i++) {
    const x = left + (i % COLUMNS) * w;
    const y = top + Math.floor(i / COLUMNS) * h;
    edge(x, y, x + w, y);
    edge(x, y, x, y + h);
    if (i + COLUMNS >= count) edge(x, y + h, x + w, y + h);
    if (i % COLUMNS === COLUMNS - 1 || i === count - 1) edge(x + w, y, x + w, y + h);
  }
  doc.undash().restore();
}

function drawCard(doc: PDFKit.PDFDocument, card: SheetCard, x: number, y: number, w: number, h: number, zone: string): void {
  const qr = QRCode.create(card.code, { errorCorrectionLevel: 'M' });
  const n = qr.modules.size;
  // The fixed module size, shrunk only if a (much longer) pass would not fit the card at all.
  const module = Math.min(QR_MODULE_MM, (h - 2 * PADDING) / (n + 2 * QUIET_MODULES));
  const side = (n + 2 * QUIET_MODULES) * module;
  const qx = x + PADDING;
  const qy = y + (h - side) / 2;
  const origin = { x: qx + QUIET_MODULES * module, y: qy + QUIET_MODULES * module };
  doc.save().fillColor('black');
  for (let row = 0; row < n; row++) {
    // One rectangle per run of dark modules in a row: fewer drawing operations, no seams between them.
    let col = 0;
    while (col < n) {
      if (!qr.modules.get(row, col)) {
        col++;
        continue;
      }
      const start = col;
      while (col < n && qr.modules.get(row, col)) col++;
      doc.rect((origin.x + start * module) * MM, (origin.y + row * module) * MM, (col - start) * module * MM, module * MM);
    }
  }
  doc.fill().restore();

  const tx = qx + side + 3;
  const tw = x + w - PADDING - tx;
  let ty = y + PADDING + 3;
  // The name on one line when it fits at 9 pt or more; a longer one wraps onto a second line.
  doc.font('name').fillColor('black');
  let size = 12;
  while (size > 9 && doc.fontSize(size).widthOfString(card.fullName) > tw * MM) size -= 0.5;
  doc.fontSize(size).text(card.fullName, tx * MM, ty * MM, { width: tw * MM, height: 16 * MM, ellipsis: true });
  ty = doc.y / MM + 2;
  const line = (label: string, value: string): void => {
    doc.font('sans').fontSize(7).fillColor('#555555').text(label, tx * MM, ty * MM, { width: tw * MM, lineBreak: false });
    ty += 3;
    doc.font('sans').fontSize(9.5).fillColor('black').text(value, tx * MM, ty * MM, { width: tw * MM, height: 9 * MM, ellipsis: true });
    ty = doc.y / MM + 1.5;
  };
  line('Tổ / Team', card.team);
  line('Mã NV / Worker ID', card.workerId);
  line('Hạn dùng / Valid until', dayText(card.expiresAtMs, zone));
  doc.font('sans').fontSize(6).fillColor('#777777').text(`Mã thẻ / Pass ${card.passId}`, tx * MM, (y + h - PADDING - 3) * MM, { width: tw * MM, lineBreak: false });
}
