import { problemsText, type Problem } from './validation.js';

export type SettingsProblem = Problem;

/** A settings file (kiosk or hub) that cannot be used, with every problem in it. */
export class SettingsError extends Error {
  constructor(
    readonly file: string,
    readonly problems: SettingsProblem[],
  ) {
    super(`${file}: ${problemsText(problems)}`);
    this.name = 'SettingsError';
  }
}
