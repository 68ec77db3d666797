import type { z } from 'zod';
import { settingsSchema } from './config.js';

/**
 * Checks a partial kiosk settings object (a remote settings overlay, `safegate hub device set`) by the
 * kiosk's one settings schema, as far as it can be checked without the kiosk's own file: every key
 * must be a kiosk setting, and every value must be valid for its setting on its own. Rules across
 * settings (a relay's maxOnMs at least its pulseMs) need the whole file: the kiosk checks those when
 * the document arrives, and reports a refusal in its heartbeat. Returns `path: message` strings.
 */
export function overlayProblems(overlay: Record<string, unknown>): string[] {
  const problems: string[] = [];
  checkNode(settingsSchema, overlay, '', problems);
  return problems.slice(0, 50);
}

type AnySchema = z.core.$ZodType;

/** Through defaults, optionals and the like to the schema that says what the value is. */
function unwrap(schema: AnySchema): AnySchema {
  let s = schema;
  for (let i = 0; i < 20; i++) {
    const def = s._zod.def as { type: string; innerType?: AnySchema; in?: AnySchema };
    if (['default', 'prefault', 'optional', 'nullable', 'readonly', 'catch', 'nonoptional'].includes(def.type) && def.innerType) s = def.innerType;
    else if (def.type === 'pipe' && def.in) s = def.in;
    else break;
  }
  return s;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function checkNode(schema: AnySchema, value: unknown, path: string, problems: string[]): void {
  const inner = unwrap(schema);
  const def = inner._zod.def as { type: string; shape?: Record<string, AnySchema> };
  if (def.type === 'object' && def.shape && isPlainObject(value)) {
    // Only the keys the overlay names: the rest comes from the kiosk's file (or its defaults).
    for (const [key, v] of Object.entries(value)) {
      const at = path ? `${path}.${key}` : key;
      const child = Object.hasOwn(def.shape, key) ? def.shape[key] : undefined;
      if (!child) problems.push(`${at}: not a kiosk setting`);
      else checkNode(child, v, at, problems);
    }
    return;
  }
  const result = (schema as z.ZodType).safeParse(value);
  if (!result.success) {
    for (const issue of result.error.issues.slice(0, 5)) {
      const sub = issue.path.map(String).join('.');
      problems.push(`${[path, sub].filter(Boolean).join('.') || '(top)'}: ${issue.message}`);
    }
  }
}
