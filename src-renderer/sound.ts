/**
 * Distinct sounds for allow and deny (never colour alone): a rising two-note chime to pass, three
 * low buzzes to stop; on a bus, "see the driver" (full, wrong route, a device fault: something the
 * driver can act on) is one long falling two-tone call, unlike both. Synthesised with WebAudio, so
 * there are no audio files to ship or load.
 */
let ctx: AudioContext | undefined;

function tone(at: number, freq: number, dur: number, type: OscillatorType, gain = 0.25): void {
  if (!ctx) return;
  const osc = ctx.createOscillator();
  const g = ctx.createGain();
  osc.type = type;
  osc.frequency.value = freq;
  g.gain.setValueAtTime(gain, at);
  g.gain.exponentialRampToValueAtTime(0.001, at + dur);
  osc.connect(g).connect(ctx.destination);
  osc.start(at);
  osc.stop(at + dur);
}

export type SoundOutcome = 'allow' | 'deny' | 'repeat' | 'see-driver';

export function playOutcome(outcome: SoundOutcome): void {
  try {
    ctx ??= new AudioContext();
    if (ctx.state === 'suspended') void ctx.resume();
    const t = ctx.currentTime + 0.01;
    if (outcome === 'allow') {
      tone(t, 880, 0.15, 'sine');
      tone(t + 0.16, 1320, 0.25, 'sine');
    } else if (outcome === 'deny') {
      for (let i = 0; i < 3; i++) tone(t + i * 0.22, 220, 0.18, 'square', 0.2);
    } else if (outcome === 'see-driver') {
      tone(t, 740, 0.45, 'triangle', 0.3);
      tone(t + 0.45, 370, 0.7, 'triangle', 0.3);
    } else {
      tone(t, 660, 0.08, 'sine', 0.15);
    }
  } catch {
    // No audio device: the screen and the lights still say it.
  }
}
