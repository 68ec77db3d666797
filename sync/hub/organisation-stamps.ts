import type { WireEvent } from '../batch-codec.js';
import type { HubDirectory } from './directory.js';
import type { OrganisationStamp } from './store.js';

/**
 * The organisation stamps of events a device just sent: each event of a worker on an organisation's
 * list gets that organisation, as the hub receives it (a worker on no list: none). The console scopes
 * a manager's history by these, not by the list the worker is on later.
 */
export async function organisationStamps(directory: Pick<HubDirectory, 'organisationsOf'>, deviceId: string, events: readonly WireEvent[]): Promise<OrganisationStamp[]> {
  const orgOf = await directory.organisationsOf(events.flatMap((e) => (e.workerId ? [e.workerId] : [])));
  if (orgOf.size === 0) return [];
  return events.flatMap((e) => {
    const orgId = e.workerId ? orgOf.get(e.workerId) : undefined;
    return orgId ? [{ deviceId, seq: e.seq, orgId }] : [];
  });
}
