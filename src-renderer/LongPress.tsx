import { useEffect, useRef, useState } from 'react';

/**
 * A target that acts only when held down for `holdMs` (a tap does nothing), with its progress
 * shown while held: the supervisor screen must not be one tap away from a queue. Releasing,
 * leaving the target or a cancelled pointer starts over. Holding Enter or Space works too.
 */
export function LongPressButton({
  holdMs,
  onActivate,
  label,
  className,
  testId,
  children,
}: {
  holdMs: number;
  onActivate: () => void;
  label: string;
  className?: string;
  testId?: string;
  children: React.ReactNode;
}) {
  const [holding, setHolding] = useState(false);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const activate = useRef(onActivate);
  useEffect(() => {
    activate.current = onActivate;
  }, [onActivate]);
  useEffect(() => () => clearTimeout(timer.current), []);

  const start = () => {
    if (timer.current !== undefined) return;
    setHolding(true);
    timer.current = setTimeout(() => {
      timer.current = undefined;
      setHolding(false);
      activate.current();
    }, holdMs);
  };
  const cancel = () => {
    clearTimeout(timer.current);
    timer.current = undefined;
    setHolding(false);
  };

  return (
    <button
      type="button"
      className={`long-press ${className ?? ''}`}
      data-testid={testId}
      data-holding={holding}
      aria-label={label}
      style={{ '--hold-ms': `${holdMs}ms` } as React.CSSProperties}
      onPointerDown={(e) => {
        // Keep receiving this pointer's events even if the finger drifts a little.
        e.currentTarget.setPointerCapture?.(e.pointerId);
        start();
      }}
      onPointerUp={cancel}
      onPointerCancel={cancel}
      onLostPointerCapture={cancel}
      onContextMenu={(e) => e.preventDefault()}
      onKeyDown={(e) => {
        if (e.key === 'Enter' || e.key === ' ') {
          e.preventDefault();
          start();
        }
      }}
      onKeyUp={cancel}
      onBlur={cancel}
    >
      {children}
      <span className="long-press-progress" aria-hidden="true" />
    </button>
  );
}
