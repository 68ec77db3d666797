import { join } from 'node:path';
import { mkdirSync, writeFileSync } from 'node:fs';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScanLineFramer, type FramedLine } from '../../device/scanner/framing.js';
import { createLogger } from '../../base/node/logger.js';
import { Kiosk } from '../../src-main/app/kiosk.js';
import type { LoopbackServer } from '../../src-main/api/loopback-server.js';
import { loadSettings } from '../../src-main/core/config.js';
import { hubKeys, tempDir, writeKioskConfig } from '../helpers/fixtures.js';

/**
 * Inputs the fuzzers (test/fuzz/) found and shrank, each kept as a plain test with its literal input.
 * Each names the bug it caught; the fix is in the module under test.
 */

function frame(suffix: 'CR' | 'LF' | 'CRLF', maxLength: number, bytes: number[]): FramedLine[] {
  const framer = new ScanLineFramer(suffix, maxLength);
  const out: FramedLine[] = [];
  framer.on('data', (l: FramedLine) => out.push(l));
  framer.write(Buffer.from(bytes));
  return out;
}

describe('scanner framing (fuzz regressions)', () => {
  it('refuses as too long a CRLF-mode line of maxLength + 1 bytes ended by a bare LF (shrunk: CRLF, max 1, C0 80 0A)', () => {
    // The buffer keeps one byte of room for a CRLF's CR; a line ended by LF alone could use it.
    expect(frame('CRLF', 1, [0xc0, 0x80, 0x0a]).map((l) => (l.kind === 'line' ? l.text : l.reason))).toEqual(['too-long']);
    expect(frame('CRLF', 8, [...Buffer.from('123456789\n')]).map((l) => (l.kind === 'line' ? l.text : l.reason))).toEqual(['too-long']);
    expect(frame('CRLF', 8, [...Buffer.from('12345678\r\n')]).map((l) => (l.kind === 'line' ? l.text : l.reason))).toEqual(['12345678']);
  });
});

describe('the loopback screen API (fuzz regressions)', () => {
  let dir: ReturnType<typeof tempDir>;
  let kiosk: Kiosk;
  let server: LoopbackServer;

  beforeAll(async () => {
    dir = tempDir('safegate-fuzz-regressions-');
    hubKeys(dir.path);
    kiosk = new Kiosk(loadSettings(writeKioskConfig(dir.path)), { headless: false, log: createLogger({ level: 'silent' }) });
    kiosk.start();
    const rendererDir = join(dir.path, 'renderer');
    mkdirSync(rendererDir, { recursive: true });
    writeFileSync(join(rendererDir, 'index.html'), '<!doctype html><title>t</title>');
    server = await kiosk.startScreens({ rendererDir });
  });
  afterAll(async () => {
    await kiosk.stop();
    dir.remove();
  });

  /** Sends one text message on a fresh authenticated connection; the reply, or the close code. */
  const exchange = (text: string) =>
    new Promise<{ reply?: unknown; close?: number }>((resolve, reject) => {
      const ws = new WebSocket(server.apiUrl, ['safegate.v1', `secret.${server.secret}`]);
      const timer = setTimeout(() => {
        ws.terminate();
        resolve({});
      }, 3_000);
      ws.on('open', () => ws.send(text));
      ws.on('message', (data) => {
        const msg = JSON.parse(String(data)) as { t: string };
        if (msg.t !== 'reply') return;
        clearTimeout(timer);
        ws.close();
        resolve({ reply: msg });
      });
      ws.on('close', (code) => {
        clearTimeout(timer);
        resolve({ close: code });
      });
      ws.on('error', reject);
    });

  it('closes a connection that sends the JSON text null as "not a call", instead of throwing in the message handler (shrunk: [{"kind":"json","value":null}])', async () => {
    // The handler read `.t` of null: an uncaught TypeError in a socket callback ends a kiosk process.
    expect(await exchange('null')).toEqual({ close: 1008 });
    expect(await exchange('{"t":"call","id":7,"method":"screen.state","params":{}}')).toMatchObject({ reply: { t: 'reply', id: 7, ok: true } });
  });

  it('answers a method name that cannot be turned into text as an unknown method, not an internal error (shrunk: method {__proto__: null})', async () => {
    // The error message was built with String(method), which throws for such an object.
    expect(await kiosk.screenService.dispatch(Object.create(null), {})).toMatchObject({ ok: false, error: { code: 'unknown-method' } });
    expect(await kiosk.screenService.dispatch({ toString: 1 }, {})).toMatchObject({ ok: false, error: { code: 'unknown-method' } });
    // Reachable from a browser: JSON carries { "toString": 1 }.
    expect(await exchange('{"t":"call","id":8,"method":{"toString":1},"params":{}}')).toMatchObject({ reply: { id: 8, ok: false, error: { code: 'unknown-method' } } });
  });
});
