/**
 * The preload: exposes exactly one typed API (the renderer contract) as `window.safegate`, and
 * nothing of ipcRenderer itself. Bundled into one CommonJS file (a sandboxed preload may require
 * only 'electron').
 */
import { contextBridge, ipcRenderer } from 'electron';
import { createBridgeApi } from '../api/ipc.js';

const api = createBridgeApi(ipcRenderer);
contextBridge.exposeInMainWorld('safegate', {
  call: (method: Parameters<typeof api.call>[0], params: Parameters<typeof api.call>[1]) => api.call(method, params),
  on: (event: Parameters<typeof api.on>[0], listener: Parameters<typeof api.on>[1]) => api.on(event, listener),
});
