import { setTimeout as sleep } from 'node:timers/promises';
import { InputControlError, setInputControl } from '../../device/gpio/input-control.js';
import { OnoffOutput } from '../../device/gpio/onoff-output.js';
import { loadSettings } from '../core/config.js';
import { inputControlFile } from '../core/gate-inputs.js';
import { readRuntimeStatus, runtimeFiles } from '../core/runtime.js';
import { CliError } from './cli-error.js';

export const GPIO_INPUT_NAMES = ['emergency', 'passage'] as const;
export type GpioInputName = (typeof GPIO_INPUT_NAMES)[number];
export const GPIO_INPUT_STATES = ['on', 'off', 'pulse'] as const;
export type GpioInputState = (typeof GPIO_INPUT_STATES)[number];

/** The kiosk polls its input control file every 200 ms; a pulse holds long enough for a poll and the debounce. */
const POLL_MARGIN_MS = 600;

/**
 * `safegate gpio set NAME on|off|pulse --config FILE`: drives a simulated input of the kiosk that runs
 * with these settings, through the input control file in its private runtime folder. A kiosk whose
 * inputs are real GPIO lines is not driven from here: the contact is.
 */
export async function setGpioInput(configFile: string, name: GpioInputName, state: GpioInputState): Promise<string> {
  const loaded = loadSettings(configFile);
  const { gate } = loaded.settings;
  const input = gate.inputs[name];
  if (!input) throw new CliError(`${configFile} has no gate.inputs.${name}: this kiosk has no ${name} input to drive`);
  if (gate.gpio === 'real' || (gate.gpio === 'auto' && OnoffOutput.accessible())) {
    throw new CliError(`the kiosk's inputs are real GPIO lines here (gate.gpio: ${gate.gpio}): drive the contact on line ${input.pin}, or set gate.gpio: simulated`);
  }
  const files = runtimeFiles(loaded.paths.store);
  const file = inputControlFile(files);
  try {
    if (state === 'pulse') {
      setInputControl(file, name, true);
      await sleep(gate.inputs.debounceMs + POLL_MARGIN_MS);
      setInputControl(file, name, false);
    } else setInputControl(file, name, state === 'on');
  } catch (err) {
    if (err instanceof InputControlError || (err as NodeJS.ErrnoException).code) throw new CliError(`cannot write ${file}: ${(err as Error).message}`, { cause: err });
    throw err;
  }
  const running = readRuntimeStatus(files);
  const what = state === 'pulse' ? 'pulsed (on, then off)' : state;
  return running
    ? `${name}: ${what} (the running kiosk, pid ${running.pid}, follows within a second)`
    : `${name}: ${what} (no kiosk is running with these settings; one that starts takes this state)`;
}
