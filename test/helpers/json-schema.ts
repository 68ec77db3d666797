/**
 * Where a JSON Schema lets an object hold keys it does not name: the dotted paths of every object
 * schema without `additionalProperties: false`. Settings schemas must return none: a misspelled key
 * in a settings file is an error, never a silent default.
 */
export function objectsAcceptingUnknownKeys(schema: unknown, path = '(top)'): string[] {
  if (schema === null || typeof schema !== 'object') return [];
  const s = schema as Record<string, unknown>;
  const found: string[] = [];
  if (s.type === 'object' || 'properties' in s) {
    if (s.additionalProperties !== false) found.push(path);
  }
  for (const [key, value] of Object.entries(s.properties ?? {})) found.push(...objectsAcceptingUnknownKeys(value, path === '(top)' ? key : `${path}.${key}`));
  for (const k of ['anyOf', 'oneOf', 'allOf'] as const) {
    for (const sub of (s[k] as unknown[] | undefined) ?? []) found.push(...objectsAcceptingUnknownKeys(sub, path));
  }
  if (s.items) found.push(...objectsAcceptingUnknownKeys(s.items, `${path}[]`));
  if (s.additionalProperties && typeof s.additionalProperties === 'object') found.push(...objectsAcceptingUnknownKeys(s.additionalProperties, `${path}.*`));
  return found;
}
