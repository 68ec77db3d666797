import type { PassageKind } from '../../src-main/api/contract.js';

/**
 * One shape per kind of result, drawn inline (no icon font to install on the kiosk), so each kind
 * differs by its shape as well as its colour: a tick to pass, a tick in a shield when a supervisor let
 * the person through, circling arrows for "already recorded", a card with a bar for a refused pass,
 * a raised hand for a procedural stop, a person with a question for a health refusal (nothing that
 * names the reason), a warning triangle for a device fault.
 */
const PATHS: Record<PassageKind, React.ReactNode> = {
  allow: <path d="M12 33 L26 47 L52 17" />,
  override: (
    <>
      <path d="M32 5 L54 13 V31 C54 45 44 54 32 59 C20 54 10 45 10 31 V13 Z" />
      <path d="M21 32 L29 40 L44 24" />
    </>
  ),
  repeat: (
    <>
      <path d="M50 26 A19 19 0 0 0 15 22" />
      <path d="M15 10 V22 H27" />
      <path d="M14 38 A19 19 0 0 0 49 42" />
      <path d="M49 54 V42 H37" />
    </>
  ),
  credential: (
    <>
      <rect x="7" y="15" width="50" height="34" rx="5" />
      <circle cx="22" cy="29" r="5" />
      <path d="M15 42 C17 36 27 36 29 42 M36 26 H50 M36 34 H47" />
      <path d="M5 57 L59 7" />
    </>
  ),
  procedure: (
    <>
      <path d="M22 58 C16 52 13 46 13 38 V24 C13 21 17 21 17 24 V33 M17 30 V14 C17 11 22 11 22 14 V30 M22 28 V10 C22 7 27 7 27 10 V29 M27 28 V12 C27 9 32 9 32 12 V36 L37 31 C39 29 43 31 41 34 L33 48 C31 53 28 56 24 58" />
    </>
  ),
  health: (
    <>
      <circle cx="26" cy="18" r="9" />
      <path d="M9 58 C9 42 17 33 26 33 C31 33 35 35 38 38" />
      <path d="M44 38 C44 33 54 33 54 39 C54 44 49 44 49 49 M49 56 V57" />
    </>
  ),
  device: (
    <>
      <path d="M32 6 L60 56 H4 Z" />
      <path d="M32 24 V40 M32 47 V48" />
    </>
  ),
};

export function ResultIcon({ kind }: { kind: PassageKind }) {
  return (
    <svg className="result-icon" data-testid="result-icon" data-icon={kind} viewBox="0 0 64 64" aria-hidden="true" focusable="false">
      <g fill="none" stroke="currentColor" strokeWidth="4.5" strokeLinecap="round" strokeLinejoin="round">
        {PATHS[kind]}
      </g>
    </svg>
  );
}
