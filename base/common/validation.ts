import { closestMatch } from 'leven';
// Types only: the formatter reads a schema's definition, so importing it loads no zod (the
// command's --help and its error path stay fast).
import type { z } from 'zod';

/** One problem with a value that crossed a boundary: where (dotted path, empty for the whole) and what. */
export interface Problem {
  path: string;
  message: string;
}

/** What the formatter may use to say more than zod's own words. */
export interface ProblemContext {
  /**
   * The schema that refused the value: it names what is expected at a path ("a whole number from 1
   * to 5000") and the known keys an unknown one may be a misspelling of.
   */
  schema?: z.ZodType;
  /**
   * The value that was refused, to say what was found at a path ("got \"lots\""). Only for values
   * that may be repeated back (settings files); payloads that may carry personal data leave it out.
   */
  input?: unknown;
}

/**
 * A zod error as problems in plain words, in the order zod found them: "what is wrong, what is
 * expected". An unknown key is one problem per key, at the key's own path, with a did-you-mean from
 * the keys the schema knows there.
 */
export function problemsOf(error: z.ZodError, context: ProblemContext = {}): Problem[] {
  const out: Problem[] = [];
  for (const issue of error.issues) {
    const path = issue.path.filter((k): k is string | number => typeof k !== 'symbol');
    if (issue.code === 'unrecognized_keys') {
      const known = context.schema ? keysOf(schemaAt(context.schema, path)) : [];
      for (const key of issue.keys) out.push({ path: joinPath([...path, key]), message: unknownKeyMessage(key, known) });
      continue;
    }
    out.push({ path: joinPath(path), message: messageOf(issue, path, context) });
  }
  return out;
}

/** Problems as one line of text: `path: message; path: message` (the whole value is "(top)"). */
export function problemsText(problems: readonly Problem[], separator = '; '): string {
  return problems.map(problemLine).join(separator);
}

/** One problem as "path: message" (the whole value is "(top)"). */
export function problemLine(problem: Problem): string {
  return `${problem.path || '(top)'}: ${problem.message}`;
}

/** A zod error as one line of text (see problemsText). */
export function issuesText(error: z.ZodError, separator = '; ', context: ProblemContext = {}): string {
  return problemsText(problemsOf(error, context), separator);
}

/** `hub.batch.maxEvents`; a key that is not a plain word is quoted (`device["x y"]`), so the path reads unambiguously. */
function joinPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const k of path) {
    if (typeof k === 'number' || /^[A-Za-z0-9_$-]+$/.test(k)) out += out ? `.${k}` : String(k);
    else out += `[${JSON.stringify(k)}]`;
  }
  return out;
}

function unknownKeyMessage(key: string, known: readonly string[]): string {
  if (known.length === 0) return 'unknown setting';
  const guess = didYouMean(key, known);
  if (guess) return `unknown setting; did you mean "${guess}"?`;
  return `unknown setting; expected one of: ${known.join(', ')}`;
}

/** The known word closest to `word`, if it is close enough to be a slip (case ignored). */
function didYouMean(word: string, known: readonly string[]): string | undefined {
  const lower = known.map((k) => k.toLowerCase());
  const maxDistance = Math.max(1, Math.floor(word.length / 3));
  const hit = closestMatch(word.toLowerCase(), lower, { maxDistance });
  return hit === undefined ? undefined : known[lower.indexOf(hit)];
}

type Issue = z.core.$ZodIssue;

function messageOf(issue: Issue, path: readonly (string | number)[], context: ProblemContext): string {
  const at = context.schema ? schemaAt(context.schema, path) : undefined;
  const expected = at ? describe(at) : undefined;
  const hasInput = 'input' in issue || context.input !== undefined;
  const input = 'input' in issue ? issue.input : valueAt(context.input, path);
  // Nothing there: say so, whatever zod's word for it (a refinement's own message stays).
  if (hasInput && input === undefined && issue.code !== 'custom') {
    return expected ? `missing; must be ${expected}` : 'missing';
  }
  const got = hasInput && isShown(input) ? `, got ${shown(input)}` : '';
  switch (issue.code) {
    case 'invalid_type':
    case 'too_big':
    case 'too_small':
    case 'not_multiple_of':
    case 'invalid_union':
      if (expected) return `must be ${expected}${got}`;
      break;
    case 'invalid_value': {
      if (expected) {
        const guess = typeof input === 'string' ? didYouMean(input, issue.values.filter((v): v is string => typeof v === 'string')) : undefined;
        return `must be ${expected}${got}${guess ? `; did you mean "${guess}"?` : ''}`;
      }
      break;
    }
    case 'invalid_format':
    case 'custom':
      // A rule written for this field ("expected four hex digits...") says it best; zod's own
      // wording ("Invalid string: ...") gives way to what the schema expects.
      if (expected && /^Invalid\b/.test(issue.message)) return `must be ${expected}${got}`;
      return `${issue.message}${got}`;
    default:
      break;
  }
  return `${issue.message}${got}`;
}

function isShown(v: unknown): boolean {
  return v === null || ['string', 'number', 'boolean', 'bigint'].includes(typeof v) || Array.isArray(v) || typeof v === 'object';
}

/** A found value as a short phrase: strings quoted and cut, groups and lists named. */
function shown(v: unknown): string {
  if (v === null) return 'nothing (null)';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a group of settings';
  return String(v as number | boolean | bigint);
}

function valueAt(input: unknown, path: readonly (string | number)[]): unknown {
  let v = input;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string | number, unknown>)[k];
  }
  return v;
}

type AnySchema = z.core.$ZodType;

/** The parts of a schema definition the formatter reads (zod 4's `_zod.def`, and classic's bounds). */
interface SchemaView {
  type: string;
  innerType?: AnySchema;
  in?: AnySchema;
  getter?: () => AnySchema;
  shape?: Record<string, AnySchema>;
  element?: AnySchema;
  valueType?: AnySchema;
  options?: AnySchema[];
  entries?: Record<string, string | number>;
  values?: unknown[];
}

function view(schema: AnySchema): SchemaView {
  return schema._zod.def as unknown as SchemaView;
}

/** Looks through wrappers (optional, default, transform...) to the schema that holds the value. */
function unwrap(schema: AnySchema): AnySchema {
  let s = schema;
  for (let i = 0; i < 32; i++) {
    const def = view(s);
    if (def.innerType) s = def.innerType;
    else if (def.type === 'pipe' && def.in) s = def.in;
    else if (def.type === 'lazy' && def.getter) s = def.getter();
    else return s;
  }
  return s;
}

/** The schema for the value at `path`, if the schema's shape reaches it. */
function schemaAt(schema: AnySchema, path: readonly (string | number)[]): AnySchema | undefined {
  let s: AnySchema | undefined = schema;
  for (const key of path) {
    if (!s) return undefined;
    const def = view(unwrap(s));
    if (def.type === 'object') s = def.shape?.[String(key)];
    else if (def.type === 'array') s = def.element;
    else if (def.type === 'record') s = def.valueType;
    else return undefined;
  }
  return s;
}

function keysOf(schema: AnySchema | undefined): string[] {
  const def = schema && view(unwrap(schema));
  return def?.type === 'object' ? Object.keys(def.shape ?? {}) : [];
}

/** A bound worth naming (zod reports "no bound" as null or as a safe-integer or infinite limit). */
function bound(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) && Math.abs(v) < Number.MAX_SAFE_INTEGER ? v : undefined;
}

/** What a schema accepts, in plain words ("a whole number from 1 to 5000"), or undefined. */
function describe(schema: AnySchema): string | undefined {
  const s = unwrap(schema);
  const def = view(s);
  // Classic zod schemas carry their bounds as properties (minValue, maxLength...).
  const bounds = s as unknown as { isInt?: boolean; minValue?: unknown; maxValue?: unknown; minLength?: unknown; maxLength?: unknown };
  switch (def.type) {
    case 'number': {
      const what = bounds.isInt ? 'a whole number' : 'a number';
      const min = bound(bounds.minValue);
      const max = bound(bounds.maxValue);
      if (min !== undefined && max !== undefined) return `${what} from ${min} to ${max}`;
      if (min !== undefined) return `${what} of at least ${min}`;
      if (max !== undefined) return `${what} of at most ${max}`;
      return what;
    }
    case 'string': {
      const min = bound(bounds.minLength) ?? 0;
      const max = bound(bounds.maxLength);
      if (max !== undefined) return min > 0 ? `text of ${min} to ${max} characters` : `text of up to ${max} characters`;
      if (min > 0) return `text of at least ${min} character${min === 1 ? '' : 's'}`;
      return 'text';
    }
    case 'boolean':
      return 'true or false';
    case 'enum':
      return oneOf(Object.values(def.entries ?? {}));
    case 'literal':
      return oneOf((def.values ?? []).filter((v): v is string | number => typeof v === 'string' || typeof v === 'number'));
    case 'union': {
      const parts = (def.options ?? []).map(describe);
      return parts.length && parts.every((p): p is string => p !== undefined) ? parts.join(' or ') : undefined;
    }
    case 'object':
      return 'a group of settings';
    case 'array':
      return 'a list';
    default:
      return undefined;
  }
}

function oneOf(values: readonly (string | number)[]): string {
  const words = values.map((v) => (typeof v === 'string' ? JSON.stringify(v) : String(v)));
  return words.length === 1 ? words[0]! : `one of ${words.join(', ')}`;
}
