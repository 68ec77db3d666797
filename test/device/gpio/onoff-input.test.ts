import { describe, it } from 'vitest';
import { OnoffInput } from '../../../device/gpio/onoff-input.js';
import { OnoffOutput } from '../../../device/gpio/onoff-output.js';
import { findHeaderChip, sysfsLineNumber } from '../../../device/gpio/sysfs-chip.js';
import { digitalInputContract } from './input.contract.js';

/**
 * The real adapter runs the same contract where sysfs GPIO exists (a Raspberry Pi, as root or in the
 * gpio group) and two free BCM lines are wired to each other: SAFEGATE_TEST_GPIO_INPUT_LINE is read,
 * SAFEGATE_TEST_GPIO_LOOP_LINE drives it. Nothing else may be wired to either.
 */
const inputLine = process.env.SAFEGATE_TEST_GPIO_INPUT_LINE;
const loopLine = process.env.SAFEGATE_TEST_GPIO_LOOP_LINE;
if (OnoffInput.accessible() && inputLine && loopLine) {
  const chip = findHeaderChip('/sys/class/gpio');
  digitalInputContract('onoff (real sysfs GPIO, looped back)', (name, activeLow, debounceMs) => {
    const driver = new OnoffOutput('loop', sysfsLineNumber(chip, Number(loopLine)), false);
    const input = new OnoffInput(name, sysfsLineNumber(chip, Number(inputLine)), activeLow, debounceMs);
    return {
      input,
      drive: (level) => driver.set(level === 1),
      release: () => {
        input.release();
        driver.release();
      },
    };
  });
} else {
  describe('DigitalInput contract: onoff (real sysfs GPIO, looped back)', () => {
    it.skip('skipped here: needs sysfs GPIO and two wired lines, SAFEGATE_TEST_GPIO_INPUT_LINE and SAFEGATE_TEST_GPIO_LOOP_LINE (a Raspberry Pi)', () => {});
  });
}
