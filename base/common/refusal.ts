/**
 * A request from a screen the core refuses for what it asks (an expired declaration token, a visitor
 * already decided, no visitors at this checkpoint): the screens show `message` (English; the
 * screens translate by `code`). The screen API answers it as code `refused`.
 */
export class RequestRefusal extends Error {
  override name = 'RequestRefusal';
  constructor(
    /** Stable, for the screens' words: e.g. 'token-expired', 'not-here', 'already-decided'. */
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}
