// The package ships JavaScript only; these are its two exported functions (RFC 9285).
declare module '@digitalbazaar/base45' {
  export function encode(input: Uint8Array): string;
  /** Throws RangeError on a character outside the alphabet, a bad length or an out-of-range triple. */
  export function decode(input: string): Uint8Array;
}
