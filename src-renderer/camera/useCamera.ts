import { useEffect, useRef, useState } from 'react';
import type { DecoderName } from '../../device/camera/decoder.js';
import type { FromWorker, ToWorker } from './worker-messages.js';

export type CameraStatus = 'off' | 'starting' | 'on' | 'error';

export interface CameraOptions {
  enabled: boolean;
  decoder: DecoderName;
  width: number;
  height: number;
  onCode: (text: string) => void;
  /** Names the screen the video element belongs to: when it changes (the "enrol me" screen gives way to the gate's), the camera is opened again on the new element. */
  surface?: string;
}

/** A code held in front of the camera is one scan: it counts again only after it was gone this long. */
const SAME_CODE_GAP_MS = 1500;

/**
 * Opens the camera and feeds frames to the decoding worker, one at a time: a new frame is sent
 * as soon as the worker is free, so latency is one decode, and the UI thread only captures bitmaps.
 */
export function useCamera(options: CameraOptions): { status: CameraStatus; videoRef: React.RefObject<HTMLVideoElement | null>; lastDecodeMs: number | null } {
  const videoRef = useRef<HTMLVideoElement | null>(null);
  const [status, setStatus] = useState<Exclude<CameraStatus, 'off'>>('starting');
  const [lastDecodeMs, setLastDecodeMs] = useState<number | null>(null);
  const onCode = useRef(options.onCode);
  useEffect(() => {
    onCode.current = options.onCode;
  }, [options.onCode]);

  useEffect(() => {
    if (!options.enabled) return;
    let stopped = false;
    let stream: MediaStream | undefined;
    let busy = true;
    let frameId = 0;
    const seen = new Map<string, number>();
    const worker = new Worker(new URL('./decode.worker.ts', import.meta.url), { type: 'module' });
    const send = (m: ToWorker, transfer: Transferable[] = []) => worker.postMessage(m, transfer);

    const grab = async (): Promise<void> => {
      const video = videoRef.current;
      if (stopped || busy || !video || video.readyState < 2) return;
      busy = true;
      try {
        const bitmap = await createImageBitmap(video);
        send({ type: 'frame', id: ++frameId, bitmap }, [bitmap]);
      } catch {
        busy = false;
      }
    };

    worker.onmessage = (ev: MessageEvent<FromWorker>) => {
      const m = ev.data;
      busy = false;
      if (m.type === 'result') {
        setLastDecodeMs(Math.round(m.ms));
        const now = performance.now();
        for (const text of m.texts) {
          const last = seen.get(text);
          seen.set(text, now);
          if (last === undefined || now - last > SAME_CODE_GAP_MS) onCode.current(text);
        }
        if (seen.size > 64) for (const [k, at] of seen) if (now - at > SAME_CODE_GAP_MS) seen.delete(k);
      } else if (m.type === 'error' && m.id === -1) {
        setStatus('error');
        busy = true;
      }
    };
    send({ type: 'init', decoder: options.decoder });

    const onFrame = (): void => {
      if (stopped) return;
      void grab();
      videoRef.current?.requestVideoFrameCallback(onFrame);
    };

    navigator.mediaDevices
      .getUserMedia({ video: { width: { ideal: options.width }, height: { ideal: options.height }, facingMode: 'user' }, audio: false })
      .then(async (s) => {
        stream = s;
        if (stopped) return s.getTracks().forEach((t) => t.stop());
        const video = videoRef.current;
        if (!video) return;
        const rate = s.getVideoTracks()[0]?.getSettings().frameRate;
        send(rate && rate > 0 ? { type: 'camera', frameIntervalMs: 1000 / rate } : { type: 'camera' });
        video.srcObject = s;
        await video.play().catch(() => undefined);
        setStatus('on');
        video.requestVideoFrameCallback(onFrame);
      })
      .catch(() => setStatus('error'));

    return () => {
      stopped = true;
      setStatus('starting');
      worker.terminate();
      stream?.getTracks().forEach((t) => t.stop());
    };
  }, [options.enabled, options.decoder, options.width, options.height, options.surface]);

  return { status: options.enabled ? status : 'off', videoRef, lastDecodeMs };
}
