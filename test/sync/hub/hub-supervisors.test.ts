import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { HubSupervisor } from '../../../base/common/types.js';
import { hashPinForHub, PinFormatError, verifyPin } from '../../../src-main/core/supervisor/pin.js';
import { streamCodecs } from '../../../sync/downlink-codec.js';
import { HubDirectory } from '../../../sync/hub/directory.js';
import { PROTOCOL_VERSION } from '../../../sync/protocol.js';
import { hubDirectoryAt, safegate } from '../../helpers/cli.js';
import { directoryBackends } from '../../helpers/directory-db.js';
import { tempDir } from '../../helpers/fixtures.js';

const NOW = Date.parse('2026-11-27T06:00:00Z');

/** Hub supervisors: kept at the hub as a scrypt hash, sent to the kiosks of their site only. */
describe.each(directoryBackends)('hub supervisors in the directory on $name', (backend) => {
  let d: HubDirectory;
  let hash: string;

  beforeEach(async () => {
    d = await HubDirectory.open(await backend.target());
    await d.addOrganisation({ id: 'org-a', name: 'A', kind: 'company' }, NOW);
    await d.addSite({ id: 'site-a', orgId: 'org-a' }, NOW);
    await d.addSite({ id: 'site-b', orgId: 'org-a' }, NOW);
    await d.assignSite('site-a', ['kiosk-a'], NOW);
    await d.assignSite('site-b', ['kiosk-b'], NOW);
    hash ??= await hashPinForHub('2468101214');
  });
  afterEach(async () => {
    await d.close();
  });

  const held = async (deviceId: string, cursor = 0) => {
    const parts = await d.respondTo(deviceId, { v: PROTOCOL_VERSION, stream: 'supervisors', cursor }, NOW);
    return { kind: parts[0]!.kind, to: parts[0]!.to, changes: parts.flatMap((p) => p.body.map((b) => streamCodecs.supervisors.fromWire(b))) };
  };

  it("sends a site's supervisors to its kiosks only, never to another site's or a device in none", async () => {
    const id = await d.addSupervisor({ siteId: 'site-a', name: 'Nguyễn Thị Lan', pinHash: hash });
    expect(id).toMatch(/^hub-[0-9a-f]{12}$/);
    expect((await held('kiosk-a')).changes).toEqual([{ deleted: false, key: id, value: { id, siteId: 'site-a', name: 'Nguyễn Thị Lan', pinHash: hash } satisfies HubSupervisor }]);
    expect((await held('kiosk-b')).changes).toEqual([]);
    expect((await held('kiosk-nowhere')).changes).toEqual([]);
    expect(await d.supervisors()).toEqual([{ id, siteId: 'site-a', name: 'Nguyễn Thị Lan' }]);
    await expect(d.addSupervisor({ siteId: 'site-a', name: 'Nguyễn Thị Lan', pinHash: hash })).rejects.toThrow(/already has a supervisor named/);
    await expect(d.addSupervisor({ siteId: 'site-z', name: 'X', pinHash: hash })).rejects.toThrow(/no site site-z/);
    await expect(d.addSupervisor({ siteId: 'site-a', name: 'Y', pinHash: 'plain 246810' })).rejects.toThrow();
  });

  it('removes a supervisor from every kiosk of the site; a kiosk moved to another site gets that site\'s instead', async () => {
    const id = await d.addSupervisor({ siteId: 'site-a', name: 'Lan', pinHash: hash });
    const other = await d.addSupervisor({ siteId: 'site-b', name: 'Bình', pinHash: hash });
    const first = await held('kiosk-a');
    await d.removeSupervisor(id);
    expect(await held('kiosk-a', first.to)).toMatchObject({ kind: 'delta', changes: [{ deleted: true, key: id }] });
    await expect(d.removeSupervisor(id)).rejects.toThrow(/no hub supervisor/);

    const before = (await held('kiosk-a')).to;
    await d.assignSite('site-b', ['kiosk-a'], NOW);
    expect(await held('kiosk-a', before)).toMatchObject({ kind: 'snapshot', changes: [{ deleted: false, key: other }] });
  });
});

describe.each(directoryBackends)('hub supervisor commands on $name', (backend) => {
  const dir = tempDir('safegate-hubsupcli-');
  const config = join(dir.path, 'hub.yaml');
  afterAll(() => dir.remove());

  it('adds a supervisor with the PIN on stdin (stored as a hash only), rotates the PINs of a site, lists and removes them', async () => {
    const target = await backend.target();
    const at = hubDirectoryAt(target);
    writeFileSync(config, stringify({ id: 'hub.1', broker: { url: 'mqtts://127.0.0.1:8883' }, directory: { path: at.path } }));
    const run = (args: string[], input?: string) => safegate(['hub', ...args, '--config', config], { env: at.env, ...(input === undefined ? {} : { input }) });
    expect(run(['org', 'add', 'cty-a', '--name', 'A']).status).toBe(0);
    expect(run(['site', 'add', 'xuong-1', '--org', 'cty-a']).status).toBe(0);
    const added = run(['supervisor', 'add', '--site', 'xuong-1', '--name', 'Nguyễn Thị Lan'], '1357902468\n');
    expect(added.stderr).toBe('');
    const id = /hub supervisor (hub-[0-9a-f]+) \(Nguyễn Thị Lan\) added to site xuong-1/.exec(added.stdout)?.[1];
    expect(id).toBeDefined();
    expect(run(['supervisor', 'list']).stdout).toBe(`${id}\txuong-1\tNguyễn Thị Lan\n`);
    // A 6-digit PIN, fine for a kiosk's own supervisor, is too short for a hub one: its hash reaches every kiosk of the site.
    const short = run(['supervisor', 'add', '--site', 'xuong-1', '--name', 'Bình'], '135790\n');
    expect(short.status).toBe(2);
    expect(short.stderr).toMatch(/10 to 12 digits/);
    const d = await HubDirectory.open(target);
    try {
      const published = JSON.stringify(await d.respond({ v: PROTOCOL_VERSION, stream: 'supervisors', cursor: 0 }, Date.now()));
      expect(published).toMatch(/scrypt\$15\$8\$1\$/);
      expect(published).not.toContain('1357902468');
    } finally {
      await d.close();
    }
    // A kiosk of the site is lost: the site's hub supervisors get new PINs, shown once; the old one no longer verifies.
    const hashOf = async () => {
      const d = await HubDirectory.open(target);
      try {
        const rec = (await d.respond({ v: PROTOCOL_VERSION, stream: 'supervisors', cursor: 0 }, Date.now())).flatMap((x) => x.body.map((b) => streamCodecs.supervisors.fromWire(b)));
        return (rec.find((r) => !r.deleted && r.key === id) as { value: HubSupervisor }).value.pinHash;
      } finally {
        await d.close();
      }
    };
    const oldHash = await hashOf();
    const rotated = run(['supervisor', 'rotate', '--site', 'xuong-1']);
    expect(rotated.stderr).toBe('');
    const pin = new RegExp(`^${id}\\tNguyễn Thị Lan\\t([0-9]{12})$`, 'm').exec(rotated.stdout)?.[1];
    expect(pin).toBeDefined();
    const newHash = await hashOf();
    expect(newHash).not.toBe(oldHash);
    expect(await verifyPin(pin!, newHash, Buffer.alloc(32))).toBe(true);
    expect(await verifyPin('1357902468', newHash, Buffer.alloc(32))).toBe(false);
    expect(run(['supervisor', 'rotate', '--site', 'nowhere']).status).toBe(2);
    expect(run(['supervisor', 'remove', id!]).stdout).toMatch(/removed; the kiosks of their site drop them/);
    expect(run(['supervisor', 'list']).stdout).toMatch(/^no hub supervisor yet/);
  });
});

describe('hub supervisor PINs', () => {
  it('are 10 to 12 digits: a shorter one is refused before it is hashed', async () => {
    await expect(hashPinForHub('135790')).rejects.toBeInstanceOf(PinFormatError);
    await expect(hashPinForHub('1234567890123')).rejects.toBeInstanceOf(PinFormatError);
    expect(await hashPinForHub('1357902468')).toMatch(/^scrypt\$15\$8\$1\$/);
  });
});
