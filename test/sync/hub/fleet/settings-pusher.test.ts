import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../../base/node/logger.js';
import { SettingsPusher } from '../../../../sync/hub/fleet/device-settings.js';
import type { HubDirectory } from '../../../../sync/hub/directory.js';

/** The settings stream as the pusher sees it: a revision that moves, and one changed device. */
function stream() {
  const s = { rev: 1, sent: [] as string[] };
  const directory = {
    revision: async () => s.rev,
    sql: { all: async () => [{ key: 'kiosk-a' }] },
    respondSignedTo: async function* () {
      yield new Uint8Array([1]);
    },
  } as unknown as Pick<HubDirectory, 'respondSignedTo' | 'revision' | 'sql'>;
  const pusher = new SettingsPusher({
    directory,
    signingKey: generateKeyPairSync('ed25519').privateKey,
    publish: async (topic) => void s.sent.push(topic),
    everyMs: 60_000,
    log: silentLogger,
  });
  return { s, pusher };
}

describe('SettingsPusher', () => {
  it('primed at start, pushes a change made before its first look', async () => {
    const { s, pusher } = stream();
    await pusher.prime();
    s.rev = 2; // `hub device set` right after the hub started
    expect(await pusher.check()).toBe(1);
    expect(s.sent).toEqual(['safegate/v1/kiosk-a/downlink']);
    // Nothing new: nothing sent.
    expect(await pusher.check()).toBe(0);
  });

  it('unprimed, the first look only sets its starting point (what the hub did before)', async () => {
    const { s, pusher } = stream();
    s.rev = 2;
    expect(await pusher.check()).toBe(0);
    expect(s.sent).toEqual([]);
  });
});
