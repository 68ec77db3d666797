/* global self, caches */
// The phone page's service worker: the page works offline at the gate. Everything under the page's
// scope except its API is answered from the network when there is one (and kept), else from the
// cache the page filled on its first visit. The pass and the key are in IndexedDB, not here.
const CACHE = 'safegate-phone-v1';

self.addEventListener('install', () => self.skipWaiting());
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== self.location.origin || url.pathname.includes('/api/')) return;
  event.respondWith(
    (async () => {
      const cache = await caches.open(CACHE);
      try {
        const response = await fetch(request);
        if (response.ok) await cache.put(request, response.clone());
        return response;
      } catch (err) {
        const cached = (await cache.match(request, { ignoreSearch: true })) ?? (request.mode === 'navigate' ? await cache.match(new URL('./', self.registration.scope).href) : undefined);
        if (cached) return cached;
        throw err;
      }
    })(),
  );
});
