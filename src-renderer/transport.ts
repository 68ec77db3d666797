import type { KioskApi } from '../src-main/api/contract.js';
import { WireClient, type WebSocketClass } from '../src-main/api/wire-client.js';

declare global {
  interface Window {
    /** Present inside the Electron window: the preload's bridge to the core over IPC. */
    safegate?: KioskApi;
  }
}

const SECRET_KEY = 'safegate.secret';

/**
 * The same screens run in the Electron window (IPC through the preload) and in Chromium against
 * the loopback transport. In Chromium the run's secret arrives in the URL fragment once; it is
 * moved to sessionStorage and removed from the address bar.
 */
export function connectToCore(onLinkChange: (up: boolean) => void): KioskApi {
  if (window.safegate) return window.safegate;
  const fromHash = new URLSearchParams(location.hash.slice(1)).get('secret');
  if (fromHash) {
    sessionStorage.setItem(SECRET_KEY, fromHash);
    history.replaceState(null, '', location.pathname + location.search);
  }
  const secret = sessionStorage.getItem(SECRET_KEY) ?? '';
  const client = new WireClient({
    url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api`,
    secret,
    // The browser's WebSocket has the shape the client uses; its DOM event types are wider.
    WebSocket: WebSocket as unknown as WebSocketClass,
    onLinkChange,
  });
  void client.connect().catch(() => onLinkChange(false));
  return client;
}
