import { describe, it } from 'vitest';
import { OnoffOutput } from '../../../device/gpio/onoff-output.js';
import { findHeaderChip, sysfsLineNumber } from '../../../device/gpio/sysfs-chip.js';
import { digitalOutputContract } from './output.contract.js';

/**
 * The real adapter runs the same contract where sysfs GPIO exists (a Raspberry Pi, as root or in the
 * gpio group). SAFEGATE_TEST_GPIO_LINE names a free BCM line to drive; nothing may be wired to it.
 */
const line = process.env.SAFEGATE_TEST_GPIO_LINE;
if (OnoffOutput.accessible() && line) {
  const chip = findHeaderChip('/sys/class/gpio');
  digitalOutputContract('onoff (real sysfs GPIO)', (name, activeLow, onTransition) =>
    new OnoffOutput(name, sysfsLineNumber(chip, Number(line)), activeLow, onTransition),
  );
} else {
  describe('DigitalOutput contract: onoff (real sysfs GPIO)', () => {
    it.skip('needs sysfs GPIO and SAFEGATE_TEST_GPIO_LINE (runs on a Raspberry Pi)', () => {});
  });
}
