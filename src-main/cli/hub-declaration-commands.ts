import { userInfo } from 'node:os';
import { localTimeIn } from '../../base/common/time.js';
import { workerIdSchema } from '../../base/common/ids.js';
import { HubDirectory } from '../../sync/hub/directory.js';
import { directoryTarget, loadHubSettings } from '../../sync/hub/settings.js';
import { CliError } from './errors.js';

/** The reason a health officer gives: one line of plain text (no control or invisible formatting characters). */
const REASON_MAX = 200;

/**
 * `safegate hub declaration clear WORKER --reason TEXT`: a health officer clears a worker's flagged
 * declaration (it otherwise stands for the rest of its day). The roster record drops the flag, so the
 * worker's kiosks admit them at their next roster download; who (the shell user), when and why are
 * kept at the hub (declaration_clearances). Prints no health answer.
 */
export async function clearHubDeclaration(configFile: string, workerIdText: string, o: { reason: string; nowMs?: number }): Promise<string> {
  const worker = workerIdSchema.safeParse(workerIdText);
  if (!worker.success) throw new CliError(`not a worker id: ${JSON.stringify(workerIdText)}`, 2);
  const reason = o.reason.trim();
  if (!reason) throw new CliError('--reason: say why the flag is cleared (one line)', 2);
  if (reason.length > REASON_MAX) throw new CliError(`--reason: at most ${REASON_MAX} characters`, 2);
  if (/[\p{Cc}\p{Cf}\p{Cs}]/u.test(reason)) throw new CliError('--reason: plain text on one line only', 2);
  const loaded = loadHubSettings(configFile);
  const directory = await HubDirectory.open(directoryTarget(loaded));
  try {
    const nowMs = o.nowMs ?? Date.now();
    const by = `shell:${userInfo().username}`;
    const r = await directory.clearDeclarationFlag(worker.data, { by, reason, nowMs });
    if (!r) throw new CliError(`${worker.data} is not on the roster`, 2);
    if (!r.cleared) throw new CliError(`${worker.data} has no flagged declaration to clear`, 2);
    const zone = loaded.settings.time.zone;
    return `${worker.data}: flagged declaration of ${localTimeIn(r.declaredAtMs!, zone)} cleared by ${by} at ${localTimeIn(nowMs, zone)}; their kiosks admit them at their next roster download`;
  } finally {
    await directory.close();
  }
}
