import type { Policy } from '../../../base/common/policy/policy.js';
import type { DataChange, PolicyDocument } from '../../../base/common/types.js';
import type { DownloadedPolicy } from '../store/hub-data.js';

/**
 * The policy the gate applies: the hub's, once it has sent one at least as new as the local one
 * (from the settings' policy file, or built in). Read on every scan, so a new one applies from the
 * next scan. The constructor only stores its dependencies.
 */
export class PolicyInForce {
  private current: Policy | undefined;

  constructor(
    private readonly local: Policy,
    private readonly downloaded: DownloadedPolicy,
  ) {}

  get(): Policy {
    return (this.current ??= this.pick());
  }

  /** The downlink's applier for the policy stream: stores the hub's document, then re-picks. */
  applyChanges(kind: 'snapshot' | 'delta', changes: DataChange<PolicyDocument>[]): void {
    this.downloaded.applyChanges(kind, changes);
    this.current = this.pick();
  }

  /** The policy's data-age limit in seconds (72 hours for a policy without the parameter). */
  maxDataAgeS(): number {
    const hours = this.get().params.maxDataAgeHours;
    return (typeof hours === 'number' ? hours : 72) * 3600;
  }

  private pick(): Policy {
    const downloaded = this.downloaded.current();
    return downloaded && downloaded.version >= this.local.version ? downloaded : this.local;
  }
}
