import { createPrivateKey, createPublicKey } from 'node:crypto';
import { join } from 'node:path';
import { mkdirSync, writeFileSync } from 'node:fs';
import { decode as base45Decode, encode as base45Encode } from '@digitalbazaar/base45';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScanLineFramer, type FramedLine } from '../../device/scanner/framing.js';
import { HubKeyring, generateSigningKeyPair } from '../../base/node/keys.js';
import { IDENTIFIER_PATTERN } from '../../base/common/ids.js';
import { PASS_PREFIX, issuePass } from '../../base/node/pass.js';
import { encodeCbor, signCoseSign1 } from '../../base/node/cose.js';
import { keyIdOf } from '../../base/node/keys.js';
import { readCredential } from '../../src-main/core/credential/read.js';
import { createLogger, silentLogger } from '../../base/node/logger.js';
import { openStore } from '../../src-main/core/store/database.js';
import { DownlinkState } from '../../src-main/core/store/downlink-state.js';
import { DownloadedKeys, DownloadedPolicy, Revocations } from '../../src-main/core/store/hub-data.js';
import { Notices } from '../../src-main/core/store/notices.js';
import { Roster } from '../../src-main/core/store/roster.js';
import { sealDownlink } from '../../sync/downlink-codec.js';
import { Downlink } from '../../sync/downlink.js';
import { encodeInfinityInAChild } from './targets/batch.js';
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

describe('worker passes (fuzz regressions)', () => {
  it('refuses a pass with bytes after its zlib stream as malformed, not as the pass (shrunk: {"mode":"mutated-bytes","pass":0,"edits":[{"op":"append","at":0,"byte":0}]})', () => {
    // zlib stops at the end of its stream and ignored what followed: a text the hub never issued read as a valid pass.
    const pair = generateSigningKeyPair();
    const ring = new HubKeyring();
    ring.add(createPublicKey(pair.publicPem), { role: 'pass', source: 'test' });
    const now = Date.parse('2026-06-01T08:00:00Z');
    const text = issuePass(pair.privatePem, { workerId: 'W1', issuer: 'fuzz-hub', issuedAt: new Date(now - 3_600_000), expiresAt: new Date(now + 30 * 86_400_000) });
    const read = (t: string) => readCredential(t, now, { keyring: ring, badgePattern: IDENTIFIER_PATTERN });
    expect(read(text)).toMatchObject({ status: 'valid', workerId: 'W1' });
    const withTrailingByte = PASS_PREFIX + base45Encode(new Uint8Array([...base45Decode(text.slice(PASS_PREFIX.length)), 0x00]));
    expect(read(withTrailingByte)).toMatchObject({ status: 'invalid', kind: 'pass', failure: 'MALFORMED_CODE' });
  });
});

describe('worker pass claims (fuzz regressions)', () => {
  it('refuses a trusted pass issued at the largest safe second (iat 2^53 - 1) as malformed instead of throwing RangeError', () => {
    // Shrunk: {"mode":"claims","signer":"pass","claims":new Map([[1,"fuzz-hub"],[2,"W1"],[4,1780300801],[6,9007199254740991],
    //   [7,Uint8Array.from([0,0,0,0,0,0,0,0])]]),"compress":false}. The refusal's detail printed the date with toISOString(),
    // which throws beyond the year 275760: readCredential threw out of the scan path.
    const pair = generateSigningKeyPair();
    const ring = new HubKeyring();
    ring.add(createPublicKey(pair.publicPem), { role: 'pass', source: 'test' });
    const key = createPrivateKey(pair.privatePem);
    const claims = new Map<number, unknown>([[1, 'fuzz-hub'], [2, 'W1'], [4, 1780300801], [6, 9007199254740991], [7, new Uint8Array(8)]]);
    const text = PASS_PREFIX + base45Encode(signCoseSign1(encodeCbor(claims), key, keyIdOf(key)));
    const reading = readCredential(text, Date.parse('2026-06-01T08:00:00Z'), { keyring: ring, badgePattern: IDENTIFIER_PATTERN });
    // Time claims are bounded to what a date can show (to the year 9999): beyond that the pass is malformed.
    expect(reading).toMatchObject({ status: 'invalid', failure: 'MALFORMED_CODE' });
    // The same for a far-future nbf.
    claims.set(6, 1780300000).set(5, 2 ** 52);
    const text2 = PASS_PREFIX + base45Encode(signCoseSign1(encodeCbor(claims), key, keyIdOf(key)));
    expect(readCredential(text2, Date.parse('2026-06-01T08:00:00Z'), { keyring: ring, badgePattern: IDENTIFIER_PATTERN })).toMatchObject({ status: 'invalid', failure: 'MALFORMED_CODE' });
    // Just inside the bound, it is still read as a date: not yet valid.
    claims.set(5, 253_402_300_799);
    const text3 = PASS_PREFIX + base45Encode(signCoseSign1(encodeCbor(claims), key, keyIdOf(key)));
    expect(readCredential(text3, Date.parse('2026-06-01T08:00:00Z'), { keyring: ring, badgePattern: IDENTIFIER_PATTERN })).toMatchObject({ status: 'invalid', failure: 'PASS_NOT_YET_VALID' });
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

describe('the uplink batch encoder (fuzz regressions)', () => {
  it('refuses an event whose policy version is Infinity instead of looping forever (found: {"field":"policyVersion","value":Number.POSITIVE_INFINITY}, event 5 of 13)', () => {
    // The varint writer divides Infinity by 128 until it is below 128: never. encodeBatch promises to throw for an
    // event the format cannot carry. Run in a child process with a time limit, so the hang fails this test instead of the run.
    expect(encodeInfinityInAChild('Infinity', 5_000)).toBe('refused');
    expect(encodeInfinityInAChild('-Infinity', 5_000)).toBe('refused');
  });
});

describe('the downlink (fuzz regressions)', () => {
  it('applies a signed roster snapshot that names a worker twice (the last record wins) instead of throwing a UNIQUE constraint error', () => {
    // Shrunk: [{"type":"part","signer":"downlink","stream":"roster","kind":"snapshot","from":{"rel":0},"to":{"rel":1},"part":0,"parts":1,
    //   "issued":{"rel":1000},"body":[[0,"W2"," ","","",null,false,"negative",null,0,null,"none"],[0,"W2"," ","","",null,false,"negative",null,0,null,"none"]]}]
    // The snapshot's plain INSERT failed on the second W2, out of receive(): a part the hub resends would fail the same way forever.
    const dir = tempDir('safegate-fuzz-downlink-');
    const db = openStore(join(dir.path, 'kiosk.db'));
    try {
      const pair = generateSigningKeyPair();
      const ring = new HubKeyring();
      ring.add(createPublicKey(pair.publicPem), { role: 'downlink', source: 'test' });
      const roster = new Roster(db);
      const state = new DownlinkState(db);
      const notices = new Notices(db);
      const revocations = new Revocations(db);
      const policy = new DownloadedPolicy(db);
      const keys = new DownloadedKeys(db);
      const downlink = new Downlink(
        'kiosk-a',
        state,
        () => ring,
        {
          roster: (k, c) => roster.applyChanges(k, c),
          notices: (k, c) => notices.applyChanges(k, c),
          revocations: (k, c) => revocations.applyChanges(k, c),
          policy: (k, c) => policy.applyChanges(k, c),
          keys: (k, c) => keys.applyChanges(k, c, ring),
        },
        silentLogger,
      );
      const w2 = [0, 'W2', ' ', '', '', null, false, 'negative', null, 0, null, 'none'];
      const part = sealDownlink(
        { v: 1, stream: 'roster', kind: 'snapshot', from: 0, to: 1, part: 0, parts: 1, issuedAtMs: 1_000, body: [w2, [...w2.slice(0, 2), 'Trần Thị B', ...w2.slice(3)]] },
        createPrivateKey(pair.privatePem),
      );
      expect(downlink.receive(part, 2_000)).toMatchObject({ status: 'applied', stream: 'roster', to: 1 });
      expect(roster.count()).toBe(1);
      expect(roster.get('W2')?.displayName).toBe('Trần Thị B');
      expect(state.cursor('roster').cursor).toBe(1);
    } finally {
      db.close();
      dir.remove();
    }
  });
});
