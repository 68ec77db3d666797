/**
 * What the kiosk says about its hub link, on the screens (ScreenState.link) and in `safegate
 * status`: one rule for both, so an IT person at the terminal and a guard at the screen read the
 * same word at the same moment.
 */
export const HUB_LINK_VIEWS = ['online', 'connecting', 'offline', 'standalone'] as const;
export type HubLinkView = (typeof HUB_LINK_VIEWS)[number];

/**
 * The link as people are told it. `linkState` is the MQTT link's own state, or undefined when the
 * settings name no hub (standalone). Only a link that is up is "online"; a refused identity, a
 * stopped link or one that lost its broker is "offline" (scans are still decided and recorded).
 */
export function hubLinkView(linkState: string | undefined): HubLinkView {
  if (linkState === undefined) return 'standalone';
  if (linkState === 'online') return 'online';
  if (linkState === 'connecting') return 'connecting';
  return 'offline';
}
