/**
 * The US keyboard layout as a Linux input device reports it: key codes (linux/input-event-codes.h)
 * to the character typed without and with Shift. A keyboard-mode scanner set to "US" types every
 * ASCII character of a code with these keys; anything else on a scanner's keyboard node is not a
 * character of a code.
 *
 * Keypad keys are read as digits and signs whatever the host's NumLock: the NumLock state belongs to
 * the console the device is grabbed away from, and a scanner that types on the keypad means digits.
 */

/** Key codes the decoder treats specially (linux/input-event-codes.h). */
export const KEY = {
  ESC: 1,
  BACKSPACE: 14,
  TAB: 15,
  ENTER: 28,
  LEFTCTRL: 29,
  LEFTSHIFT: 42,
  RIGHTSHIFT: 54,
  LEFTALT: 56,
  CAPSLOCK: 58,
  NUMLOCK: 69,
  SCROLLLOCK: 70,
  KPENTER: 96,
  RIGHTCTRL: 97,
  RIGHTALT: 100,
  LEFTMETA: 125,
  RIGHTMETA: 126,
} as const;

/** key code -> [unshifted, shifted]; control keys map to their control character (refused as such). */
const US: Readonly<Record<number, readonly [string, string]>> = {
  [KEY.ESC]: ['\u001b', '\u001b'],
  2: ['1', '!'],
  3: ['2', '@'],
  4: ['3', '#'],
  5: ['4', '$'],
  6: ['5', '%'],
  7: ['6', '^'],
  8: ['7', '&'],
  9: ['8', '*'],
  10: ['9', '('],
  11: ['0', ')'],
  12: ['-', '_'],
  13: ['=', '+'],
  [KEY.BACKSPACE]: ['\b', '\b'],
  [KEY.TAB]: ['\t', '\t'],
  16: ['q', 'Q'],
  17: ['w', 'W'],
  18: ['e', 'E'],
  19: ['r', 'R'],
  20: ['t', 'T'],
  21: ['y', 'Y'],
  22: ['u', 'U'],
  23: ['i', 'I'],
  24: ['o', 'O'],
  25: ['p', 'P'],
  26: ['[', '{'],
  27: [']', '}'],
  30: ['a', 'A'],
  31: ['s', 'S'],
  32: ['d', 'D'],
  33: ['f', 'F'],
  34: ['g', 'G'],
  35: ['h', 'H'],
  36: ['j', 'J'],
  37: ['k', 'K'],
  38: ['l', 'L'],
  39: [';', ':'],
  40: ["'", '"'],
  41: ['`', '~'],
  43: ['\\', '|'],
  44: ['z', 'Z'],
  45: ['x', 'X'],
  46: ['c', 'C'],
  47: ['v', 'V'],
  48: ['b', 'B'],
  49: ['n', 'N'],
  50: ['m', 'M'],
  51: [',', '<'],
  52: ['.', '>'],
  53: ['/', '?'],
  55: ['*', '*'], // KEY_KPASTERISK
  57: [' ', ' '], // KEY_SPACE
  71: ['7', '7'], // KEY_KP7
  72: ['8', '8'],
  73: ['9', '9'],
  74: ['-', '-'], // KEY_KPMINUS
  75: ['4', '4'],
  76: ['5', '5'],
  77: ['6', '6'],
  78: ['+', '+'], // KEY_KPPLUS
  79: ['1', '1'],
  80: ['2', '2'],
  81: ['3', '3'],
  82: ['0', '0'], // KEY_KP0
  83: ['.', '.'], // KEY_KPDOT
  98: ['/', '/'], // KEY_KPSLASH
  117: ['=', '='], // KEY_KPEQUAL
};

/** Keys that change no text: modifiers and locks (handled as state, or ignored). */
const STATE_KEYS: ReadonlySet<number> = new Set([
  KEY.LEFTCTRL,
  KEY.RIGHTCTRL,
  KEY.LEFTSHIFT,
  KEY.RIGHTSHIFT,
  KEY.LEFTALT,
  KEY.RIGHTALT,
  KEY.LEFTMETA,
  KEY.RIGHTMETA,
  KEY.CAPSLOCK,
  KEY.NUMLOCK,
  KEY.SCROLLLOCK,
]);

export type KeyboardLayout = 'us';

export interface Keymap {
  /** The character a key types, or undefined when the key types none in this layout. */
  character(code: number, shift: boolean, capsLock: boolean): string | undefined;
  /** A modifier or lock key: changes state, types nothing. */
  isStateKey(code: number): boolean;
}

const LETTER = /^[a-z]$/;

export const usKeymap: Keymap = {
  character(code, shift, capsLock) {
    const pair = US[code];
    if (!pair) return undefined;
    // CapsLock shifts letters only, and Shift undoes it (as on the Linux console and X).
    const upper = LETTER.test(pair[0]) ? shift !== capsLock : shift;
    return upper ? pair[1] : pair[0];
  },
  isStateKey: (code) => STATE_KEYS.has(code),
};

export function keymapFor(layout: KeyboardLayout): Keymap {
  switch (layout) {
    case 'us':
      return usKeymap;
  }
}
