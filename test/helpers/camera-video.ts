import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import QRCode from 'qrcode';
import sharp from 'sharp';

export interface VideoSegment {
  /** QR text to show, or null for an empty (white) scene. */
  text: string | null;
  frames: number;
}

/**
 * Makes a video file for Chromium's fake camera (--use-file-for-fake-video-capture): each segment
 * is a still scene, a QR code centred on a white 640x480 frame or a blank frame. MJPEG keeps the
 * file small; Chromium loops it.
 */
export async function makeCameraVideo(dir: string, segments: VideoSegment[], opts: { fps?: number; width?: number; height?: number } = {}): Promise<string> {
  const fps = opts.fps ?? 30;
  const width = opts.width ?? 640;
  const height = opts.height ?? 480;
  const framesDir = join(dir, 'frames');
  mkdirSync(framesDir, { recursive: true });
  const lines: string[] = [];
  const blank = join(framesDir, 'blank.jpg');
  await sharp({ create: { width, height, channels: 3, background: '#ffffff' } }).jpeg({ quality: 90 }).toFile(blank);
  let n = 0;
  for (const seg of segments) {
    let file = blank;
    if (seg.text !== null) {
      file = join(framesDir, `qr-${n++}.jpg`);
      const size = Math.min(width, height) - 60;
      const qr = await QRCode.toBuffer(seg.text, { errorCorrectionLevel: 'M', margin: 2, width: size });
      await sharp({ create: { width, height, channels: 3, background: '#ffffff' } })
        .composite([{ input: qr, left: Math.floor((width - size) / 2), top: Math.floor((height - size) / 2) }])
        .jpeg({ quality: 90 })
        .toFile(file);
    }
    lines.push(`file '${file}'`, `duration ${seg.frames / fps}`);
  }
  // The concat demuxer needs the last file repeated to honour its duration.
  lines.push(lines.at(-2)!);
  const list = join(dir, 'frames.txt');
  writeFileSync(list, lines.join('\n') + '\n');
  const out = join(dir, 'camera.mjpeg');
  execFileSync('ffmpeg', ['-y', '-loglevel', 'error', '-f', 'concat', '-safe', '0', '-i', list, '-vf', `fps=${fps},format=yuvj420p`, '-c:v', 'mjpeg', '-q:v', '3', '-f', 'mjpeg', out]);
  return out;
}
