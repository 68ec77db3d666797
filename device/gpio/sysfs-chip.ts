import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * On current Raspberry Pi kernels (6.6 and later) the sysfs GPIO numbers of the header are offset:
 * BCM 17 on a Pi 4 is sysfs 529 (base 512). The base differs by model and kernel, so the chip is
 * picked by its label and its base read from sysfs, never guessed.
 */

/** Labels of the chip that drives the 40-pin header, most specific first (Pi 5's RP1, Pi 4, Pi 0-3). */
export const RASPBERRY_PI_HEADER_LABELS = ['pinctrl-rp1', 'pinctrl-bcm2711', 'pinctrl-bcm2835'] as const;

export interface GpioChip {
  name: string;
  label: string;
  base: number;
  ngpio: number;
}

export function listGpioChips(sysfsRoot: string): GpioChip[] {
  let entries: string[];
  try {
    entries = readdirSync(sysfsRoot).filter((n) => /^gpiochip\d+$/.test(n));
  } catch (err) {
    throw new Error(`cannot read ${sysfsRoot} (${(err as NodeJS.ErrnoException).code ?? String(err)}): is sysfs GPIO available?`, { cause: err });
  }
  const chips: GpioChip[] = [];
  for (const name of entries) {
    const dir = join(sysfsRoot, name);
    try {
      const label = readFileSync(join(dir, 'label'), 'utf8').trim();
      const base = Number.parseInt(readFileSync(join(dir, 'base'), 'utf8').trim(), 10);
      const ngpio = Number.parseInt(readFileSync(join(dir, 'ngpio'), 'utf8').trim(), 10);
      if (Number.isInteger(base) && Number.isInteger(ngpio)) chips.push({ name, label, base, ngpio });
    } catch {
      // A chip folder without readable attributes is not one we can drive; skip it.
    }
  }
  return chips.sort((a, b) => a.base - b.base);
}

/** Picks the header's chip: the configured label if given, else the first known Raspberry Pi label. */
export function findHeaderChip(sysfsRoot: string, label?: string): GpioChip {
  const chips = listGpioChips(sysfsRoot);
  const wanted = label ? [label] : [...RASPBERRY_PI_HEADER_LABELS];
  for (const l of wanted) {
    const chip = chips.find((c) => c.label === l);
    if (chip) return chip;
  }
  const seen = chips.length ? chips.map((c) => `${c.name} "${c.label}" base ${c.base}`).join(', ') : 'none';
  throw new Error(`no GPIO chip labelled ${wanted.join(' or ')} under ${sysfsRoot} (found: ${seen}); set gate.chipLabel`);
}

/** The sysfs number of a BCM line on that chip. */
export function sysfsLineNumber(chip: GpioChip, bcmLine: number): number {
  if (!Number.isInteger(bcmLine) || bcmLine < 0 || bcmLine >= chip.ngpio) {
    throw new Error(`line ${bcmLine} is outside ${chip.label} (0..${chip.ngpio - 1})`);
  }
  return chip.base + bcmLine;
}
