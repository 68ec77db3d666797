import { generateKeyPairSync, sign, webcrypto } from 'node:crypto';
import { dccKidOf } from '../../../base/node/dcc/index.js';
import { P256_KEY_ALGORITHM, P256_SIGNING_ALGORITHM, peculiarX509 } from '../../../base/node/x509.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HubDirectory } from '../../../sync/hub/directory.js';
import { DCC_PART_SIZE } from '../../../sync/hub/directory.js';
import { PROTOCOL_VERSION } from '../../../sync/protocol.js';
import type { DccTrustImportSummary, DccTrustListEntry } from '../../../src-main/cli/hub-commands.js';
import { hubDirectoryAt, safegate } from '../../helpers/cli.js';
import { mintDccSigner } from '../../helpers/dcc.js';
import { directoryBackends } from '../../helpers/directory-db.js';
import { tempDir } from '../../helpers/fixtures.js';

/**
 * `safegate hub dcc trust import|list` (the compiled build) over a real hub directory, SQLite and
 * PostgreSQL: the file's signers become the `dcc` stream kiosks download; a refused file changes nothing.
 */
describe.each(directoryBackends)('hub dcc trust commands on $name', (backend) => {
  const dir = tempDir('safegate-hubdcc-');
  const config = join(dir.path, 'hub.yaml');
  const signers = [mintDccSigner('DSC one'), mintDccSigner('DSC two'), mintDccSigner('DSC three')];
  const b64 = (der: Uint8Array) => Buffer.from(der).toString('base64');
  let env: NodeJS.ProcessEnv = {};
  let directory: HubDirectory;
  const run = (...args: string[]) => safegate(['hub', 'dcc', 'trust', ...args, '--config', config], { env });
  const file = (name: string, content: string | Buffer) => {
    const path = join(dir.path, name);
    writeFileSync(path, content);
    return path;
  };
  const streamKeys = async () => (await directory.respond({ v: PROTOCOL_VERSION, stream: 'dcc', cursor: 0 }, Date.now())).flatMap((p) => p.body.map((r) => (r as [0, string])[1]));

  beforeAll(async () => {
    const target = await backend.target();
    const where = hubDirectoryAt(target);
    env = where.env;
    writeFileSync(config, stringify({ id: 'hub.1', broker: { url: 'mqtts://127.0.0.1:8883' }, directory: { path: where.path }, store: { path: 'hub.db' } }));
    // The directory's tables exist once the hub opened it.
    directory = await HubDirectory.open(target);
  }, 60_000);
  afterAll(async () => {
    await directory.close();
    dir.remove();
  });

  it('imports a PEM, then the EU gateway JSON list (added, unchanged), and lists the signers', async () => {
    const pem = run('import', file('one.pem', signers[0]!.pem));
    expect(pem.stderr).toBe('');
    expect(pem.stdout).toMatch(/1 signer\(s\); 1 added, 0 removed, 0 unchanged/);
    const dgcg = file('dgcg.json', JSON.stringify(signers.map((s) => ({ kid: s.kid, country: 'VN', certificateType: 'DSC', rawData: b64(s.der) }))));
    const json = run('import', dgcg, '--json');
    expect(json.stderr).toBe('');
    // The PEM's signer had no country; the list gives one: that record changed.
    expect(JSON.parse(json.stdout) as DccTrustImportSummary).toMatchObject({ signers: 3, added: 2, changed: 1, removed: 0, unchanged: 0, signature: 'absent', leftOut: [] });
    expect(JSON.parse(run('import', dgcg, '--json').stdout) as DccTrustImportSummary).toMatchObject({ signers: 3, added: 0, changed: 0, removed: 0, unchanged: 3 });
    expect((await streamKeys()).sort()).toEqual(signers.map((s) => s.kid).sort());

    const list = run('list');
    expect(list.stderr).toBe('');
    const lines = list.stdout.trim().split('\n').map((l) => l.split('\t'));
    expect(lines.map((l) => l[0]).sort()).toEqual(signers.map((s) => s.kid).sort());
    expect(lines[0]![1]).toBe('VN');
    expect(lines[0]![2]).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.000Z$/);
    expect(lines.map((l) => l[4]).sort()).toEqual(['C=VN, O=SafeGate test, CN=DSC one', 'C=VN, O=SafeGate test, CN=DSC three', 'C=VN, O=SafeGate test, CN=DSC two']);
    const entries = run('list', '--json').stdout.trim().split('\n').map((l) => JSON.parse(l) as DccTrustListEntry);
    const one = entries.find((e) => e.kid === signers[0]!.kid)!;
    expect(one).toMatchObject({ country: 'VN', subject: 'C=VN, O=SafeGate test, CN=DSC one' });
    expect(Date.parse(one.notAfter) - Date.parse(one.notBefore)).toBe(30 * 86_400_000);
  });

  it('refuses a bad file, an unsigned one with --list-key and a wrongly signed one, changing nothing', async () => {
    const before = await streamKeys();
    const rev = (await directory.respond({ v: PROTOCOL_VERSION, stream: 'dcc', cursor: 0 }, Date.now()))[0]!.to;
    const bad = run('import', file('bad.json', JSON.stringify([{ kid: 'abc', rawData: 'AAAA' }])));
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/trust list refused: .*entry/);
    const empty = run('import', file('empty.json', '[]'));
    expect(empty.status).toBe(1);
    expect(empty.stderr).toContain('no signer');
    const listKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const keyFile = file('list.pub.pem', listKey.publicKey.export({ type: 'spki', format: 'pem' }) as string);
    const body = JSON.stringify({ certificates: [{ kid: signers[0]!.kid, country: 'VN', certificateType: 'DSC', rawData: b64(signers[0]!.der) }] });
    const unsigned = run('import', file('unsigned.json', body), '--list-key', keyFile);
    expect(unsigned.status).toBe(1);
    expect(unsigned.stderr).toContain('not signed');
    const otherKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const forged = run('import', file('forged.txt', `${sign('sha256', Buffer.from(body), otherKey.privateKey).toString('base64')}\n${body}`), '--list-key', keyFile);
    expect(forged.status).toBe(1);
    expect(forged.stderr).toContain('does not verify');
    const noKey = run('import', file('one-again.pem', signers[0]!.pem), '--list-key', file('not-a-key.pem', 'nothing'));
    expect(noKey.status).toBe(1);
    expect(noKey.stderr).toContain('--list-key');
    expect(await streamKeys()).toEqual(before);
    expect((await directory.respond({ v: PROTOCOL_VERSION, stream: 'dcc', cursor: 0 }, Date.now()))[0]!.to).toBe(rev);

    // Signed with the list key: taken, and it is a list of one signer, so the other two go.
    const signed = run('import', file('signed.txt', `${sign('sha256', Buffer.from(body), listKey.privateKey).toString('base64')}\n${body}`), '--list-key', keyFile, '--json');
    expect(signed.stderr).toBe('');
    expect(JSON.parse(signed.stdout) as DccTrustImportSummary).toMatchObject({ signers: 1, added: 0, removed: 2, unchanged: 1, signature: 'verified', leftOut: [] });
    // The same signed file without the key: taken, and the output says its signature was not checked.
    const unchecked = run('import', join(dir.path, 'signed.txt'));
    expect(unchecked.stderr).toBe('');
    expect(unchecked.stdout).toContain('signature was not checked');
    expect(await streamKeys()).toEqual([signers[0]!.kid]);
  });

  it('a re-import with one signer fewer removes it, and kiosks get the removal as a delta', async () => {
    const all = file('all.pem', signers.map((s) => s.pem).join(''));
    run('import', all);
    const cursor = (await directory.respond({ v: PROTOCOL_VERSION, stream: 'dcc', cursor: 0 }, Date.now()))[0]!.to;
    const fewer = run('import', file('fewer.pem', signers.slice(0, 2).map((s) => s.pem).join('')));
    expect(fewer.stderr).toBe('');
    expect(fewer.stdout).toMatch(/2 signer\(s\); 0 added, 1 removed, 2 unchanged/);
    const delta = await directory.respond({ v: PROTOCOL_VERSION, stream: 'dcc', cursor }, Date.now());
    expect(delta.map((p) => [p.kind, p.body])).toEqual([['delta', [[1, signers[2]!.kid]]]]);
  });

  it("names the signers the parser left out (a DSC not issued by its country's CSCA on the list), and sends only the others", async () => {
    const csca = mintDccSigner('CSCA VN');
    const entries = [
      { kid: csca.kid, country: 'VN', certificateType: 'CSCA', rawData: b64(csca.der) },
      { kid: signers[0]!.kid, country: 'VN', certificateType: 'DSC', rawData: b64(signers[0]!.der) },
      { kid: signers[1]!.kid, country: 'DE', certificateType: 'DSC', rawData: b64(signers[1]!.der) },
    ];
    const r = run('import', file('with-csca.json', JSON.stringify(entries)), '--json');
    expect(r.stderr).toBe('');
    const summary = JSON.parse(r.stdout) as DccTrustImportSummary;
    expect(summary).toMatchObject({ signers: 1 });
    expect(summary.leftOut.map((x) => [x.kid, x.country])).toEqual([[signers[0]!.kid, 'VN']]);
    expect(await streamKeys()).toEqual([signers[1]!.kid]);
    expect(run('import', join(dir.path, 'with-csca.json')).stdout).toContain(`left out: ${signers[0]!.kid} (VN): `);
  });

  it('sends a long list in parts of at most DCC_PART_SIZE signers', async () => {
    // Real certificates, each under its own kid (the stream takes only a kid that is its certificate's hash):
    // one key, many serial numbers, made in-process (openssl once per certificate would take minutes).
    const x509 = peculiarX509();
    const keys = await webcrypto.subtle.generateKey(P256_KEY_ALGORITHM, true, ['sign', 'verify']);
    const many = await Promise.all(
      Array.from({ length: DCC_PART_SIZE + 10 }, async (_, i) => {
        const cert = await x509.X509CertificateGenerator.createSelfSigned({
          serialNumber: (i + 1).toString(16).padStart(8, '0'),
          name: `CN=DSC ${i}, C=VN`,
          notBefore: new Date(Date.now() - 86_400_000),
          notAfter: new Date(Date.now() + 30 * 86_400_000),
          signingAlgorithm: P256_SIGNING_ALGORITHM,
          keys,
        });
        const der = new Uint8Array(cert.rawData);
        return { kid: dccKidOf(der), certificate: b64(der) };
      }),
    );
    await directory.replaceDccSigners(many);
    const parts = await directory.respond({ v: PROTOCOL_VERSION, stream: 'dcc', cursor: 0 }, Date.now());
    expect(parts.map((p) => p.body.length)).toEqual([DCC_PART_SIZE, 10]);
  });
});
