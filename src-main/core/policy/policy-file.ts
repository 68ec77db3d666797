import { readFileSync } from 'node:fs';
import { PolicyError, parsePolicy, type Policy } from '../../../base/common/policy/policy.js';

/** A policy document from a file (the kiosk's `policy.file` setting, `hub policy publish`). */
export function loadPolicyFile(file: string): Policy {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new PolicyError(`${file}: ${(err as Error).message}`);
  }
  return parsePolicy(raw, file);
}
