import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { acquireInstanceLock, canonicalPath, InstanceLockedError, lockAddress } from '../../../base/node/instance-lock.js';

const resource = (name: string) => `/tmp/safegate-lock-test-${process.pid}-${name}`;

describe('one process at a time per store (abstract Unix socket lock)', () => {
  it('a second taker is refused by name until the first releases', async () => {
    const first = await acquireInstanceLock('kiosk', resource('a'));
    expect(first.held).toBe(true);
    const second = acquireInstanceLock('kiosk', resource('a'));
    await expect(second).rejects.toBeInstanceOf(InstanceLockedError);
    await expect(second).rejects.toThrow(/already running with \/tmp\/safegate-lock-test-\d+-a/);
    // Another resource, or another kind on the same resource, is free.
    const other = await acquireInstanceLock('kiosk', resource('b'));
    const otherKind = await acquireInstanceLock('hub', resource('a'));
    await first.release();
    await first.release(); // twice is harmless
    const again = await acquireInstanceLock('kiosk', resource('a'));
    expect(again.held).toBe(true);
    await Promise.all([again.release(), other.release(), otherKind.release()]);
  });

  it('a holder killed with SIGKILL leaves no stale lock: the next start takes it at once', async () => {
    const address = lockAddress('kiosk', resource('killed'));
    const child = spawn(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(address)}, () => console.log('held'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((ok, fail) => {
      child.stdout!.on('data', (d: Buffer) => d.toString().includes('held') && ok());
      child.once('exit', () => fail(new Error('the holder exited early')));
    });
    await expect(acquireInstanceLock('kiosk', resource('killed'))).rejects.toBeInstanceOf(InstanceLockedError);
    child.kill('SIGKILL');
    await once(child, 'exit');
    const lock = await acquireInstanceLock('kiosk', resource('killed'));
    expect(lock.held).toBe(true);
    await lock.release();
  });

  it('is not taken where there are no abstract sockets', async () => {
    const lock = await acquireInstanceLock('kiosk', resource('mac'), 'darwin');
    expect(lock.held).toBe(false);
    await lock.release();
  });

  it('names a store by its real path, whether or not the file exists yet', () => {
    expect(canonicalPath('/tmp/../tmp/x-not-there.db')).toBe(canonicalPath('/tmp/x-not-there.db'));
    expect(lockAddress('kiosk', '/a').startsWith('\0safegate-kiosk-')).toBe(true);
    expect(Buffer.byteLength(lockAddress('kiosk', '/a'.repeat(500)))).toBeLessThan(108);
  });
});
