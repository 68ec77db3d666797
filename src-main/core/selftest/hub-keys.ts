import { existsSync } from 'node:fs';
import { HubKeyring } from '../../../base/node/keys.js';
import { errorText, fail, pass, type CheckOutcome } from './check.js';

/** The installed trust anchors in the effective keys folder: pass keys (always) and downlink keys (with a hub). */
export function hubKeysCheck(input: { keysDir: string; syncs: boolean }): CheckOutcome {
  const dir = input.keysDir;
  if (!existsSync(dir)) return fail(`${dir}: no such folder: every pass is refused (UNKNOWN_KEY)`, 'enrol the kiosk (`safegate enrol`), or install the hub\'s keys in pass/ and downlink/ (hub.keysDir)');
  let keyring: HubKeyring;
  try {
    keyring = HubKeyring.fromDirectory(dir);
  } catch (err) {
    return fail(`${dir}: ${errorText(err)}`, 'remove or replace the file named (keys are *.pub.pem in pass/ and downlink/)');
  }
  const passKeys = keyring.count('pass');
  const downlink = keyring.count('downlink');
  const counts = `${passKeys} pass key(s), ${downlink} downlink key(s)`;
  if (passKeys === 0) return fail(`${dir}: ${counts}: every pass is refused (UNKNOWN_KEY)`, `install the hub's pass public key in ${dir}/pass/ (or enrol the kiosk)`);
  if (input.syncs && downlink === 0) return fail(`${dir}: ${counts}: nothing the hub sends (roster, policy, notices) is accepted`, `install the hub's downlink public key in ${dir}/downlink/ (or enrol the kiosk)`);
  return pass(`${dir}: ${counts}`);
}
