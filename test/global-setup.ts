import { execFileSync } from 'node:child_process';

/** Tests that start the `safegate` command run the compiled build; make sure it is current. */
export default function setup(): void {
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-b'], { stdio: 'inherit' });
}
