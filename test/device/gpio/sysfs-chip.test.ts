import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { findHeaderChip, listGpioChips, sysfsLineNumber } from '../../../device/gpio/sysfs-chip.js';
import { tempDir } from '../../helpers/fixtures.js';

function sysfs(root: string, chips: { name: string; label: string; base: number; ngpio: number }[]): string {
  for (const c of chips) {
    const dir = join(root, c.name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'label'), `${c.label}\n`);
    writeFileSync(join(dir, 'base'), `${c.base}\n`);
    writeFileSync(join(dir, 'ngpio'), `${c.ngpio}\n`);
  }
  writeFileSync(join(root, 'export'), '');
  return root;
}

describe('sysfs GPIO chip discovery', () => {
  const dirs: { remove(): void }[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => d.remove()));
  const root = () => {
    const d = tempDir();
    dirs.push(d);
    return d.path;
  };

  it('Pi 4 on kernel 6.6+: the header chip has base 512, so BCM 17 is 529', () => {
    const r = sysfs(root(), [
      { name: 'gpiochip512', label: 'pinctrl-bcm2711', base: 512, ngpio: 58 },
      { name: 'gpiochip570', label: 'raspberrypi-exp-gpio', base: 570, ngpio: 8 },
    ]);
    const chip = findHeaderChip(r);
    expect(chip.base).toBe(512);
    expect(sysfsLineNumber(chip, 17)).toBe(529);
  });

  it('Pi 4 on an older kernel: base 0', () => {
    const r = sysfs(root(), [
      { name: 'gpiochip0', label: 'pinctrl-bcm2711', base: 0, ngpio: 58 },
      { name: 'gpiochip504', label: 'raspberrypi-exp-gpio', base: 504, ngpio: 8 },
    ]);
    expect(sysfsLineNumber(findHeaderChip(r), 17)).toBe(17);
  });

  it('Pi 5: picks the RP1 header chip, not the SoC chip listed first', () => {
    const r = sysfs(root(), [
      { name: 'gpiochip512', label: 'pinctrl-bcm2712', base: 512, ngpio: 32 },
      { name: 'gpiochip544', label: 'pinctrl-bcm2712', base: 544, ngpio: 4 },
      { name: 'gpiochip571', label: 'pinctrl-rp1', base: 571, ngpio: 54 },
    ]);
    expect(sysfsLineNumber(findHeaderChip(r), 17)).toBe(588);
  });

  it('a configured label wins; an unknown board names what it found', () => {
    const r = sysfs(root(), [{ name: 'gpiochip100', label: 'my-expander', base: 100, ngpio: 16 }]);
    expect(findHeaderChip(r, 'my-expander').base).toBe(100);
    expect(() => findHeaderChip(r)).toThrow(/no GPIO chip labelled pinctrl-rp1 or .*found: gpiochip100 "my-expander" base 100/);
  });

  it('refuses a line outside the chip and a missing sysfs folder', () => {
    const r = sysfs(root(), [{ name: 'gpiochip512', label: 'pinctrl-bcm2711', base: 512, ngpio: 58 }]);
    expect(() => sysfsLineNumber(findHeaderChip(r), 58)).toThrow(/outside pinctrl-bcm2711/);
    expect(() => listGpioChips(join(r, 'nope'))).toThrow(/is sysfs GPIO available/);
  });
});
