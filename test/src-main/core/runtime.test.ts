import { chownSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runtimeDir } from '../../../src-main/core/runtime.js';
import { tempDir } from '../../helpers/fixtures.js';

describe('the runtime folder', () => {
  it('the service\'s folder when this user owns it (sudo -u safegate finds what the service wrote); not when absent or another user\'s; the variables still win', () => {
    const dir = tempDir('safegate-runtime-');
    try {
      const service = join(dir.path, 'run-safegate');
      expect(runtimeDir({}, service)).not.toBe(service);
      mkdirSync(service, { mode: 0o700 });
      expect(runtimeDir({}, service)).toBe(service);
      expect(runtimeDir({ SAFEGATE_RUNTIME_DIR: join(dir.path, 'x') }, service)).toBe(join(dir.path, 'x'));
      expect(runtimeDir({ XDG_RUNTIME_DIR: join(dir.path, 'xdg') }, service)).toBe(join(dir.path, 'xdg', 'safegate'));
      if (process.getuid?.() === 0) {
        chownSync(service, 65534, 65534);
        expect(runtimeDir({}, service)).not.toBe(service);
      }
    } finally {
      dir.remove();
    }
  });
});
